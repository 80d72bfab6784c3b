//! JSON Lines files (plain or gzip) and stdin as sources of gateway records.

use crate::error::IoContext as _;
use crate::{Error, IngestSummary, ParquetSink, Quarantine, Result, SinkOptions};
use flate2::read::MultiGzDecoder;
use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use tokentally_core::SourcePosition;
use xxhash_rust::xxh3::Xxh3;

/// Where an ingest run writes and how much it holds.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Output root: rows go to `<out>/usage/`, bad records to `<out>/quarantine/`.
    pub out_dir: PathBuf,
    pub sink: SinkOptions,
    /// Raw bytes kept in quarantine per input before only positions are kept.
    pub max_quarantine_bytes: usize,
}

impl IngestOptions {
    pub fn new(out_dir: impl Into<PathBuf>) -> Self {
        Self {
            out_dir: out_dir.into(),
            sink: SinkOptions::default(),
            max_quarantine_bytes: 64 << 20,
        }
    }
}

/// Reads every input (files, directories of `*.jsonl[.gz]`, or `-` for stdin) into
/// the usage dataset.
///
/// # Errors
/// Only when an input cannot be read or the output cannot be written; bad records
/// are quarantined and counted in the summary.
pub fn ingest_files(inputs: &[PathBuf], options: &IngestOptions) -> Result<IngestSummary> {
    let mut summary = IngestSummary::default();
    for input in expand(inputs)? {
        if input.as_os_str() == "-" {
            ingest_reader(std::io::stdin().lock(), Path::new("stdin"), options, &mut summary)?;
        } else {
            let file = File::open(&input).at(&input)?;
            let mut reader = BufReader::with_capacity(1 << 16, file);
            let gzip = reader.fill_buf().at(&input)?.starts_with(&[0x1f, 0x8b]);
            if gzip {
                ingest_reader(
                    BufReader::new(MultiGzDecoder::new(reader)),
                    &input,
                    options,
                    &mut summary,
                )?;
            } else {
                ingest_reader(reader, &input, options, &mut summary)?;
            }
        }
    }
    Ok(summary)
}

/// Directories become their `.jsonl`, `.jsonl.gz`, `.json`, `.ndjson` files, sorted.
fn expand(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut found: Vec<PathBuf> = fs::read_dir(input)
                .at(input)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                    [".jsonl", ".jsonl.gz", ".json", ".ndjson", ".ndjson.gz"]
                        .iter()
                        .any(|s| name.ends_with(s))
                })
                .collect();
            if found.is_empty() {
                return Err(Error::NoInput(input.clone()));
            }
            found.sort();
            out.extend(found);
        } else {
            out.push(input.clone());
        }
    }
    Ok(out)
}

fn ingest_reader(
    mut reader: impl BufRead,
    input: &Path,
    options: &IngestOptions,
    summary: &mut IngestSummary,
) -> Result<()> {
    let name = input.display().to_string();
    summary.inputs.push(name.clone());
    let mut sink = ParquetSink::new(options.out_dir.join("usage"), options.sink.clone());
    let mut quarantine = Quarantine::new(&options.out_dir, options.max_quarantine_bytes);
    let mut hasher = Xxh3::new();
    let mut line = Vec::with_capacity(1 << 16);
    let mut line_no = 0i64;
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).at(input)?;
        if n == 0 {
            break;
        }
        hasher.update(&line);
        line_no += 1;
        let record = line.trim_ascii();
        if record.is_empty() {
            continue;
        }
        summary.records += 1;
        let position = SourcePosition {
            source: name.clone(),
            partition: None,
            offset: line_no,
        };
        match tokentally_parse::parse_record(record, position.clone()) {
            Ok(row) => {
                summary.add_row(&row);
                sink.push(row)?;
            }
            Err(e) => {
                summary.quarantined += 1;
                *summary
                    .quarantined_by_kind
                    .entry(e.kind().to_owned())
                    .or_default() += 1;
                if summary.quarantine_examples.len() < IngestSummary::MAX_EXAMPLES {
                    summary.quarantine_examples.push(format!("{position}: {e}"));
                }
                tracing::debug!(%position, error = %e, "record quarantined");
                quarantine.push(e.kind(), &e.to_string(), &position, record)?;
            }
        }
    }
    let prefix = format!("{}-{:016x}", file_stem(&name), hasher.digest());
    summary.files_written.extend(sink.finish(&prefix)?);
    summary.quarantine_files.extend(quarantine.finish(&prefix)?);
    Ok(())
}

/// A readable, path-safe stem of the input name for output file names.
fn file_stem(name: &str) -> String {
    let base = Path::new(name)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(name);
    let base = base.split('.').next().unwrap_or(base);
    let stem: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if stem.is_empty() { "input".to_owned() } else { stem }
}

#[cfg(test)]
mod tests;
