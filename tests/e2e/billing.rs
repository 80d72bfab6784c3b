//! Token classes and numbers that cannot lie, through the real binary: gateway
//! records → ingest → report → the files finance opens, checked by independent
//! readers.

use crate::support::{check_outputs, repo_like, stdout, tokentally};
use serde_json::{Value, json};
use std::fs;
use std::path::Path;
use tokentally_testdata::gateway::{Call, chat_answer, jsonl};

/// A non-streamed call of `app` (an APIM subscription) to `deployment`.
fn record(id: &str, app: &str, deployment: &str, operation: &str, request: Value, body: Value) -> Value {
    Call {
        deployment: deployment.to_owned(),
        operation: operation.to_owned(),
        request,
        body,
        ..Call::chat(id, app)
    }
    .to_json()
}

fn chat(id: &str, app: &str, deployment: &str, model: &str, usage: Value) -> Value {
    Call {
        deployment: deployment.to_owned(),
        body: chat_answer(model, &usage),
        ..Call::chat(id, app)
    }
    .to_json()
}

fn write_jsonl(path: &Path, records: &[Value]) {
    fs::write(path, jsonl(records)).expect("write records");
}

/// Issue 16: audio, predicted-output and image tokens are stored as such, priced
/// per class with the shipped price list, and reconcile.
#[test]
fn audio_prediction_and_image_calls_are_priced_per_class_and_reconcile() {
    let dir = tempfile::tempdir().expect("tempdir");
    repo_like(dir.path());
    let records = [
        chat(
            "audio-1",
            "voice-app",
            "gpt-4o-audio",
            "gpt-4o-audio-preview-2024-12-17",
            json!({"prompt_tokens": 900, "completion_tokens": 620, "total_tokens": 1520,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 700},
                "completion_tokens_details": {"audio_tokens": 500, "reasoning_tokens": 0,
                    "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}),
        ),
        chat(
            "predict-1",
            "editor-app",
            "gpt-4o",
            "gpt-4o-2024-08-06",
            json!({"prompt_tokens": 300, "completion_tokens": 240, "total_tokens": 540,
                "completion_tokens_details": {"accepted_prediction_tokens": 180,
                    "rejected_prediction_tokens": 40}}),
        ),
        record(
            "image-1",
            "design-app",
            "gpt-image-1",
            "/openai/deployments/gpt-image-1/images/generations",
            json!({"prompt": "A lighthouse", "size": "1024x1024", "quality": "high"}),
            json!({"created": 1, "data": [{"b64_json": "AA=="}],
                "usage": {"input_tokens": 12, "output_tokens": 4160, "total_tokens": 4172,
                    "input_tokens_details": {"text_tokens": 12, "image_tokens": 0}}}),
        ),
    ];
    write_jsonl(&dir.path().join("calls.jsonl"), &records);
    tokentally(dir.path(), &["ingest", "calls.jsonl", "--out", "out"], 0);
    let report = tokentally(
        dir.path(),
        &["report", "--month", "2026-10", "--out", "out", "--strict"],
        0,
    );
    assert!(
        !stdout(&report).contains("without a price row"),
        "{}",
        stdout(&report)
    );
    let detail = fs::read_to_string(dir.path().join("out/chargeback-detail-2026-10.csv")).expect("detail");
    let row = |app: &str, class: &str| {
        detail
            .lines()
            .find(|l| {
                l.contains(&format!(",{app},subscription,")) && l.contains(&format!(",{class},prices.csv:"))
            })
            .map(|l| l.split(',').collect::<Vec<_>>())
            .unwrap_or_else(|| panic!("no {class} row for {app}:\n{detail}"))
    };
    // ConsumedQuantity (10th column) and BilledCost (15th): list prices per 1 M.
    let cells = |app: &str, class: &str| {
        let r = row(app, class);
        (r[9].to_owned(), r[14].to_owned())
    };
    assert_eq!(
        cells("voice-app", "audio_input"),
        ("700".into(), "0.028000".into())
    );
    assert_eq!(
        cells("voice-app", "audio_output"),
        ("500".into(), "0.040000".into())
    );
    assert_eq!(cells("voice-app", "input"), ("200".into(), "0.000500".into()));
    assert_eq!(cells("voice-app", "output"), ("120".into(), "0.001200".into()));
    // Rejected prediction tokens are billed as output, inside the completion.
    assert_eq!(cells("editor-app", "output"), ("240".into(), "0.002400".into()));
    assert_eq!(
        cells("design-app", "image_output"),
        ("4160".into(), "0.166400".into())
    );
    assert_eq!(cells("design-app", "input"), ("12".into(), "0.000060".into()));
    let chargeback = fs::read_to_string(dir.path().join("out/chargeback-2026-10.csv")).expect("csv");
    assert!(
        chargeback
            .lines()
            .any(|l| l.contains(",editor-app,") && l.contains(",180,40,540,")),
        "{chargeback}"
    );
    check_outputs(&dir.path().join("out"), "2026-10");
}

/// Issue 15: a 9e18 usage (twice), a negative and a fractional count are
/// quarantined as invalid_field, never summed; the rest is billed.
#[test]
fn impossible_counts_are_quarantined_and_never_summed() {
    let dir = tempfile::tempdir().expect("tempdir");
    repo_like(dir.path());
    let usage =
        |prompt: Value, completion: Value| json!({"prompt_tokens": prompt, "completion_tokens": completion});
    let records = [
        chat(
            "huge-1",
            "app",
            "gpt-4o",
            "gpt-4o",
            usage(json!(9_000_000_000_000_000_000u64), json!(1)),
        ),
        chat(
            "huge-2",
            "app",
            "gpt-4o",
            "gpt-4o",
            usage(json!(9_000_000_000_000_000_000u64), json!(1)),
        ),
        chat("negative", "app", "gpt-4o", "gpt-4o", usage(json!(-5), json!(1))),
        chat(
            "fraction",
            "app",
            "gpt-4o",
            "gpt-4o",
            usage(json!(10), json!(2.5)),
        ),
        chat("fine", "app", "gpt-4o", "gpt-4o", usage(json!(10), json!(2))),
    ];
    write_jsonl(&dir.path().join("calls.jsonl"), &records);
    let ingest = tokentally(dir.path(), &["ingest", "calls.jsonl", "--out", "out"], 0);
    let text = stdout(&ingest);
    assert!(
        text.contains("rows written: 1") && text.contains("quarantined: 4"),
        "{text}"
    );
    let quarantine: String = fs::read_dir(dir.path().join("out/quarantine"))
        .expect("quarantine dir")
        .map(|e| fs::read_to_string(e.expect("entry").path()).expect("read"))
        .collect();
    let entries: Vec<Value> = quarantine
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(entries.len(), 4);
    assert!(
        entries.iter().all(|e| e["kind"] == "invalid_field"),
        "{quarantine}"
    );
    for want in [
        "above the sanity bound",
        "-5 is negative",
        "2.5 is not a whole number",
    ] {
        assert!(quarantine.contains(want), "{want}: {quarantine}");
    }
    tokentally(dir.path(), &["report", "--month", "2026-10", "--out", "out"], 0);
    let chargeback = fs::read_to_string(dir.path().join("out/chargeback-2026-10.csv")).expect("csv");
    assert!(
        chargeback.contains(",app,,subscription,gpt-4o,global,gpt-4o,1,0,10,"),
        "{chargeback}"
    );
    assert!(!chargeback.contains(",-"), "{chargeback}");
    check_outputs(&dir.path().join("out"), "2026-10");
}

/// Issue 15: an app id or deployment a spreadsheet would run as a formula goes
/// through ingest and report into every CSV escaped, and exact into Parquet.
#[test]
fn formula_app_ids_are_escaped_in_every_csv() {
    let dir = tempfile::tempdir().expect("tempdir");
    repo_like(dir.path());
    let usage = json!({"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12});
    let records = [
        chat("f1", "@SUM(1+1)", "gpt-4o", "gpt-4o", usage.clone()),
        chat("f2", "=HYPERLINK(\"http://x\")", "-cmd", "+gpt-4o", usage),
    ];
    write_jsonl(&dir.path().join("calls.jsonl"), &records);
    tokentally(dir.path(), &["ingest", "calls.jsonl", "--out", "out"], 0);
    tokentally(dir.path(), &["report", "--month", "2026-10", "--out", "out"], 0);
    let out = dir.path().join("out");
    for name in [
        "chargeback-2026-10.csv",
        "chargeback-detail-2026-10.csv",
        "unpriced-2026-10.csv",
    ] {
        let text = fs::read_to_string(out.join(name)).expect("csv");
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        for record in reader.records() {
            for cell in &record.expect("CSV row") {
                assert!(
                    !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                    "{name}: {cell}"
                );
            }
        }
        assert!(
            text.contains("\"'@SUM(1+1)\"") || name.starts_with("unpriced"),
            "{name}:\n{text}"
        );
    }
    let unpriced = fs::read_to_string(out.join("unpriced-2026-10.csv")).expect("unpriced");
    assert!(
        unpriced.contains("\"'=HYPERLINK(\"\"http://x\"\")\",unassigned,\"'-cmd\""),
        "{unpriced}"
    );
    let sql = tokentally(
        dir.path(),
        &[
            "sql",
            "SELECT app_id FROM usage ORDER BY app_id",
            "--out",
            "out",
            "--format",
            "csv",
        ],
        0,
    );
    assert_eq!(
        stdout(&sql),
        "app_id\n\"'=HYPERLINK(\"\"http://x\"\")\"\n\"'@SUM(1+1)\"\n"
    );
    // check_outputs compares CSV with Parquet: the Parquet values are exact.
    check_outputs(&out, "2026-10");
}

/// `tokentally prices check` lists catalog models with a used class no row
/// prices (exit 3), and nothing for the shipped list over the sample (exit 0).
#[test]
fn prices_check_lists_models_without_price_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    repo_like(dir.path());
    let records = [chat(
        "a1",
        "voice-app",
        "gpt-4o-audio",
        "gpt-4o-audio-preview-2024-12-17",
        json!({"prompt_tokens": 900, "completion_tokens": 620,
            "prompt_tokens_details": {"audio_tokens": 700},
            "completion_tokens_details": {"audio_tokens": 500}}),
    )];
    write_jsonl(&dir.path().join("calls.jsonl"), &records);
    tokentally(dir.path(), &["ingest", "calls.jsonl", "--out", "out"], 0);
    let ok = tokentally(dir.path(), &["prices", "check", "--month", "2026-10"], 0);
    assert!(
        stdout(&ok).contains("every catalog model used in 2026-10"),
        "{}",
        stdout(&ok)
    );
    // A price list without the audio classes.
    let shipped = fs::read_to_string(dir.path().join("pipelines/prices.csv")).expect("prices");
    let text: String = shipped
        .lines()
        .filter(|l| !l.starts_with("gpt-4o-audio-preview,global,,audio_"))
        .map(|l| format!("{l}\n"))
        .collect();
    fs::write(dir.path().join("pipelines/prices.csv"), text).expect("write");
    let missing = tokentally(dir.path(), &["prices", "check", "--month", "2026-10"], 3);
    assert!(
        stdout(&missing).contains(
            "gpt-4o-audio-preview: no audio_input, audio_output price row (1200 tokens; models gpt-4o-audio-preview-2024-12-17)"
        ),
        "{}",
        stdout(&missing)
    );
    // The report says the same in its summary.
    let report = tokentally(dir.path(), &["report", "--month", "2026-10", "--out", "out"], 0);
    assert!(
        stdout(&report).contains("catalog models without a price row"),
        "{}",
        stdout(&report)
    );
}

/// Two copies of a call that differ (one file's estimate and another's reported
/// usage; one file's subscription and another's token claim) are billed by the
/// documented rule, whichever file sorts first, and the independent checker,
/// which states that rule itself, agrees with the chargeback.
#[test]
fn copies_that_differ_are_billed_by_the_documented_rule_and_the_checker_agrees() {
    let dir = tempfile::tempdir().expect("tempdir");
    repo_like(dir.path());
    let usage = json!({"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500});
    let with_claim = |mut record: Value, app: &str| {
        record["caller"]["claims"] = json!({"appid": app});
        record
    };
    // `a.jsonl` sorts first: a rule that took the first source would bill its copies.
    write_jsonl(
        &dir.path().join("a.jsonl"),
        &[
            chat(
                "dup-usage",
                "estimate-app",
                "gpt-4o",
                "gpt-4o-2024-08-06",
                Value::Null,
            ),
            chat(
                "dup-identity",
                "subscription-app",
                "gpt-4o",
                "gpt-4o-2024-08-06",
                usage.clone(),
            ),
        ],
    );
    write_jsonl(
        &dir.path().join("b.jsonl"),
        &[
            chat(
                "dup-usage",
                "reported-app",
                "gpt-4o",
                "gpt-4o-2024-08-06",
                usage.clone(),
            ),
            with_claim(
                chat(
                    "dup-identity",
                    "subscription-app",
                    "gpt-4o",
                    "gpt-4o-2024-08-06",
                    usage,
                ),
                "claim-app",
            ),
        ],
    );
    tokentally(dir.path(), &["ingest", "a.jsonl", "b.jsonl", "--out", "out"], 0);
    tokentally(dir.path(), &["report", "--month", "2026-10", "--out", "out"], 0);
    let chargeback = fs::read_to_string(dir.path().join("out/chargeback-2026-10.csv")).expect("csv");
    let billed = |app: &str| chargeback.lines().any(|l| l.contains(&format!(",{app},")));
    assert!(billed("reported-app") && billed("claim-app"), "{chargeback}");
    assert!(
        !billed("estimate-app") && !billed("subscription-app"),
        "a losing copy was billed:\n{chargeback}"
    );
    check_outputs(&dir.path().join("out"), "2026-10");
}
