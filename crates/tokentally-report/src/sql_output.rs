//! Query results as text (aligned table, CSV, JSON Lines) and as Parquet, the
//! output formats of `tokentally sql`.

use crate::Result;
use crate::sql::QueryOutput;
use arrow::array::RecordBatch;
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

/// Query results as CSV with a header (also when empty), for spreadsheets and scripts.
///
/// # Errors
/// When a column type has no CSV form.
pub fn batches_to_csv(output: &QueryOutput) -> Result<String> {
    let mut buf = Vec::new();
    {
        let mut writer = arrow::csv::WriterBuilder::new().with_header(true).build(&mut buf);
        writer.write(&RecordBatch::new_empty(output.schema.clone()))?;
        for batch in &output.batches {
            writer.write(batch)?;
        }
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
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
