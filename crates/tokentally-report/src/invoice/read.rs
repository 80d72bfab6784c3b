//! Reading an Azure Cost Management export in the FOCUS format, CSV or Parquet as
//! Cost Management writes it, down to the columns the tie-out needs. Every error
//! names the file and the CSV line or Parquet row.

use crate::{Error, Result};
use arrow::array::{Array, AsArray as _};
use arrow::datatypes::DataType;
use chrono::NaiveDate;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rust_decimal::Decimal;
use std::path::Path;

/// The FOCUS columns read; the export has many more, which are ignored.
pub(crate) const BILLED_COST: &str = "BilledCost";
pub(crate) const BILLING_CURRENCY: &str = "BillingCurrency";
pub(crate) const CHARGE_PERIOD_START: &str = "ChargePeriodStart";
pub(crate) const RESOURCE_ID: &str = "ResourceId";
/// Optional: the resource's display name, else the last segment of its id.
pub(crate) const RESOURCE_NAME: &str = "ResourceName";
const REQUIRED: [&str; 4] = [BILLED_COST, BILLING_CURRENCY, CHARGE_PERIOD_START, RESOURCE_ID];

/// One row of the export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InvoiceRow {
    /// Where the row is, as errors print it: the CSV line, or `row N` of a Parquet file.
    pub at: String,
    pub resource_id: String,
    pub resource_name: String,
    /// What the invoice bills (FOCUS `BilledCost`: negotiated rates and
    /// discounts applied, purchases not amortized); negative for refunds.
    pub billed_cost: Decimal,
    pub currency: String,
    /// The UTC day `ChargePeriodStart` falls on.
    pub day: NaiveDate,
}

fn error(path: &Path, at: impl Into<String>, message: impl Into<String>) -> Error {
    Error::Invoice {
        path: path.to_owned(),
        at: at.into(),
        message: message.into(),
    }
}

/// Reads `path`: Parquet when it ends in `.parquet`, CSV otherwise.
///
/// # Errors
/// When the file cannot be read, lacks a required column, or a row's cost,
/// currency or date is not one.
pub(crate) fn read(path: &Path) -> Result<Vec<InvoiceRow>> {
    let parquet = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"));
    if parquet {
        read_parquet(path)
    } else {
        read_csv(path)
    }
}

/// The text fields of one row, by column.
struct Fields<'a> {
    cost: Option<&'a str>,
    currency: Option<&'a str>,
    start: Option<&'a str>,
    resource_id: Option<&'a str>,
    resource_name: Option<&'a str>,
}

fn row(path: &Path, at: String, f: &Fields<'_>) -> Result<InvoiceRow> {
    let need = |name: &str, v: Option<&str>| -> Result<String> {
        match v.map(str::trim) {
            Some(s) if !s.is_empty() => Ok(s.to_owned()),
            _ => Err(error(path, at.clone(), format!("{name} is empty"))),
        }
    };
    let cost_text = need(BILLED_COST, f.cost)?;
    let billed_cost = Decimal::from_str_exact(&cost_text)
        .or_else(|_| Decimal::from_scientific(&cost_text))
        .map_err(|e| {
            error(
                path,
                at.clone(),
                format!("{BILLED_COST} {cost_text:?} is not a decimal number: {e}"),
            )
        })?;
    let currency = need(BILLING_CURRENCY, f.currency)?;
    let currency = crate::csv_rows::currency(&currency)
        .map_err(|m| error(path, at.clone(), format!("{BILLING_CURRENCY}: {m}")))?;
    let start = need(CHARGE_PERIOD_START, f.start)?;
    let day = day_of(&start).ok_or_else(|| {
        error(
            path,
            at.clone(),
            format!("{CHARGE_PERIOD_START} {start:?} is not a date (YYYY-MM-DD, ISO 8601 or MM/DD/YYYY)"),
        )
    })?;
    let resource_id = need(RESOURCE_ID, f.resource_id)?;
    let resource_name = f
        .resource_name
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map_or_else(|| last_segment(&resource_id).to_owned(), str::to_owned);
    Ok(InvoiceRow {
        at,
        resource_id,
        resource_name,
        billed_cost,
        currency,
        day,
    })
}

/// `…/accounts/aoai-swedencentral` → `aoai-swedencentral`.
pub(crate) fn last_segment(resource_id: &str) -> &str {
    resource_id
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(resource_id)
}

/// The day of a `ChargePeriodStart`: ISO 8601 (`2026-10-01`,
/// `2026-10-01T00:00:00Z`, `2026-10-01 00:00:00`), or `10/01/2026` as some
/// Cost Management CSVs write it. Offsets other than UTC are not expected in
/// exports; the date as written is taken.
fn day_of(s: &str) -> Option<NaiveDate> {
    if let Some(iso) = s.get(..10)
        && let Ok(d) = NaiveDate::parse_from_str(iso, "%Y-%m-%d")
    {
        return Some(d);
    }
    let us = s.split_whitespace().next()?;
    NaiveDate::parse_from_str(us, "%m/%d/%Y").ok()
}

fn read_csv(path: &Path) -> Result<Vec<InvoiceRow>> {
    let file = std::fs::File::open(path).map_err(Error::file(path))?;
    let mut reader = csv::ReaderBuilder::new().from_reader(std::io::BufReader::new(file));
    let headers = reader
        .headers()
        .map_err(|e| error(path, "1", e.to_string()))?
        .clone();
    // Excel and Cost Management may start the file with a byte-order mark.
    let names: Vec<&str> = headers
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim())
        .collect();
    let column = |name: &str| names.iter().position(|h| *h == name);
    for name in REQUIRED {
        if column(name).is_none() {
            return Err(error(
                path,
                "1",
                format!("no {name} column: is this a FOCUS cost export?"),
            ));
        }
    }
    let idx = |name| column(name);
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            error(
                path,
                e.position().map_or(0, csv::Position::line).to_string(),
                e.to_string(),
            )
        })?;
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let line = record.position().map_or(0, csv::Position::line);
        let get = |name| idx(name).and_then(|i| record.get(i));
        rows.push(row(
            path,
            line.to_string(),
            &Fields {
                cost: get(BILLED_COST),
                currency: get(BILLING_CURRENCY),
                start: get(CHARGE_PERIOD_START),
                resource_id: get(RESOURCE_ID),
                resource_name: get(RESOURCE_NAME),
            },
        )?);
    }
    Ok(rows)
}

fn value(a: &arrow::array::StringArray, i: usize) -> Option<&str> {
    a.is_valid(i).then(|| a.value(i))
}

fn read_parquet(path: &Path) -> Result<Vec<InvoiceRow>> {
    let file = std::fs::File::open(path).map_err(Error::file(path))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(ParquetRecordBatchReaderBuilder::build)
        .map_err(|e| error(path, "file", format!("not a readable Parquet file: {e}")))?;
    let mut rows = Vec::new();
    let mut first = 0_u64;
    for batch in reader {
        let batch = batch.map_err(|e| error(path, format!("row {}", first + 1), e.to_string()))?;
        // Every column read as text, so decimals, floats and timestamps take the
        // same checks as in a CSV export.
        let text = |name: &str| -> Result<Option<arrow::array::ArrayRef>> {
            let Some(col) = batch.column_by_name(name) else {
                return Ok(None);
            };
            arrow::compute::cast(col, &DataType::Utf8)
                .map(Some)
                .map_err(|e| error(path, "file", format!("column {name}: {e}")))
        };
        let mut columns = Vec::new();
        for name in REQUIRED {
            let col = text(name)?.ok_or_else(|| {
                error(
                    path,
                    "file",
                    format!("no {name} column: is this a FOCUS cost export?"),
                )
            })?;
            columns.push(col);
        }
        let name_col = text(RESOURCE_NAME)?;
        let strings: Vec<_> = columns.iter().map(|c| c.as_string::<i32>()).collect();
        let names = name_col.as_ref().map(|c| c.as_string::<i32>());
        for i in 0..batch.num_rows() {
            let at = format!("row {}", first + 1 + i as u64);
            rows.push(row(
                path,
                at,
                &Fields {
                    cost: value(strings[0], i),
                    currency: value(strings[1], i),
                    start: value(strings[2], i),
                    resource_id: value(strings[3], i),
                    resource_name: names.and_then(|n| value(n, i)),
                },
            )?);
        }
        first += batch.num_rows() as u64;
    }
    Ok(rows)
}
