//! Failures a person can act on: distinct statuses for usage errors and runtime
//! failures (the same in `--help` and the README), each error said once, logs
//! without colour codes off a terminal, `--quiet`, `--log-format json`, one line
//! per back-off step for an unreachable broker, a warning for duplicated calls.

use crate::support::{repo_root, sample, stderr, stdout, tokentally};
use std::collections::BTreeSet;
use std::fs;

/// The statuses `--help` lists (`  N  meaning` lines under "Exit status:").
fn help_statuses(help: &str) -> BTreeSet<u8> {
    help.lines()
        .skip_while(|l| !l.starts_with("Exit status:"))
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect()
}

#[test]
fn usage_errors_and_runtime_failures_have_distinct_statuses_listed_in_help_and_readme() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = repo_root();
    let help = stdout(&tokentally(&root, &["--help"], 0));
    let statuses = help_statuses(&help);
    assert_eq!(statuses, BTreeSet::from([0, 1, 2, 3, 4, 5, 6, 7]), "{help}");
    for command in ["run", "ingest", "report", "sql"] {
        let sub = stdout(&tokentally(&root, &[command, "--help"], 0));
        assert_eq!(help_statuses(&sub), statuses, "{command} --help");
    }
    // The README's table lists the same statuses.
    let readme = fs::read_to_string(root.join("README.md")).expect("README");
    let documented: BTreeSet<u8> = readme
        .lines()
        .filter_map(|l| l.strip_prefix("| ")?.split(" |").next()?.trim().parse().ok())
        .collect();
    assert_eq!(documented, statuses, "README exit-status table");

    // Usage: clap's own errors and ours (a bad month, a missing input) exit 2.
    tokentally(dir.path(), &["report", "--nope"], 2);
    tokentally(dir.path(), &["ingest", "missing.jsonl"], 2);
    // Runtime: a report with no dataset to read exits 1.
    crate::support::repo_like(dir.path());
    let out = tokentally(dir.path(), &["report", "--month", "2026-10"], 1);
    assert!(stderr(&out).contains("no usage dataset"), "{}", stderr(&out));
}

/// The long flags a `--help` lists, less the global ones every command has.
fn help_flags(help: &str) -> BTreeSet<String> {
    help.lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let l = l
                .strip_prefix("-")
                .filter(|r| r.chars().nth(1) == Some(','))
                .map_or(l, |r| r[2..].trim_start());
            let flag = l.strip_prefix("--")?.split([' ', '=', '<', '.']).next()?;
            Some(format!("--{flag}"))
        })
        .filter(|f| !["--help", "--version", "--verbose", "--quiet", "--log-format"].contains(&f.as_str()))
        .collect()
}

/// The README's command table and each command's `--help` name the same flags.
#[test]
fn the_readme_command_table_and_help_name_the_same_flags() {
    let root = repo_root();
    let readme = fs::read_to_string(root.join("README.md")).expect("README");
    let rows: Vec<&str> = readme
        .lines()
        .filter(|l| l.starts_with("| `tokentally "))
        .collect();
    assert!(rows.len() >= 7, "the command table: {rows:?}");
    for row in rows {
        let usage = row
            .trim_start_matches("| `")
            .split("` |")
            .next()
            .unwrap_or_default();
        let words: Vec<&str> = usage.split_whitespace().collect();
        let command: Vec<&str> = words[1..]
            .iter()
            .take_while(|w| w.chars().all(|c| c.is_ascii_lowercase()))
            .copied()
            .collect();
        let documented: BTreeSet<String> = usage
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .filter(|w| w.starts_with("--"))
            .map(str::to_owned)
            .collect();
        let mut args = command.clone();
        args.push("--help");
        let help = stdout(&tokentally(&root, &args, 0));
        assert_eq!(
            documented,
            help_flags(&help),
            "README row of `tokentally {}`",
            command.join(" ")
        );
    }
}

/// Totals come from the deduplicated `calls` view: `sql --help` says so, and
/// every README example that sums reads it.
#[test]
fn sql_help_and_the_readme_examples_total_over_calls() {
    let root = repo_root();
    let help = stdout(&tokentally(&root, &["sql", "--help"], 0));
    let words = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        words.contains("`calls` (one row per call, the copy the report counts: use it for totals)"),
        "{help}"
    );
    let readme = fs::read_to_string(root.join("README.md")).expect("README");
    let sums: Vec<&str> = readme
        .lines()
        .filter(|l| l.starts_with("tokentally sql \"") && l.contains("sum("))
        .collect();
    assert!(!sums.is_empty(), "the README shows a total");
    for example in sums {
        assert!(example.contains("FROM calls"), "{example}");
    }
}

#[test]
fn an_error_is_printed_once_and_a_missing_table_lists_the_tables() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = sample(dir.path(), "calls.jsonl", 20, 31);
    tokentally(dir.path(), &["ingest", input.to_str().expect("utf-8")], 0);
    let out = tokentally(dir.path(), &["sql", "SELECT nope FROM usage"], 2);
    let err = stderr(&out);
    assert_eq!(err.matches("request_time").count(), 1, "{err}");
    assert_eq!(
        err.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "{err}"
    );
    assert!(err.contains("error: query \"SELECT nope FROM usage\""), "{err}");

    let out = tokentally(dir.path(), &["sql", "SELECT * FROM usages"], 2);
    let err = stderr(&out);
    assert!(err.contains("no table named usages"), "{err}");
    assert!(
        err.contains("calls") && err.contains("chargeback") && err.contains("usage"),
        "{err}"
    );
}

#[test]
fn logs_are_plain_off_a_terminal_quiet_on_request_and_json_for_shippers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = sample(dir.path(), "calls.jsonl", 20, 32);
    let input = input.to_str().expect("utf-8");
    // -vv logs at debug: several lines, none with an escape sequence.
    let out = tokentally(dir.path(), &["-vv", "ingest", input], 0);
    let err = stderr(&out);
    assert!(err.lines().count() > 1, "{err}");
    assert!(!err.contains('\u{1b}'), "colour codes off a terminal: {err:?}");
    // --quiet: no note, no warning; the summary is still printed.
    let out = tokentally(dir.path(), &["--quiet", "ingest", input], 0);
    assert_eq!(stderr(&out), "");
    assert!(stdout(&out).contains("rows written: 20"), "{}", stdout(&out));
    // JSON: every line of stderr is one JSON object, the final error included.
    let out = tokentally(dir.path(), &["-v", "--log-format", "json", "ingest", input], 0);
    let err = stderr(&out);
    assert!(!err.is_empty());
    for line in err.lines() {
        let event: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(event["level"].is_string(), "{line}");
    }
    let out = tokentally(
        dir.path(),
        &["--log-format", "json", "report", "--month", "2026-10"],
        2,
    );
    for line in stderr(&out).lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
}

#[test]
fn an_unreachable_broker_logs_one_line_per_back_off_naming_the_address() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("down.toml");
    fs::write(
        &cfg,
        "[kafka]\nbrokers = \"127.0.0.1:1\"\ntopics = [\"t\"]\nconnect_timeout_secs = 9\n",
    )
    .expect("write");
    let out = tokentally(
        dir.path(),
        &["ingest", "--config", cfg.to_str().expect("utf-8")],
        1,
    );
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    // A line per back-off step (each naming the broker and the next try), not
    // librdkafka's report of every reconnect. A metadata request waits at most
    // 5 s, so 9 s hold one step at least, however slow the machine.
    let steps = lines
        .iter()
        .filter(|l| l.contains("waiting for the brokers"))
        .count();
    assert!((1..=5).contains(&steps), "{steps} steps:\n{err}");
    assert!(lines.len() <= steps + 2, "{} lines:\n{err}", lines.len());
    assert!(lines.iter().all(|l| l.contains("127.0.0.1:1")), "{err}");
    assert!(
        lines
            .iter()
            .filter(|l| l.contains("waiting for the brokers"))
            .all(|l| l.contains("retry_in")),
        "{err}"
    );
    let last = lines.last().copied().unwrap_or_default();
    assert!(last.starts_with("error: "), "{err}");
    assert!(
        last.contains("[kafka] brokers") && last.contains("connect_timeout_secs"),
        "{last}"
    );
}

#[test]
fn the_same_calls_ingested_again_from_another_path_are_reported_as_duplicates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = sample(dir.path(), "calls.jsonl", 50, 33);
    fs::create_dir(dir.path().join("copy")).expect("mkdir");
    let copy = dir.path().join("copy/calls-again.jsonl");
    fs::copy(&input, &copy).expect("copy");
    let first = tokentally(dir.path(), &["ingest", input.to_str().expect("utf-8")], 0);
    assert!(!stderr(&first).contains("duplicates"), "{}", stderr(&first));
    let again = tokentally(dir.path(), &["ingest", copy.to_str().expect("utf-8")], 0);
    assert!(
        stderr(&again).contains("duplicates of 50 event id(s)"),
        "{}",
        stderr(&again)
    );
    // `calls` counts each call once; raw `usage` holds both copies.
    let count = |table: &str| {
        let query = format!("SELECT count(*) AS n FROM {table}");
        stdout(&tokentally(dir.path(), &["sql", &query, "--format", "csv"], 0))
    };
    assert_eq!(count("calls"), "n\n50\n");
    assert_eq!(count("usage"), "n\n100\n");
}
