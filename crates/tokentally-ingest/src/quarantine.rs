//! Records that could not be parsed, kept with their reason, position and raw
//! bytes so an operator can inspect, fix and replay them.

use crate::Result;
use crate::error::IoContext as _;
use base64::Engine as _;
use serde::Serialize;
use std::fs::{self, File};
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use tokentally_core::SourcePosition;

/// One quarantined record, as a line of `<out>/quarantine/<input>.jsonl`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct QuarantineEntry {
    pub kind: String,
    pub reason: String,
    pub source: String,
    pub partition: Option<i32>,
    pub offset: i64,
    /// The record as text when it is UTF-8.
    pub raw: Option<String>,
    /// The record base64-encoded when it is not UTF-8.
    pub raw_base64: Option<String>,
    /// The raw bytes were left out because the quarantine reached its size bound.
    pub raw_omitted: bool,
}

/// A bounded quarantine file, written under a temporary name until [`Quarantine::finish`].
#[derive(Debug)]
pub struct Quarantine {
    dir: PathBuf,
    tmp: PathBuf,
    writer: Option<BufWriter<File>>,
    raw_budget: usize,
    entries: u64,
}

impl Quarantine {
    /// `max_raw_bytes` bounds the raw bytes kept; entries past it keep their reason
    /// and position only, so a flood of garbage cannot fill the disk.
    pub fn new(out_dir: &Path, max_raw_bytes: usize) -> Self {
        let dir = out_dir.join("quarantine");
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".quarantine-{}-{n}.tmp", std::process::id()));
        Self {
            dir,
            tmp,
            writer: None,
            raw_budget: max_raw_bytes,
            entries: 0,
        }
    }

    pub fn push(&mut self, kind: &str, reason: &str, position: &SourcePosition, raw: &[u8]) -> Result<()> {
        let keep = raw.len() <= self.raw_budget;
        if keep {
            self.raw_budget -= raw.len();
        }
        let text = std::str::from_utf8(raw).ok();
        let entry = QuarantineEntry {
            kind: kind.to_owned(),
            reason: reason.to_owned(),
            source: position.source.clone(),
            partition: position.partition,
            offset: position.offset,
            raw: text.filter(|_| keep).map(str::to_owned),
            raw_base64: (keep && text.is_none())
                .then(|| base64::engine::general_purpose::STANDARD.encode(raw)),
            raw_omitted: !keep,
        };
        if self.writer.is_none() {
            fs::create_dir_all(&self.dir).at(&self.dir)?;
            self.writer = Some(BufWriter::new(File::create(&self.tmp).at(&self.tmp)?));
        }
        if let Some(w) = self.writer.as_mut() {
            serde_json::to_writer(&mut *w, &entry)
                .map_err(std::io::Error::from)
                .at(&self.tmp)?;
            w.write_all(b"\n").at(&self.tmp)?;
        }
        self.entries += 1;
        Ok(())
    }

    /// Makes the quarantine durable as `<name>.jsonl`; `None` when nothing was quarantined.
    pub fn finish(self, name: &str) -> Result<Option<PathBuf>> {
        let Some(writer) = self.writer else {
            return Ok(None);
        };
        let file = writer.into_inner().map_err(|e| e.into_error()).at(&self.tmp)?;
        file.sync_all().at(&self.tmp)?;
        let path = self.dir.join(format!("{name}.jsonl"));
        fs::rename(&self.tmp, &path).at(&path)?;
        Ok(Some(path))
    }
}
