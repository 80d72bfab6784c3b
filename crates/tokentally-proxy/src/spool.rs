//! Records the broker could not take, on local disk until it can. Bounded: past
//! `max_bytes` a record is refused and the caller of [`Spool::put`] counts it lost.
//!
//! One file per record, `<unix nanos>-<seq>.rec`, written to a temporary name,
//! fsynced and renamed, so a crash leaves whole records or none; names sort in the
//! order records were spooled, which is the order they are sent again. A file is
//! the record's Kafka key (its request id, which keeps the parts of a split record
//! on one partition), a newline, and the event exactly as it is to be sent, or,
//! for a record too big for one event, its compressed form, split again into the
//! same parts when it is sent: a split record is spooled and resent whole.
//!
//! Records hold prompts and completions: the folder is the owner's alone (0700,
//! files 0600). After each rename the folder is fsynced too, so the new name
//! survives a crash. Two folders inside hold what is never resent but still counts
//! against `max_bytes`, also after a restart: `oversized/` (too big for the broker
//! even split) and `dead-letter/` (entries the broker refused for good).

use crate::error::{IoContext as _, Result};
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

const EXTENSION: &str = "rec";
/// Records too big for the broker even compressed and split.
pub const OVERSIZED: &str = "oversized";
/// Spooled records the broker refused for good.
pub const DEAD_LETTER: &str = "dead-letter";

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
    /// Opens (creating) the spool and counts what a previous run left in it,
    /// `oversized/` and `dead-letter/` included.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Self> {
        let mut used = 0;
        for folder in [dir.to_owned(), dir.join(OVERSIZED), dir.join(DEAD_LETTER)] {
            private_dir(&folder)?;
            used += count_entries(&folder)?;
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

    /// Stores one record: its key and the event exactly as it is to be sent.
    pub fn put(&self, key: &str, payload: &[u8]) -> Result<Put> {
        self.put_in(&self.dir, key, payload)
    }

    /// Stores a record that can never be sent (too big for the broker even
    /// compressed) in `oversized/`, for an operator to deal with; it counts
    /// against the same bound.
    pub fn put_oversized(&self, key: &str, payload: &[u8]) -> Result<Put> {
        self.put_in(&self.dir.join(OVERSIZED), key, payload)
    }

    /// Moves a spooled record the broker refused for good to `dead-letter/`, out of
    /// the way of the records behind it; its bytes still count.
    pub fn dead_letter(&self, path: &Path) -> Result<PathBuf> {
        let folder = self.dir.join(DEAD_LETTER);
        let to = folder.join(path.file_name().unwrap_or_default());
        fs::rename(path, &to).context(|| format!("moving {} to {}", path.display(), folder.display()))?;
        sync_dir(&folder)?;
        sync_dir(&self.dir)?;
        Ok(to)
    }

    fn put_in(&self, dir: &Path, key: &str, payload: &[u8]) -> Result<Put> {
        let key = key.replace(['\n', '\r'], " ");
        let len = (key.len() + 1 + payload.len()) as u64;
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
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            file.write_all(key.as_bytes())?;
            file.write_all(b"\n")?;
            file.write_all(payload)?;
            file.sync_all()?;
            fs::rename(&tmp, &path)
        })();
        if written.is_ok()
            && let Err(e) = sync_dir(dir)
        {
            // The record is in place and will be resent; only a power loss now
            // could forget its name.
            tracing::warn!(error = %e, "spooled record not yet durable");
        }
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

    /// A spooled record's key and event, and the bytes it takes on disk.
    pub fn read(&self, path: &Path) -> Result<(String, Vec<u8>, u64)> {
        let bytes = fs::read(path).context(|| format!("reading {}", path.display()))?;
        let len = bytes.len() as u64;
        let split = bytes.iter().position(|&b| b == b'\n').unwrap_or(0);
        let key = String::from_utf8_lossy(&bytes[..split]).into_owned();
        let payload = bytes.get(split + 1..).unwrap_or_default().to_vec();
        Ok((key, payload, len))
    }

    /// Forgets a record that has been delivered.
    pub fn remove(&self, path: &Path, len: u64) -> Result<()> {
        fs::remove_file(path).context(|| format!("removing {}", path.display()))?;
        self.used.fetch_sub(len.min(self.used()), Ordering::Relaxed);
        Ok(())
    }
}

/// Creates a folder only its owner can enter (a folder that exists keeps its mode).
fn private_dir(dir: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .context(|| format!("creating the spool {}", dir.display()))
}

/// Bytes of the records in one folder; removes writes that died before their rename.
fn count_entries(dir: &Path) -> Result<u64> {
    let mut used = 0;
    for entry in fs::read_dir(dir).context(|| format!("reading the spool {}", dir.display()))? {
        let entry = entry.context(|| format!("reading the spool {}", dir.display()))?;
        let path = entry.path();
        match path.extension().and_then(|e| e.to_str()) {
            Some(EXTENSION) => used += entry.metadata().map(|m| m.len()).unwrap_or(0),
            Some("tmp") => fs::remove_file(&path).context(|| format!("removing {}", path.display()))?,
            _ => {}
        }
    }
    Ok(used)
}

/// Makes the names in a folder durable (after a rename into or out of it).
fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .context(|| format!("syncing {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_ordered_and_reopened() -> Result<()> {
        let dir = tempfile::tempdir().context(|| "tempdir".into())?;
        let spool = Spool::open(dir.path(), 12)?;
        assert_eq!(spool.put("k1", b"aaa")?, Put::Spooled);
        assert_eq!(spool.put("k2", b"bbb")?, Put::Spooled);
        assert_eq!(spool.put("k3", b"ccc")?, Put::Full);
        assert_eq!(spool.used(), 12);
        let pending = spool.pending()?;
        assert_eq!(pending.len(), 2);
        assert_eq!(spool.read(&pending[0])?, ("k1".to_owned(), b"aaa".to_vec(), 6));
        fs::write(dir.path().join("x.tmp"), b"half").context(|| "write".into())?;

        let reopened = Spool::open(dir.path(), 12)?;
        assert_eq!(reopened.used(), 12);
        assert!(!dir.path().join("x.tmp").exists());
        reopened.remove(&pending[0], 6)?;
        assert_eq!(reopened.used(), 6);
        assert_eq!(reopened.put_oversized("k\n4", b"z")?, Put::Spooled);
        assert_eq!(reopened.pending()?.len(), 1, "oversized records are not resent");
        Ok(())
    }

    #[test]
    fn kept_records_still_count_after_a_restart() -> Result<()> {
        let dir = tempfile::tempdir().context(|| "tempdir".into())?;
        let spool = Spool::open(dir.path(), 100)?;
        assert_eq!(spool.put_oversized("big", b"0123456789")?, Put::Spooled);
        assert_eq!(spool.put("poison", b"abc")?, Put::Spooled);
        let poison = spool.pending()?.remove(0);
        let moved = spool.dead_letter(&poison)?;
        assert!(moved.starts_with(dir.path().join(DEAD_LETTER)));
        assert!(spool.pending()?.is_empty(), "dead letters are not resent");
        assert_eq!(spool.used(), 14 + 10);
        let reopened = Spool::open(dir.path(), 100)?;
        assert_eq!(
            reopened.used(),
            24,
            "oversized/ and dead-letter/ count after a restart"
        );
        Ok(())
    }

    #[test]
    fn only_the_owner_can_read_the_spool() -> Result<()> {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().context(|| "tempdir".into())?;
        let spool_dir = dir.path().join("spool");
        let spool = Spool::open(&spool_dir, 100)?;
        spool.put("k", b"prompt")?;
        spool.put_oversized("k", b"prompt")?;
        let mode = |p: &Path| fs::metadata(p).map(|m| m.permissions().mode() & 0o777);
        for file in spool.pending()? {
            assert_eq!(
                mode(&file).context(|| "stat".into())?,
                0o600,
                "{}",
                file.display()
            );
        }
        for folder in [
            spool_dir.clone(),
            spool_dir.join(OVERSIZED),
            spool_dir.join(DEAD_LETTER),
        ] {
            assert_eq!(
                mode(&folder).context(|| "stat".into())?,
                0o700,
                "{}",
                folder.display()
            );
        }
        Ok(())
    }
}
