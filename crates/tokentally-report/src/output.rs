//! Writing the chargeback (one line per app × deployment × model) as CSV (for
//! people and spreadsheets) and Parquet (for BI tools), with the columns of
//! docs/formats.md "Chargeback" in that order.

use crate::chargeback::{COST_SCALE, ChargebackLine};
use crate::deployments::DeploymentType;
use crate::files::{COST_PRECISION, Cell, CsvText, cost_text, decimal_array};
use crate::{Month, Result};
use arrow::array::{ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use rust_decimal::Decimal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokentally_core::{TokenClass, TokenCounts};

/// Output column names, in file order: the line's key, its counts (the usage
/// dataset's token columns), then one cost per token class, the provisioned
/// share and the total.
pub const COLUMNS: [&str; 40] = [
    "month",
    "cost_center",
    "app_id",
    "app_name",
    "app_id_source",
    "deployment",
    "deployment_type",
    "model",
    "calls",
    "failed_calls",
    "prompt_tokens",
    "cached_prompt_tokens",
    "audio_prompt_tokens",
    "cached_audio_prompt_tokens",
    "image_prompt_tokens",
    "cached_image_prompt_tokens",
    "completion_tokens",
    "reasoning_tokens",
    "audio_completion_tokens",
    "image_completion_tokens",
    "accepted_prediction_tokens",
    "rejected_prediction_tokens",
    "total_tokens",
    "estimated_calls",
    "input_cost",
    "cached_input_cost",
    "output_cost",
    "audio_input_cost",
    "cached_audio_input_cost",
    "audio_output_cost",
    "image_input_cost",
    "cached_image_input_cost",
    "image_output_cost",
    "provisioned_cost",
    "cost",
    "currency",
    "priced",
    "unpriced_tokens",
    "invoice_cost",
    "invoice_currency",
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

fn csv_row(l: &ChargebackLine) -> Vec<Cell> {
    let text = |s: &str| Cell::Text(s.to_owned());
    let value = |v: String| Cell::Value(v);
    let mut row = vec![
        value(l.month.to_string()),
        text(&l.cost_center),
        text(&l.app_id),
        text(&l.app_name),
        text(&l.app_id_source),
        text(&l.deployment),
        text(&type_text(l.deployment_type)),
        text(&l.model),
        value(l.calls.to_string()),
        value(l.failed_calls.to_string()),
    ];
    row.extend(l.tokens.values().map(|n| value(n.to_string())));
    row.push(value(l.estimated_calls.to_string()));
    row.extend(l.class_costs.iter().map(|(_, cost)| value(cost_text(cost))));
    row.extend([
        value(cost_text(l.provisioned_cost)),
        value(cost_text(l.cost)),
        text(l.currency.as_deref().unwrap_or_default()),
        value(l.priced.to_string()),
        value(l.unpriced_tokens.to_string()),
        value(cost_text(l.invoice_cost)),
        text(l.invoice_currency.as_deref().unwrap_or_default()),
    ]);
    row
}

/// Renders the lines as CSV text (header first), text cells escaped against
/// formula injection ([`CsvText`]).
pub fn to_csv(lines: &[ChargebackLine]) -> Vec<u8> {
    let mut csv = CsvText::with_header(&COLUMNS);
    for l in lines {
        csv.row(csv_row(l));
    }
    csv.into_bytes()
}

pub fn schema() -> SchemaRef {
    let cost = DataType::Decimal128(COST_PRECISION, COST_SCALE as i8);
    let fields = COLUMNS.map(|name| match name {
        "month" | "cost_center" | "app_id" | "app_name" | "app_id_source" | "deployment" | "model" => {
            Field::new(name, DataType::Utf8, false)
        }
        _ if name.ends_with("_cost") || name == "cost" => Field::new(name, cost.clone(), true),
        "currency" | "deployment_type" | "invoice_currency" => Field::new(name, DataType::Utf8, true),
        "priced" => Field::new(name, DataType::Boolean, false),
        _ => Field::new(name, DataType::Int64, false),
    });
    Arc::new(Schema::new(fields.to_vec()))
}

pub fn to_batch(lines: &[ChargebackLine]) -> Result<RecordBatch> {
    let text = |f: fn(&ChargebackLine) -> String| -> ArrayRef {
        Arc::new(lines.iter().map(|l| Some(f(l))).collect::<StringArray>())
    };
    let int = |f: &dyn Fn(&ChargebackLine) -> i64| -> ArrayRef {
        Arc::new(lines.iter().map(f).collect::<Int64Array>())
    };
    let decimal = |f: &dyn Fn(&ChargebackLine) -> Option<Decimal>| -> Result<ArrayRef> {
        Ok(Arc::new(decimal_array(
            lines.iter().map(f),
            COST_PRECISION,
            COST_SCALE,
        )?))
    };
    let mut columns: Vec<ArrayRef> = vec![
        text(|l| l.month.to_string()),
        text(|l| l.cost_center.clone()),
        text(|l| l.app_id.clone()),
        text(|l| l.app_name.clone()),
        text(|l| l.app_id_source.clone()),
        text(|l| l.deployment.clone()),
        Arc::new(
            lines
                .iter()
                .map(|l| l.deployment_type.map(DeploymentType::as_str))
                .collect::<StringArray>(),
        ),
        text(|l| l.model.clone()),
        int(&|l| l.calls),
        int(&|l| l.failed_calls),
    ];
    for i in 0..TokenCounts::COLUMNS.len() {
        columns.push(int(&|l| l.tokens.values()[i]));
    }
    columns.push(int(&|l| l.estimated_calls));
    for class in TokenClass::ALL {
        columns.push(decimal(&|l| l.class_costs.get(class))?);
    }
    columns.extend([
        decimal(&|l| l.provisioned_cost)?,
        decimal(&|l| l.cost)?,
        Arc::new(
            lines
                .iter()
                .map(|l| l.currency.as_deref())
                .collect::<StringArray>(),
        ),
        Arc::new(lines.iter().map(|l| Some(l.priced)).collect::<BooleanArray>()),
        int(&|l| l.unpriced_tokens),
        decimal(&|l| l.invoice_cost)?,
        Arc::new(
            lines
                .iter()
                .map(|l| l.invoice_currency.as_deref())
                .collect::<StringArray>(),
        ),
    ]);
    Ok(RecordBatch::try_new(schema(), columns)?)
}

pub fn write_csv(path: &Path, lines: &[ChargebackLine]) -> Result<()> {
    crate::files::write_bytes(path, &to_csv(lines))
}

pub fn write_parquet(path: &Path, lines: &[ChargebackLine]) -> Result<()> {
    crate::files::write_parquet(path, schema(), &[to_batch(lines)?])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where the token columns and the class costs start in [`COLUMNS`].
    const FIRST_TOKEN_COLUMN: usize = 10;
    const FIRST_COST_COLUMN: usize = 24;

    #[test]
    fn columns_follow_the_token_columns_and_classes() {
        let tokens = &COLUMNS[FIRST_TOKEN_COLUMN..FIRST_TOKEN_COLUMN + 13];
        assert_eq!(tokens, TokenCounts::COLUMNS);
        let costs: Vec<String> = TokenClass::ALL.iter().map(|c| format!("{c}_cost")).collect();
        assert_eq!(
            &COLUMNS[FIRST_COST_COLUMN..FIRST_COST_COLUMN + 9],
            costs.as_slice()
        );
    }
}
