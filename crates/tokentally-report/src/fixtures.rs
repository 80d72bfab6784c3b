//! Test fixtures: usage rows written as the ingest writes them (Hive-partitioned
//! Parquet in [`tokentally_core::usage_schema`]).

use chrono::{DateTime, Utc};
use parquet::arrow::ArrowWriter;
use std::collections::BTreeMap;
use std::path::Path;
use tokentally_core::{AppIdSource, Operation, SourcePosition, UsageRecord, UsageSource};

pub(crate) fn time(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("RFC 3339 time")
        .with_timezone(&Utc)
}

/// A successful, reported call of `app` to deployment `gpt-4o`.
pub(crate) fn call(
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

/// Writes `records` to `<data>/usage/date=YYYY-MM-DD/<name>.parquet`, one file per day.
pub(crate) fn write_usage(data_dir: &Path, name: &str, records: &[UsageRecord]) {
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

pub(crate) const PRICES: &str = "\
model,token_class,unit,price,currency,effective_from,effective_to,source
gpt-4o,input,1M tokens,2.50,USD,2026-01-01,,test
gpt-4o,cached_input,1M tokens,1.25,USD,2026-01-01,,test
gpt-4o,output,1M tokens,10.00,USD,2026-01-01,,test
gpt-4o-mini,input,1M tokens,0.15,USD,2026-01-01,,test
gpt-4o-mini,cached_input,1M tokens,0.075,USD,2026-01-01,,test
gpt-4o-mini,output,1M tokens,0.60,USD,2026-01-01,,test
gpt-4o-audio-preview,input,1M tokens,2.50,USD,2026-01-01,,test
gpt-4o-audio-preview,output,1M tokens,10.00,USD,2026-01-01,,test
gpt-4o-audio-preview,audio_input,1M tokens,40.00,USD,2026-01-01,,test
gpt-4o-audio-preview,audio_output,1M tokens,80.00,USD,2026-01-01,,test
gpt-image-1,input,1M tokens,5.00,USD,2026-01-01,,test
gpt-image-1,image_input,1M tokens,10.00,USD,2026-01-01,,test
gpt-image-1,image_output,1M tokens,40.00,USD,2026-01-01,,test
";

pub(crate) fn write_prices(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("prices.csv");
    std::fs::write(&path, PRICES).expect("write prices");
    path
}

/// `gpt-4o` pay-as-you-go; `mini` a provisioned deployment of 10 USD a month,
/// shared by whoever calls it; an audio and an image-generation deployment.
pub(crate) const DEPLOYMENTS: &str = "\
deployment,deployment_type,region,monthly_cost,currency,effective_from,effective_to,source
gpt-4o,global,swedencentral,,,,,test
mini,provisioned,eastus2,10.00,USD,2026-10-01,,test
gpt-4o-audio,global,swedencentral,,,,,test
gpt-image-1,global,swedencentral,,,,,test
";

pub(crate) fn write_deployments(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("deployments.csv");
    std::fs::write(&path, DEPLOYMENTS).expect("write deployments");
    path
}

/// The report's options for October 2026 over `dir` (dataset and outputs), with
/// [`write_prices`]' table and no other input.
pub(crate) fn october(dir: &Path) -> crate::ReportOptions {
    crate::ReportOptions {
        data_dir: dir.to_owned(),
        out_dir: dir.to_owned(),
        month: "2026-10".parse::<crate::Month>().expect("month"),
        prices: write_prices(dir),
        deployments: None,
        cost_centers: None,
        invoice: None,
    }
}

/// `sql`'s answer over the dataset in `data_dir`, each row's cells as text.
pub(crate) async fn query_rows(data_dir: &Path, sql: &str) -> Vec<Vec<String>> {
    let tables = crate::SqlTables {
        data_dir: data_dir.to_owned(),
        ..crate::SqlTables::default()
    };
    let session = crate::SqlSession::open(&tables).await.expect("session");
    let out = session.query(sql).await.expect("query");
    let mut rows = Vec::new();
    for batch in &out.batches {
        for row in 0..batch.num_rows() {
            let cell =
                |c: usize| arrow::util::display::array_value_to_string(batch.column(c), row).expect("text");
            rows.push((0..batch.num_columns()).map(cell).collect());
        }
    }
    rows
}
