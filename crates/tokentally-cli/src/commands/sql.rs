use super::{print, runtime};
use crate::args::SqlFormat;
use anyhow::{Context as _, Result};
use std::path::Path;
use std::process::ExitCode;
use tokentally_report::{format_batches, run_sql};

pub fn sql(query: &str, out: &Path, prices: &Path, format: SqlFormat) -> Result<ExitCode> {
    let prices = prices.exists().then_some(prices);
    let batches = runtime()?
        .block_on(run_sql(out, prices, query))
        .context("running the query")?;
    let text = match format {
        SqlFormat::Table => {
            let mut t = format_batches(&batches)?;
            t.push('\n');
            t
        }
        SqlFormat::Csv => tokentally_report::batches_to_csv(&batches)?,
        SqlFormat::Json => tokentally_report::batches_to_json(&batches)?,
    };
    print(&text)?;
    Ok(ExitCode::SUCCESS)
}
