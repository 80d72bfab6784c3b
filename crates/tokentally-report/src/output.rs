//! Writing the chargeback (one line per app × deployment × model) as CSV (for
//! people and spreadsheets) and Parquet (for BI tools), with the columns of
//! docs/formats.md "Chargeback" in that order.

use crate::chargeback::{COST_SCALE, ChargebackLine};
use crate::deployments::DeploymentType;
use crate::files::{COST_PRECISION, cost_text, decimal_array};
use crate::{Error, Month, Result};
use arrow::array::{ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use rust_decimal::Decimal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Output column names, in file order.
pub const COLUMNS: [&str; 22] = [
    "month",
    "app_id",
    "app_id_source",
    "deployment",
    "deployment_type",
    "model",
    "calls",
    "failed_calls",
    "prompt_tokens",
    "cached_prompt_tokens",
    "completion_tokens",
    "reasoning_tokens",
    "total_tokens",
    "estimated_calls",
    "input_cost",
    "cached_input_cost",
    "output_cost",
    "provisioned_cost",
    "cost",
    "currency",
    "priced",
    "unpriced_tokens",
];

pub fn csv_path(out_dir: &Path, month: Month) -> PathBuf {
    out_dir.join(format!("chargeback-{month}.csv"))
}

pub fn parquet_path(out_dir: &Path, month: Month) -> PathBuf {
    out_dir.join(format!("chargeback-{month}.parquet"))
}

fn type_text(t: Option<DeploymentType>) -> String {
    t.map(|t| t.as_str().to_owned()).unwrap_or_default()
}

fn csv_row(l: &ChargebackLine) -> [String; 22] {
    [
        l.month.to_string(),
        l.app_id.clone(),
        l.app_id_source.clone(),
        l.deployment.clone(),
        type_text(l.deployment_type),
        l.model.clone(),
        l.calls.to_string(),
        l.failed_calls.to_string(),
        l.prompt_tokens.to_string(),
        l.cached_prompt_tokens.to_string(),
        l.completion_tokens.to_string(),
        l.reasoning_tokens.to_string(),
        l.total_tokens.to_string(),
        l.estimated_calls.to_string(),
        cost_text(l.input_cost),
        cost_text(l.cached_input_cost),
        cost_text(l.output_cost),
        cost_text(l.provisioned_cost),
        cost_text(l.cost),
        l.currency.clone().unwrap_or_default(),
        l.priced.to_string(),
        l.unpriced_tokens.to_string(),
    ]
}

/// Renders the lines as CSV text (header first).
///
/// # Errors
/// Only if the CSV writer fails, which it does not for in-memory output.
pub fn to_csv(lines: &[ChargebackLine]) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(COLUMNS)?;
    for l in lines {
        w.write_record(csv_row(l))?;
    }
    w.into_inner().map_err(|e| Error::Io(e.into_error()))
}

pub fn schema() -> SchemaRef {
    let cost = DataType::Decimal128(COST_PRECISION, COST_SCALE as i8);
    let fields = COLUMNS.map(|name| match name {
        "month" | "app_id" | "app_id_source" | "deployment" | "model" => {
            Field::new(name, DataType::Utf8, false)
        }
        "input_cost" | "cached_input_cost" | "output_cost" | "provisioned_cost" | "cost" => {
            Field::new(name, cost.clone(), true)
        }
        "currency" | "deployment_type" => Field::new(name, DataType::Utf8, true),
        "priced" => Field::new(name, DataType::Boolean, false),
        _ => Field::new(name, DataType::Int64, false),
    });
    Arc::new(Schema::new(fields.to_vec()))
}

pub fn to_batch(lines: &[ChargebackLine]) -> Result<RecordBatch> {
    let text = |f: fn(&ChargebackLine) -> String| -> ArrayRef {
        Arc::new(lines.iter().map(|l| Some(f(l))).collect::<StringArray>())
    };
    let int =
        |f: fn(&ChargebackLine) -> i64| -> ArrayRef { Arc::new(lines.iter().map(f).collect::<Int64Array>()) };
    let decimal = |f: fn(&ChargebackLine) -> Option<Decimal>| -> Result<ArrayRef> {
        Ok(Arc::new(decimal_array(
            lines.iter().map(f),
            COST_PRECISION,
            COST_SCALE,
        )?))
    };
    let columns: Vec<ArrayRef> = vec![
        text(|l| l.month.to_string()),
        text(|l| l.app_id.clone()),
        text(|l| l.app_id_source.clone()),
        text(|l| l.deployment.clone()),
        Arc::new(
            lines
                .iter()
                .map(|l| l.deployment_type.map(DeploymentType::as_str))
                .collect::<StringArray>(),
        ),
        text(|l| l.model.clone()),
        int(|l| l.calls),
        int(|l| l.failed_calls),
        int(|l| l.prompt_tokens),
        int(|l| l.cached_prompt_tokens),
        int(|l| l.completion_tokens),
        int(|l| l.reasoning_tokens),
        int(|l| l.total_tokens),
        int(|l| l.estimated_calls),
        decimal(|l| l.input_cost)?,
        decimal(|l| l.cached_input_cost)?,
        decimal(|l| l.output_cost)?,
        decimal(|l| l.provisioned_cost)?,
        decimal(|l| l.cost)?,
        Arc::new(
            lines
                .iter()
                .map(|l| l.currency.as_deref())
                .collect::<StringArray>(),
        ),
        Arc::new(lines.iter().map(|l| Some(l.priced)).collect::<BooleanArray>()),
        int(|l| l.unpriced_tokens),
    ];
    Ok(RecordBatch::try_new(schema(), columns)?)
}

pub fn write_csv(path: &Path, lines: &[ChargebackLine]) -> Result<()> {
    crate::files::write_bytes(path, &to_csv(lines)?)
}

pub fn write_parquet(path: &Path, lines: &[ChargebackLine]) -> Result<()> {
    crate::files::write_parquet(path, schema(), &[to_batch(lines)?])
}
