use super::ingest::{check_inputs, ingest_pipeline, print_summary, quarantine_exit};
use super::report::{check_tables, outcome, render, report_json, write_report};
use super::{parse_month, print};
use crate::args::RunArgs;
use crate::discover;
use crate::exit::EXIT_INTERRUPTED;
use anyhow::{Context as _, Result};
use serde_json::json;
use std::process::ExitCode;

/// Checks the arguments and config, ingests, then reports. Exit status for
/// schedulers (`exit.rs`): 3 unpriced usage with `--strict`, then 4 quarantined
/// records with `--fail-on-quarantine`, then 7 a month without calls; 5 a Kafka
/// run stopped by a signal before catching up (no report).
pub fn run(args: &RunArgs) -> Result<ExitCode> {
    let pipeline = discover::pipeline(args.config.config.as_deref())?;
    let config = &pipeline.config;
    // Everything that can be checked is, before a record is read or an offset committed.
    let month = parse_month(Some(args.month_text().unwrap_or(&config.report.month)))?;
    check_tables(&config.report)?;
    check_inputs(config)?;

    let ingested = ingest_pipeline(config)?;
    if !args.json {
        for summary in &ingested.summaries {
            print_summary(summary, false)?;
        }
    }
    if ingested.interrupted {
        // Reporting a month from half-read input would understate it.
        tracing::warn!("stopped by a signal before catching up; no report written");
        if args.json {
            print_json(&json!({ "ingest": ingested.summaries, "interrupted": true, "report": null }))?;
        }
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    let report = write_report(month, &config.output.dir, &config.report)?;
    if args.json {
        print_json(&json!({
            "ingest": ingested.summaries,
            "duplicate_event_ids": ingested.duplicate_event_ids,
            "report": report_json(&report),
        }))?;
    } else {
        print(&format!(
            "\nusage dataset: {}\n",
            config.output.dir.join("usage").display()
        ))?;
        print(&render(&report))?;
    }
    if args.strict && report.totals.unpriced_lines > 0 {
        return Ok(outcome(&report, true, true).unwrap_or(ExitCode::SUCCESS));
    }
    if args.fail_on_quarantine && ingested.quarantined() > 0 {
        return Ok(quarantine_exit(ingested.quarantined()));
    }
    Ok(outcome(&report, false, args.allow_empty).unwrap_or(ExitCode::SUCCESS))
}

fn print_json(value: &serde_json::Value) -> Result<()> {
    let text = serde_json::to_string_pretty(value).context("encoding the run as JSON")?;
    print(&format!("{text}\n"))
}
