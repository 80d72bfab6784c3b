//! Where the report reads the usage dataset: a local folder, or a folder in
//! object storage read in place. A day's objects are fetched whole into memory
//! (one request per file, rather than one per column chunk as a ranged reader
//! makes; a day's files are a few MB) and decoded exactly as local files are.

use crate::scan_files;
use crate::{Error, Result};
use bytes::Bytes;
use chrono::NaiveDate;
use std::path::{Path, PathBuf};
use tokentally_store::Remote;

/// The folder holding the dataset's `date=<day>` folders.
#[derive(Debug, Clone)]
pub(crate) enum UsageDir {
    Local(PathBuf),
    Remote(Remote),
}

/// One Parquet file of a day.
#[derive(Debug, Clone)]
pub(crate) enum DayFile {
    Local(PathBuf),
    /// An object, fetched; `url` names it in errors.
    Fetched {
        url: PathBuf,
        bytes: Bytes,
    },
}

impl DayFile {
    /// The file as errors name it: its path, or its object's URL.
    pub(crate) fn name(&self) -> &Path {
        match self {
            Self::Local(path) => path,
            Self::Fetched { url, .. } => url,
        }
    }
}

impl UsageDir {
    /// `<store>/usage` when a store is given, else `<data_dir>/usage`. An error
    /// names the folder when it holds no data file (the wrong folder, or no
    /// ingest yet), as the SQL table's registration does.
    pub(crate) async fn open(data_dir: &Path, store: Option<&Remote>) -> Result<Self> {
        match store {
            None => crate::dataset::check_usage(data_dir).map(Self::Local),
            Some(remote) => crate::dataset::check_usage_remote(remote).await.map(Self::Remote),
        }
    }

    /// The day's data files, sorted by name so the order never depends on a
    /// listing: `date=<day>/*.parquet` and files in `key=value` folders below.
    pub(crate) async fn day_files(&self, day: NaiveDate) -> Result<Vec<DayFile>> {
        match self {
            Self::Local(dir) => {
                let dir = dir.clone();
                let files = tokio::task::spawn_blocking(move || scan_files::day_files(&dir, day))
                    .await
                    .map_err(|e| Error::Internal(format!("listing a day failed: {e}")))??;
                Ok(files.into_iter().map(DayFile::Local).collect())
            }
            Self::Remote(usage) => {
                let folder = usage.join(&format!("date={day}"));
                let names: Vec<String> = folder
                    .list()
                    .await?
                    .into_iter()
                    .filter(|n| scan_files::is_data_object(n))
                    .collect();
                let fetches = names.iter().map(|name| async {
                    let bytes = folder.get(name).await?;
                    Ok::<_, Error>(DayFile::Fetched {
                        url: PathBuf::from(folder.url_of(name)),
                        bytes,
                    })
                });
                futures_util::future::try_join_all(fetches).await
            }
        }
    }

    /// The folder, for logs.
    pub(crate) fn display(&self) -> String {
        match self {
            Self::Local(dir) => dir.display().to_string(),
            Self::Remote(usage) => usage.url().to_owned(),
        }
    }
}
