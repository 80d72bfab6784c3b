//! Query results as text (aligned table, CSV, JSON Lines) and as Parquet, the
//! output formats of `tokentally sql`.

use crate::Result;
use crate::files::{Cell, CsvText};
use crate::sql::QueryOutput;
use arrow::array::RecordBatch;
use arrow::datatypes::DataType;
use arrow::error::ArrowError;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use std::path::Path;

/// Formats query results as an aligned text table.
///
/// # Errors
/// When a value cannot be displayed (an unsupported Arrow type).
pub fn format_batches(batches: &[RecordBatch]) -> Result<String> {
    Ok(arrow::util::pretty::pretty_format_batches(batches)?.to_string())
}

/// Like [`format_batches`], but an empty result still shows its column names.
///
/// # Errors
/// When a value cannot be displayed.
pub fn format_table(output: &QueryOutput) -> Result<String> {
    if output.num_rows() == 0 {
        let empty = RecordBatch::new_empty(output.schema.clone());
        return format_batches(&[empty]);
    }
    format_batches(&output.batches)
}

/// Query results as CSV with a header (also when empty), for spreadsheets and
/// scripts. Values are formatted as Arrow's CSV writer formats them (nulls
/// empty); string columns are escaped against formula injection like every
/// report CSV ([`CsvText`]), numbers are not (a negative number stays a number).
///
/// # Errors
/// When a column type has no CSV form (nested types).
pub fn batches_to_csv(output: &QueryOutput) -> Result<String> {
    let names: Vec<&str> = output.schema.fields().iter().map(|f| f.name().as_str()).collect();
    let mut csv = CsvText::with_header(&names);
    let options = FormatOptions::default().with_null("");
    for batch in &output.batches {
        let columns = batch
            .columns()
            .iter()
            .map(|a| {
                if a.data_type().is_nested() {
                    return Err(ArrowError::CsvError(format!(
                        "Nested type {} is not supported in CSV",
                        a.data_type()
                    )));
                }
                Ok((
                    ArrayFormatter::try_new(a.as_ref(), &options)?,
                    is_text(a.data_type()),
                ))
            })
            .collect::<std::result::Result<Vec<_>, ArrowError>>()?;
        for row in 0..batch.num_rows() {
            csv.row(columns.iter().map(|(format, text)| {
                let value = format.value(row).to_string();
                if *text {
                    Cell::Text(value)
                } else {
                    Cell::Value(value)
                }
            }));
        }
    }
    Ok(String::from_utf8_lossy(&csv.into_bytes()).into_owned())
}

/// Columns whose values are strings from the data.
fn is_text(t: &DataType) -> bool {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, values) => is_text(values),
        _ => false,
    }
}

/// Query results as JSON Lines (one object per row), for scripts and `jq`.
///
/// # Errors
/// When a column type has no JSON form.
pub fn batches_to_json(output: &QueryOutput) -> Result<String> {
    let mut writer = arrow::json::LineDelimitedWriter::new(Vec::new());
    let refs: Vec<&RecordBatch> = output.batches.iter().collect();
    writer.write_batches(&refs)?;
    writer.finish()?;
    Ok(String::from_utf8_lossy(&writer.into_inner()).into_owned())
}

/// Query results as one Parquet file with the result's own types (decimals stay
/// decimals), written atomically.
///
/// # Errors
/// When the file cannot be written.
pub fn write_query_parquet(path: &Path, output: &QueryOutput) -> Result<()> {
    crate::files::write_parquet(path, output.schema.clone(), &output.batches)
}
