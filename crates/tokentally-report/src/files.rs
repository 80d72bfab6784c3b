//! Writing report files: atomically (a temporary sibling renamed over the old
//! file, so readers never see half a report) and reproducibly (no timestamps,
//! a constant `created_by`), so a re-run that changes nothing shows no diff.
//!
//! Every CSV file, the report's and `sql --format csv`'s, is written by
//! [`CsvText`], which owns the one defence against formula injection
//! (docs/formats.md "CSV and spreadsheets"). Parquet keeps exact values.

use crate::chargeback::COST_SCALE;
use crate::{Error, Result};
use arrow::array::{Decimal128Array, RecordBatch};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use rust_decimal::Decimal;
use std::path::Path;

/// Decimal128(18, 6): a trillion in any currency, to the micro-unit.
pub(crate) const COST_PRECISION: u8 = 18;

/// Writes `path` through a sibling temporary file so readers never see half a report.
pub(crate) fn write_atomically(path: &Path, write: impl FnOnce(std::fs::File) -> Result<()>) -> Result<()> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("report");
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let file = std::fs::File::create(&tmp).map_err(Error::file(&tmp))?;
    let result = write(file).and_then(|()| std::fs::rename(&tmp, path).map_err(Error::file(path)));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

pub(crate) fn write_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomically(path, |mut file| {
        use std::io::Write as _;
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .map_err(Error::file(path))
    })
}

/// Parquet writer settings: a constant `created_by` instead of the library's, and
/// nothing time-dependent, so equal input gives equal bytes.
fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_created_by(format!("tokentally-report {}", env!("CARGO_PKG_VERSION")))
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build()
}

/// Writes batches (all of `schema`) as one Parquet file.
pub(crate) fn write_parquet(
    path: &Path,
    schema: arrow::datatypes::SchemaRef,
    batches: &[RecordBatch],
) -> Result<()> {
    write_atomically(path, |file| {
        let mut writer = ArrowWriter::try_new(file, schema, Some(writer_properties()))?;
        for batch in batches {
            writer.write(batch)?;
        }
        let file = writer.into_inner()?;
        file.sync_all().map_err(Error::file(path))
    })
}

/// Decimals as a Decimal128 column of `scale`, checked to fit `precision`:
/// `with_precision_and_scale` does not check values, and an oversized amount
/// must fail here, not be written as an unreadable decimal.
pub(crate) fn decimal_array(
    values: impl Iterator<Item = Option<Decimal>>,
    precision: u8,
    scale: u32,
) -> Result<Decimal128Array> {
    let array = values
        .map(|v| {
            v.map(|mut d| {
                d.rescale(scale);
                d.mantissa()
            })
        })
        .collect::<Decimal128Array>()
        .with_precision_and_scale(precision, i8::try_from(scale).unwrap_or(i8::MAX))?;
    array.validate_decimal_precision(precision)?;
    Ok(array)
}

/// A cost with exactly six decimals, empty when unknown.
pub(crate) fn cost_text(cost: Option<Decimal>) -> String {
    decimal_text(cost, COST_SCALE)
}

/// A decimal with exactly `scale` places, empty when `None`.
pub(crate) fn decimal_text(value: Option<Decimal>, scale: u32) -> String {
    value
        .map(|mut v| {
            v.rescale(scale);
            v.to_string()
        })
        .unwrap_or_default()
}

/// One CSV cell: text from the data (app ids, deployments, models, reasons,
/// anything a caller or a table could set), escaped against formula injection,
/// or a value tokentally formatted itself (a number, a date), written as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cell {
    Text(String),
    Value(String),
}

/// A spreadsheet runs a cell that starts with one of these as a formula (OWASP,
/// "CSV Injection").
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// CSV text (RFC 4180, `\n` line ends, fields quoted when they need it) whose
/// text cells cannot run as formulas: a text cell that starts with `=`, `+`,
/// `-`, `@`, tab or carriage return gets a leading `'` and is quoted, as OWASP
/// recommends. The quote shows in the spreadsheet and tells the reader the
/// value was escaped; the Parquet file beside it holds the exact value.
#[derive(Debug, Default)]
pub(crate) struct CsvText {
    out: Vec<u8>,
}

impl CsvText {
    /// Starts the text with its header row (column names are ours: not escaped).
    pub(crate) fn with_header<S: AsRef<str>>(names: &[S]) -> Self {
        let mut csv = Self::default();
        csv.row(names.iter().map(|n| Cell::Value(n.as_ref().to_owned())));
        csv
    }

    pub(crate) fn row(&mut self, cells: impl IntoIterator<Item = Cell>) {
        let cells: Vec<Cell> = cells.into_iter().collect();
        let alone = cells.len() == 1;
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            let (text, escape) = match cell {
                Cell::Text(t) => (t.as_str(), t.starts_with(FORMULA_STARTS)),
                Cell::Value(v) => (v.as_str(), false),
            };
            // A row of one empty field is quoted (as the csv crate does), or it
            // would read as a blank line.
            let lone_empty = text.is_empty() && alone;
            if !(escape || lone_empty || text.contains([',', '"', '\r', '\n'])) {
                self.out.extend_from_slice(text.as_bytes());
                continue;
            }
            self.out.push(b'"');
            if escape {
                self.out.push(b'\'');
            }
            self.out.extend_from_slice(text.replace('"', "\"\"").as_bytes());
            self.out.push(b'"');
        }
        self.out.push(b'\n');
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(cells: Vec<Cell>) -> String {
        let mut csv = CsvText::default();
        csv.row(cells);
        String::from_utf8(csv.into_bytes()).unwrap_or_default()
    }

    #[test]
    fn formula_text_is_escaped_and_quoted_values_are_not() {
        let text = |s: &str| Cell::Text(s.to_owned());
        assert_eq!(
            line(vec![
                text("@SUM(1+1)"),
                text("=cmd|' /C calc'!A0"),
                text("+1"),
                text("-2"),
                text("\tx"),
                text("\rx"),
                Cell::Value("-3".to_owned()),
            ]),
            "\"'@SUM(1+1)\",\"'=cmd|' /C calc'!A0\",\"'+1\",\"'-2\",\"'\tx\",\"'\rx\",-3\n"
        );
        assert_eq!(
            line(vec![
                text("payroll-bot"),
                text("a,b"),
                text("say \"hi\""),
                text(""),
                text("x=1")
            ]),
            "payroll-bot,\"a,b\",\"say \"\"hi\"\"\",,x=1\n"
        );
        assert_eq!(line(vec![text("")]), "\"\"\n");
        assert_eq!(line(vec![text(""), text("")]), ",\n");
        assert_eq!(line(vec![text("=\"a\"")]), "\"'=\"\"a\"\"\"\n");
    }
}
