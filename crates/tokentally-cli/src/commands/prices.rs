//! `tokentally prices check`: which catalog models lack price rows.

use super::report::check_tables;
use super::{parse_month, print, runtime};
use crate::discover::Pipeline;
use crate::exit::EXIT_UNPRICED;
use anyhow::{Context as _, Result};
use std::process::ExitCode;
use tokentally_report::{PriceCheckOptions, check_prices};

/// Checks the pipeline's price table against the month's usage (the config's
/// month unless `month` names one).
pub fn check(month: Option<&str>, pipeline: &Pipeline) -> Result<ExitCode> {
    let config = &pipeline.config;
    let month = parse_month(Some(month.unwrap_or(&config.report.month)))?;
    check_tables(&config.report)?;
    let prices = &config.report.prices;
    // A dataset in object storage is read in place.
    let options = PriceCheckOptions {
        data_dir: config.output.dir.clone(),
        usage_store: super::lake::remote_root(&config.output.dir)?,
        month,
        prices: prices.clone(),
        deployments: config.report.deployments.clone(),
    };
    let parallel = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let rt = runtime()?;
    let missing = rt
        .block_on(check_prices(&options, parallel))
        .with_context(|| format!("checking {} against the usage of {month}", prices.display()))?;
    if missing.is_empty() {
        print(&format!(
            "every catalog model used in {month} has a price row for each token class it used\n"
        ))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut text = format!(
        "catalog models used in {month} with token classes no row of {} prices:\n",
        prices.display()
    );
    for m in &missing {
        text.push_str(&format!("  {m}\n"));
    }
    print(&text)?;
    Ok(ExitCode::from(EXIT_UNPRICED))
}
