use super::progress::ProgressView;
use super::{EXIT_INTERRUPTED, print, signals};
use crate::config::PipelineConfig;
use anyhow::{Context as _, Result};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tokentally_ingest::{IngestOptions, IngestSummary, ingest_files, ingest_kafka};

/// What `run` needs to know of an ingest for its exit status.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ingested {
    /// A signal stopped an until-caught-up Kafka run before it caught up.
    pub interrupted: bool,
    /// Records quarantined over all sources.
    pub quarantined: u64,
}

pub fn ingest(inputs: &[PathBuf], config: Option<&Path>, out: Option<&Path>, json: bool) -> Result<ExitCode> {
    let mut pipeline = match config {
        Some(path) => PipelineConfig::load(path)?,
        None if inputs.is_empty() => anyhow::bail!("name input files (or `-` for stdin), or --config"),
        None => PipelineConfig::from_inputs(inputs.to_vec()),
    };
    if config.is_some() && !inputs.is_empty() {
        pipeline.input.files = inputs.to_vec();
        pipeline.kafka = None;
    }
    if let Some(out) = out {
        pipeline.output.dir = out.to_owned();
    }
    let ingested = ingest_pipeline(&pipeline, json)?;
    Ok(if ingested.interrupted {
        ExitCode::from(EXIT_INTERRUPTED)
    } else {
        ExitCode::SUCCESS
    })
}

/// Ingests the pipeline's files, then its Kafka source; prints each summary.
pub fn ingest_pipeline(config: &PipelineConfig, json: bool) -> Result<Ingested> {
    let mut ingested = Ingested::default();
    let mut options = IngestOptions::new(&config.output.dir);
    options.sink.max_buffered_rows = config.output.max_buffered_rows;
    options.sink.max_buffered_bytes = config.output.max_buffered_bytes;
    options.max_quarantine_bytes = config.output.max_quarantine_bytes;
    options.max_event_bytes = config.input.max_event_bytes;
    options.max_held_bytes = config.input.max_held_bytes;
    if !config.input.files.is_empty() {
        let summary = ingest_files(&config.input.files, &options).context("ingesting files")?;
        print_summary(&summary, json)?;
        ingested.quarantined += summary.quarantined;
    }
    let Some(kafka) = &config.kafka else {
        return Ok(ingested);
    };
    options.sink.max_buffered_rows = kafka.flush_records;
    options.sink.max_buffered_bytes = kafka.flush_bytes;
    let stop = signals::stop_flag()?;
    let mut view = ProgressView::new();
    let summary = ingest_kafka(kafka, &options, &stop, &mut |p| view.update(p));
    view.finish();
    let summary =
        summary.with_context(|| format!("ingesting from Kafka topics {}", kafka.topics.join(", ")))?;
    print_summary(&summary, json)?;
    ingested.quarantined += summary.quarantined;
    let interrupted = summary.kafka.as_ref().is_some_and(|k| k.interrupted);
    ingested.interrupted = interrupted && kafka.mode == tokentally_ingest::Mode::UntilCaughtUp;
    Ok(ingested)
}

pub fn print_summary(summary: &IngestSummary, json: bool) -> Result<()> {
    if json {
        let mut text = serde_json::to_string_pretty(summary).context("encoding the summary")?;
        text.push('\n');
        return print(&text);
    }
    print(&render(summary))
}

fn render(s: &IngestSummary) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "ingested {} record(s) from {} input(s)",
        s.records,
        s.inputs.len()
    );
    let _ = writeln!(
        t,
        "  rows written: {} ({} estimated, {} partial, {} unknown model) in {} file(s)",
        s.rows_written,
        s.estimated_rows,
        s.partial_rows,
        s.unknown_model_rows,
        s.files_written.len()
    );
    if s.quarantined > 0 {
        let kinds: Vec<String> = s
            .quarantined_by_kind
            .iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect();
        let _ = writeln!(t, "  quarantined: {} ({})", s.quarantined, kinds.join(", "));
        for example in &s.quarantine_examples {
            let _ = writeln!(t, "    {example}");
        }
        for file in &s.quarantine_files {
            let _ = writeln!(t, "    kept in {}", file.display());
        }
    }
    for (what, n) in &s.skipped {
        let _ = writeln!(t, "  skipped: {n} {what}");
    }
    if let Some(k) = &s.kafka {
        let state = if k.interrupted {
            ", interrupted by a signal"
        } else {
            ""
        };
        let _ = writeln!(t, "  kafka group {}: {} commit(s){state}", k.group_id, k.commits);
        for p in &k.partitions {
            let _ = writeln!(
                t,
                "    {}[{}]: offsets {}..{} ({} records), lag {}",
                p.topic, p.partition, p.start_offset, p.next_offset, p.records, p.lag
            );
        }
    }
    t
}
