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
