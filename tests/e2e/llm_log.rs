//! APIM's LLM log as Azure writes it, through the real binary to the chargeback.
//!
//! `fixtures/apim-llm-log.jsonl` holds four calls, each a token row (deployment,
//! model, tokens) plus request and response message rows that carry none of
//! those, and the gateway log naming the caller's subscription: two calls in the
//! resource-log form a diagnostic setting streams to Event Hubs (camelCase under
//! `properties`, `time`, `location` a display name), two in the Log Analytics
//! form a workspace data export writes (PascalCase, `TimeGenerated`). Each form
//! is two events (lines 1 and 3, lines 2 and 4) with the records shuffled over
//! them; one call's request is chunked over both.

use super::broker::{kafka_config, produce, unique};
use super::support::{config, repo_root, sample, stdout, tokentally};
use std::path::Path;

/// The four calls in the usage dataset.
const CALLS: &str = "request_id,app_id,deployment,model,prompt_tokens,completion_tokens,streamed,partial,region\n\
    9b1f6c2a-51d0-4c8e-a3f4-0e7d2b9c1a01,payroll-bot-sub,gpt-4o,gpt-4o-2024-11-20,1850,230,true,false,swedencentral\n\
    9b1f6c2a-51d0-4c8e-a3f4-0e7d2b9c1a02,hr-portal-sub,gpt-4o-mini,gpt-4o-mini-2024-07-18,640,96,false,false,eastus2\n\
    9b1f6c2a-51d0-4c8e-a3f4-0e7d2b9c1a03,payroll-bot-sub,gpt-4o,gpt-4o-2024-11-20,3000,500,true,false,swedencentral\n\
    9b1f6c2a-51d0-4c8e-a3f4-0e7d2b9c1a04,hr-portal-sub,gpt-4o-mini,gpt-4o-mini-2024-07-18,10000,2000,false,false,eastus2\n";

fn fixture_lines() -> Vec<String> {
    let text =
        std::fs::read_to_string(repo_root().join("tests/e2e/fixtures/apim-llm-log.jsonl")).expect("fixture");
    text.lines().map(str::to_owned).collect()
}

fn write_lines(dir: &Path, name: &str, lines: &[&str]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").expect("write");
    path
}

fn calls(dir: &Path) -> String {
    let query = "select request_id, app_id, deployment, model, prompt_tokens, completion_tokens, streamed, partial, region \
                 from usage where request_id like '9b1f6c2a-%' order by request_id";
    stdout(&tokentally(
        dir,
        &["sql", query, "--out", "out", "--format", "csv"],
        0,
    ))
}

/// The chargeback's `(calls, prompt_tokens, completion_tokens, cost)` of an app
/// on a deployment and model, read by column name.
fn charged(dir: &Path, app: &str, deployment: &str, model: &str) -> (String, String, String, String) {
    let text = std::fs::read_to_string(dir.join("out/chargeback-2026-10.csv")).expect("chargeback");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).expect(name);
    let row: Vec<&str> = lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .find(|r| {
            r[column("app_id")] == app && r[column("deployment")] == deployment && r[column("model")] == model
        })
        .unwrap_or_else(|| panic!("no chargeback line for {app} {deployment} {model}:\n{text}"));
    let cell = |name: &str| row[column(name)].to_owned();
    (
        cell("calls"),
        cell("prompt_tokens"),
        cell("completion_tokens"),
        cell("cost"),
    )
}

fn check_report(dir: &Path) {
    assert_eq!(calls(dir), CALLS);
    // gpt-4o global: 2.50 input, 10.00 output per 1M tokens.
    let payroll = charged(dir, "payroll-bot-sub", "gpt-4o", "gpt-4o-2024-11-20");
    assert_eq!(
        payroll,
        ("2".into(), "4850".into(), "730".into(), "0.019425".into())
    );
    // gpt-4o-mini global: 0.15 input, 0.60 output per 1M tokens.
    let hr = charged(dir, "hr-portal-sub", "gpt-4o-mini", "gpt-4o-mini-2024-07-18");
    assert_eq!(hr, ("2".into(), "10640".into(), "2096".into(), "0.002854".into()));
}

/// Both forms on one partition, the second event of each after a flush: every
/// call is one row with its token row's tokens, model and deployment, its
/// gateway log's subscription, and the report prices it.
#[test]
fn llm_log_over_two_events_and_two_flushes_reaches_the_chargeback() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lines = fixture_lines();
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let first = write_lines(dir.path(), "first.jsonl", &lines[..2]);
    let second = write_lines(dir.path(), "second.jsonl", &lines[2..]);
    // Gateway records between the halves: three rows make a flush.
    let between = sample(dir.path(), "between.jsonl", 3, 16);
    let topic = unique("e2e-llm-log");
    assert_eq!(produce(&topic, 1, &[&first, &between, &second]), 7);
    let cfg = kafka_config(dir.path(), "kafka.toml", &topic, &topic, "flush_records = 3");
    let output = tokentally(
        dir.path(),
        &["run", "--config", cfg.to_str().expect("utf-8"), "--json"],
        0,
    );
    let run: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("json");
    let summary = &run["ingest"][0];
    assert_eq!(summary["records"], 7);
    assert_eq!(
        (summary["rows_written"].as_u64(), summary["partial_rows"].as_u64()),
        (Some(7), Some(0)),
        "{summary}"
    );
    assert_eq!(summary["quarantined"], 0);
    assert_eq!(
        summary["skipped"]["diagnostic category WebSocketConnectionLogs"],
        1
    );
    assert!(
        summary["kafka"]["commits"].as_u64() >= Some(2),
        "a flush came between: {summary}"
    );
    check_report(dir.path());
}

/// The same records from a file, in another order (the halves swapped): the
/// same rows and charges.
#[test]
fn llm_log_from_a_file_in_another_order_gives_the_same_charges() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lines = fixture_lines();
    let swapped: Vec<&str> = [3, 2, 1, 0].iter().map(|&i| lines[i].as_str()).collect();
    let file = write_lines(dir.path(), "llm-log.jsonl", &swapped);
    let cfg = config(dir.path(), &[&file]);
    tokentally(dir.path(), &["run", "--config", cfg.to_str().expect("utf-8")], 0);
    check_report(dir.path());
}

/// The LLM log in one file and the gateway logs in another, as Event Hubs
/// Capture writes them when the two categories land on different partitions:
/// each call's tokens come from its LLM log and its caller from its gateway log,
/// joined in the report (`dedup.rs`), so the charges are the same.
#[test]
fn llm_log_and_gateway_logs_in_different_files_give_the_same_charges() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut llm = Vec::new();
    let mut gateway = Vec::new();
    for line in fixture_lines() {
        let export: serde_json::Value = serde_json::from_str(&line).expect("export");
        for record in export["records"].as_array().expect("records") {
            let category = record["category"]
                .as_str()
                .or(record["Type"].as_str())
                .unwrap_or_default();
            if category.contains("GatewayLogs") {
                gateway.push(record.clone());
            } else {
                llm.push(record.clone());
            }
        }
    }
    assert_eq!(gateway.len(), 4, "a gateway log per call");
    let export = |records: &[serde_json::Value]| serde_json::json!({ "records": records }).to_string();
    let llm_file = write_lines(dir.path(), "partition-0.jsonl", &[&export(&llm)]);
    let gateway_file = write_lines(dir.path(), "partition-1.jsonl", &[&export(&gateway)]);
    let cfg = config(dir.path(), &[&llm_file, &gateway_file]);
    tokentally(dir.path(), &["run", "--config", cfg.to_str().expect("utf-8")], 0);

    let payroll = charged(dir.path(), "payroll-bot-sub", "gpt-4o", "gpt-4o-2024-11-20");
    assert_eq!(
        payroll,
        ("2".into(), "4850".into(), "730".into(), "0.019425".into())
    );
    let hr = charged(
        dir.path(),
        "hr-portal-sub",
        "gpt-4o-mini",
        "gpt-4o-mini-2024-07-18",
    );
    assert_eq!(hr, ("2".into(), "10640".into(), "2096".into(), "0.002854".into()));
    let text = std::fs::read_to_string(dir.path().join("out/chargeback-2026-10.csv")).expect("chargeback");
    assert!(!text.contains("unattributed"), "{text}");
    let views = stdout(&tokentally(
        dir.path(),
        &[
            "sql",
            "select count(*) as calls, sum(prompt_tokens) as prompt from calls where request_id like '9b1f6c2a-%'",
            "--out",
            "out",
            "--format",
            "csv",
        ],
        0,
    ));
    assert_eq!(views, "calls,prompt\n4,15490\n");
}
