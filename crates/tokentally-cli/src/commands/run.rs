use super::ingest::{INTERRUPTED_EXIT, ingest_pipeline};
use super::report::{render, write_report};
use super::{parse_month, print};
use crate::config::PipelineConfig;
use anyhow::Result;
use std::path::Path;
use std::process::ExitCode;

pub fn run(config: Option<&Path>, month: Option<&str>, json: bool) -> Result<ExitCode> {
    let config = match config {
        Some(path) => PipelineConfig::load(path)?,
        None => PipelineConfig::embedded_sample()?,
    };
    if ingest_pipeline(&config, json)? {
        // Reporting a month from half-read input would understate it.
        tracing::warn!("stopped by a signal before catching up; no report written");
        return Ok(ExitCode::from(INTERRUPTED_EXIT));
    }
    let month = parse_month(Some(month.unwrap_or(&config.report.month)))?;
    let report = write_report(
        month,
        &config.output.dir,
        &config.report.prices,
        config.report.cost_centers.as_deref(),
    )?;
    if !json {
        print(&format!(
            "\nusage dataset: {}\n",
            config.output.dir.join("usage").display()
        ))?;
        print(&render(&report))?;
    }
    Ok(ExitCode::SUCCESS)
}
