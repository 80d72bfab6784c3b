//! Registering the usage dataset with DataFusion.
//!
//! The dataset is a Hive-partitioned directory of Parquet files that grows by
//! whole files, and may hold the same call more than once (an input ingested twice
//! under a new name, overlapping exports); `scan.rs` reads a month of it into
//! [`DayUsage`], deduplicated.

use crate::{Error, Result};
use arrow::array::AsArray as _;
use arrow::datatypes::{DataType, Int64Type, SchemaRef};
use chrono::NaiveDate;
use datafusion::datasource::file_format::options::ReadOptions as _;
use datafusion::datasource::listing::{ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::error::DataFusionError;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokentally_core::TokenCounts;
use tokentally_store::Remote;

/// Name of the usage table in SQL.
pub const USAGE_TABLE: &str = "usage";

/// The file names the `usage` table reads: `.parquet` files that are neither
/// hidden nor markers (`.x`, `_x`). DataFusion's listing follows only `key=value`
/// folders, so with this the table reads exactly the files
/// `scan_files::day_files` gives the report
/// (`dedup::tests::the_report_and_the_sql_table_read_the_same_files`).
const DATA_FILES: &str = "[!._]*.parquet";

/// One (app, deployment, model, UTC day) cell of a month's usage, deduplicated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DayUsage {
    pub app_id: String,
    pub app_id_source: String,
    pub deployment: Option<String>,
    pub model: Option<String>,
    pub day: NaiveDate,
    pub calls: i64,
    pub failed_calls: i64,
    pub tokens: TokenCounts,
    pub estimated_calls: i64,
}

impl DayUsage {
    /// No calls yet of an app (and its identity source), deployment and model on `day`.
    pub(crate) fn empty(
        app: &crate::scan_columns::Key,
        call: &crate::scan_columns::Key,
        day: NaiveDate,
    ) -> Self {
        Self {
            app_id: app.app_id.clone(),
            app_id_source: app.app_id_source.clone(),
            deployment: call.deployment.clone(),
            model: call.model.clone(),
            day,
            calls: 0,
            failed_calls: 0,
            tokens: TokenCounts::default(),
            estimated_calls: 0,
        }
    }

    /// Adds one call.
    ///
    /// # Errors
    /// A token sum that overflows, naming the rows.
    pub(crate) fn add_call(&mut self, failed: bool, estimated: bool, tokens: &TokenCounts) -> Result<()> {
        // A day has far fewer calls than `i64::MAX`; tokens are checked.
        self.calls += 1;
        self.failed_calls += i64::from(failed);
        self.estimated_calls += i64::from(estimated);
        self.tokens = self.tokens.checked_add(tokens).ok_or_else(|| Error::Overflow {
            line: self.rows(),
            what: "token counts",
        })?;
        Ok(())
    }

    /// The rows this cell sums, for errors: app, deployment, model and day.
    pub fn rows(&self) -> String {
        format!(
            "usage rows of app {:?}, deployment {:?}, model {:?} on {}",
            self.app_id,
            self.deployment.as_deref().unwrap_or("(none)"),
            self.model.as_deref().unwrap_or("(none)"),
            self.day
        )
    }
}

/// Registers `<data_dir>/usage` as the `usage` table, with the `date` partition column.
pub(crate) async fn register_usage(ctx: &SessionContext, data_dir: &Path) -> Result<()> {
    let dir = data_dir.join("usage");
    check_dataset(&dir)?;
    let absolute = std::path::absolute(&dir).map_err(Error::file(&dir))?;
    let url = url::Url::from_directory_path(&absolute).map_err(|()| Error::NoUsage {
        path: dir.clone(),
        reason: "path cannot be a file URL",
    })?;
    register_listing(ctx, url).await
}

/// Registers the folder at `url` as the `usage` table, reading [`DATA_FILES`].
///
/// The schema is given rather than inferred: every file was written with
/// [`tokentally_core::usage_schema`], and a fixed schema keeps the table's types
/// stable whatever mix of files the directory holds.
async fn register_listing(ctx: &SessionContext, url: url::Url) -> Result<()> {
    let files = glob::Pattern::new(DATA_FILES).map_err(|e| DataFusionError::External(Box::new(e)))?;
    let path = ListingTableUrl::try_new(url, Some(files))?;
    let schema = tokentally_core::usage_schema();
    let options =
        parquet_options(&schema).to_listing_options(&ctx.copied_config(), ctx.copied_table_options());
    let config = ListingTableConfig::new(path)
        .with_listing_options(options)
        .with_schema(schema);
    ctx.register_table(USAGE_TABLE, Arc::new(ListingTable::try_new(config)?))?;
    Ok(())
}

/// How many event ids dated `days` have more than one row in the dataset: the
/// same calls ingested again (another file name, an overlapping export). The
/// report and the SQL `calls` view count each once; raw `usage` does not.
///
/// # Errors
/// When the dataset is missing or cannot be read.
pub async fn duplicate_event_ids(data_dir: &Path, days: &[NaiveDate]) -> Result<u64> {
    if days.is_empty() {
        return Ok(0);
    }
    let ctx = SessionContext::new();
    register_usage(&ctx, data_dir).await?;
    count_duplicates(&ctx, days).await
}

/// [`duplicate_event_ids`] of a dataset in object storage (`<remote>/usage/`).
///
/// # Errors
/// When the dataset is missing or cannot be read.
pub async fn duplicate_event_ids_remote(remote: &Remote, days: &[NaiveDate]) -> Result<u64> {
    if days.is_empty() {
        return Ok(0);
    }
    let ctx = SessionContext::new();
    register_usage_remote(&ctx, remote).await?;
    count_duplicates(&ctx, days).await
}

async fn count_duplicates(ctx: &SessionContext, days: &[NaiveDate]) -> Result<u64> {
    let dates: Vec<String> = days.iter().map(|d| format!("'{d}'")).collect();
    let sql = format!(
        "SELECT count(*) FROM (SELECT event_id FROM {USAGE_TABLE} WHERE date IN ({}) \
         GROUP BY event_id HAVING count(*) > 1)",
        dates.join(", ")
    );
    let batches = ctx.sql(&sql).await?.collect().await?;
    let count = batches
        .first()
        .and_then(|b| b.column(0).as_primitive_opt::<Int64Type>())
        .and_then(|c| (!c.is_empty()).then(|| c.value(0)))
        .unwrap_or(0);
    Ok(u64::try_from(count).unwrap_or(0))
}

/// Registers `<remote>/usage/` as the `usage` table, read through DataFusion's
/// object-store registry, as [`register_usage`] does for a local folder.
pub(crate) async fn register_usage_remote(ctx: &SessionContext, remote: &Remote) -> Result<()> {
    let usage = check_usage_remote(remote).await?;
    ctx.register_object_store(remote.root(), remote.store());
    let url = url::Url::parse(&format!("{}/", usage.url())).map_err(|_| Error::NoUsage {
        path: PathBuf::from(usage.url()),
        reason: "is not a URL",
    })?;
    register_listing(ctx, url).await
}

/// `<data_dir>/usage`, checked as [`register_usage`] checks it: the report scan
/// reads its Parquet files itself (`scan_files.rs`).
pub(crate) fn check_usage(data_dir: &Path) -> Result<PathBuf> {
    let dir = data_dir.join("usage");
    check_dataset(&dir)?;
    Ok(dir)
}

/// `<remote>/usage/`, checked as [`check_usage`] checks a local folder: it must
/// hold a data file (the listing stops at the first).
pub(crate) async fn check_usage_remote(remote: &Remote) -> Result<Remote> {
    let usage = remote.join("usage");
    if !usage.any(crate::scan_files::is_data_object).await? {
        return Err(Error::NoUsage {
            path: PathBuf::from(usage.url()),
            reason: "holds no .parquet files",
        });
    }
    Ok(usage)
}

fn parquet_options(schema: &SchemaRef) -> ParquetReadOptions<'_> {
    ParquetReadOptions::default()
        .file_extension(".parquet")
        .table_partition_cols(vec![("date".to_owned(), DataType::Utf8)])
        .schema(schema)
}

/// DataFusion reads an empty or missing directory as an empty table (or fails with
/// an object-store message); an operator pointing at the wrong `--data` deserves
/// to be told so.
fn check_dataset(dir: &Path) -> Result<()> {
    let no_usage = |reason| Error::NoUsage {
        path: dir.to_owned(),
        reason,
    };
    if !dir.is_dir() {
        return Err(no_usage("directory does not exist"));
    }
    if !holds_parquet(dir).map_err(Error::file(dir))? {
        return Err(no_usage("directory holds no .parquet files"));
    }
    Ok(())
}

fn holds_parquet(dir: &Path) -> std::io::Result<bool> {
    let mut pending: Vec<PathBuf> = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if entry.file_type()?.is_dir() {
                if crate::scan_files::is_data_folder(&name) {
                    pending.push(path);
                }
            } else if crate::scan_files::is_data_file(&name) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}
