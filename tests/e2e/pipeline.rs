//! The batch job from gateway records to chargeback.

use crate::support::{
    check_invoice, check_outputs, config, repo_like, repo_root, sample, stderr, stdout, tokentally,
};
use std::fs;

#[test]
fn sample_traffic_to_chargeback_reconciles_with_independent_readers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = sample(dir.path(), "calls.jsonl.gz", 1500, 7);
    let cfg = config(dir.path(), &[&input]);
    let out = tokentally(dir.path(), &["run", "--config", cfg.to_str().expect("utf-8")], 0);
    let text = stdout(&out);
    assert!(text.contains("ingested 1500 record(s)"), "{text}");
    assert!(text.contains("chargeback-2026-10.csv"), "{text}");
    check_outputs(&dir.path().join("out"), "2026-10");
}

#[test]
fn readme_first_command_runs_the_embedded_sample() {
    // The README runs `tokentally run` at the repo root; here the same in a scratch
    // copy so the checkout stays clean: pipelines/ copied, sample-data/ linked.
    let dir = tempfile::tempdir().expect("tempdir");
    repo_like(dir.path());
    let out = tokentally(dir.path(), &["run"], 0);
    let text = stdout(&out);
    assert!(text.contains("usage dataset: out/usage"), "{text}");
    // The shipped map assigns most sample apps and leaves one out on purpose.
    assert!(text.contains("CC-1100") && text.contains("unassigned"), "{text}");
    // Every sample deployment is in the shipped tables: nothing is unpriced, and
    // the gpt-4.1 reservation (from Oct 15th: 17 of 31 days of 3900 USD) is
    // billed in full to its callers.
    assert!(text.contains("unpriced-2026-10.csv"), "{text}");
    assert!(!text.contains("unpriced: "), "{text}");
    let detail = fs::read_to_string(dir.path().join("out/chargeback-detail-2026-10.csv")).expect("detail");
    let committed: Vec<&str> = detail.lines().filter(|l| l.contains(",Committed,")).collect();
    assert!(!committed.is_empty(), "{detail}");
    let unpriced = fs::read_to_string(dir.path().join("out/unpriced-2026-10.csv")).expect("unpriced");
    assert_eq!(unpriced.lines().count(), 1, "{unpriced}");
    // The statement beside it: one page, a linked section per cost center
    // (check_outputs compares its totals with the chargeback's).
    assert!(text.contains("statement: out/statement-2026-10.html"), "{text}");
    let statement = fs::read_to_string(dir.path().join("out/statement-2026-10.html")).expect("statement");
    for section in ["cc-CC-1100", "cc-unassigned"] {
        assert!(
            statement.contains(&format!("<section class=\"cost-center\" id=\"{section}\">")),
            "{section}"
        );
    }
    // The sample invoice: every invoiced resource's cost shared over its apps,
    // the evaluation account (no gateway traffic) unallocated, East US 2's low
    // coverage flagged.
    assert!(
        text.contains("invoice sample-data/focus-2026-10.csv: 2146.365607 USD allocated"),
        "{text}"
    );
    assert!(
        text.contains("aoai-eval-westeurope: invoiced 3.750000 USD"),
        "{text}"
    );
    assert!(
        text.contains(
            "aoai-prod-eastus2: invoiced 2.413930 USD, list price 1.382986 USD, prices explain 57.3%"
        ),
        "{text}"
    );
    assert!(
        statement.contains("Tied to the invoice") && statement.contains("Low coverage"),
        "{statement}"
    );
    let out = dir.path().join("out");
    check_outputs(&out, "2026-10");
    check_invoice(
        &out,
        "2026-10",
        &dir.path().join("sample-data/focus-2026-10.csv"),
        &dir.path().join("pipelines/deployments.csv"),
    );
}

#[test]
fn a_bad_invoice_row_is_a_usage_error_naming_the_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    repo_like(dir.path());
    let sample =
        fs::read_to_string(dir.path().join("sample-data/focus-2026-10.csv")).expect("sample invoice");
    let mut lines: Vec<&str> = sample.lines().collect();
    let broken = lines[3].replacen("USD", "dollars", 1);
    lines[3] = &broken;
    fs::write(dir.path().join("bad.csv"), lines.join("\n")).expect("write");
    let err = stderr(&tokentally(dir.path(), &["report", "--invoice", "bad.csv"], 2));
    assert!(
        err.contains("bad.csv:4: BillingCurrency: currency \"dollars\""),
        "{err}"
    );
    fs::write(dir.path().join("bad.csv"), "Cost,Currency\n1,USD\n").expect("write");
    let err = stderr(&tokentally(dir.path(), &["report", "--invoice", "bad.csv"], 2));
    assert!(err.contains("bad.csv:1: no BilledCost column"), "{err}");
}

#[test]
fn same_input_gives_byte_identical_outputs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = sample(dir.path(), "calls.jsonl", 300, 11);
    let cfg = config(dir.path(), &[&input]);
    let cfg = cfg.to_str().expect("utf-8");
    tokentally(dir.path(), &["run", "--config", cfg], 0);
    let read = |name: &str| fs::read(dir.path().join("out").join(name)).expect("read output");
    let names = [
        "chargeback-2026-10.csv",
        "chargeback-2026-10.parquet",
        "chargeback-detail-2026-10.csv",
        "chargeback-detail-2026-10.parquet",
        "unpriced-2026-10.csv",
        "statement-2026-10.html",
    ];
    let first = names.map(read);
    tokentally(dir.path(), &["run", "--config", cfg], 0);
    for (name, bytes) in names.iter().zip(&first) {
        assert!(*bytes == read(name), "{name} changed on a re-run");
    }
    // The re-run rewrote the same usage files instead of adding duplicates.
    check_outputs(&dir.path().join("out"), "2026-10");
}

#[test]
fn malformed_lines_are_reported_with_file_and_line_and_the_run_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = sample(dir.path(), "good.jsonl", 20, 3);
    let mut text = fs::read(&good).expect("read");
    text.extend_from_slice(b"{\"schema\": 1, \"request_id\": \"x\"\n\xff\xfe garbage\n{\"schema\": 7}\n");
    let input = dir.path().join("mixed.jsonl");
    fs::write(&input, text).expect("write");
    let out = tokentally(dir.path(), &["ingest", "mixed.jsonl", "--out", "out"], 0);
    let text = stdout(&out);
    assert!(text.contains("rows written: 20"), "{text}");
    assert!(text.contains("quarantined: 3"), "{text}");
    assert!(text.contains("mixed.jsonl:21: not a JSON object"), "{text}");
    assert!(text.contains("mixed.jsonl:22: not valid UTF-8"), "{text}");
    assert!(
        text.contains("mixed.jsonl:23: unknown gateway record schema 7"),
        "{text}"
    );
    let json = tokentally(
        dir.path(),
        &["ingest", "mixed.jsonl", "--out", "out", "--json"],
        0,
    );
    let summary: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json summary");
    assert_eq!(summary["quarantined"], 3);
    assert_eq!(summary["rows_written"], 20);
}

#[test]
fn sql_over_the_usage_dataset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = sample(dir.path(), "calls.jsonl", 200, 5);
    tokentally(
        dir.path(),
        &["ingest", input.to_str().expect("utf-8"), "--out", "out"],
        0,
    );
    let out = tokentally(
        dir.path(),
        &["sql", "SELECT count(*) AS n FROM usage", "--format", "csv"],
        0,
    );
    assert_eq!(stdout(&out).trim(), "n\n200");
    let err = tokentally(dir.path(), &["sql", "SELEC nonsense"], 2);
    assert!(
        stderr(&err).contains("error: query \"SELEC nonsense\""),
        "{}",
        stderr(&err)
    );
}

#[test]
fn strict_report_exits_3_when_usage_is_unpriced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = sample(dir.path(), "calls.jsonl", 100, 5);
    let input = input.to_str().expect("utf-8");
    tokentally(dir.path(), &["ingest", input, "--out", "out"], 0);
    // Only gpt-4o has a price: every other model's usage is unpriced.
    fs::write(
        dir.path().join("prices.csv"),
        "model,token_class,unit,price,currency,effective_from,effective_to,source\n\
         gpt-4o,input,1M tokens,2.50,USD,2026-01-01,,test\n",
    )
    .expect("write prices");
    let args = [
        "report",
        "--month",
        "2026-10",
        "--out",
        "out",
        "--prices",
        "prices.csv",
    ];
    let lenient = tokentally(dir.path(), &args, 0);
    assert!(stdout(&lenient).contains("unpriced"), "{}", stdout(&lenient));
    tokentally(dir.path(), &[&args[..], &["--strict"]].concat(), 3);
    assert!(dir.path().join("out/chargeback-2026-10.csv").exists());
}

#[test]
fn documented_drift_query_runs_and_compares_estimates_with_reports() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = sample(dir.path(), "calls.jsonl", 400, 9);
    tokentally(
        dir.path(),
        &["ingest", input.to_str().expect("utf-8"), "--out", "out"],
        0,
    );
    let query = fs::read_to_string(repo_root().join("pipelines/queries/estimate-drift.sql")).expect("query");
    let out = tokentally(dir.path(), &["sql", &query, "--format", "csv"], 0);
    let text = stdout(&out);
    let header = text.lines().next().unwrap_or_default();
    assert!(
        header.contains("prompt_drift_pct") && header.contains("completion_drift_pct"),
        "{text}"
    );
    assert!(text.lines().count() > 1, "no model rows: {text}");
}
