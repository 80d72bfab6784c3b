//! A place named by the user: a local path or an object-store URL.

use crate::credentials::{self, Cloud};
use crate::{Result, StoreError};
use object_store::ObjectStore;
use object_store::path::Path as ObjectPath;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// Where output goes or input comes from.
#[derive(Debug, Clone)]
pub enum Location {
    Local(PathBuf),
    Remote(Remote),
}

impl Location {
    /// Reads `text` as an object-store URL when it has a `scheme://` and as a local
    /// path otherwise. Builds the store (credentials from the environment) but
    /// makes no request.
    pub fn parse(text: &str) -> Result<Self> {
        if !is_url(text) {
            return Ok(Self::Local(PathBuf::from(text)));
        }
        Remote::parse(text).map(Self::Remote)
    }

    pub fn as_remote(&self) -> Option<&Remote> {
        match self {
            Self::Remote(remote) => Some(remote),
            Self::Local(_) => None,
        }
    }
}

/// Whether `text` names an object-store location rather than a local path.
pub fn is_url(text: &str) -> bool {
    text.split_once("://").is_some_and(|(scheme, _)| {
        !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric() || c == '+')
    })
}

/// A folder in object storage: the store it is in and its prefix there.
#[derive(Clone)]
pub struct Remote {
    /// The URL as given, without a trailing `/`; what every message names.
    pub(crate) url: String,
    /// `scheme://authority`, the key DataFusion's object-store registry uses.
    root: url::Url,
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) prefix: ObjectPath,
}

impl fmt::Debug for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Remote")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

impl Remote {
    /// An object-store folder from its URL.
    pub fn parse(text: &str) -> Result<Self> {
        let (cloud, mut folder) = Self::checked(text)?;
        folder.store = credentials::build(cloud, &folder.url)?;
        Ok(folder)
    }

    /// The folder at `text` (checked as [`Self::parse`] checks it) with its
    /// objects in memory instead of the cloud: for tests.
    pub fn in_memory(text: &str) -> Result<Self> {
        Self::checked(text).map(|(_, folder)| folder)
    }

    /// The folder `text` names, with an in-memory store until one is built.
    fn checked(text: &str) -> Result<(Cloud, Self)> {
        let bad = |reason: String| StoreError::Url {
            url: text.to_owned(),
            reason,
        };
        let parsed = url::Url::parse(text).map_err(|e| bad(format!("not a URL: {e}")))?;
        let Some(cloud) = Cloud::of_scheme(parsed.scheme()) else {
            return Err(bad(format!(
                "`{}://` is not a supported store (abfss://, az://, s3://, gs://, or a local path)",
                parsed.scheme()
            )));
        };
        // A SAS token pasted into the URL would end up in logs and summaries.
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(StoreError::Url {
                url: format!("{}://{}{}", parsed.scheme(), parsed.authority(), parsed.path()),
                reason: "the URL has a query or fragment; give SAS tokens and keys through the environment \
                         (AZURE_STORAGE_SAS_TOKEN[_FILE]), never in the URL"
                    .to_owned(),
            });
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(bad("no container or bucket".to_owned()));
        }
        let url = text.trim_end_matches('/').to_owned();
        let root = url::Url::parse(&format!("{}://{}", parsed.scheme(), parsed.authority()))
            .map_err(|e| bad(format!("not a URL: {e}")))?;
        let prefix = ObjectPath::from_url_path(parsed.path()).map_err(|e| bad(format!("bad path: {e}")))?;
        let folder = Self {
            url,
            root,
            store: Arc::new(object_store::memory::InMemory::new()),
            prefix,
        };
        Ok((cloud, folder))
    }

    /// The URL as given (no trailing `/`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `scheme://container-or-bucket`, under which DataFusion finds [`Self::store`].
    pub fn root(&self) -> &url::Url {
        &self.root
    }

    pub fn store(&self) -> Arc<dyn ObjectStore> {
        Arc::clone(&self.store)
    }

    /// The folder's prefix in its store.
    pub fn prefix(&self) -> &ObjectPath {
        &self.prefix
    }

    /// The object key of `relative` (`/`-separated) under this folder.
    pub fn key(&self, relative: &str) -> ObjectPath {
        relative
            .split('/')
            .filter(|p| !p.is_empty())
            .fold(self.prefix.clone(), |key, part| key.join(part))
    }

    /// The URL of `relative` under this folder.
    pub fn url_of(&self, relative: &str) -> String {
        let relative = relative.trim_matches('/');
        if relative.is_empty() {
            self.url.clone()
        } else {
            format!("{}/{relative}", self.url)
        }
    }

    /// A sub-folder.
    pub fn join(&self, relative: &str) -> Self {
        Self {
            url: self.url_of(relative),
            root: self.root.clone(),
            store: Arc::clone(&self.store),
            prefix: self.key(relative),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_urls_are_told_apart() {
        assert!(!is_url("/data/out"));
        assert!(!is_url("out"));
        assert!(!is_url("./a:b"));
        assert!(is_url("abfss://usage@acct.dfs.core.windows.net/tokentally"));
        assert!(is_url("s3://bucket/x"));
        assert!(matches!(Location::parse("out").ok(), Some(Location::Local(_))));
    }

    #[test]
    fn unknown_schemes_and_queries_are_refused_without_echoing_the_query() {
        let err = Remote::parse("ftp://host/x")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("ftp://host/x") && err.contains("not a supported store"),
            "{err}"
        );
        let err = Remote::parse("az://c/path?sv=2024&sig=SECRET")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("az://c/path"), "{err}");
        assert!(!err.contains("SECRET"), "{err}");
    }

    #[test]
    fn an_adls_url_names_its_account_and_container() -> Result<()> {
        // No credential is needed to build the store: managed identity is the
        // fallback, asked only when a request is made.
        let remote = Remote::parse("abfss://usage@acct.dfs.core.windows.net/lake/tokentally")?;
        assert_eq!(remote.prefix().as_ref(), "lake/tokentally");
        assert_eq!(
            remote.url_of("usage/date=2026-10-01/a.parquet"),
            "abfss://usage@acct.dfs.core.windows.net/lake/tokentally/usage/date=2026-10-01/a.parquet"
        );
        Ok(())
    }

    #[test]
    fn keys_and_urls_join_under_the_prefix() -> Result<()> {
        let remote = Remote::parse("s3://bucket/lake/tokentally/")?;
        assert_eq!(remote.url(), "s3://bucket/lake/tokentally");
        assert_eq!(remote.root().as_str(), "s3://bucket");
        assert_eq!(
            remote.key("usage/date=2026-01-02/a.parquet").as_ref(),
            "lake/tokentally/usage/date=2026-01-02/a.parquet"
        );
        assert_eq!(
            remote.join("usage").url_of("x.parquet"),
            "s3://bucket/lake/tokentally/usage/x.parquet"
        );
        Ok(())
    }
}
