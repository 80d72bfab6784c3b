//! What operators watch and finance reads: progress while a file or stdin
//! ingest runs on a terminal, and chargeback lines that name their owner, their
//! currency and only the model the call itself named.

use crate::support::{OnTerminal, repo_like, stdout, tokentally};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use tokentally_testdata::gateway::Call;

/// A small gateway record (well under a terminal's 4 KiB line limit).
fn call(id: &str, app: &str, status: u16, body: Value) -> Value {
    Call {
        status,
        body,
        ..Call::chat(id, app)
    }
    .to_json()
}

/// A call answered with 9 prompt and 1 completion tokens.
fn ok_call(id: &str, app: &str) -> Value {
    Call::chat(id, app).to_json()
}

/// `tokentally ingest -` on a terminal (`script` gives it one, stdin being that
/// terminal): the progress line shows while records are still coming in, before
/// the input ends.
#[test]
fn stdin_ingest_on_a_terminal_shows_progress_before_the_input_ends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut term = OnTerminal::start(dir.path(), "ingest - --out out", &[("NO_COLOR", "1")]);
    writeln!(term.stdin, "{}", ok_call("p-1", "app-a")).expect("type");
    // The input is still open: only a live progress line can say "1 records".
    term.wait_for(|screen| screen.contains("stdin: "));
    let during = term.shown();
    assert!(during.contains("1 records"), "{during}");
    writeln!(term.stdin, "{}", ok_call("p-2", "app-a")).expect("type");
    // Ctrl-D at the start of a line: end of input on a terminal.
    term.stdin.write_all(b"\x04").expect("type EOF");
    term.stdin.flush().expect("flush");
    let (success, text) = term.finish();
    assert!(success, "{text}");
    assert!(text.contains("rows written: 2"), "{text}");
}

/// `tokentally ingest FILE` on a terminal: the progress line says how far
/// through the file the run is.
#[test]
fn file_ingest_on_a_terminal_shows_how_far_through_the_file_it_is() {
    let dir = tempfile::tempdir().expect("tempdir");
    crate::support::sample(dir.path(), "calls.jsonl", 2000, 41);
    let term = OnTerminal::start(dir.path(), "ingest calls.jsonl --out out", &[("NO_COLOR", "1")]);
    let (success, text) = term.finish();
    assert!(success, "{text}");
    // `calls.jsonl: 1.21 MiB of 9.80 MiB (12%); 240 records, …`
    let progress = text
        .split(['\r', '\n'])
        .find(|l| l.contains("calls.jsonl: ") && l.contains(" of ") && l.contains("%); "));
    assert!(progress.is_some(), "{text}");
    assert!(text.contains("rows written: 2000"), "{text}");
}

fn csv_rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).expect("read csv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    lines
        .map(|l| {
            header
                .iter()
                .zip(l.split(','))
                .map(|(h, v)| ((*h).to_owned(), v.to_owned()))
                .collect()
        })
        .collect()
}

/// The chargeback CSV names each line's cost center and app name beside its app
/// id, every line has its currency (also a line nothing of which was priced),
/// and a failed call that named no model is `(unknown)`, not a model named
/// after its deployment.
#[test]
fn chargeback_lines_name_owner_currency_and_no_borrowed_model() {
    let dir = tempfile::tempdir().expect("tempdir");
    repo_like(dir.path());
    let owned = "0d0411c0-095f-45ab-a749-0c66b4428136"; // kb-search, CC-4100
    let throttled = call(
        "f-1",
        owned,
        429,
        json!({"error": {"code": "429", "message": "Rate limit is exceeded."}}),
    );
    let mut unpriced = ok_call("u-1", "stranger");
    unpriced["deployment"] = json!("house-model");
    unpriced["response"]["body"]["model"] = json!("house-model-1");
    let records = [ok_call("o-1", owned), throttled, unpriced];
    let text: String = records.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(dir.path().join("calls.jsonl"), text).expect("write");
    tokentally(dir.path(), &["ingest", "calls.jsonl", "--out", "out"], 0);
    tokentally(dir.path(), &["report", "--month", "2026-10", "--out", "out"], 0);

    let csv = std::fs::read_to_string(dir.path().join("out/chargeback-2026-10.csv")).expect("csv");
    let header = csv.lines().next().expect("header");
    assert!(
        header.starts_with("month,cost_center,app_id,app_name,"),
        "{header}"
    );
    let rows = csv_rows(&dir.path().join("out/chargeback-2026-10.csv"));
    assert!(rows.iter().all(|r| r["currency"] == "USD"), "{csv}");
    let owned_rows: Vec<_> = rows.iter().filter(|r| r["app_id"] == owned).collect();
    assert!(!owned_rows.is_empty(), "{csv}");
    for r in &owned_rows {
        assert_eq!(
            (r["cost_center"].as_str(), r["app_name"].as_str()),
            ("CC-4100", "kb-search"),
            "{csv}"
        );
    }
    let failed: Vec<_> = owned_rows.iter().filter(|r| r["failed_calls"] == "1").collect();
    assert_eq!(failed.len(), 1, "{csv}");
    assert_eq!(failed[0]["model"], "(unknown)", "{csv}");
    assert_eq!(failed[0]["deployment"], "gpt-4o", "{csv}");
    let stranger = rows
        .iter()
        .find(|r| r["app_id"] == "stranger")
        .expect("stranger line");
    assert_eq!(
        (
            stranger["cost_center"].as_str(),
            stranger["app_name"].as_str(),
            stranger["priced"].as_str()
        ),
        ("unassigned", "", "false"),
        "{csv}"
    );
    // The summary shows app names too.
    let summary = tokentally(dir.path(), &["report", "--month", "2026-10", "--out", "out"], 0);
    assert!(stdout(&summary).contains("kb-search"), "{}", stdout(&summary));
}
