use super::{parse_month, print, runtime};
use anyhow::{Context as _, Result};
use std::path::Path;
use std::process::ExitCode;
use tokentally_report::{ChargebackReport, Month, ReportOptions, write_chargeback};

/// `report --strict` with unpriced usage: distinct from 1 (error) and 2 (usage).
pub const UNPRICED_EXIT: u8 = 3;

pub fn report(
    month: Option<&str>,
    out: &Path,
    prices: &Path,
    cost_centers: Option<&Path>,
    strict: bool,
) -> Result<ExitCode> {
    let month = parse_month(month)?;
    let report = write_report(month, out, prices, cost_centers)?;
    print(&render(&report))?;
    if strict && report.totals.unpriced_lines > 0 {
        tracing::error!(
            unpriced_lines = report.totals.unpriced_lines,
            "--strict: some usage has no price"
        );
        return Ok(ExitCode::from(UNPRICED_EXIT));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn write_report(
    month: Month,
    out: &Path,
    prices: &Path,
    cost_centers: Option<&Path>,
) -> Result<ChargebackReport> {
    let options = ReportOptions {
        data_dir: out.to_owned(),
        out_dir: out.to_owned(),
        month,
        prices: prices.to_owned(),
        cost_centers: cost_centers.map(Path::to_owned),
    };
    runtime()?
        .block_on(write_chargeback(&options))
        .with_context(|| format!("writing the chargeback for {month}"))
}

pub fn render(report: &ChargebackReport) -> String {
    format!(
        "{}\nchargeback written to:\n  {}\n  {}\n",
        report.summary_table(),
        report.csv_path.display(),
        report.parquet_path.display()
    )
}
