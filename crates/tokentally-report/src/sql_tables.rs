//! The hand-maintained tables (prices, deployments, cost centers) and the written
//! chargeback detail as Arrow tables for `tokentally sql`, validated exactly as
//! for a report, so a query never sees rows the report would reject.

use crate::chargeback::COST_SCALE;
use crate::cost_centers::CostCenters;
use crate::deployments::{Deployment, DeploymentType, Deployments};
use crate::detail::Detail;
use crate::files::{COST_PRECISION, decimal_array};
use crate::prices::{MAX_PRICE_SCALE, PRICE_UNIT, Price, PriceTable, epoch_days};
use crate::{Error, Result};
use arrow::array::{ArrayRef, Date32Array, Decimal128Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use chrono::NaiveDate;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rust_decimal::Decimal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The price table as Arrow, for SQL joins against `usage`: prices as
/// Decimal128(38, 10), dates as Date32.
///
/// # Errors
/// Only on a broken invariant (columns disagreeing with the schema).
pub(crate) fn prices_batch(table: &PriceTable) -> Result<RecordBatch> {
    let p = table.prices();
    let text =
        |f: fn(&Price) -> Option<&str>| -> ArrayRef { Arc::new(p.iter().map(f).collect::<StringArray>()) };
    let scaled = |d: &Decimal| {
        let mut d = *d;
        d.rescale(MAX_PRICE_SCALE);
        d.mantissa()
    };
    let prices = Decimal128Array::from_iter_values(p.iter().map(|x| scaled(&x.price)))
        .with_precision_and_scale(38, MAX_PRICE_SCALE as i8)?;
    let from = p
        .iter()
        .map(|x| Some(epoch_days(x.effective_from)))
        .collect::<Date32Array>();
    let to = p
        .iter()
        .map(|x| x.effective_to.map(epoch_days))
        .collect::<Date32Array>();
    let schema = Schema::new(vec![
        Field::new("model", DataType::Utf8, false),
        Field::new("deployment_type", DataType::Utf8, true),
        Field::new("region", DataType::Utf8, true),
        Field::new("token_class", DataType::Utf8, false),
        Field::new("unit", DataType::Utf8, false),
        Field::new("price", DataType::Decimal128(38, MAX_PRICE_SCALE as i8), false),
        Field::new("currency", DataType::Utf8, false),
        Field::new("effective_from", DataType::Date32, false),
        Field::new("effective_to", DataType::Date32, true),
        Field::new("source", DataType::Utf8, false),
    ]);
    let columns = vec![
        text(|x| Some(&x.model)),
        text(|x| x.deployment_type.map(DeploymentType::as_str)),
        text(|x| x.region.as_deref()),
        text(|x| Some(x.class.as_str())),
        text(|_| Some(PRICE_UNIT)),
        Arc::new(prices),
        text(|x| Some(&x.currency)),
        Arc::new(from),
        Arc::new(to),
        text(|x| Some(&x.source)),
    ];
    Ok(RecordBatch::try_new(Arc::new(schema), columns)?)
}

pub(crate) fn deployments_batch(table: &Deployments) -> Result<RecordBatch> {
    let rows = table.rows();
    let text = |f: fn(&Deployment) -> Option<&str>| -> ArrayRef {
        Arc::new(rows.iter().map(f).collect::<StringArray>())
    };
    let cost = decimal_array(
        rows.iter().map(|d| d.monthly_cost.as_ref().map(|c| c.amount)),
        COST_PRECISION,
        COST_SCALE,
    )?;
    let from = rows
        .iter()
        .map(|d| (d.effective_from != NaiveDate::MIN).then(|| epoch_days(d.effective_from)))
        .collect::<Date32Array>();
    let to = rows
        .iter()
        .map(|d| d.effective_to.map(epoch_days))
        .collect::<Date32Array>();
    let schema = Schema::new(vec![
        Field::new("deployment", DataType::Utf8, false),
        Field::new("deployment_type", DataType::Utf8, false),
        Field::new("region", DataType::Utf8, true),
        Field::new(
            "monthly_cost",
            DataType::Decimal128(COST_PRECISION, COST_SCALE as i8),
            true,
        ),
        Field::new("currency", DataType::Utf8, true),
        Field::new("effective_from", DataType::Date32, true),
        Field::new("effective_to", DataType::Date32, true),
        Field::new("source", DataType::Utf8, false),
    ]);
    let columns: Vec<ArrayRef> = vec![
        text(|d| Some(&d.name)),
        text(|d| Some(DeploymentType::as_str(d.deployment_type))),
        text(|d| d.region.as_deref()),
        Arc::new(cost),
        text(|d| d.monthly_cost.as_ref().map(|c| c.currency.as_str())),
        Arc::new(from),
        Arc::new(to),
        text(|d| Some(&d.source)),
    ];
    Ok(RecordBatch::try_new(Arc::new(schema), columns)?)
}

pub(crate) fn cost_centers_batch(table: &CostCenters) -> Result<RecordBatch> {
    let names = ["app_id", "app_name", "team", "cost_center", "owner"];
    let schema = Schema::new(names.map(|n| Field::new(n, DataType::Utf8, false)).to_vec());
    let rows: Vec<_> = table.iter().collect();
    let column = |f: for<'a> fn(&'a str, &'a crate::CostCenter) -> &'a str| -> ArrayRef {
        Arc::new(rows.iter().map(|(id, c)| Some(f(id, c))).collect::<StringArray>())
    };
    let columns = vec![
        column(|id, _| id),
        column(|_, c| &c.app_name),
        column(|_, c| &c.team),
        column(|_, c| &c.cost_center),
        column(|_, c| &c.owner),
    ];
    Ok(RecordBatch::try_new(Arc::new(schema), columns)?)
}

/// `chargeback-detail-YYYY-MM.parquet` files in `out_dir`, in month order.
fn detail_files(out_dir: &Path) -> Result<Vec<PathBuf>> {
    let Ok(entries) = std::fs::read_dir(out_dir) else {
        return Ok(Vec::new());
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(Error::file(out_dir))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.starts_with("chargeback-detail-") && name.ends_with(".parquet") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Every written month's detail rows, in the detail schema (empty when no report
/// has been written yet, so queries over it run and return nothing).
///
/// # Errors
/// When a detail file cannot be read or was written with other columns.
pub(crate) fn chargeback_batches(out_dir: &Path) -> Result<(arrow::datatypes::SchemaRef, Vec<RecordBatch>)> {
    let schema = Detail::schema();
    let mut batches = Vec::new();
    for path in detail_files(out_dir)? {
        let file = std::fs::File::open(&path).map_err(Error::file(&path))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)?.build()?;
        for batch in reader {
            let batch = batch?;
            if batch.schema().fields() != schema.fields() {
                return Err(Error::Internal(format!(
                    "{} has other columns than this version writes; re-run `tokentally report` for its month",
                    path.display()
                )));
            }
            batches.push(RecordBatch::try_new(schema.clone(), batch.columns().to_vec())?);
        }
    }
    Ok((schema, batches))
}
