//! `tokentally sql`: the shipped queries, query sources and output formats.

use crate::support::{repo_like, repo_root, sample, stderr, stdout, tokentally, tokentally_with_stdin};
use std::fs;
use std::path::Path;
use std::process::Command;

/// Every query in pipelines/queries/ carries a comment header saying how to run
/// it, and runs over the committed sample month with rows to show.
#[test]
fn shipped_queries_run_over_the_sample_month() {
    let dir = tempfile::tempdir().expect("tempdir");
    repo_like(dir.path());
    tokentally(dir.path(), &["run"], 0);
    let mut names = Vec::new();
    for entry in fs::read_dir(repo_root().join("pipelines/queries")).expect("queries dir") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let text = fs::read_to_string(&path).expect("query");
        assert!(
            text.starts_with("/*") || text.starts_with("--"),
            "{name}: no comment header"
        );
        assert!(
            text.contains(&format!("Run: tokentally sql --file pipelines/queries/{name}")),
            "{name}: the header must say how to run it"
        );
        let out = tokentally(
            dir.path(),
            &["sql", "--file", path.to_str().expect("utf-8"), "--format", "csv"],
            0,
        );
        let csv = stdout(&out);
        assert!(csv.lines().count() > 1, "{name} returned no rows:\n{csv}");
        names.push((name, csv));
    }
    names.sort();
    let found: Vec<&str> = names.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        found,
        [
            "daily-tokens-per-deployment.sql",
            "estimate-drift.sql",
            "streaming-share.sql",
            "top-apps.sql"
        ]
    );
    let csv = |name: &str| {
        names
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| c.as_str())
            .unwrap_or("")
    };
    // Top apps: ten at most, cost known for each (the sample is fully priced).
    let top = csv("top-apps.sql");
    assert!(
        top.starts_with("cost_center,app_id,tokens,cost,provisioned_cost,currency\n"),
        "{top}"
    );
    assert!(
        top.lines()
            .skip(1)
            .all(|l| l.split(',').nth(3).is_some_and(|c| !c.is_empty())),
        "{top}"
    );
    assert!(top.lines().count() <= 11, "{top}");
    // The gpt-4.1 deployment changes from global to provisioned mid-month.
    let daily = csv("daily-tokens-per-deployment.sql");
    assert!(daily.contains("2026-10-14,gpt-4.1,global,"), "{daily}");
    assert!(daily.contains("2026-10-15,gpt-4.1,provisioned,"), "{daily}");
}

#[test]
fn queries_come_from_an_argument_a_file_or_stdin_and_parquet_needs_a_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = sample(dir.path(), "calls.jsonl", 200, 5);
    tokentally(
        dir.path(),
        &["ingest", input.to_str().expect("utf-8"), "--out", "out"],
        0,
    );
    let query = "-- calls\nSELECT count(*) AS n FROM usage";
    let piped = tokentally_with_stdin(dir.path(), &["sql", "--format", "csv"], query, 0);
    assert_eq!(stdout(&piped), "n\n200\n");
    let dash = tokentally_with_stdin(dir.path(), &["sql", "-", "--format", "json"], query, 0);
    assert_eq!(stdout(&dash).trim(), "{\"n\":200}");
    fs::write(dir.path().join("q.sql"), query).expect("write query");
    let file = tokentally(dir.path(), &["sql", "--file", "q.sql", "--format", "csv"], 0);
    assert_eq!(stdout(&file), "n\n200\n");

    let no_path = tokentally(dir.path(), &["sql", "--file", "q.sql", "--format", "parquet"], 2);
    assert!(stderr(&no_path).contains("--output"), "{}", stderr(&no_path));
    tokentally(
        dir.path(),
        &[
            "sql",
            "--file",
            "q.sql",
            "--format",
            "parquet",
            "--output",
            "n.parquet",
        ],
        0,
    );
    assert_eq!(read_parquet(&dir.path().join("n.parquet")), "1 int64 200");

    fs::write(dir.path().join("bad.sql"), "SELECT nope FROM usage").expect("write query");
    let bad = tokentally(dir.path(), &["sql", "--file", "bad.sql"], 2);
    assert!(
        stderr(&bad).contains("error: query bad.sql: "),
        "{}",
        stderr(&bad)
    );
    assert!(stderr(&bad).contains("nope"), "{}", stderr(&bad));
    let missing = tokentally(dir.path(), &["sql", "--file", "nope.sql"], 2);
    assert!(stderr(&missing).contains("nope.sql"), "{}", stderr(&missing));
}

/// Rows, type of `n` and its value, as pyarrow reads the file.
fn read_parquet(path: &Path) -> String {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let script = "import sys, pyarrow.parquet as pq\n\
                  t = pq.read_table(sys.argv[1])\n\
                  print(t.num_rows, t.schema.field('n').type, t.column('n')[0].as_py())";
    let out = Command::new(python)
        .args(["-c", script, path.to_str().expect("utf-8")])
        .output()
        .expect("python3 (scripts/test installs pyarrow)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}
