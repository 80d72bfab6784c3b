use super::{EXIT_UNPRICED, parse_month, print, runtime};
use anyhow::{Context as _, Result};
use std::path::Path;
use std::process::ExitCode;
use tokentally_report::{ChargebackReport, Month, ReportOptions, write_chargeback};

/// The tables a report prices with.
#[derive(Debug, Clone, Copy)]
pub struct Tables<'a> {
    pub prices: &'a Path,
    pub deployments: Option<&'a Path>,
    pub cost_centers: Option<&'a Path>,
}

pub fn report(month: Option<&str>, out: &Path, tables: &Tables<'_>, strict: bool) -> Result<ExitCode> {
    let month = parse_month(month)?;
    let report = write_report(month, out, tables)?;
    print(&render(&report))?;
    Ok(strict_exit(&report, strict))
}

/// `EXIT_UNPRICED` when `strict` and some usage has no price, so a scheduler
/// notices instead of finance finding a gap.
pub fn strict_exit(report: &ChargebackReport, strict: bool) -> ExitCode {
    if strict && report.totals.unpriced_lines > 0 {
        tracing::error!(
            unpriced_tokens = report.totals.unpriced_tokens,
            unpriced = %report.unpriced_path.display(),
            "--strict: some usage has no price"
        );
        return ExitCode::from(EXIT_UNPRICED);
    }
    ExitCode::SUCCESS
}

pub fn write_report(month: Month, out: &Path, tables: &Tables<'_>) -> Result<ChargebackReport> {
    let options = ReportOptions {
        data_dir: out.to_owned(),
        out_dir: out.to_owned(),
        month,
        prices: tables.prices.to_owned(),
        deployments: tables.deployments.map(Path::to_owned),
        cost_centers: tables.cost_centers.map(Path::to_owned),
    };
    runtime()?
        .block_on(write_chargeback(&options))
        .with_context(|| format!("writing the chargeback for {month}"))
}

pub fn render(report: &ChargebackReport) -> String {
    format!(
        "{}\nchargeback written to:\n  {}\n  {}\n  {}\n  {}\n  {}\n",
        report.summary_table(),
        report.csv_path.display(),
        report.parquet_path.display(),
        report.detail_csv_path.display(),
        report.detail_parquet_path.display(),
        report.unpriced_path.display(),
    )
}
