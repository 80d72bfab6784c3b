//! One unit of durable output: the rows and quarantine entries of a file, or of one
//! Kafka partition's offset range. Every source funnels its decoded events through
//! here, so counting and quarantining work the same everywhere.

use crate::envelope::Decoded;
use crate::{IngestOptions, IngestSummary, ParquetSink, Quarantine, Result};
use std::path::PathBuf;
use tokentally_core::SourcePosition;

#[derive(Debug)]
pub(crate) struct Batch {
    sink: ParquetSink,
    quarantine: Quarantine,
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
    /// renamed into place) and records the files in the summary.
    pub(crate) fn finish(self, prefix: &str, summary: &mut IngestSummary) -> Result<Vec<PathBuf>> {
        let files = self.sink.finish(prefix)?;
        summary.files_written.extend(files.iter().cloned());
        summary.quarantine_files.extend(self.quarantine.finish(prefix)?);
        Ok(files)
    }
}
