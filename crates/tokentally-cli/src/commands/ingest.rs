use super::print;
use anyhow::{Context as _, Result};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tokentally_ingest::{IngestOptions, IngestSummary, ingest_files};

pub fn ingest(inputs: &[PathBuf], out: &Path, json: bool) -> Result<ExitCode> {
    let summary = ingest_files(inputs, &IngestOptions::new(out)).context("ingesting")?;
    print_summary(&summary, json)?;
    Ok(ExitCode::SUCCESS)
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
    t
}
