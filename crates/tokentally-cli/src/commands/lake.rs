//! An output root in object storage (`[output] dir` or `--out` an `abfss://`,
//! `az://`, `s3://` or `gs://` URL). The usage dataset is read in place (the
//! report's scan and DataFusion, through the store); what commands write goes to
//! a local staging folder exactly as to a local output root, and this module
//! uploads it whole (and downloads the written detail for `sql`).

use super::runtime;
use crate::exit::UsageContext as _;
use anyhow::{Context as _, Result};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use tokentally_report::{ChargebackReport, Month, ReportOptions, write_chargeback};
use tokentally_store::Remote;

/// The object-store folder `dir` names; `None` for a local folder.
pub fn remote_root(dir: &Path) -> Result<Option<Remote>> {
    let Some(text) = dir.to_str().filter(|t| tokentally_store::is_url(t)) else {
        return Ok(None);
    };
    let remote = Remote::parse(text).context("[output] dir").usage()?;
    Ok(Some(remote))
}

/// A local folder for files on their way to or from the store, removed when
/// dropped. Under `TOKENTALLY_STAGING_DIR` when set, else the system's temp
/// folder (a container's writable layer or an `emptyDir`).
#[derive(Debug)]
pub struct Staging {
    path: PathBuf,
}

impl Staging {
    pub fn new(what: &str) -> Result<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let base = std::env::var_os("TOKENTALLY_STAGING_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        if n == 0 {
            remove_orphans(&base);
        }
        let path = base.join(format!("tokentally-{what}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&path)
            .with_context(|| format!("creating the staging folder {}", path.display()))?;
        Ok(Self { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Removes the staging folders of runs that were killed (their process is gone):
/// what they held was either uploaded or, for Kafka, not committed and read again.
fn remove_orphans(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("tokentally-"))
            .and_then(|rest| rest.split('-').nth(1))
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new("/proc").join(pid.to_string()).exists() {
            let path = entry.path();
            match std::fs::remove_dir_all(&path) {
                Ok(()) => {
                    tracing::info!(path = %path.display(), "removed the staging folder of a killed run")
                }
                Err(e) => {
                    tracing::debug!(path = %path.display(), error = %e, "stale staging folder not removed")
                }
            }
        }
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.path) {
            tracing::debug!(path = %self.path.display(), error = %e, "staging folder not removed");
        }
    }
}

/// Downloads the written `chargeback-detail-*.parquet` files at the root of
/// `remote` into `dir`, for the SQL `chargeback` table.
pub async fn download_details(remote: &Remote, dir: &Path) -> Result<()> {
    let names = remote.list().await.context("listing the output root")?;
    let details: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| !n.contains('/') && n.starts_with("chargeback-detail-") && n.ends_with(".parquet"))
        .collect();
    remote
        .download_all(&details, dir)
        .await
        .context("downloading the chargeback detail")
}

/// The month's report from the dataset under `remote` (read in place), its
/// files written to a staging folder, then every one uploaded to `remote`. The
/// report's paths become the objects' URLs.
pub fn write_report(month: Month, remote: &Remote, options: ReportOptions) -> Result<ChargebackReport> {
    let out = Staging::new("report")?;
    let options = ReportOptions {
        data_dir: out.path().to_owned(),
        usage_store: Some(remote.clone()),
        out_dir: out.path().to_owned(),
        ..options
    };
    runtime()?.block_on(async {
        let mut report = write_chargeback(&options)
            .await
            .with_context(|| format!("writing the chargeback for {month}"))?;
        remote
            .upload_dir(out.path())
            .await
            .context("uploading the chargeback")?;
        for path in [
            &mut report.csv_path,
            &mut report.parquet_path,
            &mut report.detail_csv_path,
            &mut report.detail_parquet_path,
            &mut report.unpriced_path,
            &mut report.statement_path,
        ] {
            if let Some(name) = path.file_name().and_then(|n| n.to_str()) {
                *path = PathBuf::from(remote.url_of(name));
            }
        }
        Ok(report)
    })
}
