//! Records the broker could not take, on local disk until it can. Bounded: past
//! `max_bytes` a record is refused and the caller of [`Spool::put`] counts it lost.
//!
//! One file per record, `<unix nanos>-<seq>.rec`, written to a temporary name,
//! fsynced and renamed, so a crash leaves whole records or none; names sort in the
//! order records were spooled, which is the order they are sent again.

use crate::error::{IoContext as _, Result};
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

const EXTENSION: &str = "rec";

#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    used: AtomicU64,
    seq: AtomicU64,
}

/// Where a refused record went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    Spooled,
    /// The spool is full: the record is lost.
    Full,
}

impl Spool {
    /// Opens (creating) the spool and counts what a previous run left in it.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Self> {
        fs::create_dir_all(dir).context(|| format!("creating the spool {}", dir.display()))?;
        let mut used = 0;
        for entry in fs::read_dir(dir).context(|| format!("reading the spool {}", dir.display()))? {
            let entry = entry.context(|| format!("reading the spool {}", dir.display()))?;
            let path = entry.path();
            match path.extension().and_then(|e| e.to_str()) {
                Some(EXTENSION) => used += entry.metadata().map(|m| m.len()).unwrap_or(0),
                // A write that died before its rename.
                Some("tmp") => fs::remove_file(&path).context(|| format!("removing {}", path.display()))?,
                _ => {}
            }
        }
        Ok(Self {
            dir: dir.to_owned(),
            max_bytes,
            used: AtomicU64::new(used),
            seq: AtomicU64::new(0),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Bytes held.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// Stores one record (the event payload exactly as it is to be sent).
    pub fn put(&self, payload: &[u8]) -> Result<Put> {
        self.put_in(&self.dir, payload)
    }

    /// Stores a record that can never be sent (too big for the broker even
    /// compressed) in `oversized/`, for an operator to deal with; it counts
    /// against the same bound.
    pub fn put_oversized(&self, payload: &[u8]) -> Result<Put> {
        let dir = self.dir.join("oversized");
        fs::create_dir_all(&dir).context(|| format!("creating {}", dir.display()))?;
        self.put_in(&dir, payload)
    }

    fn put_in(&self, dir: &Path, payload: &[u8]) -> Result<Put> {
        let len = payload.len() as u64;
        let reserved = self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                (used + len <= self.max_bytes).then_some(used + len)
            });
        if reserved.is_err() {
            return Ok(Put::Full);
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let name = format!("{nanos:020}-{seq:010}");
        let tmp = dir.join(format!("{name}.tmp"));
        let path = dir.join(format!("{name}.{EXTENSION}"));
        let written = (|| {
            let mut file = fs::File::create(&tmp)?;
            file.write_all(payload)?;
            file.sync_all()?;
            fs::rename(&tmp, &path)
        })();
        if let Err(e) = written {
            self.used.fetch_sub(len, Ordering::Relaxed);
            let _ = fs::remove_file(&tmp);
            return Err(e).context(|| format!("spooling to {}", path.display()));
        }
        Ok(Put::Spooled)
    }

    /// Spooled records, oldest first (not those in `oversized/`).
    pub fn pending(&self) -> Result<Vec<PathBuf>> {
        let mut files: Vec<PathBuf> = fs::read_dir(&self.dir)
            .context(|| format!("reading the spool {}", self.dir.display()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().and_then(|e| e.to_str()) == Some(EXTENSION))
            .collect();
        files.sort();
        Ok(files)
    }

    /// Forgets a record that has been delivered.
    pub fn remove(&self, path: &Path, len: u64) -> Result<()> {
        fs::remove_file(path).context(|| format!("removing {}", path.display()))?;
        self.used.fetch_sub(len.min(self.used()), Ordering::Relaxed);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_ordered_and_reopened() -> Result<()> {
        let dir = tempfile::tempdir().context(|| "tempdir".into())?;
        let spool = Spool::open(dir.path(), 10)?;
        assert_eq!(spool.put(b"aaaa")?, Put::Spooled);
        assert_eq!(spool.put(b"bbbb")?, Put::Spooled);
        assert_eq!(spool.put(b"cccc")?, Put::Full);
        assert_eq!(spool.used(), 8);
        let pending = spool.pending()?;
        assert_eq!(pending.len(), 2);
        assert_eq!(fs::read(&pending[0]).context(|| "read".into())?, b"aaaa");
        fs::write(dir.path().join("x.tmp"), b"half").context(|| "write".into())?;

        let reopened = Spool::open(dir.path(), 10)?;
        assert_eq!(reopened.used(), 8);
        assert!(!dir.path().join("x.tmp").exists());
        reopened.remove(&pending[0], 4)?;
        assert_eq!(reopened.used(), 4);
        assert_eq!(reopened.put_oversized(b"zzzzzz")?, Put::Spooled);
        assert_eq!(reopened.pending()?.len(), 1, "oversized records are not resent");
        Ok(())
    }
}
