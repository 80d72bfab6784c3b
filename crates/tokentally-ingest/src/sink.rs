//! The Parquet usage dataset: Hive-partitioned by UTC date, written atomically.
//!
//! Parts are written under temporary names while input is read and renamed to their
//! final, deterministic names only when the whole input has been read: a crash
//! leaves only `.tmp` files (which no reader picks up), and a re-run over the same
//! input renames onto the same names instead of adding duplicates.

use crate::error::IoContext as _;
use crate::{Error, Result};
use arrow::array::{AsArray as _, RecordBatch, UInt32Array};
use arrow::compute::take_record_batch;
use arrow::datatypes::TimestampMicrosecondType;
use chrono::NaiveDate;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use tokentally_core::{UsageColumns, UsageRecord};

/// How the sink buffers.
#[derive(Debug, Clone)]
pub struct SinkOptions {
    /// Rows held in memory before they are written out as parts; bounds memory.
    pub max_buffered_rows: usize,
    /// Bytes of rows held in memory (what the column builders hold: eight bytes a
    /// column and the row's text) before they are written out as parts,
    /// whichever of the two limits comes first.
    pub max_buffered_bytes: usize,
}

/// Default of [`SinkOptions::max_buffered_rows`].
pub const DEFAULT_MAX_BUFFERED_ROWS: usize = 100_000;
/// Default of [`SinkOptions::max_buffered_bytes`].
pub const DEFAULT_MAX_BUFFERED_BYTES: usize = 64 << 20;

impl Default for SinkOptions {
    fn default() -> Self {
        Self {
            max_buffered_rows: DEFAULT_MAX_BUFFERED_ROWS,
            max_buffered_bytes: DEFAULT_MAX_BUFFERED_BYTES,
        }
    }
}

/// The bytes a row adds to the column builders: eight per column (a value or
/// an offset) and its text. Rows are small and alike, except for what their
/// strings hold (`notes`, long ids), which is what this counts.
pub(crate) fn row_bytes(row: &UsageRecord) -> usize {
    static FIXED: std::sync::LazyLock<usize> =
        std::sync::LazyLock::new(|| 8 * tokentally_core::usage_schema().fields().len());
    let text = [
        Some(row.event_id.as_str()),
        row.request_id.as_deref(),
        Some(row.app_id.as_str()),
        row.tenant_id.as_deref(),
        row.object_id.as_deref(),
        row.subscription.as_deref(),
        row.product.as_deref(),
        row.deployment.as_deref(),
        row.model.as_deref(),
        row.model_family.as_deref(),
        row.api_version.as_deref(),
        row.encoding.as_deref(),
        row.finish_reason.as_deref(),
        row.region.as_deref(),
        row.backend.as_deref(),
        row.notes.as_deref(),
        Some(row.source.source.as_str()),
    ];
    *FIXED + text.iter().flatten().map(|s| s.len()).sum::<usize>()
}

/// A part written under its temporary name, waiting for [`ParquetSink::finish`].
#[derive(Debug)]
struct PendingPart {
    date: NaiveDate,
    seq: u32,
    tmp: PathBuf,
}

/// Collects usage rows and writes them as Parquet parts.
#[derive(Debug)]
pub struct ParquetSink {
    root: PathBuf,
    options: SinkOptions,
    /// Rows by UTC day, already in columns: a row is copied in as it arrives and
    /// its record dropped (see `tokentally_core::UsageColumns`).
    buffers: BTreeMap<NaiveDate, UsageColumns>,
    buffered: usize,
    buffered_bytes: usize,
    /// `row_bytes` of every row pushed, written out or not.
    pushed_bytes: usize,
    next_seq: BTreeMap<NaiveDate, u32>,
    pending: Vec<PendingPart>,
}

fn writer_properties() -> WriterProperties {
    // Ids are unique per row: a dictionary would only cost a hash per value, and
    // min/max of random hex a comparison per value, and neither helps a reader.
    let mut builder = WriterProperties::builder().set_compression(Compression::ZSTD(ZstdLevel::default()));
    for id in ["event_id", "request_id"] {
        builder = builder
            .set_column_dictionary_enabled(ColumnPath::from(id), false)
            .set_column_statistics_enabled(ColumnPath::from(id), EnabledStatistics::None);
    }
    builder
        .set_created_by(concat!("tokentally ", env!("CARGO_PKG_VERSION")).to_owned())
        .build()
}

impl ParquetSink {
    /// A sink writing under `<dataset>/date=YYYY-MM-DD/`.
    pub fn new(dataset: impl Into<PathBuf>, options: SinkOptions) -> Self {
        Self {
            root: dataset.into(),
            options,
            buffers: BTreeMap::new(),
            buffered: 0,
            buffered_bytes: 0,
            pushed_bytes: 0,
            next_seq: BTreeMap::new(),
            pending: Vec::new(),
        }
    }

    /// Adds one row; writes buffered rows out when the buffer is full (by rows
    /// or by bytes).
    pub fn push(&mut self, row: &UsageRecord) -> Result<()> {
        let date = row.request_time.date_naive();
        self.buffers.entry(date).or_default().push(row);
        let bytes = row_bytes(row);
        self.buffered += 1;
        self.buffered_bytes += bytes;
        self.pushed_bytes += bytes;
        if self.buffered >= self.options.max_buffered_rows.max(1)
            || self.buffered_bytes >= self.options.max_buffered_bytes.max(1)
        {
            self.write_buffers()?;
        }
        Ok(())
    }

    /// The `row_bytes` of every row pushed so far.
    pub fn pushed_bytes(&self) -> usize {
        self.pushed_bytes
    }

    fn date_dir(&self, date: NaiveDate) -> PathBuf {
        self.root.join(format!("date={}", date.format("%Y-%m-%d")))
    }

    fn write_buffers(&mut self) -> Result<()> {
        for (date, mut rows) in std::mem::take(&mut self.buffers) {
            let batch = time_order(rows.finish()?)?;
            let next = self.next_seq.entry(date).or_insert(0);
            let seq = *next;
            *next += 1;
            let tmp = self
                .date_dir(date)
                .join(format!(".part-{}-{date}-{seq}.tmp", std::process::id()));
            let part = PendingPart { date, seq, tmp };
            write_part(&part.tmp, &batch)?;
            self.pending.push(part);
        }
        self.buffered = 0;
        self.buffered_bytes = 0;
        Ok(())
    }

    /// Writes what is buffered and moves every part to its final name
    /// `<prefix>-<seq>.parquet`. Returns the final paths.
    ///
    /// `prefix` must identify the input (its content hash), so that reading the same
    /// input again produces the same names.
    pub fn finish(mut self, prefix: &str) -> Result<Vec<PathBuf>> {
        self.write_buffers()?;
        let mut done = Vec::with_capacity(self.pending.len());
        let mut dirs = std::collections::BTreeSet::new();
        for part in std::mem::take(&mut self.pending) {
            let dir = self.date_dir(part.date);
            let path = dir.join(format!("{prefix}-{:05}.parquet", part.seq));
            fail::fail_point!("sink::rename", |_| Err(Error::Io {
                path: path.clone(),
                source: std::io::Error::other("injected failure (sink::rename)"),
            }));
            fs::rename(&part.tmp, &path).at(&path)?;
            dirs.insert(dir);
            done.push(path);
        }
        // Once per folder, after all its renames: the names are durable before
        // this returns (and before any offset is committed for them).
        for dir in &dirs {
            sync_dir(dir)?;
        }
        Ok(done)
    }
}

/// Rows by (request time, event id), ties in arrival order: time order inside a
/// part lets readers prune row groups by time. Rows read from one partition or
/// file mostly arrive in that order already, and then nothing is copied.
fn time_order(batch: RecordBatch) -> Result<RecordBatch> {
    let (Some(times), Some(ids)) = (
        batch
            .column_by_name("request_time")
            .and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>()),
        batch
            .column_by_name("event_id")
            .and_then(|c| c.as_string_opt::<i32>()),
    ) else {
        return Err(Error::Internal(
            "usage batch without request_time or event_id".into(),
        ));
    };
    let key = |i: usize| (times.value(i), ids.value(i));
    if (1..batch.num_rows()).all(|i| key(i - 1) <= key(i)) {
        return Ok(batch);
    }
    let rows = u32::try_from(batch.num_rows())
        .map_err(|_| Error::Internal("more than 2^32 rows in one part".into()))?;
    let mut order: Vec<u32> = (0..rows).collect();
    // Stable: rows with equal keys keep their arrival order.
    order.sort_by(|&a, &b| key(a as usize).cmp(&key(b as usize)));
    take_record_batch(&batch, &UInt32Array::from(order))
        .map_err(|e| Error::Internal(format!("ordering a usage part by time: {e}")))
}

fn write_part(path: &Path, batch: &RecordBatch) -> Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).at(dir)?;
    }
    let file = File::create(path).at(path)?;
    let parquet_err = |source| Error::Parquet {
        path: path.to_owned(),
        source,
    };
    let mut writer =
        ArrowWriter::try_new(file, batch.schema(), Some(writer_properties())).map_err(parquet_err)?;
    writer.write(batch).map_err(parquet_err)?;
    let file = writer.into_inner().map_err(parquet_err)?;
    file.sync_all().at(path)
}

/// Makes a rename durable: on Linux the directory entry needs its own fsync.
fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).at(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use tokentally_core::SourcePosition;

    fn row(time: &str, event_id: &str, offset: i64) -> UsageRecord {
        let mut call = tokentally_testdata::gateway::Call::chat(&format!("r{offset}"), "app");
        call.request_time = time.to_owned();
        let position = SourcePosition {
            source: "t.jsonl".into(),
            partition: None,
            offset,
        };
        let record = call.to_json().to_string();
        let mut row = tokentally_parse::parse_record(record.as_bytes(), position).expect("row");
        row.event_id = event_id.to_owned();
        row
    }

    fn offsets(path: &Path) -> Vec<i64> {
        let file = File::open(path).expect("part");
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .expect("parquet")
            .build()
            .expect("reader");
        let mut out = Vec::new();
        for batch in reader {
            let batch = batch.expect("batch");
            let col = batch.column_by_name("source_offset").expect("column");
            let col = col.as_primitive::<arrow::datatypes::Int64Type>();
            out.extend((0..col.len()).map(|i| col.value(i)));
        }
        out
    }

    #[test]
    fn parts_are_in_time_then_id_order_ties_in_arrival_order() {
        let dir = tempfile::tempdir().expect("dir");
        let mut sink = ParquetSink::new(dir.path(), SinkOptions::default());
        let rows = [
            row("2026-10-01T12:00:02Z", "b", 0),
            row("2026-10-01T12:00:01Z", "b", 1),
            row("2026-10-01T12:00:01Z", "a", 2),
            // A replayed copy: same time and id, kept after the first.
            row("2026-10-01T12:00:01Z", "b", 3),
            // Arriving in reverse: sorted all the same.
            row("2026-10-02T00:00:01Z", "a", 4),
            row("2026-10-02T00:00:00Z", "a", 5),
        ];
        for r in &rows {
            sink.push(r).expect("push");
        }
        let files = sink.finish("t").expect("finish");
        assert_eq!(files.len(), 2, "{files:?}");
        assert_eq!(offsets(&files[0]), [2, 1, 3, 0]);
        assert_eq!(offsets(&files[1]), [5, 4]);
    }

    #[test]
    fn a_full_buffer_is_written_as_its_own_part() {
        let dir = tempfile::tempdir().expect("dir");
        let options = SinkOptions {
            max_buffered_rows: 2,
            ..SinkOptions::default()
        };
        let mut sink = ParquetSink::new(dir.path(), options);
        for offset in 0..5 {
            sink.push(&row("2026-10-01T12:00:00Z", &format!("e{offset}"), offset))
                .expect("push");
        }
        let files = sink.finish("t").expect("finish");
        let per_file: Vec<Vec<i64>> = files.iter().map(|f| offsets(f)).collect();
        assert_eq!(per_file, [vec![0, 1], vec![2, 3], vec![4]]);
    }

    #[test]
    fn a_buffer_full_by_bytes_is_written_as_its_own_part() {
        let dir = tempfile::tempdir().expect("dir");
        let mut long = row("2026-10-01T12:00:00Z", "e0", 0);
        long.notes = Some("n".repeat(10_000));
        let options = SinkOptions {
            max_buffered_bytes: row_bytes(&long),
            ..SinkOptions::default()
        };
        let mut sink = ParquetSink::new(dir.path(), options);
        sink.push(&long).expect("push");
        for offset in 1..4 {
            sink.push(&row("2026-10-01T12:00:00Z", &format!("e{offset}"), offset))
                .expect("push");
        }
        assert!(sink.pushed_bytes() > row_bytes(&long));
        let files = sink.finish("t").expect("finish");
        let per_file: Vec<Vec<i64>> = files.iter().map(|f| offsets(f)).collect();
        assert_eq!(per_file, [vec![0], vec![1, 2, 3]]);
    }
}
