//! Whole files up and down: uploads under deterministic names, retried with
//! backoff; downloads of a folder into a local staging folder.

use crate::{Remote, Result, StoreError};
use futures_util::{StreamExt as _, TryStreamExt as _};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt as _, PutPayload, WriteMultipart};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Files up to this size go up in one request; bigger ones as multipart uploads
/// of parts this size (every store's part minimum is 5 MiB).
const SINGLE_PUT_MAX: u64 = 16 << 20;
const PART_BYTES: usize = 16 << 20;
/// Whole-upload attempts, on top of the retries inside each request.
const UPLOAD_ATTEMPTS: u32 = 4;
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// Objects moved at once by the folder-wide transfers: each request waits on the
/// network far more than on this process, and stores serve requests in parallel.
const IN_FLIGHT: usize = 8;

impl Remote {
    /// Uploads the local file `local` whole as `relative` under this folder,
    /// replacing any object there. Retries the whole upload with backoff; the
    /// error of the last attempt is returned.
    pub async fn upload_file(&self, local: &Path, relative: &str) -> Result<()> {
        let key = self.key(relative);
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            match self.upload_once(local, &key).await {
                Ok(()) => return Ok(()),
                Err(e @ StoreError::Local { .. }) => return Err(e),
                Err(e) if attempt >= UPLOAD_ATTEMPTS => return Err(e),
                Err(e) => {
                    tracing::warn!(url = %self.url_of(relative), attempt, error = %e, "upload failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    attempt += 1;
                }
            }
        }
    }

    async fn upload_once(&self, local: &Path, key: &ObjectPath) -> Result<()> {
        let at = |source| StoreError::Local {
            path: local.to_owned(),
            source,
        };
        let request = |action| {
            move |source| StoreError::Request {
                url: self.object_url(key),
                action,
                source,
            }
        };
        let mut file = std::fs::File::open(local).map_err(at)?;
        let len = file.metadata().map_err(at)?.len();
        if len <= SINGLE_PUT_MAX {
            let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
            file.read_to_end(&mut bytes).map_err(at)?;
            self.store
                .put(key, PutPayload::from(bytes))
                .await
                .map_err(request("uploading"))?;
            return Ok(());
        }
        let upload = self
            .store
            .put_multipart(key)
            .await
            .map_err(request("starting a multipart upload"))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
        let mut buf = vec![0; PART_BYTES];
        loop {
            let n = match file.read(&mut buf) {
                Ok(n) => n,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(at(e));
                }
            };
            if n == 0 {
                break;
            }
            if let Err(e) = writer.wait_for_capacity(2).await {
                return Err(request("uploading a part")(e));
            }
            writer.write(&buf[..n]);
        }
        writer
            .finish()
            .await
            .map_err(request("completing a multipart upload"))?;
        Ok(())
    }

    /// Uploads every file under the local folder `dir` to the same relative
    /// names under this folder; returns their URLs, sorted.
    pub async fn upload_dir(&self, dir: &Path) -> Result<Vec<String>> {
        let mut files = Vec::new();
        walk(dir, dir, &mut files)?;
        files.sort();
        futures_util::stream::iter(
            files
                .iter()
                .map(|relative| async move { self.upload_file(&dir.join(relative), relative).await }),
        )
        .buffer_unordered(IN_FLIGHT)
        .try_collect::<Vec<()>>()
        .await?;
        Ok(files.iter().map(|relative| self.url_of(relative)).collect())
    }

    /// Whether an object under this folder has a name (relative, `/`-separated)
    /// that `matches`: the listing stops at the first, so a large dataset is not
    /// listed whole to learn that it is there.
    pub async fn any(&self, matches: impl Fn(&str) -> bool) -> Result<bool> {
        let mut listing = self.store.list(Some(&self.prefix));
        while let Some(meta) = listing.try_next().await.map_err(|source| StoreError::Request {
            url: self.url.clone(),
            action: "listing",
            source,
        })? {
            let Some(parts) = meta.location.prefix_match(&self.prefix) else {
                continue;
            };
            if matches(&parts.map(|p| p.as_ref().to_owned()).collect::<Vec<_>>().join("/")) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The names (relative to this folder, `/`-separated) of every object under it.
    pub async fn list(&self) -> Result<Vec<String>> {
        let metas: Vec<_> = self
            .store
            .list(Some(&self.prefix))
            .try_collect()
            .await
            .map_err(|source| StoreError::Request {
                url: self.url.clone(),
                action: "listing",
                source,
            })?;
        let mut names: Vec<String> = metas
            .into_iter()
            .filter_map(|meta| {
                meta.location
                    .prefix_match(&self.prefix)
                    .map(|parts| parts.map(|p| p.as_ref().to_owned()).collect::<Vec<_>>().join("/"))
            })
            .collect();
        names.sort();
        Ok(names)
    }

    /// The object `relative` under this folder, whole.
    pub async fn get(&self, relative: &str) -> Result<bytes::Bytes> {
        let failed = |source| StoreError::Request {
            url: self.url_of(relative),
            action: "reading",
            source,
        };
        let got = self.store.get(&self.key(relative)).await.map_err(failed)?;
        got.bytes().await.map_err(failed)
    }

    /// Downloads `relative` under this folder to the same relative name under
    /// the local folder `dir`.
    pub async fn download(&self, relative: &str, dir: &Path) -> Result<()> {
        let bytes = self.get(relative).await?;
        let path = relative
            .split('/')
            .fold(dir.to_path_buf(), |p, part| p.join(part));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::Local {
                path: parent.to_owned(),
                source,
            })?;
        }
        std::fs::write(&path, &bytes).map_err(|source| StoreError::Local { path, source })
    }

    /// [`Self::download`] of each of `names`, several at a time.
    pub async fn download_all(&self, names: &[&str], dir: &Path) -> Result<()> {
        futures_util::stream::iter(names.iter().map(|name| self.download(name, dir)))
            .buffer_unordered(IN_FLIGHT)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    /// Deletes `relative` under this folder (no error when it is already gone).
    pub async fn delete(&self, relative: &str) -> Result<()> {
        let key = self.key(relative);
        match self.store.delete(&key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(source) => Err(StoreError::Request {
                url: self.object_url(&key),
                action: "deleting",
                source,
            }),
        }
    }

    fn object_url(&self, key: &ObjectPath) -> String {
        match key.prefix_match(&self.prefix) {
            Some(parts) => self.url_of(&parts.map(|p| p.as_ref().to_owned()).collect::<Vec<_>>().join("/")),
            None => self.url.clone(),
        }
    }
}

/// Every file under `dir`, as `/`-separated paths relative to `root`.
fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    let at = |path: PathBuf| move |source| StoreError::Local { path, source };
    for entry in std::fs::read_dir(dir).map_err(at(dir.to_owned()))? {
        let path = entry.map_err(at(dir.to_owned()))?.path();
        if path.is_dir() {
            walk(root, &path, out)?;
        } else if let Ok(relative) = path.strip_prefix(root) {
            let parts: Vec<_> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect();
            out.push(parts.join("/"));
        }
    }
    Ok(())
}
