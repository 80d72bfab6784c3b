//! `tokentally prices check`: which catalog models lack price rows.

use super::{EXIT_UNPRICED, parse_month, print, runtime};
use anyhow::{Context as _, Result};
use std::path::Path;
use std::process::ExitCode;
use tokentally_report::{PriceCheckOptions, check_prices};

pub fn check(month: Option<&str>, out: &Path, prices: &Path, deployments: Option<&Path>) -> Result<ExitCode> {
    let month = parse_month(month)?;
    let options = PriceCheckOptions {
        data_dir: out.to_owned(),
        month,
        prices: prices.to_owned(),
        deployments: deployments.map(Path::to_owned),
    };
    let parallel = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let missing = runtime()?
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
