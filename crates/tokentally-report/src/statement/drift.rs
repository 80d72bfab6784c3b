//! Per model, how much of the month's tokens tokentally estimated rather than
//! Azure OpenAI reported, and how far its estimates are from the reported counts
//! where a call has both: the statement's "Estimated token counts". Read from the
//! SQL `calls` view (one row per call, the copy the report counts), the same rule
//! `pipelines/queries/estimate-drift.sql` uses, cut to the month.

use crate::sql::{SqlSession, SqlTables};
use crate::{Error, Month, Result};
use arrow::array::{Array, AsArray as _};
use arrow::datatypes::Int64Type;
use std::collections::BTreeMap;

/// One model's token sums for the month.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ModelEstimates {
    pub tokens: i64,
    pub estimated_tokens: i64,
    /// Over reported, complete calls that also carry an estimate.
    pub reported_prompt: i64,
    pub estimated_prompt: i64,
    /// Completion tokens without reasoning ones: only visible text can be estimated.
    pub reported_visible_completion: i64,
    pub estimated_completion: i64,
}

/// The `calls` view over the month's `date=` folders and the day on either
/// side only: the partition filter keeps DataFusion from reading (and, in object
/// storage, fetching) every other day's files; the neighbouring days hold the
/// copies that compete with the month's first and last calls across a midnight,
/// as the report's scan reads them (`scan_edges.rs`).
fn month_calls_sql(month: Month) -> String {
    let first = month.first_day().pred_opt().unwrap_or(month.first_day());
    let after = month.end_day().succ_opt().unwrap_or(month.end_day());
    crate::dedup::calls_view_sql(&format!(
        "(SELECT * FROM {table} WHERE date >= '{first}' AND date < '{after}') AS month_usage",
        table = crate::USAGE_TABLE,
    ))
}

fn query(month: Month) -> String {
    let compared = "usage_source = 'reported' AND estimated_prompt_tokens IS NOT NULL AND NOT partial";
    format!(
        "SELECT coalesce(model, '{unknown}') AS model, \
           CAST(coalesce(sum(total_tokens), 0) AS BIGINT), \
           CAST(coalesce(sum(CASE WHEN usage_source = 'estimated' THEN total_tokens ELSE 0 END), 0) AS BIGINT), \
           CAST(coalesce(sum(CASE WHEN {compared} THEN prompt_tokens ELSE 0 END), 0) AS BIGINT), \
           CAST(coalesce(sum(CASE WHEN {compared} THEN estimated_prompt_tokens ELSE 0 END), 0) AS BIGINT), \
           CAST(coalesce(sum(CASE WHEN {compared} THEN completion_tokens - reasoning_tokens ELSE 0 END), 0) AS BIGINT), \
           CAST(coalesce(sum(CASE WHEN {compared} THEN coalesce(estimated_completion_tokens, 0) ELSE 0 END), 0) AS BIGINT) \
         FROM ({calls}) AS month_calls \
         WHERE request_time >= TIMESTAMP '{start}' AND request_time < TIMESTAMP '{end}' \
         GROUP BY 1 ORDER BY 1",
        calls = month_calls_sql(month),
        unknown = crate::UNKNOWN_MODEL,
        start = month.start().format("%Y-%m-%dT%H:%M:%SZ"),
        end = month.end().format("%Y-%m-%dT%H:%M:%SZ"),
    )
}

/// The month's estimate figures per model (the `(unknown)` model for calls that named none).
///
/// # Errors
/// When the dataset cannot be queried.
pub(crate) async fn by_model(tables: &SqlTables, month: Month) -> Result<BTreeMap<String, ModelEstimates>> {
    let mut out = BTreeMap::new();
    let session = SqlSession::open(tables).await?;
    for batch in session.query(&query(month)).await?.batches {
        let model = batch.column(0).as_string::<i32>();
        let int = |i: usize| batch.column(i).as_primitive::<Int64Type>();
        let cols: Vec<_> = (1..=6).map(int).collect();
        for row in 0..batch.num_rows() {
            let v = |c: usize| {
                cols.get(c)
                    .filter(|a| a.is_valid(row))
                    .map_or(0, |a| a.value(row))
            };
            out.insert(
                model.value(row).to_owned(),
                ModelEstimates {
                    tokens: v(0),
                    estimated_tokens: v(1),
                    reported_prompt: v(2),
                    estimated_prompt: v(3),
                    reported_visible_completion: v(4),
                    estimated_completion: v(5),
                },
            );
        }
    }
    if out.values().any(|m| m.tokens < 0) {
        return Err(Error::Internal("negative token sums in the calls view".into()));
    }
    Ok(out)
}
