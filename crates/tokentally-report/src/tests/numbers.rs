//! Numbers that cannot lie: sums that overflow, counts that cannot be split, and
//! a dataset mixing files written before and after usage schema 3.

use super::*;
use arrow::array::RecordBatch;
use parquet::arrow::ArrowWriter;
use std::sync::Arc;

fn try_report(root: &Path, m: &str) -> Result<ChargebackReport> {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(write_chargeback(&options(root, m)))
}

/// Issue 15: a usage of 9e18 tokens twice wrapped to a negative total.
#[test]
fn token_sums_that_overflow_are_an_error_naming_the_rows() {
    let root = tempfile::tempdir().expect("tempdir");
    let huge = 9_000_000_000_000_000_000;
    let calls = [
        call("big-1", "2026-10-03T10:00:00Z", "=evil", Some("gpt-4o"), huge, 0),
        call("big-2", "2026-10-03T11:00:00Z", "=evil", Some("gpt-4o"), huge, 0),
    ];
    write_usage(&root.path().join("data"), "a", &calls);
    let err = try_report(root.path(), "2026-10")
        .expect_err("overflow")
        .to_string();
    assert!(
        err.contains("app \"=evil\", deployment \"gpt-4o\", model \"gpt-4o\" on 2026-10-03")
            && err.contains("overflows"),
        "{err}"
    );
    // No file holds a wrapped number: none was written.
    assert!(!root.path().join("out/chargeback-2026-10.csv").exists());
    // On two days each day's sum fits; the month's sum of the class does not.
    let root = tempfile::tempdir().expect("tempdir");
    let calls = [
        call("big-1", "2026-10-03T10:00:00Z", "app", Some("gpt-4o"), huge, 0),
        call("big-2", "2026-10-04T10:00:00Z", "app", Some("gpt-4o"), huge, 0),
    ];
    write_usage(&root.path().join("data"), "a", &calls);
    let err = try_report(root.path(), "2026-10")
        .expect_err("overflow")
        .to_string();
    assert!(
        err.contains("app \"app\", deployment \"gpt-4o\", model \"gpt-4o\" on 2026-10-04")
            && err.contains("overflows"),
        "{err}"
    );
}

#[test]
fn counts_that_cannot_be_split_name_the_rows() {
    let root = tempfile::tempdir().expect("tempdir");
    let mut negative = call("n", "2026-10-03T10:00:00Z", "app", Some("gpt-4o"), -5, 1);
    negative.total_tokens = -4;
    write_usage(&root.path().join("data"), "a", &[negative]);
    let err = try_report(root.path(), "2026-10")
        .expect_err("negative")
        .to_string();
    assert!(
        err.contains("on 2026-10-03") && err.contains("prompt_tokens is negative (-5)"),
        "{err}"
    );
    let root = tempfile::tempdir().expect("tempdir");
    let mut parts = call("p", "2026-10-03T10:00:00Z", "app", Some("gpt-4o"), 10, 1);
    parts.audio_prompt_tokens = 11;
    write_usage(&root.path().join("data"), "a", &[parts]);
    let err = try_report(root.path(), "2026-10").expect_err("parts").to_string();
    assert!(err.contains("exceed prompt_tokens (10)"), "{err}");
}

/// A file as usage schema 2 wrote it: without the columns schema 3 added.
fn write_version_2(data: &Path, name: &str, records: &[UsageRecord]) {
    let batch = tokentally_core::usage_to_batch(records).expect("batch");
    let schema = batch.schema();
    let kept: Vec<usize> = (0..schema.fields().len())
        .filter(|&i| !tokentally_core::TokenCounts::ADDED_IN_V3.contains(&schema.field(i).name().as_str()))
        .collect();
    let old = batch.project(&kept).expect("project");
    let mut metadata = old.schema().metadata().clone();
    metadata.insert("tokentally.usage_schema".into(), "2".into());
    let schema = Arc::new(old.schema().as_ref().clone().with_metadata(metadata));
    let old = RecordBatch::try_new(schema, old.columns().to_vec()).expect("schema");
    let day = records[0].request_time.date_naive();
    let dir = data.join("usage").join(format!("date={day}"));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let file = std::fs::File::create(dir.join(format!("{name}.parquet"))).expect("create");
    let mut writer = ArrowWriter::try_new(file, old.schema(), None).expect("writer");
    writer.write(&old).expect("write");
    writer.close().expect("close");
}

#[tokio::test]
async fn files_of_schema_2_and_3_read_together() {
    let root = tempfile::tempdir().expect("tempdir");
    let data = root.path().join("data");
    write_version_2(
        &data,
        "old",
        &[call(
            "old-1",
            "2026-10-03T10:00:00Z",
            "app",
            Some("gpt-4o"),
            100,
            10,
        )],
    );
    let mut audio = call("new-1", "2026-10-03T11:00:00Z", "app", Some("gpt-4o"), 100, 10);
    audio.audio_prompt_tokens = 40;
    write_usage(&data, "new", &[audio]);
    let report = write_chargeback(&options(root.path(), "2026-10"))
        .await
        .expect("report");
    assert_eq!(report.totals.calls, 2);
    assert_eq!(
        (report.totals.tokens.prompt, report.totals.tokens.audio_prompt),
        (200, 40)
    );
    let rows = run_sql(
        &data,
        None,
        "SELECT count(*) AS calls, sum(audio_prompt_tokens) AS audio, \
         count(audio_prompt_tokens) AS known FROM usage",
    )
    .await
    .expect("sql over both versions");
    let text = format_batches(&rows).expect("format");
    assert!(text.contains("| 2     | 40    | 1     |"), "{text}");
}
