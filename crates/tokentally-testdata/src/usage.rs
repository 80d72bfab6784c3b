//! Usage rows as the ingest writes them: a [`UsageRecord`] of a plain call, and
//! the Hive-partitioned Parquet day files (`usage/date=YYYY-MM-DD/*.parquet`) in
//! [`tokentally_core::usage_schema`] that hold them.

use chrono::{DateTime, Utc};
use parquet::arrow::ArrowWriter;
use std::collections::BTreeMap;
use std::path::Path;
use tokentally_core::{AppIdSource, Operation, SourcePosition, UsageRecord, UsageSource};

/// An RFC 3339 time, in UTC.
pub fn time(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("RFC 3339 time")
        .with_timezone(&Utc)
}

/// A successful chat call `event_id` at `at` of `app` (identified by a token
/// claim) to deployment `gpt-4o`, serving `model`, with `prompt` and
/// `completion` tokens reported by AOAI, read from `fixture.jsonl` line 1.
/// Tests change the fields their case is about.
pub fn call(
    event_id: &str,
    at: &str,
    app: &str,
    model: Option<&str>,
    prompt: i64,
    completion: i64,
) -> UsageRecord {
    UsageRecord {
        event_id: event_id.into(),
        request_id: Some(format!("req-{event_id}")),
        request_time: time(at),
        app_id: app.into(),
        app_id_source: AppIdSource::Claim,
        tenant_id: None,
        object_id: None,
        subscription: None,
        product: None,
        deployment: Some("gpt-4o".into()),
        model: model.map(Into::into),
        model_family: model
            .and_then(tokentally_core::lookup_model)
            .map(|m| m.family.into()),
        api_version: Some("2024-10-21".into()),
        operation: Operation::ChatCompletions,
        streamed: false,
        status: 200,
        prompt_tokens: prompt,
        cached_prompt_tokens: 0,
        audio_prompt_tokens: 0,
        cached_audio_prompt_tokens: 0,
        image_prompt_tokens: 0,
        cached_image_prompt_tokens: 0,
        completion_tokens: completion,
        reasoning_tokens: 0,
        audio_completion_tokens: 0,
        image_completion_tokens: 0,
        accepted_prediction_tokens: 0,
        rejected_prediction_tokens: 0,
        total_tokens: prompt + completion,
        estimated_prompt_tokens: None,
        estimated_completion_tokens: None,
        usage_source: UsageSource::Reported,
        encoding: None,
        finish_reason: Some("stop".into()),
        choice_count: 1,
        partial: false,
        region: None,
        backend: None,
        latency_ms: Some(100),
        notes: None,
        source: SourcePosition {
            source: "fixture.jsonl".into(),
            partition: None,
            offset: 1,
        },
    }
}

/// Writes `records` to `<data_dir>/usage/date=YYYY-MM-DD/<name>.parquet`, one
/// file per day, as the ingest lays the dataset out.
pub fn write_usage(data_dir: &Path, name: &str, records: &[UsageRecord]) {
    let mut by_day: BTreeMap<String, Vec<UsageRecord>> = BTreeMap::new();
    for r in records {
        by_day
            .entry(r.request_time.date_naive().to_string())
            .or_default()
            .push(r.clone());
    }
    for (day, records) in by_day {
        let dir = data_dir.join("usage").join(format!("date={day}"));
        std::fs::create_dir_all(&dir).expect("create partition");
        let batch = tokentally_core::usage_to_batch(&records).expect("batch");
        let file = std::fs::File::create(dir.join(format!("{name}.parquet"))).expect("create file");
        let mut writer = ArrowWriter::try_new(file, batch.schema(), None).expect("writer");
        writer.write(&batch).expect("write");
        writer.close().expect("close");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_is_a_valid_reported_row_and_lands_in_its_day() {
        let row = call("e1", "2026-10-05T23:59:59Z", "app", Some("gpt-4o"), 100, 10);
        assert_eq!(row.total_tokens, 110);
        assert!(row.token_counts().check_call().is_ok());
        let dir = tempfile::tempdir().expect("tempdir");
        write_usage(dir.path(), "part", &[row]);
        assert!(dir.path().join("usage/date=2026-10-05/part.parquet").is_file());
    }
}
