//! Writing report files: atomically (a temporary sibling renamed over the old
//! file, so readers never see half a report) and reproducibly (no timestamps,
//! a constant `created_by`), so a re-run that changes nothing shows no diff.

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
