//! Reading the usage dataset with DataFusion.
//!
//! The dataset is a Hive-partitioned directory of Parquet files that grows by
//! whole files, and may hold the same call more than once (an input ingested twice
//! under a new name, overlapping exports). Everything that touches every row —
//! the month filter, deduplication, the per-day aggregate — runs in DataFusion so
//! the report scales with the dataset; only the small aggregate reaches Rust.

use crate::{Error, Month, Result};
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Date32Type, Int64Type};
use chrono::NaiveDate;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use datafusion::scalar::ScalarValue;
use std::path::{Path, PathBuf};

/// Name of the usage table in SQL.
pub const USAGE_TABLE: &str = "usage";

/// One (app, deployment, model, UTC day) cell of a month's usage, deduplicated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DayUsage {
    pub app_id: String,
    pub app_id_source: String,
    pub deployment: Option<String>,
    pub model: Option<String>,
    pub day: NaiveDate,
    pub calls: i64,
    pub failed_calls: i64,
    pub prompt_tokens: i64,
    pub cached_prompt_tokens: i64,
    pub completion_tokens: i64,
    pub reasoning_tokens: i64,
    pub total_tokens: i64,
    pub estimated_calls: i64,
}

/// Registers `<data_dir>/usage` as the `usage` table, with the `date` partition column.
///
/// The schema is given rather than inferred: every file was written with
/// [`tokentally_core::usage_schema`], and a fixed schema keeps the table's types
/// stable whatever mix of files the directory holds.
pub(crate) async fn register_usage(ctx: &SessionContext, data_dir: &Path) -> Result<()> {
    let dir = data_dir.join("usage");
    check_dataset(&dir)?;
    let url = dir.to_str().ok_or_else(|| Error::NoUsage {
        path: dir.clone(),
        reason: "path is not UTF-8",
    })?;
    let schema = tokentally_core::usage_schema();
    let options = ParquetReadOptions::default()
        .file_extension(".parquet")
        .table_partition_cols(vec![("date".to_owned(), DataType::Utf8)])
        .schema(&schema);
    ctx.register_parquet(USAGE_TABLE, format!("{}/", url.trim_end_matches('/')), options)
        .await?;
    Ok(())
}

/// DataFusion reads an empty or missing directory as an empty table (or fails with
/// an object-store message); an operator pointing at the wrong `--data` deserves
/// to be told so.
fn check_dataset(dir: &Path) -> Result<()> {
    let no_usage = |reason| Error::NoUsage {
        path: dir.to_owned(),
        reason,
    };
    if !dir.is_dir() {
        return Err(no_usage("directory does not exist"));
    }
    if !holds_parquet(dir).map_err(Error::file(dir))? {
        return Err(no_usage("directory holds no .parquet files"));
    }
    Ok(())
}

fn holds_parquet(dir: &Path) -> std::io::Result<bool> {
    let mut pending: Vec<PathBuf> = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "parquet") {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// The month's calls, one row per `event_id`, aggregated per app, deployment,
/// model and UTC day (the day decides which price applies).
///
/// Of duplicate rows the one with reported usage wins over an estimate, then the
/// first by source position, so the choice never depends on file listing order.
/// The `date` bounds only prune partitions; `request_time` decides membership.
const DAILY_USAGE_SQL: &str = "
WITH month_calls AS (
    SELECT app_id, app_id_source, deployment, model, request_time, status, usage_source,
           prompt_tokens, cached_prompt_tokens, completion_tokens, reasoning_tokens, total_tokens,
           row_number() OVER (
               PARTITION BY event_id
               ORDER BY CASE usage_source WHEN 'reported' THEN 0 WHEN 'estimated' THEN 1 ELSE 2 END,
                        source, source_partition, source_offset
           ) AS copy_no
    FROM usage
    WHERE date >= $1 AND date < $2 AND request_time >= $3 AND request_time < $4
)
SELECT app_id, app_id_source, deployment, model,
       CAST(request_time AS DATE) AS day,
       COUNT(*) AS calls,
       SUM(CASE WHEN status >= 400 OR status = 0 THEN 1 ELSE 0 END) AS failed_calls,
       SUM(prompt_tokens) AS prompt_tokens,
       SUM(cached_prompt_tokens) AS cached_prompt_tokens,
       SUM(completion_tokens) AS completion_tokens,
       SUM(reasoning_tokens) AS reasoning_tokens,
       SUM(total_tokens) AS total_tokens,
       SUM(CASE WHEN usage_source = 'estimated' THEN 1 ELSE 0 END) AS estimated_calls
FROM month_calls
WHERE copy_no = 1
GROUP BY app_id, app_id_source, deployment, model, CAST(request_time AS DATE)
";

pub(crate) async fn daily_usage(ctx: &SessionContext, month: Month) -> Result<Vec<DayUsage>> {
    let micros = |t: chrono::DateTime<chrono::Utc>| {
        ScalarValue::TimestampMicrosecond(Some(t.timestamp_micros()), Some("UTC".into()))
    };
    let params = vec![
        ScalarValue::Utf8(Some(month.first_day().to_string())),
        ScalarValue::Utf8(Some(month.end_day().to_string())),
        micros(month.start()),
        micros(month.end()),
    ];
    let batches = ctx
        .sql(DAILY_USAGE_SQL)
        .await?
        .with_param_values(params)?
        .collect()
        .await?;
    let mut rows = Vec::new();
    for batch in &batches {
        read_batch(batch, &mut rows)?;
    }
    Ok(rows)
}

/// DataFusion may hand strings back as `Utf8View` and sums in any integer width
/// depending on version and settings; casting pins the types read here.
fn column(batch: &RecordBatch, name: &str, to: &DataType) -> Result<arrow::array::ArrayRef> {
    let col = batch
        .column_by_name(name)
        .ok_or_else(|| Error::Internal(format!("daily usage query returned no column {name}")))?;
    Ok(cast(col, to)?)
}

fn read_batch(batch: &RecordBatch, rows: &mut Vec<DayUsage>) -> Result<()> {
    let strings = |name| column(batch, name, &DataType::Utf8);
    let (app, source, deployment, model) = (
        strings("app_id")?,
        strings("app_id_source")?,
        strings("deployment")?,
        strings("model")?,
    );
    let (app, source) = (app.as_string::<i32>(), source.as_string::<i32>());
    let (deployment, model) = (deployment.as_string::<i32>(), model.as_string::<i32>());
    let days = column(batch, "day", &DataType::Date32)?;
    let days = days.as_primitive::<Date32Type>();
    let ints = [
        "calls",
        "failed_calls",
        "prompt_tokens",
        "cached_prompt_tokens",
        "completion_tokens",
        "reasoning_tokens",
        "total_tokens",
        "estimated_calls",
    ]
    .map(|name| column(batch, name, &DataType::Int64));
    let ints = ints.into_iter().collect::<Result<Vec<_>>>()?;
    let ints: Vec<_> = ints.iter().map(|a| a.as_primitive::<Int64Type>()).collect();
    let int = |col: usize, row: usize| {
        ints.get(col)
            .map_or(0, |a| if a.is_null(row) { 0 } else { a.value(row) })
    };
    let opt = |a: &arrow::array::StringArray, row: usize| (!a.is_null(row)).then(|| a.value(row).to_owned());
    for row in 0..batch.num_rows() {
        let day = arrow::temporal_conversions::date32_to_datetime(days.value(row))
            .ok_or_else(|| Error::Internal(format!("day {} out of range", days.value(row))))?
            .date();
        rows.push(DayUsage {
            app_id: app.value(row).to_owned(),
            app_id_source: source.value(row).to_owned(),
            deployment: opt(deployment, row),
            model: opt(model, row),
            day,
            calls: int(0, row),
            failed_calls: int(1, row),
            prompt_tokens: int(2, row),
            cached_prompt_tokens: int(3, row),
            completion_tokens: int(4, row),
            reasoning_tokens: int(5, row),
            total_tokens: int(6, row),
            estimated_calls: int(7, row),
        });
    }
    Ok(())
}
