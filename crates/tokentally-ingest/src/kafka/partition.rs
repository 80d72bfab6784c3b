//! One assigned partition: where it started, how far it is read, the batch of rows
//! not yet durable, and the file names that tie output to offsets.
//!
//! Files are named `kafka-<topic>-p<partition>-<first>-<last>-<seq>.parquet` (and
//! `….jsonl` in quarantine), `<first>..=<last>` being the offsets they hold. Offsets
//! are committed only after the files are renamed into place, so a file whose first
//! offset is at or past the committed offset was written by a run that died before
//! its commit: it is removed when the partition is assigned again, and the replay
//! writes those rows once more. The dataset therefore never holds a row twice
//! (but see docs/operations.md for records held across a flush). `<first>` is the
//! lowest position of anything in the files, held records written there
//! included, so removing them always makes their records be read again. A flush
//! that read nothing new but wrote held records adds `-r<n>` after `<last>`.

use crate::batch::Batch;
use crate::envelope::EventDecoder;
use crate::error::IoContext as _;
use crate::{IngestOptions, IngestSummary, Result};
use serde::Serialize;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long an `until-caught-up` run keeps reading past the high-water mark seen
/// at assignment while waiting for the broker's end-of-partition signal.
pub(crate) const EOF_GRACE: Duration = Duration::from_secs(5);

/// Progress of one partition, for progress reports and the run summary.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct PartitionSummary {
    pub topic: String,
    pub partition: i32,
    /// The committed offset when this run was assigned the partition.
    pub start_offset: i64,
    /// The next offset to read; everything before it is durable and committed once
    /// the run ends.
    pub next_offset: i64,
    /// The partition's end (high-water mark) as last seen.
    pub high_watermark: i64,
    /// `high_watermark - next_offset`: records not yet read.
    pub lag: i64,
    pub records: u64,
}

#[derive(Debug)]
pub(crate) struct PartitionState {
    pub(crate) summary: PartitionSummary,
    /// Where an `until-caught-up` run stops: the high-water mark at assignment.
    pub(crate) stop_at: i64,
    /// When `stop_at` was passed; the run then also waits (briefly) for the broker
    /// to say the partition's end was reached, see [`PartitionState::caught_up`].
    reached_at: Option<Instant>,
    eof: bool,

    pub(crate) decoder: EventDecoder,
    pub(crate) batch: Option<Batch>,
    /// First and last offset read into `batch`.
    pub(crate) range: Option<(i64, i64)>,
    /// Flushes since the last one that read anything (the `-r<n>` of their names).
    releases: u32,
}

/// What a flush writes of the records the decoder holds for joining.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Release {
    /// A flush while the run goes on: LLM-log calls that are ready; in follow
    /// mode also what has waited too long.
    Ready { follow: bool },
    /// An until-caught-up run caught up: every LLM-log call held, ready or not.
    Calls,
}

impl PartitionState {
    pub(crate) fn new(topic: &str, partition: i32, start: i64, high: i64, options: &IngestOptions) -> Self {
        Self {
            summary: PartitionSummary {
                topic: topic.to_owned(),
                partition,
                start_offset: start,
                next_offset: start,
                high_watermark: high,
                lag: (high - start).max(0),
                records: 0,
            },
            stop_at: high,
            reached_at: (start >= high).then(Instant::now),
            eof: false,
            decoder: options.decoder(),
            batch: None,
            range: None,
            releases: 0,
        }
    }

    /// Past the high-water mark seen at assignment, and either the broker reported
    /// the partition's end or [`EOF_GRACE`] has passed. The end-of-partition signal
    /// comes from fetch responses; some Kafka-compatible brokers under-report the
    /// high-water mark in offset queries, and this way such a broker still gets read
    /// to its end, while a busy partition cannot keep a batch run going for long.
    pub(crate) fn caught_up(&self) -> bool {
        self.summary.next_offset >= self.stop_at
            && (self.eof || self.reached_at.is_some_and(|t| t.elapsed() >= EOF_GRACE))
    }

    /// The broker reported the end of the partition at the current position.
    pub(crate) fn end_reached(&mut self) {
        if self.summary.next_offset >= self.stop_at {
            self.eof = true;
        }
    }

    pub(crate) fn batch(&mut self, options: &IngestOptions) -> &mut Batch {
        self.batch.get_or_insert_with(|| Batch::new(options))
    }

    /// Marks `offset` read.
    pub(crate) fn advance(&mut self, offset: i64) {
        self.range = Some(match self.range {
            Some((first, _)) => (first, offset),
            None => (offset, offset),
        });
        self.summary.next_offset = offset + 1;
        self.eof = false;
        if self.reached_at.is_none() && self.summary.next_offset >= self.stop_at {
            self.reached_at = Some(Instant::now());
        }
        self.summary.records += 1;
        self.summary.high_watermark = self.summary.high_watermark.max(offset + 1);
        self.summary.lag = (self.summary.high_watermark - self.summary.next_offset).max(0);
    }

    pub(crate) fn set_high_watermark(&mut self, high: i64) {
        self.summary.high_watermark = self.summary.high_watermark.max(high);
        self.summary.lag = (self.summary.high_watermark - self.summary.next_offset).max(0);
    }

    /// Makes the batch durable, with what `release` lets out of the held records.
    /// Returns the offset to commit, if anything was written: held records keep
    /// the commit at the first of them, so a restart reads them again.
    pub(crate) fn flush(
        &mut self,
        summary: &mut IngestSummary,
        release: Release,
        options: &IngestOptions,
    ) -> Result<Option<i64>> {
        let mut released = Vec::new();
        match release {
            Release::Ready { follow } => self.decoder.release_ready(follow, &mut released),
            Release::Calls => self.decoder.release_calls(&mut released),
        }
        let read = self.range.take();
        if read.is_none() && released.is_empty() {
            return Ok(None);
        }
        let mut batch = self.batch.take().unwrap_or_else(|| Batch::new(options));
        for (position, outcome) in released {
            batch.accept(summary, &position, outcome, &[])?;
        }
        let next = self.summary.next_offset;
        let last = read.map_or(next - 1, |(_, last)| last);
        let first = [read.map(|(first, _)| first), batch.min_offset()]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(last);
        let mut prefix = format!(
            "{}{first}-{last}",
            file_prefix(&self.summary.topic, self.summary.partition)
        );
        if read.is_some() {
            self.releases = 0;
        } else {
            self.releases += 1;
            prefix.push_str(&format!("-r{}", self.releases));
        }
        batch.finish(&prefix, summary)?;
        Ok(Some(self.decoder.held_from().map_or(next, |held| held.min(next))))
    }
}

/// `kafka-<topic>-p<partition>-`, the topic made path-safe.
pub(crate) fn file_prefix(topic: &str, partition: i32) -> String {
    let topic: String = topic
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("kafka-{topic}-p{partition}-")
}

/// Removes files of `topic`/`partition` whose first offset is at or past
/// `committed`: output of a run that stopped between writing and committing.
pub(crate) fn remove_uncommitted(
    out_dir: &Path,
    topic: &str,
    partition: i32,
    committed: i64,
) -> Result<Vec<PathBuf>> {
    let prefix = file_prefix(topic, partition);
    let mut dirs = vec![out_dir.join("quarantine")];
    let usage = out_dir.join("usage");
    if let Ok(entries) = fs::read_dir(&usage) {
        dirs.extend(
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_dir()),
        );
    }
    let mut removed = Vec::new();
    for dir in dirs {
        let Ok(entries) = fs::read_dir(&dir) else { continue };
        for entry in entries.filter_map(|e| e.ok()) {
            let name = entry.file_name();
            let Some(first) = name.to_str().and_then(|n| first_offset(n, &prefix)) else {
                continue;
            };
            if first >= committed {
                let path = entry.path();
                fs::remove_file(&path).at(&path)?;
                removed.push(path);
            }
        }
    }
    Ok(removed)
}

/// [`remove_uncommitted`] for an output in object storage: the objects under
/// `usage/` and `quarantine/` of `topic`/`partition` from `committed` on.
/// Returns their URLs.
pub(crate) fn remove_uncommitted_remote(
    remote: &tokentally_store::BlockingRemote,
    topic: &str,
    partition: i32,
    committed: i64,
) -> Result<Vec<String>> {
    let prefix = file_prefix(topic, partition);
    let mut removed = Vec::new();
    for folder in ["usage", "quarantine"] {
        for name in remote.list(folder)? {
            let file = name.rsplit('/').next().unwrap_or(&name);
            if first_offset(file, &prefix).is_some_and(|first| first >= committed) {
                let relative = format!("{folder}/{name}");
                remote.delete(&relative)?;
                removed.push(remote.remote().url_of(&relative));
            }
        }
    }
    Ok(removed)
}

/// The first offset in `<prefix><first>-<last>…` names; `None` for other files.
fn first_offset(name: &str, prefix: &str) -> Option<i64> {
    let rest = name.strip_prefix(prefix)?;
    let (first, rest) = rest.split_once('-')?;
    let last_digits = rest.split(['-', '.']).next()?;
    last_digits.parse::<i64>().ok()?;
    first.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_to_their_first_offset() {
        let prefix = file_prefix("aoai.gateway", 3);
        assert_eq!(prefix, "kafka-aoai_gateway-p3-");
        assert_eq!(
            first_offset("kafka-aoai_gateway-p3-100-199-00000.parquet", &prefix),
            Some(100)
        );
        assert_eq!(
            first_offset("kafka-aoai_gateway-p3-100-199.jsonl", &prefix),
            Some(100)
        );
        // Partition 3 is not partition 31, and another topic is not this one.
        assert_eq!(
            first_offset("kafka-aoai_gateway-p31-5-9-00000.parquet", &prefix),
            None
        );
        assert_eq!(first_offset("kafka-aoai_gateway-p3-x-9.jsonl", &prefix), None);
        assert_eq!(first_offset("sample-abc-00000.parquet", &prefix), None);
    }

    #[test]
    fn only_files_past_the_commit_are_removed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let day = dir.path().join("usage/date=2026-10-01");
        fs::create_dir_all(&day).expect("mkdir");
        fs::create_dir_all(dir.path().join("quarantine")).expect("mkdir");
        for name in [
            "kafka-t-p0-0-9-00000.parquet",
            "kafka-t-p0-10-19-00000.parquet",
            "kafka-t-p1-10-19-00000.parquet",
        ] {
            fs::write(day.join(name), b"x").expect("write");
        }
        fs::write(dir.path().join("quarantine/kafka-t-p0-10-19.jsonl"), b"x").expect("write");
        let removed = remove_uncommitted(dir.path(), "t", 0, 10).expect("remove");
        assert_eq!(removed.len(), 2, "{removed:?}");
        assert!(day.join("kafka-t-p0-0-9-00000.parquet").exists());
        assert!(day.join("kafka-t-p1-10-19-00000.parquet").exists());
        assert!(!day.join("kafka-t-p0-10-19-00000.parquet").exists());
    }
}
