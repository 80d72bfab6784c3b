//! `tokentally run` as a scheduled job: exit codes a scheduler acts on, month to
//! date, and the shipped scheduler examples.

use crate::support::{config, repo_root, sample, stdout, tokentally};
use chrono::{Datelike as _, Utc};
use std::fs;

#[test]
fn exit_codes_tell_a_scheduler_what_happened() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = sample(dir.path(), "good.jsonl", 60, 4);
    let mut text = fs::read(&good).expect("read");
    text.extend_from_slice(b"not json\n");
    let input = dir.path().join("mixed.jsonl");
    fs::write(&input, text).expect("write");
    let cfg = config(dir.path(), &[&input]);
    let cfg = cfg.to_str().expect("utf-8");

    // Quarantined records do not fail the run; they are in its summary.
    let ok = tokentally(dir.path(), &["run", "--config", cfg, "--strict"], 0);
    assert!(stdout(&ok).contains("quarantined: 1"), "{}", stdout(&ok));
    tokentally(dir.path(), &["run", "--config", cfg, "--fail-on-quarantine"], 4);

    // Prices for gpt-4o only: the rest is unpriced, and --strict says so (first).
    let prices = dir.path().join("prices.csv");
    fs::write(
        &prices,
        "model,token_class,unit,price,currency,effective_from\ngpt-4o,input,1M tokens,2.50,USD,2026-01-01\n",
    )
    .expect("write prices");
    let text = fs::read_to_string(cfg).expect("config");
    let priced_line = text
        .lines()
        .find(|l| l.starts_with("prices = "))
        .expect("prices line");
    let partial = text.replace(
        priced_line,
        &format!("prices = {:?}", prices.to_str().expect("utf-8")),
    );
    let partial_cfg = dir.path().join("partial.toml");
    fs::write(&partial_cfg, partial).expect("write config");
    let partial_cfg = partial_cfg.to_str().expect("utf-8");
    tokentally(dir.path(), &["run", "--config", partial_cfg], 0);
    tokentally(
        dir.path(),
        &["run", "--config", partial_cfg, "--strict", "--fail-on-quarantine"],
        3,
    );
    let unpriced = fs::read_to_string(dir.path().join("out/unpriced-2026-10.csv")).expect("unpriced file");
    assert!(unpriced.lines().count() > 1, "{unpriced}");
}

#[test]
fn month_to_date_reports_the_current_month() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = sample(dir.path(), "calls.jsonl", 20, 2);
    let cfg = config(dir.path(), &[&input]);
    let cfg = cfg.to_str().expect("utf-8");
    // The sample is October 2026's: this month has no calls, which a month-to-date
    // job allows and anything else reports with status 7.
    tokentally(dir.path(), &["run", "--config", cfg, "--month-to-date"], 7);
    let out = tokentally(
        dir.path(),
        &["run", "--config", cfg, "--month-to-date", "--allow-empty"],
        0,
    );
    let today = Utc::now();
    let month = format!("{:04}-{:02}", today.year(), today.month());
    assert!(
        stdout(&out).contains(&format!("chargeback-{month}.csv")),
        "{}",
        stdout(&out)
    );
    // A month and month-to-date together are a usage error.
    tokentally(
        dir.path(),
        &["run", "--config", cfg, "--month-to-date", "--month", "2026-10"],
        2,
    );
}

/// Every `tokentally run` flag the scheduler examples use exists.
#[test]
fn scheduler_examples_use_real_flags() {
    let help = stdout(&tokentally(repo_root().as_path(), &["run", "--help"], 0));
    let dir = repo_root().join("pipelines/schedule");
    let mut checked = 0;
    for entry in fs::read_dir(&dir).expect("pipelines/schedule") {
        let path = entry.expect("entry").path();
        let text = fs::read_to_string(&path).expect("read example");
        for line in text
            .lines()
            .filter(|l| l.contains("tokentally") && l.contains("run"))
        {
            for flag in
                line.split(|c: char| c.is_whitespace() || c == '"' || c == ',' || c == '[' || c == ']')
            {
                if flag.starts_with("--") {
                    let name = flag.split('=').next().unwrap_or(flag);
                    assert!(
                        help.contains(name),
                        "{}: {name} is not a `run` flag",
                        path.display()
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 3, "the examples name no flags");
}

/// Each scheduler runs both jobs; the monthly one passes the flags whose statuses
/// it acts on, the month-to-date one `--allow-empty`; cron does not rely on
/// CRON_TZ (Debian's cron ignores it).
#[test]
fn every_scheduler_ships_both_jobs_with_the_flags_it_handles() {
    let dir = repo_root().join("pipelines/schedule");
    let read = |name: &str| fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let run_lines = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| !l.trim_start().starts_with('#') && l.contains("tokentally") && l.contains("run"))
            .map(str::to_owned)
            .collect()
    };
    let systemd = format!(
        "{}\n{}",
        read("tokentally-chargeback.service"),
        read("tokentally-month-to-date.service")
    );
    for (name, text) in [
        ("crontab", read("crontab")),
        ("systemd", systemd),
        ("cronjob.yaml", read("cronjob.yaml")),
    ] {
        let lines = run_lines(&text);
        let monthly: Vec<&String> = lines.iter().filter(|l| !l.contains("--month-to-date")).collect();
        let daily: Vec<&String> = lines.iter().filter(|l| l.contains("--month-to-date")).collect();
        assert_eq!((monthly.len(), daily.len()), (1, 1), "{name}: {lines:?}");
        assert!(
            monthly[0].contains("--strict") && monthly[0].contains("--fail-on-quarantine"),
            "{name}: {}",
            monthly[0]
        );
        assert!(daily[0].contains("--allow-empty"), "{name}: {}", daily[0]);
    }
    // The CronJob fails at once on exactly the statuses its flags can produce
    // that need a person (and usage errors), and retries the rest.
    let cronjob = read("cronjob.yaml");
    assert!(cronjob.contains("values: [2, 3, 4, 7]"), "{cronjob}");
    let crontab = read("crontab");
    assert!(
        !crontab.lines().any(|l| l.trim_start().starts_with("CRON_TZ")),
        "{crontab}"
    );
    assert!(read("tokentally-month-to-date.timer").contains("OnCalendar="));
}
