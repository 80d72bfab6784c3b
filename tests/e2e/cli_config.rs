//! One pipeline config for every command, found as users expect; arguments and
//! config checked before any work; statuses for "nothing to report"; `run --json`.

use crate::support::{command, config, expect_status, repo_like, sample, stderr, stdout, tokentally};
use std::fs;
use std::path::Path;
use std::process::Output;

/// `tokentally` in `cwd` with `TOKENTALLY_CONFIG` set to `env_config` (or unset).
pub fn tokentally_env(cwd: &Path, env_config: Option<&Path>, args: &[&str], expected: i32) -> Output {
    let mut command = command(cwd, args);
    if let Some(path) = env_config {
        command.env("TOKENTALLY_CONFIG", path);
    }
    let output = command.output().expect("run tokentally");
    expect_status(output, args, expected)
}

/// Cost centers of the written detail, as `sql` reads them back.
fn detail_cost_centers(cwd: &Path, env_config: Option<&Path>) -> String {
    let query = "SELECT DISTINCT \"x_CostCenter\" AS cc FROM chargeback ORDER BY cc";
    stdout(&tokentally_env(
        cwd,
        env_config,
        &["sql", query, "--format", "csv"],
        0,
    ))
}

#[test]
fn run_then_report_then_sql_agree_on_cost_centers_without_a_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    repo_like(dir.path());
    let run = tokentally(dir.path(), &["run"], 0);
    let first = stderr(&run).lines().next().unwrap_or_default().to_owned();
    assert!(
        first.starts_with("note: ") && first.contains("embedded sample"),
        "{}",
        stderr(&run)
    );
    // The printed summary names the apps of the cost-center map.
    assert!(stdout(&run).contains("support-copilot"), "{}", stdout(&run));
    let detail = dir.path().join("out/chargeback-detail-2026-10.csv");
    let after_run = fs::read(&detail).expect("detail");
    let from_run = detail_cost_centers(dir.path(), None);
    assert!(from_run.contains("CC-2300"), "{from_run}");

    // `report` reads the same config: same cost centers, byte for byte.
    let report = tokentally(dir.path(), &["report", "--month", "2026-10"], 0);
    assert!(stdout(&report).contains("CC-2300"), "{}", stdout(&report));
    assert!(
        fs::read(&detail).expect("detail") == after_run,
        "report rewrote the detail differently"
    );
    assert_eq!(detail_cost_centers(dir.path(), None), from_run);
    // And `sql` has the config's reference tables.
    let mapped = tokentally(
        dir.path(),
        &["sql", "SELECT count(*) AS n FROM cost_centers", "--format", "csv"],
        0,
    );
    assert_ne!(stdout(&mapped), "n\n0\n");
}

#[test]
fn the_config_is_found_through_the_environment_or_the_working_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = sample(dir.path(), "calls.jsonl", 120, 21);
    let cfg = config(dir.path(), &[&input]);
    let elsewhere = tempfile::tempdir().expect("tempdir");

    // TOKENTALLY_CONFIG: no note, the config's folders and tables from any folder.
    let run = tokentally_env(elsewhere.path(), Some(&cfg), &["run"], 0);
    assert!(!stderr(&run).contains("note:"), "{}", stderr(&run));
    assert!(dir.path().join("out/chargeback-2026-10.csv").is_file());
    let from_run = detail_cost_centers(elsewhere.path(), Some(&cfg));
    assert!(from_run.contains("CC-"), "{from_run}");
    tokentally_env(elsewhere.path(), Some(&cfg), &["report", "--month", "2026-10"], 0);
    assert_eq!(detail_cost_centers(elsewhere.path(), Some(&cfg)), from_run);

    // ./tokentally.toml, when neither --config nor the variable names one.
    fs::copy(&cfg, dir.path().join("tokentally.toml")).expect("copy config");
    let report = tokentally(dir.path(), &["report", "--month", "2026-10"], 0);
    assert!(!stderr(&report).contains("note:"), "{}", stderr(&report));
    assert_eq!(detail_cost_centers(dir.path(), None), from_run);

    // A named config that is missing is an error, never the sample.
    let missing = tokentally_env(elsewhere.path(), Some(Path::new("nope.toml")), &["report"], 2);
    assert!(
        stderr(&missing).contains("TOKENTALLY_CONFIG=nope.toml"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn arguments_and_config_are_checked_before_any_work() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = sample(dir.path(), "calls.jsonl", 30, 22);
    let cfg = config(dir.path(), &[&input]);
    let cfg_arg = cfg.to_str().expect("utf-8");
    let out = tokentally(dir.path(), &["run", "--config", cfg_arg, "--month", "2026-13"], 2);
    assert!(stderr(&out).contains("--month \"2026-13\""), "{}", stderr(&out));
    assert!(
        !dir.path().join("out").exists(),
        "run ingested before checking --month"
    );

    // A bad price row fails the run before ingesting, naming file and line.
    let prices = dir.path().join("bad-prices.csv");
    fs::write(
        &prices,
        "model,token_class,unit,price,currency,effective_from\ngpt-4o,input,1M tokens,-1,USD,2026-01-01\n",
    )
    .expect("write prices");
    let text = fs::read_to_string(&cfg).expect("config");
    let line = text
        .lines()
        .find(|l| l.starts_with("prices = "))
        .expect("prices line");
    let bad = dir.path().join("bad.toml");
    fs::write(
        &bad,
        text.replace(line, &format!("prices = {:?}", prices.to_str().expect("utf-8"))),
    )
    .expect("write");
    let out = tokentally(dir.path(), &["run", "--config", bad.to_str().expect("utf-8")], 2);
    assert!(stderr(&out).contains("bad-prices.csv:2"), "{}", stderr(&out));
    assert!(
        !dir.path().join("out").exists(),
        "run ingested before checking the tables"
    );

    // A Kafka pipeline with a bad month never reaches for the broker (so no
    // offset can be committed): it fails at once, naming the month.
    let kafka = dir.path().join("kafka.toml");
    fs::write(
        &kafka,
        format!(
            "[kafka]\nbrokers = \"127.0.0.1:1\"\ntopics = [\"t\"]\nconnect_timeout_secs = 30\n\n{}",
            crate::support::report_section()
        ),
    )
    .expect("write");
    let started = std::time::Instant::now();
    let out = tokentally(
        dir.path(),
        &["run", "--config", kafka.to_str().expect("utf-8"), "--month", "13"],
        2,
    );
    assert!(stderr(&out).contains("--month \"13\""), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("waiting for the brokers"),
        "{}",
        stderr(&out)
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

#[test]
fn nothing_to_report_has_its_own_status_unless_allowed() {
    let dir = tempfile::tempdir().expect("tempdir");
    repo_like(dir.path());
    fs::write(dir.path().join("bad.jsonl"), "not json\n{\"schema\": 9}\n").expect("write");
    let out = tokentally(dir.path(), &["ingest", "bad.jsonl"], 7);
    assert!(
        stderr(&out).contains("every record was quarantined"),
        "{}",
        stderr(&out)
    );
    tokentally(dir.path(), &["ingest", "bad.jsonl", "--allow-empty"], 0);

    let good = sample(dir.path(), "good.jsonl", 40, 23);
    let mut mixed = fs::read(&good).expect("read");
    mixed.extend_from_slice(b"not json\n");
    fs::write(dir.path().join("mixed.jsonl"), mixed).expect("write");
    tokentally(dir.path(), &["ingest", "mixed.jsonl"], 0);
    tokentally(dir.path(), &["ingest", "mixed.jsonl", "--fail-on-quarantine"], 4);

    // The sample is October's: September has no calls.
    let out = tokentally(dir.path(), &["report", "--month", "2026-09"], 7);
    assert!(
        stderr(&out).contains("no calls in this month"),
        "{}",
        stderr(&out)
    );
    tokentally(dir.path(), &["report", "--month", "2026-09", "--allow-empty"], 0);
    tokentally(dir.path(), &["report", "--month", "2026-10"], 0);
}

#[test]
fn run_json_prints_the_ingest_and_the_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = sample(dir.path(), "calls.jsonl", 150, 24);
    let cfg = config(dir.path(), &[&input]);
    let out = tokentally(
        dir.path(),
        &["run", "--config", cfg.to_str().expect("utf-8"), "--json"],
        0,
    );
    let run: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("one JSON document");
    assert_eq!(run["ingest"][0]["records"], 150);
    assert_eq!(run["report"]["month"], "2026-10");
    assert_eq!(run["report"]["totals"]["calls"], 150);
    assert!(run["report"]["totals"]["cost"]["USD"].is_string(), "{run}");
    let csv = run["report"]["files"]["chargeback_csv"].as_str().expect("path");
    assert!(Path::new(csv).is_file(), "{csv}");
    let apps = run["report"]["apps"].as_array().expect("apps");
    assert!(apps.iter().any(|a| a["app_name"] == "support-copilot"), "{run}");
}
