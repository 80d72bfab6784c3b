use super::ingest::print_summary;
use super::report::{render, write_report};
use super::{parse_month, print};
use crate::config::PipelineConfig;
use anyhow::{Context as _, Result};
use std::path::Path;
use std::process::ExitCode;
use tokentally_ingest::{IngestOptions, ingest_files};

pub fn run(config: Option<&Path>, month: Option<&str>, json: bool) -> Result<ExitCode> {
    let config = match config {
        Some(path) => PipelineConfig::load(path)?,
        None => PipelineConfig::embedded_sample()?,
    };
    let mut options = IngestOptions::new(&config.output.dir);
    options.sink.max_buffered_rows = config.output.max_buffered_rows;
    options.max_quarantine_bytes = config.output.max_quarantine_bytes;
    let summary = ingest_files(&config.input.files, &options).context("ingesting")?;
    print_summary(&summary, json)?;
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
