//! The Parquet usage dataset: Hive-partitioned by UTC date, written atomically.
//!
//! Parts are written under temporary names while input is read and renamed to their
//! final, deterministic names only when the whole input has been read: a crash
//! leaves only `.tmp` files (which no reader picks up), and a re-run over the same
//! input renames onto the same names instead of adding duplicates.

use crate::error::IoContext as _;
use crate::{Error, Result};
use chrono::NaiveDate;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use tokentally_core::{UsageRecord, usage_to_batch};

/// How the sink buffers.
#[derive(Debug, Clone)]
pub struct SinkOptions {
    /// Rows held in memory before they are written out as parts; bounds memory.
    pub max_buffered_rows: usize,
}

impl Default for SinkOptions {
    fn default() -> Self {
        Self {
            max_buffered_rows: 100_000,
        }
    }
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
    buffers: BTreeMap<NaiveDate, Vec<UsageRecord>>,
    buffered: usize,
    next_seq: BTreeMap<NaiveDate, u32>,
    pending: Vec<PendingPart>,
}

fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
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
            next_seq: BTreeMap::new(),
            pending: Vec::new(),
        }
    }

    /// Adds one row; writes buffered rows out when the buffer is full.
    pub fn push(&mut self, row: UsageRecord) -> Result<()> {
        let date = row.request_time.date_naive();
        self.buffers.entry(date).or_default().push(row);
        self.buffered += 1;
        if self.buffered >= self.options.max_buffered_rows.max(1) {
            self.write_buffers()?;
        }
        Ok(())
    }

    fn date_dir(&self, date: NaiveDate) -> PathBuf {
        self.root.join(format!("date={}", date.format("%Y-%m-%d")))
    }

    fn write_buffers(&mut self) -> Result<()> {
        for (date, mut rows) in std::mem::take(&mut self.buffers) {
            // Time order inside a part lets readers prune row groups by time.
            rows.sort_by(|a, b| (a.request_time, &a.event_id).cmp(&(b.request_time, &b.event_id)));
            let next = self.next_seq.entry(date).or_insert(0);
            let seq = *next;
            *next += 1;
            let tmp = self
                .date_dir(date)
                .join(format!(".part-{}-{date}-{seq}.tmp", std::process::id()));
            let part = PendingPart { date, seq, tmp };
            write_part(&part.tmp, &rows)?;
            self.pending.push(part);
        }
        self.buffered = 0;
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

fn write_part(path: &Path, rows: &[UsageRecord]) -> Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).at(dir)?;
    }
    let batch = usage_to_batch(rows)?;
    let file = File::create(path).at(path)?;
    let parquet_err = |source| Error::Parquet {
        path: path.to_owned(),
        source,
    };
    let mut writer =
        ArrowWriter::try_new(file, batch.schema(), Some(writer_properties())).map_err(parquet_err)?;
    writer.write(&batch).map_err(parquet_err)?;
    let file = writer.into_inner().map_err(parquet_err)?;
    file.sync_all().at(path)
}

/// Makes a rename durable: on Linux the directory entry needs its own fsync.
fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).at(dir)
}
