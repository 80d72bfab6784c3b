//! Ad-hoc SQL over the usage dataset, for questions the chargeback does not answer
//! (which app streams most, what a deployment costs per day, …).

use crate::prices::PriceTable;
use crate::{Result, dataset};
use arrow::array::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use std::path::Path;
use std::sync::Arc;

/// Name of the price table in SQL.
pub const PRICES_TABLE: &str = "prices";

/// Runs one SQL statement against `usage` (and `prices` when a price file is given).
///
/// The price file is parsed and validated as for a report, so a query never sees
/// rows the report would reject; prices are Decimal128(38, 10) and dates Date32.
///
/// # Errors
/// When the dataset is missing, the price file is invalid, or the query fails.
pub async fn run_sql(data_dir: &Path, prices: Option<&Path>, query: &str) -> Result<Vec<RecordBatch>> {
    let ctx = SessionContext::new();
    dataset::register_usage(&ctx, data_dir).await?;
    if let Some(path) = prices {
        let batch = PriceTable::load(path)?.to_batch()?;
        let table = MemTable::try_new(batch.schema(), vec![vec![batch]])?;
        ctx.register_table(PRICES_TABLE, Arc::new(table))?;
    }
    Ok(ctx.sql(query).await?.collect().await?)
}

/// Formats query results as an aligned text table.
///
/// # Errors
/// When a value cannot be displayed (an unsupported Arrow type).
pub fn format_batches(batches: &[RecordBatch]) -> Result<String> {
    Ok(arrow::util::pretty::pretty_format_batches(batches)?.to_string())
}

/// Query results as CSV with a header, for spreadsheets and scripts.
///
/// # Errors
/// When a column type has no CSV form.
pub fn batches_to_csv(batches: &[RecordBatch]) -> Result<String> {
    let mut buf = Vec::new();
    {
        let mut writer = arrow::csv::WriterBuilder::new().with_header(true).build(&mut buf);
        for batch in batches {
            writer.write(batch)?;
        }
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Query results as JSON Lines (one object per row), for scripts and `jq`.
///
/// # Errors
/// When a column type has no JSON form.
pub fn batches_to_json(batches: &[RecordBatch]) -> Result<String> {
    let mut writer = arrow::json::LineDelimitedWriter::new(Vec::new());
    let refs: Vec<&RecordBatch> = batches.iter().collect();
    writer.write_batches(&refs)?;
    writer.finish()?;
    Ok(String::from_utf8_lossy(&writer.into_inner()).into_owned())
}
