use super::ingest::ingest_pipeline;
use super::report::{Tables, render, strict_exit, write_report};
use super::{EXIT_INTERRUPTED, EXIT_QUARANTINED, parse_month, print};
use crate::config::PipelineConfig;
use anyhow::Result;
use std::path::Path;
use std::process::ExitCode;

/// `tokentally run`'s flags.
#[derive(Debug, Clone, Copy)]
pub struct RunArgs<'a> {
    pub config: Option<&'a Path>,
    /// Overrides the configured month (`current` for month to date).
    pub month: Option<&'a str>,
    pub json: bool,
    pub strict: bool,
    pub fail_on_quarantine: bool,
}

/// Ingests, then reports. Exit status for schedulers: 0 ok, 2 error, 3 unpriced
/// usage with `--strict`, 4 quarantined records with `--fail-on-quarantine`
/// (3 wins when both apply: money first), 5 a Kafka run stopped by a signal
/// before catching up (no report). The files are written in all but 2 and 5.
pub fn run(args: &RunArgs<'_>) -> Result<ExitCode> {
    let config = match args.config {
        Some(path) => PipelineConfig::load(path)?,
        None => PipelineConfig::embedded_sample()?,
    };
    let ingested = ingest_pipeline(&config, args.json)?;
    if ingested.interrupted {
        // Reporting a month from half-read input would understate it.
        tracing::warn!("stopped by a signal before catching up; no report written");
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    let month = parse_month(Some(args.month.unwrap_or(&config.report.month)))?;
    let tables = Tables {
        prices: &config.report.prices,
        deployments: config.report.deployments.as_deref(),
        cost_centers: config.report.cost_centers.as_deref(),
    };
    let report = write_report(month, &config.output.dir, &tables)?;
    if !args.json {
        print(&format!(
            "\nusage dataset: {}\n",
            config.output.dir.join("usage").display()
        ))?;
        print(&render(&report))?;
    }
    if args.strict && report.totals.unpriced_lines > 0 {
        return Ok(strict_exit(&report, true));
    }
    if args.fail_on_quarantine && ingested.quarantined > 0 {
        tracing::error!(
            quarantined = ingested.quarantined,
            "--fail-on-quarantine: some input records were quarantined"
        );
        return Ok(ExitCode::from(EXIT_QUARANTINED));
    }
    Ok(ExitCode::SUCCESS)
}
