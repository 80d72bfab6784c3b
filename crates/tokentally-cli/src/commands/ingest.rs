use super::progress::ProgressView;
use super::{print, runtime, signals};
use crate::config::PipelineConfig;
use crate::discover::Pipeline;
use crate::exit::{EXIT_EMPTY, EXIT_INTERRUPTED, EXIT_QUARANTINED, UsageContext as _};
use anyhow::{Context as _, Result};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use tokentally_ingest::{IngestOptions, IngestSummary, ingest_files_with_progress, ingest_kafka};

/// `tokentally ingest`'s flags.
#[derive(Debug, Clone, Copy)]
pub struct IngestFlags {
    pub json: bool,
    pub fail_on_quarantine: bool,
    pub allow_empty: bool,
}

/// What an ingest did, over all its sources.
#[derive(Debug, Default)]
pub struct Ingested {
    /// One per source run (files, then Kafka).
    pub summaries: Vec<IngestSummary>,
    /// A signal stopped an until-caught-up Kafka run before it caught up.
    pub interrupted: bool,
    /// Event ids on the days written that the dataset now holds more than once.
    pub duplicate_event_ids: u64,
}

impl Ingested {
    pub fn quarantined(&self) -> u64 {
        self.summaries.iter().map(|s| s.quarantined).sum()
    }

    /// Records came in and every one was quarantined: nothing usable.
    pub fn all_quarantined(&self) -> bool {
        let rows: u64 = self.summaries.iter().map(|s| s.rows_written).sum();
        rows == 0 && self.quarantined() > 0
    }
}

pub fn ingest(
    inputs: &[PathBuf],
    pipeline: Pipeline,
    out: Option<PathBuf>,
    flags: IngestFlags,
) -> Result<ExitCode> {
    let mut config = pipeline.config;
    if !inputs.is_empty() {
        config.input.files = inputs.to_vec();
        config.kafka = None;
    }
    if let Some(out) = out {
        config.output.dir = out;
    }
    check_inputs(&config)?;
    let ingested = ingest_pipeline(&config)?;
    for summary in &ingested.summaries {
        print_summary(summary, flags.json)?;
    }
    Ok(if ingested.interrupted {
        ExitCode::from(EXIT_INTERRUPTED)
    } else if flags.fail_on_quarantine && ingested.quarantined() > 0 {
        quarantine_exit(ingested.quarantined())
    } else if !flags.allow_empty && ingested.all_quarantined() {
        tracing::error!(
            quarantined = ingested.quarantined(),
            "every record was quarantined: nothing was added to the dataset (--allow-empty exits 0)"
        );
        ExitCode::from(EXIT_EMPTY)
    } else {
        ExitCode::SUCCESS
    })
}

pub fn quarantine_exit(quarantined: u64) -> ExitCode {
    tracing::error!(
        quarantined,
        "--fail-on-quarantine: some input records were quarantined"
    );
    ExitCode::from(EXIT_QUARANTINED)
}

/// Every named input exists, before anything is read: a typo is a usage error,
/// not a half-done run.
pub fn check_inputs(config: &PipelineConfig) -> Result<()> {
    if config.input.files.is_empty() && config.kafka.is_none() {
        return Err(anyhow::anyhow!(
            "no input: name files (or `-` for stdin), or a config with inputs"
        ))
        .usage();
    }
    for path in &config.input.files {
        if path.as_os_str() != "-" && !path.exists() {
            return Err(anyhow::anyhow!(
                "input {}: no such file or directory",
                path.display()
            ))
            .usage();
        }
    }
    Ok(())
}

/// Ingests the pipeline's files, then its Kafka source.
pub fn ingest_pipeline(config: &PipelineConfig) -> Result<Ingested> {
    let mut ingested = Ingested::default();
    let mut options = IngestOptions::new(&config.output.dir);
    // An object-store output: files are written to a staging folder and each
    // uploaded whole before its input (or Kafka offsets) counts as done.
    let remote = super::lake::remote_root(&config.output.dir)?;
    let staging = match &remote {
        Some(remote) => {
            let staging = super::lake::Staging::new("ingest")?;
            options.out_dir = staging.path().to_owned();
            let blocking = tokentally_store::BlockingRemote::new(remote.clone())
                .with_context(|| format!("opening {remote}"))?;
            options.remote = Some(std::sync::Arc::new(blocking));
            Some(staging)
        }
        None => None,
    };
    options.sink.max_buffered_rows = config.output.max_buffered_rows;
    options.sink.max_buffered_bytes = config.output.max_buffered_bytes;
    options.max_quarantine_bytes = config.output.max_quarantine_bytes;
    options.max_event_bytes = config.input.max_event_bytes;
    options.max_held_bytes = config.input.max_held_bytes;
    if !config.input.files.is_empty() {
        let mut view = ProgressView::new();
        let summary =
            ingest_files_with_progress(&config.input.files, &options, &mut |p| view.update_files(p));
        view.finish();
        let summary = summary.context("ingesting files")?;
        ingested.summaries.push(summary);
    }
    if let Some(kafka) = &config.kafka {
        options.sink.max_buffered_rows = kafka.flush_records;
        options.sink.max_buffered_bytes = kafka.flush_bytes;
        let stop = signals::stop_flag()?;
        let mut view = ProgressView::new();
        let summary = ingest_kafka(kafka, &options, &stop, &mut |p| view.update(p));
        view.finish();
        let summary =
            summary.with_context(|| format!("ingesting from Kafka topics {}", kafka.topics.join(", ")))?;
        let interrupted = summary.kafka.as_ref().is_some_and(|k| k.interrupted);
        ingested.interrupted = interrupted && kafka.mode == tokentally_ingest::Mode::UntilCaughtUp;
        ingested.summaries.push(summary);
    }
    drop(options);
    drop(staging);
    ingested.duplicate_event_ids = warn_on_duplicates(config, remote.as_ref(), &ingested.summaries)?;
    Ok(ingested)
}

/// Warns when the days this run wrote now hold a call more than once (the same
/// calls ingested again from another path): the report and the SQL `calls` view
/// count each once, but raw `usage` totals would not.
fn warn_on_duplicates(
    config: &PipelineConfig,
    remote: Option<&tokentally_store::Remote>,
    summaries: &[IngestSummary],
) -> Result<u64> {
    let mut days: Vec<_> = summaries
        .iter()
        .flat_map(|s| s.rows_by_date.keys().copied())
        .collect();
    days.sort_unstable();
    days.dedup();
    if days.is_empty() {
        return Ok(0);
    }
    let data_dir = &config.output.dir;
    let duplicates = match remote {
        Some(remote) => runtime()?
            .block_on(tokentally_report::duplicate_event_ids_remote(remote, &days))
            .with_context(|| format!("checking {} for repeated calls", remote.url_of("usage")))?,
        None => runtime()?
            .block_on(tokentally_report::duplicate_event_ids(data_dir, &days))
            .with_context(|| format!("checking {} for repeated calls", data_dir.join("usage").display()))?,
    };
    if duplicates > 0 {
        tracing::warn!(
            duplicate_event_ids = duplicates,
            "the dataset now holds duplicates of {duplicates} event id(s) (calls recorded by two \
             sources, a gateway log apart from its LLM log, or the same calls ingested again from \
             another path): `report` and the SQL view `calls` count each call once; totals over \
             raw `usage` count them more than once"
        );
    }
    Ok(duplicates)
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
