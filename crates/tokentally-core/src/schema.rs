//! The one Arrow schema of the usage dataset. Writers, the report and external
//! readers (DuckDB, Spark, pandas) all see these names and types; change them only
//! with a new [`USAGE_SCHEMA_VERSION`] and a note in docs/formats.md.

use crate::{Result, TokenCounts, UsageColumns, UsageRecord};
use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use std::sync::{Arc, LazyLock};

/// Stored in the Parquet key-value metadata as `tokentally.usage_schema`.
/// 2 added `model_family`; 3 the audio, image and predicted-output token columns
/// ([`TokenCounts::ADDED_IN_V3`]), nullable so that a dataset mixing older files
/// reads as one table (their rows have nulls there, read as zero).
pub const USAGE_SCHEMA_VERSION: u32 = 3;

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let utf8 = |name: &str, nullable: bool| Field::new(name, DataType::Utf8, nullable);
    let int64 = |name: &str| Field::new(name, DataType::Int64, false);
    let tokens = TokenCounts::COLUMNS
        .map(|name| Field::new(name, DataType::Int64, TokenCounts::ADDED_IN_V3.contains(&name)));
    let metadata = [(
        "tokentally.usage_schema".to_owned(),
        USAGE_SCHEMA_VERSION.to_string(),
    )];
    let mut fields = vec![
        utf8("event_id", false),
        utf8("request_id", true),
        Field::new(
            "request_time",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        utf8("app_id", false),
        utf8("app_id_source", false),
        utf8("tenant_id", true),
        utf8("object_id", true),
        utf8("subscription", true),
        utf8("product", true),
        utf8("deployment", true),
        utf8("model", true),
        utf8("model_family", true),
        utf8("api_version", true),
        utf8("operation", false),
        Field::new("streamed", DataType::Boolean, false),
        Field::new("status", DataType::UInt16, false),
    ];
    fields.extend(tokens);
    fields.extend([
        Field::new("estimated_prompt_tokens", DataType::Int64, true),
        Field::new("estimated_completion_tokens", DataType::Int64, true),
        utf8("usage_source", false),
        utf8("encoding", true),
        utf8("finish_reason", true),
        Field::new("choice_count", DataType::Int32, false),
        Field::new("partial", DataType::Boolean, false),
        utf8("region", true),
        utf8("backend", true),
        Field::new("latency_ms", DataType::Int64, true),
        utf8("notes", true),
        utf8("source", false),
        Field::new("source_partition", DataType::Int32, true),
        int64("source_offset"),
    ]);
    Arc::new(Schema::new(fields).with_metadata(metadata.into_iter().collect()))
});

/// The schema of the usage dataset (without the Hive `date` partition column).
pub fn usage_schema() -> SchemaRef {
    SCHEMA.clone()
}

/// Converts records to one Arrow batch in [`usage_schema`].
///
/// # Errors
/// Only on a broken invariant: the columns disagreeing with the schema.
pub fn usage_to_batch(records: &[UsageRecord]) -> Result<RecordBatch> {
    let mut columns = UsageColumns::with_capacity(records.len());
    for record in records {
        columns.push(record);
    }
    columns.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AppIdSource, Operation, SourcePosition, UsageSource};
    use chrono::TimeZone;

    pub(crate) fn record() -> UsageRecord {
        UsageRecord {
            event_id: "e1".into(),
            request_id: Some("r1".into()),
            request_time: chrono::Utc
                .with_ymd_and_hms(2026, 10, 3, 12, 0, 0)
                .single()
                .expect("valid time"),
            app_id: "app".into(),
            app_id_source: AppIdSource::Claim,
            tenant_id: None,
            object_id: None,
            subscription: None,
            product: None,
            deployment: Some("gpt-4o".into()),
            model: Some("gpt-4o-2024-08-06".into()),
            model_family: Some("gpt-4o".into()),
            api_version: None,
            operation: Operation::ChatCompletions,
            streamed: true,
            status: 200,
            prompt_tokens: 10,
            cached_prompt_tokens: 0,
            audio_prompt_tokens: 0,
            cached_audio_prompt_tokens: 0,
            image_prompt_tokens: 0,
            cached_image_prompt_tokens: 0,
            completion_tokens: 5,
            reasoning_tokens: 0,
            audio_completion_tokens: 0,
            image_completion_tokens: 0,
            accepted_prediction_tokens: 0,
            rejected_prediction_tokens: 0,
            total_tokens: 15,
            estimated_prompt_tokens: Some(10),
            estimated_completion_tokens: Some(5),
            usage_source: UsageSource::Estimated,
            encoding: Some("o200k_base".into()),
            finish_reason: Some("stop".into()),
            choice_count: 1,
            partial: false,
            region: None,
            backend: None,
            latency_ms: Some(120),
            notes: None,
            source: SourcePosition {
                source: "f.jsonl".into(),
                partition: None,
                offset: 3,
            },
        }
    }

    #[test]
    fn batch_matches_schema() {
        let batch = usage_to_batch(&[record(), record()]).expect("batch");
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(batch.schema(), usage_schema());
        let tokens = batch.column_by_name("total_tokens").expect("column");
        let tokens = tokens
            .as_any()
            .downcast_ref::<arrow::array::Int64Array>()
            .expect("int64");
        assert_eq!(tokens.value(1), 15);
        let mut audio = record();
        audio.audio_completion_tokens = 3;
        let batch = usage_to_batch(&[audio]).expect("batch");
        let column = batch.column_by_name("audio_completion_tokens").expect("column");
        let column = column
            .as_any()
            .downcast_ref::<arrow::array::Int64Array>()
            .expect("int64");
        assert_eq!((column.value(0), arrow::array::Array::null_count(column)), (3, 0));
        // Columns older files lack are nullable; the first five never were.
        let schema = usage_schema();
        for name in TokenCounts::COLUMNS {
            let nullable = schema.field_with_name(name).ok().map(|f| f.is_nullable());
            assert_eq!(nullable, Some(TokenCounts::ADDED_IN_V3.contains(&name)), "{name}");
        }
    }

    #[test]
    fn empty_batch_is_valid() {
        assert_eq!(usage_to_batch(&[]).expect("batch").num_rows(), 0);
    }
}
