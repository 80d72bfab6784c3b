//! The monthly chargeback and ad-hoc SQL over the usage dataset.
//!
//! The report reads the month's Parquet itself (`scan_files.rs`: projection,
//! time filter, dictionaries) and deduplicates and aggregates per day in one pass
//! (`scan.rs`, by `dedup.rs`'s rule); pricing happens with exact decimals because
//! money must add up to the cent across lines, files and runs (`charges.rs`,
//! `ptu.rs`). DataFusion serves `tokentally sql` (`sql.rs`), with the same
//! dedup rule as its `calls` view. Formats: docs/formats.md.

mod chargeback;
mod charges;
mod cost_centers;
mod csv_rows;
mod dataset;
mod dedup;
mod deployments;
mod detail;
mod error;
mod files;
mod invoice;
mod month;
mod output;
mod prices;
mod prices_check;
mod ptu;
mod scan;
mod scan_columns;
mod scan_edges;
mod scan_files;
mod sql;
mod sql_output;
mod sql_tables;
mod statement;
mod statements;
mod summary;
mod unpriced;
mod usage_dir;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;

pub use chargeback::{COST_SCALE, ChargebackLine, ClassCosts, NO_DEPLOYMENT, UNKNOWN_MODEL};
pub use charges::{Charge, Pricing};
pub use cost_centers::{CostCenter, CostCenters, UNASSIGNED};
pub use dataset::{USAGE_TABLE, duplicate_event_ids, duplicate_event_ids_remote};
pub use deployments::{Deployment, DeploymentType, Deployments, MonthlyCost};
pub use detail::DETAIL_COLUMNS;
pub use error::{Error, Result};
pub use invoice::{ResourceTieout, Tieout, UNALLOCATED_APP};
pub use month::{DaysUsed, Month, Period};
pub use output::COLUMNS as CHARGEBACK_COLUMNS;
pub use prices::{DeploymentKind, PRICE_UNIT, Price, PriceTable, TokenClass};
pub use prices_check::{
    MissingPrice, NOT_SOLD_PER_TOKEN, NotSoldPerToken, PriceCheckOptions, check_prices, not_sold_per_token,
};
pub use ptu::IDLE_CAPACITY_APP;
pub use sql::{
    CALLS_VIEW, CHARGEBACK_VIEW, COST_CENTERS_TABLE, DEPLOYMENTS_TABLE, PRICES_TABLE, QueryOutput,
    SqlSession, SqlStatement, SqlTables, run_sql,
};
pub use sql_output::{batches_to_csv, batches_to_json, format_batches, format_table, write_query_parquet};
pub use statements::{StatementBuffer, ends_statement};
pub use summary::{AppSummary, Costs, Totals};
pub use unpriced::UNPRICED_COLUMNS;

use datafusion::prelude::SessionContext;
use std::path::PathBuf;
use usage_dir::UsageDir;

/// What `tokentally report` was asked to do.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// Holds `usage/` (the ingest output directory).
    pub data_dir: PathBuf,
    /// When set, `usage/` is read in place from this folder in object storage
    /// (`usage_dir.rs`) instead of from `data_dir`.
    pub usage_store: Option<tokentally_store::Remote>,
    /// Where `chargeback-YYYY-MM.{csv,parquet}` are written (created if missing).
    pub out_dir: PathBuf,
    pub month: Month,
    /// The price table (`pipelines/prices.csv`).
    pub prices: PathBuf,
    /// The deployment table (`pipelines/deployments.csv`): type, region and PTU
    /// cost per deployment. `None`: every deployment is unlisted, and only prices
    /// for any deployment type apply.
    pub deployments: Option<PathBuf>,
    /// The cost-center map (`pipelines/cost-centers.csv`); `None` puts every app
    /// under `unassigned`.
    pub cost_centers: Option<PathBuf>,
    /// An Azure Cost Management export (FOCUS, CSV or Parquet): each Azure
    /// OpenAI resource's invoiced cost is shared over the charges on it.
    pub invoice: Option<PathBuf>,
}

/// A written chargeback and its sums, for the CLI to print.
#[derive(Debug, Clone)]
pub struct ChargebackReport {
    pub month: Month,
    /// Sorted by app, deployment, model: the order of the files.
    pub lines: Vec<ChargebackLine>,
    /// The detail rows, in detail-file order.
    pub charges: Vec<Charge>,
    pub csv_path: PathBuf,
    pub parquet_path: PathBuf,
    pub detail_csv_path: PathBuf,
    pub detail_parquet_path: PathBuf,
    pub unpriced_path: PathBuf,
    /// `statement-YYYY-MM.html`: the month for people to read.
    pub statement_path: PathBuf,
    pub totals: Totals,
    pub apps: Vec<AppSummary>,
    /// Catalog models the month billed in a class no price row names (what
    /// `tokentally prices check` lists).
    pub missing_prices: Vec<MissingPrice>,
    /// The tie-out to the invoice, when one was given.
    pub tieout: Option<Tieout>,
}

impl ChargebackReport {
    /// Per-app calls, tokens and cost with a total row, aligned for a terminal,
    /// and the models that lack price rows.
    pub fn summary_table(&self) -> String {
        summary::render(
            &self.apps,
            &self.totals,
            &self.missing_prices,
            self.tieout.as_ref(),
        )
    }
}

/// Reads a Cost Management (FOCUS) export as the report will, so a bad row
/// fails before any work.
///
/// # Errors
/// As the report would: the file cannot be read, lacks a required column, or a
/// row's cost, currency or date is not one (naming the file and row).
pub fn check_invoice(path: &std::path::Path) -> Result<()> {
    invoice::read(path).map(drop)
}

/// Computes the month's chargeback and writes its files: the chargeback (per
/// app × deployment × model) and the FOCUS detail (per token class and price), as
/// CSV and Parquet, the unpriced usage as CSV, and the HTML statement. With an
/// invoice, every line and detail row also carries its share of it.
///
/// The tables are loaded first so a broken one fails before the dataset scan.
///
/// # Errors
/// On an invalid price, deployment or cost-center table or invoice export, a
/// missing usage dataset, a query failure, prices of different currencies
/// applying to one line (or to one invoiced resource), or an I/O error writing
/// the outputs.
pub async fn write_chargeback(opts: &ReportOptions) -> Result<ChargebackReport> {
    write_chargeback_with(opts, SessionContext::new()).await
}

/// [`write_chargeback`] with a caller's DataFusion session (benchmarks pin its
/// partition count to measure one core).
///
/// # Errors
/// As [`write_chargeback`].
pub async fn write_chargeback_with(opts: &ReportOptions, ctx: SessionContext) -> Result<ChargebackReport> {
    let tables = Tables::load(opts)?;
    // Read before the scan, so a bad export fails before any work.
    let invoice = match &opts.invoice {
        Some(path) => Some((path.as_path(), invoice::read(path)?)),
        None => None,
    };
    let usage = UsageDir::open(&opts.data_dir, opts.usage_store.as_ref()).await?;
    let parallel = ctx.copied_config().target_partitions();
    let (month, tieout) = charge_month(&usage, opts.month, parallel, &tables, invoice).await?;
    if month.days.is_empty() {
        tracing::warn!(month = %opts.month, data = %usage.display(), "no calls in this month");
    }
    let previous = previous_month(&usage, opts.month, parallel, &tables).await?;
    let MonthCharges {
        days,
        charges,
        lines,
        totals,
    } = month;
    let Tables {
        prices,
        deployments,
        owners,
    } = tables;
    let apps = summary::app_summaries(&lines, &owners)?;
    let missing_prices = prices_check::missing_prices(&days, &prices, &deployments)?;
    for missing in &missing_prices {
        tracing::warn!(%missing, "catalog model without a price row");
    }
    let estimates = statement::drift::by_model(
        &SqlTables {
            data_dir: opts.data_dir.clone(),
            usage_store: opts.usage_store.clone(),
            ..SqlTables::default()
        },
        opts.month,
    )
    .await?;
    let page = statement::Statement::build(&statement::Inputs {
        month: opts.month,
        days: &days,
        lines: &lines,
        charges: &charges,
        totals: &totals,
        apps: &apps,
        owners: &owners,
        deployments: &deployments,
        previous: previous.as_ref(),
        tieout: tieout.as_ref(),
        estimates: &estimates,
    })?
    .render()?;
    let written = write_outputs(opts, &lines, &charges, &owners, &page)?;

    tracing::info!(
        month = %opts.month,
        lines = lines.len(),
        calls = totals.calls,
        unpriced_tokens = totals.unpriced_tokens,
        csv = %written.csv_path.display(),
        "chargeback written"
    );
    Ok(ChargebackReport {
        month: opts.month,
        lines,
        charges,
        csv_path: written.csv_path,
        parquet_path: written.parquet_path,
        detail_csv_path: written.detail_csv_path,
        detail_parquet_path: written.detail_parquet_path,
        unpriced_path: written.unpriced_path,
        statement_path: written.statement_path,
        totals,
        apps,
        missing_prices,
        tieout,
    })
}

/// The tables a month is priced and labelled with.
struct Tables {
    prices: PriceTable,
    deployments: Deployments,
    owners: CostCenters,
}

impl Tables {
    fn load(opts: &ReportOptions) -> Result<Self> {
        Ok(Self {
            prices: PriceTable::load(&opts.prices)?,
            deployments: match &opts.deployments {
                Some(path) => Deployments::load(path)?,
                None => Deployments::default(),
            },
            owners: match &opts.cost_centers {
                Some(path) => CostCenters::load(path)?,
                None => CostCenters::default(),
            },
        })
    }
}

/// The previous month's totals, for the statement's month-over-month change; a
/// month without calls (before the dataset starts) has nothing to compare with.
async fn previous_month(
    usage: &UsageDir,
    month: Month,
    parallel: usize,
    tables: &Tables,
) -> Result<Option<statement::PreviousMonth>> {
    let Some(before) = month.previous() else {
        return Ok(None);
    };
    let (charged, _) = charge_month(usage, before, parallel, tables, None).await?;
    Ok((!charged.days.is_empty()).then_some(statement::PreviousMonth {
        month: before,
        totals: charged.totals,
    }))
}

/// Where a report's files were written.
struct Written {
    csv_path: PathBuf,
    parquet_path: PathBuf,
    detail_csv_path: PathBuf,
    detail_parquet_path: PathBuf,
    unpriced_path: PathBuf,
    statement_path: PathBuf,
}

/// Writes the chargeback, its detail, the unpriced usage and the statement
/// `page` into `opts.out_dir`, every sum already checked.
fn write_outputs(
    opts: &ReportOptions,
    lines: &[ChargebackLine],
    charges: &[Charge],
    owners: &CostCenters,
    page: &str,
) -> Result<Written> {
    std::fs::create_dir_all(&opts.out_dir).map_err(Error::file(&opts.out_dir))?;
    let written = Written {
        csv_path: output::csv_path(&opts.out_dir, opts.month),
        parquet_path: output::parquet_path(&opts.out_dir, opts.month),
        detail_csv_path: detail::csv_path(&opts.out_dir, opts.month),
        detail_parquet_path: detail::parquet_path(&opts.out_dir, opts.month),
        unpriced_path: unpriced::csv_path(&opts.out_dir, opts.month),
        statement_path: statement::html_path(&opts.out_dir, opts.month),
    };
    output::write_csv(&written.csv_path, lines)?;
    output::write_parquet(&written.parquet_path, lines)?;
    detail::Detail::new(
        opts.month,
        charges,
        owners,
        &opts.prices,
        opts.deployments.as_deref(),
    )
    .write(&written.detail_csv_path, &written.detail_parquet_path)?;
    unpriced::write(&written.unpriced_path, opts.month, charges, owners)?;
    files::write_bytes(&written.statement_path, page.as_bytes())?;
    Ok(written)
}

/// A month of usage, priced and rolled up into labelled chargeback lines.
struct MonthCharges {
    days: Vec<dataset::DayUsage>,
    charges: Vec<Charge>,
    lines: Vec<ChargebackLine>,
    totals: Totals,
}

/// Scans, prices and rolls up one month; every sum is checked here, before any
/// file is written, so an overflow leaves no file with a wrapped number behind.
async fn charge_month(
    usage: &UsageDir,
    month: Month,
    parallel: usize,
    tables: &Tables,
    invoice: Option<(&std::path::Path, Vec<invoice::InvoiceRow>)>,
) -> Result<(MonthCharges, Option<Tieout>)> {
    let days = scan::daily_usage(usage, month, parallel).await?;
    let mut priced = charges::price_month(month, &days, &tables.prices, &tables.deployments)?;
    let tieout = match invoice {
        Some((path, rows)) => Some(invoice::tie_out(
            path,
            month,
            &rows,
            &tables.deployments,
            &mut priced.charges,
        )?),
        None => None,
    };
    let mut lines = chargeback::build_lines(month, &days, &tables.deployments, &priced)?;
    chargeback::label_lines(&mut lines, &tables.owners, tables.prices.single_currency());
    let totals = Totals::from_lines(&lines)?;
    Ok((
        MonthCharges {
            days,
            charges: priced.charges,
            lines,
            totals,
        },
        tieout,
    ))
}
