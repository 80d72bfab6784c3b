//! The store for synchronous callers (ingest): each call runs on a small runtime
//! of its own.

use crate::{Remote, Result, StoreError};
use std::path::Path;

/// A [`Remote`] with a runtime to wait on. Not for use inside an async context.
#[derive(Debug)]
pub struct BlockingRemote {
    remote: Remote,
    runtime: tokio::runtime::Runtime,
}

impl BlockingRemote {
    pub fn new(remote: Remote) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(StoreError::Runtime)?;
        Ok(Self { remote, runtime })
    }

    pub fn remote(&self) -> &Remote {
        &self.remote
    }

    /// [`Remote::upload_file`], waited for.
    pub fn upload_file(&self, local: &Path, relative: &str) -> Result<()> {
        self.runtime.block_on(self.remote.upload_file(local, relative))
    }

    /// [`Remote::list`] of a sub-folder, waited for.
    pub fn list(&self, relative: &str) -> Result<Vec<String>> {
        self.runtime.block_on(self.remote.join(relative).list())
    }

    /// [`Remote::delete`], waited for.
    pub fn delete(&self, relative: &str) -> Result<()> {
        self.runtime.block_on(self.remote.delete(relative))
    }
}
