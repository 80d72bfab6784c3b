//! The monthly chargeback and ad-hoc SQL over the usage dataset.
//!
//! DataFusion does the heavy part (scan, month filter, dedup by `event_id`, daily
//! aggregate); pricing happens in Rust with exact decimals because money must add
//! up to the cent across lines, files and runs. Formats: docs/formats.md.

mod chargeback;
mod cost_centers;
mod csv_rows;
mod dataset;
mod error;
mod month;
mod output;
mod prices;
mod sql;
mod summary;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;

pub use chargeback::{COST_SCALE, ChargebackLine, NO_DEPLOYMENT, UNKNOWN_MODEL};
pub use cost_centers::{CostCenter, CostCenters, UNASSIGNED};
pub use dataset::USAGE_TABLE;
pub use error::{Error, Result};
pub use month::Month;
pub use output::COLUMNS as CHARGEBACK_COLUMNS;
pub use prices::{PRICE_UNIT, Price, PriceTable, TokenClass};
pub use sql::{PRICES_TABLE, batches_to_csv, batches_to_json, format_batches, run_sql};
pub use summary::{AppSummary, Costs, Totals};

use datafusion::prelude::SessionContext;
use std::path::PathBuf;

/// What `tokentally report` was asked to do.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// Holds `usage/` (the ingest output directory).
    pub data_dir: PathBuf,
    /// Where `chargeback-YYYY-MM.{csv,parquet}` are written (created if missing).
    pub out_dir: PathBuf,
    pub month: Month,
    /// The price table (`pipelines/prices.csv`).
    pub prices: PathBuf,
    /// The cost-center map (`pipelines/cost-centers.csv`); `None` puts every app
    /// under `unassigned`.
    pub cost_centers: Option<PathBuf>,
}

/// A written chargeback and its sums, for the CLI to print.
#[derive(Debug, Clone)]
pub struct ChargebackReport {
    pub month: Month,
    /// Sorted by app, deployment, model: the order of the files.
    pub lines: Vec<ChargebackLine>,
    pub csv_path: PathBuf,
    pub parquet_path: PathBuf,
    pub totals: Totals,
    pub apps: Vec<AppSummary>,
}

impl ChargebackReport {
    /// Per-app calls, tokens and cost with a total row, aligned for a terminal.
    pub fn summary_table(&self) -> String {
        summary::render(&self.apps, &self.totals)
    }
}

/// Computes the month's chargeback and writes it as CSV and Parquet.
///
/// Prices are loaded first so a broken price file fails before the dataset scan.
///
/// # Errors
/// On an invalid price file or cost-center map, a missing usage dataset, a query failure, prices of
/// different currencies applying to one line, or an I/O error writing the outputs.
pub async fn write_chargeback(opts: &ReportOptions) -> Result<ChargebackReport> {
    let prices = PriceTable::load(&opts.prices)?;
    let owners = match &opts.cost_centers {
        Some(path) => CostCenters::load(path)?,
        None => CostCenters::default(),
    };
    let ctx = SessionContext::new();
    dataset::register_usage(&ctx, &opts.data_dir).await?;
    let days = dataset::daily_usage(&ctx, opts.month).await?;
    if days.is_empty() {
        tracing::warn!(month = %opts.month, data = %opts.data_dir.display(), "no calls in this month");
    }
    let lines = chargeback::build_lines(opts.month, &days, &prices)?;

    std::fs::create_dir_all(&opts.out_dir).map_err(Error::file(&opts.out_dir))?;
    let csv_path = output::csv_path(&opts.out_dir, opts.month);
    let parquet_path = output::parquet_path(&opts.out_dir, opts.month);
    output::write_csv(&csv_path, &lines)?;
    output::write_parquet(&parquet_path, &lines)?;

    let totals = Totals::from_lines(&lines);
    let apps = summary::app_summaries(&lines, &owners);
    tracing::info!(
        month = %opts.month,
        lines = lines.len(),
        calls = totals.calls,
        unpriced = totals.unpriced_lines,
        csv = %csv_path.display(),
        "chargeback written"
    );
    Ok(ChargebackReport {
        month: opts.month,
        lines,
        csv_path,
        parquet_path,
        totals,
        apps,
    })
}
