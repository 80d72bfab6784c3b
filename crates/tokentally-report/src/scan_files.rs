//! Reading one day of the usage dataset for `scan.rs`, straight from its Parquet
//! files with the `parquet` crate: the repeated strings the report keys on (app,
//! app source, deployment, model, source, usage source) come back as Arrow
//! dictionaries, so `scan_columns.rs` resolves an id per dictionary value instead
//! of per row. DataFusion reads no dictionary it was not given in the file's own
//! Arrow schema (it casts to the table's type), and per-row string work is the
//! cost this avoids (the `monthly_report` bench; figures in benches/README.md).
//!
//! What DataFusion's listing gave the scan, this keeps: only the `date=<day>`
//! folder (and `key=value` folders below it, as a Hive listing does), only
//! `.parquet` files (never the ingest's `.tmp` parts), the month's time filter, a
//! nullable column that an older file lacks read as nulls, and the table's types
//! (a file's differing type is cast).

use crate::scan_columns::TextColumn;
use crate::usage_dir::DayFile;
use crate::{Error, Month, Result};
use arrow::array::{Array, AsArray, BooleanArray, RecordBatch, new_null_array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimestampMicrosecondType};
use chrono::NaiveDate;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::file::reader::ChunkReader;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

/// The columns the report reads besides the token counts: the call's keys and
/// status, then (after the counts) where the copy came from.
const KEYS: [&str; 8] = [
    "event_id",
    "app_id",
    "app_id_source",
    "deployment",
    "model",
    "request_time",
    "status",
    "usage_source",
];
const POSITION: [&str; 3] = ["source", "source_partition", "source_offset"];

/// The columns the report reads, and only those (projection): [`KEYS`],
/// `TokenCounts::COLUMNS`, [`POSITION`]. Files written before schema 3 lack
/// eight of the token columns, which are read as nulls.
static COLUMNS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    KEYS.iter()
        .chain(&tokentally_core::TokenCounts::COLUMNS)
        .chain(&POSITION)
        .copied()
        .collect()
});

/// Rows per batch: a batch's columns stay within the L2 cache while its calls
/// are built.
const BATCH_ROWS: usize = 8192;

fn dictionary_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// The batches [`read_file`] hands out: [`COLUMNS`] in that order, with the
/// usage schema's types and nullability, dictionaries for the [`TextColumn`]s.
static SCAN_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let usage = tokentally_core::usage_schema();
    let fields: Vec<Field> = COLUMNS
        .iter()
        .filter_map(|name| usage.field_with_name(name).ok())
        .map(|f| {
            if TextColumn::is_text_column(f.name()) {
                Field::new(f.name(), dictionary_type(), f.is_nullable())
            } else {
                f.clone()
            }
        })
        .collect();
    Arc::new(Schema::new(fields))
});

/// The day's Parquet files, sorted by path so the order never depends on the
/// directory listing: `<usage>/date=<day>/*.parquet`, and files in `key=value`
/// folders below it. No folder, no files.
pub(crate) fn day_files(usage_dir: &Path, day: NaiveDate) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![usage_dir.join(format!("date={day}"))];
    while let Some(dir) = pending.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::File { path: dir, source: e }),
        };
        for entry in entries {
            let entry = entry.map_err(Error::file(&dir))?;
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if entry.file_type().map_err(Error::file(&path))?.is_dir() {
                if is_data_folder(&name) {
                    pending.push(path);
                }
            } else if is_data_file(&name) {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Whether a folder below `date=<day>` holds data: `key=value`, not hidden.
/// Hidden and marker names (`.x`, `_x`) are not data, as in Hive and Spark.
pub(crate) fn is_data_folder(name: &str) -> bool {
    !name.starts_with(['.', '_']) && name.contains('=')
}

/// Whether an object (its name below the dataset's folder, `/`-separated) is
/// data: a data file in data folders, as [`day_files`] walks them.
pub(crate) fn is_data_object(relative: &str) -> bool {
    let mut parts: Vec<&str> = relative.split('/').collect();
    let file = parts.pop().unwrap_or_default();
    is_data_file(file) && parts.into_iter().all(is_data_folder)
}

/// Whether a file is data: a `.parquet` file, neither hidden nor a marker
/// (`_SUCCESS`, `_x.parquet`). The SQL table reads the same names
/// (`dataset::DATA_FILES`).
pub(crate) fn is_data_file(name: &str) -> bool {
    !name.starts_with(['.', '_']) && name.ends_with(".parquet")
}

/// Rows in `file` (from its footer), to size the day's tables before reading.
pub(crate) fn file_rows(file: &DayFile) -> Result<usize> {
    let path = file.name();
    let meta = match file {
        DayFile::Local(path) => {
            let file = File::open(path).map_err(Error::file(path))?;
            ArrowReaderMetadata::load(&file, ArrowReaderOptions::new())
        }
        DayFile::Fetched { bytes, .. } => ArrowReaderMetadata::load(bytes, ArrowReaderOptions::new()),
    }
    .map_err(bad_file(path))?;
    Ok(usize::try_from(meta.metadata().file_metadata().num_rows()).unwrap_or(0))
}

fn bad_file(path: &Path) -> impl Fn(parquet::errors::ParquetError) -> Error + '_ {
    move |e| Error::UsageFile {
        path: path.to_owned(),
        reason: e.to_string(),
    }
}

/// The `request_time`s a scan keeps: `[start, end)`, in microseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeWindow {
    pub start: i64,
    pub end: i64,
}

impl From<Month> for TimeWindow {
    fn from(month: Month) -> Self {
        Self {
            start: month.start().timestamp_micros(),
            end: month.end().timestamp_micros(),
        }
    }
}

impl TimeWindow {
    fn contains(self, micros: i64) -> bool {
        micros >= self.start && micros < self.end
    }
}

/// Hands each batch of `file`'s rows within `window` to `each`, as [`SCAN_SCHEMA`].
pub(crate) fn read_file(
    file: &DayFile,
    window: TimeWindow,
    each: &mut dyn FnMut(&RecordBatch) -> Result<()>,
) -> Result<()> {
    match file {
        DayFile::Local(path) => {
            let opened = File::open(path).map_err(Error::file(path))?;
            read_chunks(opened, path, window, each)
        }
        DayFile::Fetched { url, bytes } => read_chunks(bytes.clone(), url, window, each),
    }
}

/// [`read_file`] of a file's bytes, wherever they are.
fn read_chunks<R: ChunkReader + 'static>(
    file: R,
    path: &Path,
    window: TimeWindow,
    each: &mut dyn FnMut(&RecordBatch) -> Result<()>,
) -> Result<()> {
    let bad = |reason: String| Error::UsageFile {
        path: path.to_owned(),
        reason,
    };
    let plain = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()).map_err(bad_file(path))?;
    // The file's own schema with the repeated strings asked for as dictionaries
    // (a hint must name every column of the file).
    let file_schema = plain.schema();
    let hinted: Vec<Field> = file_schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Utf8 if TextColumn::is_text_column(f.name()) => {
                Field::new(f.name(), dictionary_type(), f.is_nullable())
            }
            _ => f.as_ref().clone(),
        })
        .collect();
    let hint = Arc::new(Schema::new_with_metadata(hinted, file_schema.metadata().clone()));
    let meta = ArrowReaderMetadata::try_new(
        plain.metadata().clone(),
        ArrowReaderOptions::new().with_schema(hint),
    )
    .map_err(bad_file(path))?;
    // Where each scan column sits in the file, if it has it.
    let positions: Vec<Option<usize>> = COLUMNS
        .iter()
        .map(|name| meta.schema().index_of(name).ok())
        .collect();
    let mut roots: Vec<usize> = positions.iter().flatten().copied().collect();
    roots.sort_unstable();
    let mask = ProjectionMask::roots(meta.parquet_schema(), roots.iter().copied());
    let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(file, meta)
        .with_projection(mask)
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(bad_file(path))?;
    let schema = SCAN_SCHEMA.clone();
    for batch in reader {
        let batch = batch.map_err(|e| bad(e.to_string()))?;
        let mut columns = Vec::with_capacity(COLUMNS.len());
        for (field, position) in schema.fields().iter().zip(&positions) {
            let column = match position.and_then(|p| roots.binary_search(&p).ok()) {
                Some(i) => {
                    let column = batch.column(i);
                    if column.data_type() == field.data_type() {
                        column.clone()
                    } else {
                        arrow::compute::cast(column, field.data_type()).map_err(|e| bad(e.to_string()))?
                    }
                }
                None if field.is_nullable() => new_null_array(field.data_type(), batch.num_rows()),
                None => return Err(bad(format!("no column {}", field.name()))),
            };
            columns.push(column);
        }
        let batch = RecordBatch::try_new(schema.clone(), columns).map_err(|e| bad(e.to_string()))?;
        let batch = within(batch, window).map_err(|e| bad(e.to_string()))?;
        if batch.num_rows() > 0 {
            each(&batch)?;
        }
    }
    Ok(())
}

/// The rows of `batch` whose `request_time` falls in `window`; the batch itself
/// when all do (a `date=` folder of the month normally holds only such rows).
fn within(
    batch: RecordBatch,
    window: TimeWindow,
) -> std::result::Result<RecordBatch, arrow::error::ArrowError> {
    let Some(times) = batch
        .column_by_name("request_time")
        .and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>())
    else {
        return Ok(batch);
    };
    let inside = |t: i64| window.contains(t);
    let all_inside = times.null_count() == 0
        && arrow::compute::min(times).is_none_or(inside)
        && arrow::compute::max(times).is_none_or(inside);
    if all_inside {
        return Ok(batch);
    }
    let keep: BooleanArray = times.iter().map(|t| Some(t.is_some_and(inside))).collect();
    arrow::compute::filter_record_batch(&batch, &keep)
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::arrow::ArrowWriter;
    use tokentally_testdata::usage::call;

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 10, 1).expect("date")
    }

    fn month() -> Month {
        "2026-10".parse().expect("month")
    }

    fn write(path: &Path, batch: &RecordBatch) {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        let file = File::create(path).expect("create");
        let mut writer = ArrowWriter::try_new(file, batch.schema(), None).expect("writer");
        writer.write(batch).expect("write");
        writer.close().expect("close");
    }

    fn read(path: &Path) -> Result<Vec<RecordBatch>> {
        let mut batches = Vec::new();
        read_file(&DayFile::Local(path.to_owned()), month().into(), &mut |b| {
            batches.push(b.clone());
            Ok(())
        })?;
        Ok(batches)
    }

    #[test]
    fn only_the_days_parquet_files_are_read() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = root.path().join("date=2026-10-01");
        for name in [
            "b.parquet",
            ".part-1-2026-10-01-0.tmp",
            "notes.txt",
            "sub/c.parquet",
            "k=v/a.parquet",
            "._b.parquet",
            "_tmp.parquet",
            "_k=v/d.parquet",
        ] {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, b"").expect("write");
        }
        std::fs::create_dir_all(root.path().join("date=2026-10-02")).expect("mkdir");
        std::fs::write(root.path().join("date=2026-10-02/x.parquet"), b"").expect("write");
        let files = day_files(root.path(), day()).expect("list");
        assert_eq!(files, [dir.join("b.parquet"), dir.join("k=v/a.parquet")]);
        let none = day_files(
            root.path(),
            day().succ_opt().and_then(|d| d.succ_opt()).expect("day"),
        )
        .expect("list");
        assert!(none.is_empty());
    }

    #[test]
    fn a_bad_file_is_named() {
        let root = tempfile::tempdir().expect("tempdir");
        let path = root.path().join("date=2026-10-01/broken.parquet");
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, b"not parquet at all").expect("write");
        let fetched = DayFile::Fetched {
            url: PathBuf::from("az://lake/usage/date=2026-10-01/broken.parquet"),
            bytes: bytes::Bytes::from_static(b"not parquet at all"),
        };
        let mut ignore = |_: &RecordBatch| Ok(());
        assert!(read_file(&fetched, month().into(), &mut ignore).is_err_and(|e| {
            e.to_string()
                .contains("az://lake/usage/date=2026-10-01/broken.parquet")
        }));
        for error in [file_rows(&DayFile::Local(path.clone())).err(), read(&path).err()] {
            let message = error.map(|e| e.to_string()).unwrap_or_default();
            assert!(message.contains("broken.parquet"), "{message}");
        }
    }

    #[test]
    fn missing_nullable_columns_are_null_and_the_month_is_cut() {
        let records = [
            call("e1", "2026-10-01T10:00:00Z", "app-a", Some("gpt-4o"), 10, 5),
            call("e2", "2026-11-01T00:00:00Z", "app-a", Some("gpt-4o"), 10, 5),
        ];
        let full = tokentally_core::usage_to_batch(&records).expect("batch");
        let schema = full.schema();
        let kept: Vec<usize> = (0..schema.fields().len())
            .filter(|&i| {
                !["deployment", "model", "source_partition"].contains(&schema.field(i).name().as_str())
            })
            .collect();
        let old = full.project(&kept).expect("project");
        let root = tempfile::tempdir().expect("tempdir");
        let path = root.path().join("date=2026-10-01/old.parquet");
        write(&path, &old);
        let batches = read(&path).expect("read");
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        assert_eq!(rows, 1, "the November call is outside the month");
        let batch = batches.first().expect("a batch");
        assert_eq!(batch.schema(), SCAN_SCHEMA.clone());
        for name in ["deployment", "model", "source_partition"] {
            let column = batch.column_by_name(name).expect("column");
            assert_eq!(column.null_count(), 1, "{name}");
        }
        // A required column missing is an error naming the file.
        let no_source = full.project(&[0, 2, 3, 4]).expect("project");
        write(&path, &no_source);
        let message = read(&path).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            message.contains("old.parquet") && message.contains("no column"),
            "{message}"
        );
    }

    #[test]
    fn the_repeated_strings_are_read_as_dictionaries_and_the_event_id_plain() {
        let mut other = call("e2", "2026-10-01T11:00:00Z", "app-b", None, 1, 1);
        other.deployment = None;
        let records = [
            call("e1", "2026-10-01T10:00:00Z", "app-a", Some("gpt-4o"), 10, 5),
            other,
        ];
        let written = tokentally_core::usage_to_batch(&records).expect("batch");
        let root = tempfile::tempdir().expect("tempdir");
        let path = root.path().join("date=2026-10-01/plain.parquet");
        write(&path, &written);
        let batches = read(&path).expect("read");
        let batch = batches.first().expect("a batch");
        for column in TextColumn::ALL {
            let name = column.name();
            let read = batch.column_by_name(name).expect("column");
            assert_eq!(read.data_type(), &dictionary_type(), "{name}");
            // The same strings and nulls as written.
            let text = arrow::compute::cast(read, &DataType::Utf8).expect("cast");
            assert_eq!(Some(&text), written.column_by_name(name), "{name}");
        }
        let event_id = batch.column_by_name("event_id").expect("column");
        assert_eq!(event_id.data_type(), &DataType::Utf8);
        assert_eq!(Some(event_id), written.column_by_name("event_id"));
    }

    #[test]
    fn a_day_folder_that_cannot_be_read_is_an_error_not_an_empty_day() {
        // Only a missing folder is a day without data; any other failure to list
        // it (here a file where the folder should be) would drop the day's calls.
        let root = tempfile::tempdir().expect("tempdir");
        let path = root.path().join("date=2026-10-01");
        std::fs::write(&path, b"").expect("write");
        let message = day_files(root.path(), day())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(message.contains("date=2026-10-01"), "{message}");
    }

    #[test]
    fn a_column_written_as_another_type_is_cast_to_the_scan_type() {
        let records = [
            call("e1", "2026-10-01T10:00:00Z", "app-a", Some("gpt-4o"), 10, 5),
            call("e2", "2026-10-01T11:00:00Z", "app-a", Some("gpt-4o"), 70_000, 3),
        ];
        let full = tokentally_core::usage_to_batch(&records).expect("batch");
        let schema = full.schema();
        let at = schema.index_of("prompt_tokens").expect("prompt_tokens");
        let fields: Vec<Field> = schema
            .fields()
            .iter()
            .map(|f| {
                if f.name() == "prompt_tokens" {
                    Field::new(f.name(), DataType::Int32, f.is_nullable())
                } else {
                    f.as_ref().clone()
                }
            })
            .collect();
        let mut columns = full.columns().to_vec();
        let narrow = columns.get_mut(at).expect("column");
        *narrow = arrow::compute::cast(narrow, &DataType::Int32).expect("cast");
        let written = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).expect("batch");
        let root = tempfile::tempdir().expect("tempdir");
        let path = root.path().join("date=2026-10-01/int32.parquet");
        write(&path, &written);
        let batches = read(&path).expect("read");
        let batch = batches.first().expect("a batch");
        assert_eq!(batch.schema(), SCAN_SCHEMA.clone());
        assert_eq!(
            batch.column_by_name("prompt_tokens"),
            full.column_by_name("prompt_tokens")
        );
    }
}
