//! Builds the store for a URL with credentials from the environment, as each
//! cloud's own SDKs and CLIs read them.
//!
//! - Azure (`abfss://`, `az://`): object_store's `MicrosoftAzureBuilder::from_env`:
//!   `AZURE_STORAGE_ACCOUNT_NAME` (unless the URL names the account), then the first
//!   of `AZURE_STORAGE_TOKEN`, `AZURE_STORAGE_ACCOUNT_KEY`, `AZURE_STORAGE_SAS_TOKEN`,
//!   workload identity (`AZURE_CLIENT_ID`, `AZURE_TENANT_ID`,
//!   `AZURE_FEDERATED_TOKEN_FILE`, as AKS injects them), a service principal
//!   (`AZURE_CLIENT_SECRET`), else managed identity. The key and SAS token can
//!   also be read from a file named by `AZURE_STORAGE_ACCOUNT_KEY_FILE` or
//!   `AZURE_STORAGE_SAS_TOKEN_FILE` (a mounted Kubernetes secret).
//!   `AZURE_STORAGE_USE_EMULATOR=true` targets Azurite (`AZURITE_BLOB_STORAGE_URL`).
//! - S3 (`s3://`): `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`,
//!   `AWS_REGION`, `AWS_ENDPOINT_URL`, then a profile of the shared files
//!   (`AWS_PROFILE`, `~/.aws`; `aws_profile.rs`), web identity (IRSA), ECS and EC2
//!   instance credentials.
//! - GCS (`gs://`): `GOOGLE_APPLICATION_CREDENTIALS`, `GOOGLE_SERVICE_ACCOUNT`, else
//!   the metadata server.

use crate::{Result, StoreError, aws_profile};
use object_store::aws::AmazonS3Builder;
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::{BackoffConfig, ObjectStore, RetryConfig};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The clouds a URL can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cloud {
    Azure,
    S3,
    Gcs,
}

impl Cloud {
    /// The cloud of a URL scheme; `None` for schemes that are not object storage.
    pub fn of_scheme(scheme: &str) -> Option<Self> {
        match scheme {
            "abfss" | "abfs" | "az" | "azure" | "adl" => Some(Self::Azure),
            "s3" | "s3a" => Some(Self::S3),
            "gs" => Some(Self::Gcs),
            _ => None,
        }
    }

    fn hint(self) -> &'static str {
        match self {
            Self::Azure => {
                " (the account comes from the URL `abfss://container@account.dfs.core.windows.net/…` \
                 or AZURE_STORAGE_ACCOUNT_NAME; credentials from workload or managed identity, \
                 AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET, or AZURE_STORAGE_SAS_TOKEN[_FILE] \
                 / AZURE_STORAGE_ACCOUNT_KEY[_FILE])"
            }
            Self::S3 => {
                " (credentials from the AWS environment: AWS_ACCESS_KEY_ID, AWS_REGION, a profile in ~/.aws \
                 (AWS_PROFILE), web identity or instance role)"
            }
            Self::Gcs => " (credentials from GOOGLE_APPLICATION_CREDENTIALS or the metadata server)",
        }
    }
}

/// Retries inside one request: transient failures (connection refused, 5xx, 429)
/// back off from 100 ms to at most 5 s, for at most a minute. A whole upload is
/// retried again on top of this ([`crate::Remote::upload_file`]).
fn retry() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            base: 2.,
        },
        max_retries: 5,
        retry_timeout: Duration::from_secs(60),
    }
}

/// The store that `url` (already checked: a known scheme, no query) lives in.
pub(crate) fn build(cloud: Cloud, url: &str) -> Result<Arc<dyn ObjectStore>> {
    let configure = |source| StoreError::Configure {
        url: url.to_owned(),
        hint: cloud.hint(),
        source,
    };
    let store: Arc<dyn ObjectStore> = match cloud {
        Cloud::Azure => {
            let mut builder = MicrosoftAzureBuilder::from_env()
                .with_url(url)
                .with_retry(retry());
            for (var, key, what) in [
                (
                    "AZURE_STORAGE_ACCOUNT_KEY_FILE",
                    AzureConfigKey::AccessKey,
                    "the storage account key",
                ),
                (
                    "AZURE_STORAGE_SAS_TOKEN_FILE",
                    AzureConfigKey::SasKey,
                    "the SAS token",
                ),
            ] {
                if let Some(path) = std::env::var_os(var) {
                    builder = builder.with_config(key, read_secret_file(what, PathBuf::from(path))?);
                }
            }
            Arc::new(builder.build().map_err(configure)?)
        }
        Cloud::S3 => {
            let mut builder = AmazonS3Builder::from_env().with_url(url).with_retry(retry());
            let var = |name: &str| std::env::var(name).ok();
            if let Some(profile) = aws_profile::read(&var)? {
                if let Some(keys) = profile.keys {
                    builder = builder
                        .with_access_key_id(keys.access_key_id)
                        .with_secret_access_key(keys.secret_access_key);
                    if let Some(token) = keys.session_token {
                        builder = builder.with_token(token);
                    }
                }
                let region_set = var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")).is_some();
                if let (false, Some(region)) = (region_set, profile.region) {
                    builder = builder.with_region(region);
                }
            }
            Arc::new(builder.build().map_err(configure)?)
        }
        Cloud::Gcs => Arc::new(
            GoogleCloudStorageBuilder::from_env()
                .with_url(url)
                .with_retry(retry())
                .build()
                .map_err(configure)?,
        ),
    };
    Ok(store)
}

fn read_secret_file(what: &'static str, path: PathBuf) -> Result<String> {
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(text.trim().to_owned()),
        Err(source) => Err(StoreError::SecretFile { what, path, source }),
    }
}
