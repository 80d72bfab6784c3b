//! One unit of durable output: the rows and quarantine entries of a file, or of one
//! Kafka partition's offset range. Every source funnels its decoded events through
//! here, so counting and quarantining work the same everywhere.

use crate::envelope::Decoded;
use crate::{IngestOptions, IngestSummary, ParquetSink, Quarantine, Result};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokentally_core::SourcePosition;
use tokentally_store::BlockingRemote;

#[derive(Debug)]
pub(crate) struct Batch {
    sink: ParquetSink,
    quarantine: Quarantine,
    out_dir: PathBuf,
    remote: Option<Arc<BlockingRemote>>,
    rows: usize,
    /// The lowest position of any outcome stored: rows of held records that
    /// complete here sit before the batch's first new record.
    min_offset: Option<i64>,
}

impl Batch {
    pub(crate) fn new(options: &IngestOptions) -> Self {
        Self {
            sink: ParquetSink::new(options.out_dir.join("usage"), options.sink.clone()),
            quarantine: Quarantine::new(&options.out_dir, options.max_quarantine_bytes),
            out_dir: options.out_dir.clone(),
            remote: options.remote.clone(),
            rows: 0,
            min_offset: None,
        }
    }

    /// Rows held in this batch (written or buffered), for flush decisions.
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// Bytes of the rows in this batch (written or buffered), for flush decisions.
    pub(crate) fn bytes(&self) -> usize {
        self.sink.pushed_bytes()
    }

    /// The lowest position of anything stored in this batch.
    pub(crate) fn min_offset(&self) -> Option<i64> {
        self.min_offset
    }

    /// Stores one outcome; `event` is the raw event it came from, quarantined when
    /// the outcome has no narrower raw part of its own.
    pub(crate) fn accept(
        &mut self,
        summary: &mut IngestSummary,
        position: &SourcePosition,
        decoded: Decoded,
        event: &[u8],
    ) -> Result<()> {
        self.min_offset = Some(
            self.min_offset
                .map_or(position.offset, |m| m.min(position.offset)),
        );
        match decoded {
            Decoded::Row(row) => {
                summary.add_row(&row);
                self.rows += 1;
                self.sink.push(&row)?;
            }
            Decoded::Bad { kind, reason, raw } => {
                summary.quarantined += 1;
                *summary.quarantined_by_kind.entry(kind.clone()).or_default() += 1;
                if summary.quarantine_examples.len() < IngestSummary::MAX_EXAMPLES {
                    summary.quarantine_examples.push(format!("{position}: {reason}"));
                }
                tracing::debug!(%position, %reason, "record quarantined");
                self.quarantine
                    .push(&kind, &reason, position, raw.as_deref().unwrap_or(event))?;
            }
            Decoded::Skipped { what } => {
                *summary.skipped.entry(what).or_default() += 1;
            }
        }
        Ok(())
    }

    /// Makes the batch durable under names starting with `prefix` (fsynced and
    /// renamed into place, then uploaded whole when the output is in object
    /// storage) and records the files in the summary.
    pub(crate) fn finish(self, prefix: &str, summary: &mut IngestSummary) -> Result<Vec<PathBuf>> {
        let files = self.sink.finish(prefix)?;
        let quarantined = self.quarantine.finish(prefix)?;
        let Some(remote) = &self.remote else {
            summary.files_written.extend(files.iter().cloned());
            summary.quarantine_files.extend(quarantined);
            return Ok(files);
        };
        let files = files
            .iter()
            .map(|path| upload(remote, &self.out_dir, path))
            .collect::<Result<Vec<_>>>()?;
        summary.files_written.extend(files.iter().cloned());
        if let Some(path) = quarantined {
            summary
                .quarantine_files
                .push(upload(remote, &self.out_dir, &path)?);
        }
        Ok(files)
    }
}

/// Uploads a finished staged file to the same name under the remote folder,
/// removes the staged copy, and returns the object's URL (as a path, for the
/// summary). A retry or replay puts the same object again.
fn upload(remote: &BlockingRemote, staging: &Path, path: &Path) -> Result<PathBuf> {
    let relative = path
        .strip_prefix(staging)
        .map_err(|_| crate::Error::Internal(format!("{} is not under the staging folder", path.display())))?;
    let relative: Vec<_> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect();
    let relative = relative.join("/");
    fail::fail_point!("sink::upload", |_| Err(crate::Error::Internal(
        "injected failure (sink::upload)".to_owned()
    )));
    remote.upload_file(path, &relative)?;
    std::fs::remove_file(path).map_err(|source| crate::Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let url = remote.remote().url_of(&relative);
    tracing::debug!(%url, "uploaded");
    Ok(PathBuf::from(url))
}
