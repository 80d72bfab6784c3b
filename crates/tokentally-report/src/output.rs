//! Writing the chargeback as CSV (for people and spreadsheets) and Parquet (for
//! BI tools), with the columns of docs/formats.md "Chargeback" in that order.
//!
//! Both files are byte-for-byte reproducible from the same usage and prices, so a
//! re-run that changes nothing shows no diff, and both appear atomically: written
//! under a temporary name, then renamed over the old report.

use crate::chargeback::{COST_SCALE, ChargebackLine};
use crate::{Error, Month, Result};
use arrow::array::{ArrayRef, BooleanArray, Decimal128Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use rust_decimal::Decimal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Output column names, in file order.
pub const COLUMNS: [&str; 19] = [
    "month",
    "app_id",
    "app_id_source",
    "deployment",
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
    "cost",
    "currency",
    "priced",
];

/// Decimal128(18, 6): a trillion in any currency, to the micro-unit.
const COST_PRECISION: u8 = 18;

pub fn csv_path(out_dir: &Path, month: Month) -> PathBuf {
    out_dir.join(format!("chargeback-{month}.csv"))
}

pub fn parquet_path(out_dir: &Path, month: Month) -> PathBuf {
    out_dir.join(format!("chargeback-{month}.parquet"))
}

/// Writes `path` through a sibling temporary file so readers never see half a report.
fn write_atomically(path: &Path, write: impl FnOnce(std::fs::File) -> Result<()>) -> Result<()> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("chargeback");
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let file = std::fs::File::create(&tmp).map_err(Error::file(&tmp))?;
    let result = write(file).and_then(|()| std::fs::rename(&tmp, path).map_err(Error::file(path)));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn cost_text(cost: Option<Decimal>) -> String {
    cost.map(|c| {
        let mut c = c;
        c.rescale(COST_SCALE);
        c.to_string()
    })
    .unwrap_or_default()
}

fn csv_row(l: &ChargebackLine) -> [String; 19] {
    [
        l.month.to_string(),
        l.app_id.clone(),
        l.app_id_source.clone(),
        l.deployment.clone(),
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
        cost_text(l.cost),
        l.currency.clone().unwrap_or_default(),
        l.priced.to_string(),
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

pub fn write_csv(path: &Path, lines: &[ChargebackLine]) -> Result<()> {
    let bytes = to_csv(lines)?;
    write_atomically(path, |mut file| {
        use std::io::Write as _;
        file.write_all(&bytes)
            .and_then(|()| file.sync_all())
            .map_err(Error::file(path))
    })
}

pub fn schema() -> SchemaRef {
    let cost = DataType::Decimal128(COST_PRECISION, COST_SCALE as i8);
    let fields = COLUMNS.map(|name| match name {
        "month" | "app_id" | "app_id_source" | "deployment" | "model" => {
            Field::new(name, DataType::Utf8, false)
        }
        "input_cost" | "cached_input_cost" | "output_cost" | "cost" => Field::new(name, cost.clone(), true),
        "currency" => Field::new(name, DataType::Utf8, true),
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
        let values = lines.iter().map(|l| {
            f(l).map(|mut d| {
                d.rescale(COST_SCALE);
                d.mantissa()
            })
        });
        let array = values
            .collect::<Decimal128Array>()
            .with_precision_and_scale(COST_PRECISION, COST_SCALE as i8)?;
        // with_precision_and_scale does not check the values; an oversized cost
        // must fail here, not be written as an unreadable decimal.
        array.validate_decimal_precision(COST_PRECISION)?;
        Ok(Arc::new(array))
    };
    let columns: Vec<ArrayRef> = vec![
        text(|l| l.month.to_string()),
        text(|l| l.app_id.clone()),
        text(|l| l.app_id_source.clone()),
        text(|l| l.deployment.clone()),
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
        decimal(|l| l.cost)?,
        Arc::new(
            lines
                .iter()
                .map(|l| l.currency.as_deref())
                .collect::<StringArray>(),
        ),
        Arc::new(lines.iter().map(|l| Some(l.priced)).collect::<BooleanArray>()),
    ];
    Ok(RecordBatch::try_new(schema(), columns)?)
}

/// Parquet writer settings: a constant `created_by` instead of the library's, and
/// nothing time-dependent, so equal input gives equal bytes.
fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_created_by(format!("tokentally-report {}", env!("CARGO_PKG_VERSION")))
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build()
}

pub fn write_parquet(path: &Path, lines: &[ChargebackLine]) -> Result<()> {
    let batch = to_batch(lines)?;
    write_atomically(path, |file| {
        let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(writer_properties()))?;
        writer.write(&batch)?;
        let file = writer.into_inner()?;
        file.sync_all().map_err(Error::file(path))
    })
}
