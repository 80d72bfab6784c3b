//! JSON Lines files (plain or gzip), Event Hubs Capture files (Avro) and stdin as
//! sources of events.

mod capture;
mod progress;

pub use progress::FileProgress;
use progress::{Counting, Ticker};

use crate::batch::Batch;
use crate::envelope::{Decoded, EventDecoder};
use crate::error::IoContext as _;
use crate::{Error, IngestSummary, Result, SinkOptions};
use flate2::read::MultiGzDecoder;
use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use tokentally_core::SourcePosition;
use xxhash_rust::xxh3::Xxh3;

/// Default bound on one event: generous above Event Hubs' 1 MB, so only garbage hits it.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 16 << 20;
/// Default bound on what one source (a Kafka partition, a file) holds for joining:
/// two maximal events.
pub const DEFAULT_MAX_HELD_BYTES: usize = 2 * DEFAULT_MAX_EVENT_BYTES;

/// Where an ingest run writes and how much it holds.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Output root: rows go to `<out>/usage/`, bad records to `<out>/quarantine/`.
    /// With [`Self::remote`] set, the local staging folder files are written in
    /// before they are uploaded.
    pub out_dir: PathBuf,
    /// The object-store folder the output belongs in: every finished file is
    /// uploaded under the same relative name (and its staged copy removed)
    /// before its input counts as done.
    pub remote: Option<std::sync::Arc<tokentally_store::BlockingRemote>>,
    pub sink: SinkOptions,
    /// Raw bytes kept in quarantine per input before only positions are kept.
    pub max_quarantine_bytes: usize,
    /// Events bigger than this are quarantined unread (Event Hubs' own limit is
    /// 1 MB), and so are gzip events or split records that inflate or join past it.
    pub max_event_bytes: usize,
    /// Bytes of split-record parts and LLM-log records one source (a Kafka
    /// partition, a file) holds while waiting for the rest; past it the oldest
    /// are given up (docs/security.md, "Ingest limits").
    pub max_held_bytes: usize,
}

impl IngestOptions {
    pub fn new(out_dir: impl Into<PathBuf>) -> Self {
        Self {
            out_dir: out_dir.into(),
            remote: None,
            sink: SinkOptions::default(),
            max_quarantine_bytes: 64 << 20,
            max_event_bytes: DEFAULT_MAX_EVENT_BYTES,
            max_held_bytes: DEFAULT_MAX_HELD_BYTES,
        }
    }

    /// A decoder of events within these options' limits.
    pub(crate) fn decoder(&self) -> EventDecoder {
        EventDecoder::new(self.max_event_bytes, self.max_held_bytes)
    }
}

/// Reads every input (files, directories of `*.jsonl[.gz]`, or `-` for stdin) into
/// the usage dataset.
///
/// # Errors
/// Only when an input cannot be read or the output cannot be written; bad records
/// are quarantined and counted in the summary.
pub fn ingest_files(inputs: &[PathBuf], options: &IngestOptions) -> Result<IngestSummary> {
    ingest_files_with_progress(inputs, options, &mut |_| {})
}

/// [`ingest_files`], telling `progress` where it stands about every 250 ms while
/// records come in, and at the end of each input.
///
/// # Errors
/// As [`ingest_files`].
pub fn ingest_files_with_progress(
    inputs: &[PathBuf],
    options: &IngestOptions,
    progress: &mut dyn FnMut(&FileProgress),
) -> Result<IngestSummary> {
    crate::faults::arm_from_env();
    let mut summary = IngestSummary::default();
    let mut ticker = Ticker::new(progress);
    for input in expand(inputs)? {
        let stdin = input.as_os_str() == "-";
        let name = if stdin {
            "stdin".to_owned()
        } else {
            input.display().to_string()
        };
        summary.inputs.push(name.clone());
        let mut batch = Batch::new(options);
        let file = if stdin {
            None
        } else {
            Some(File::open(&input).at(&input)?)
        };
        let size = file.as_ref().and_then(|f| f.metadata().ok()).map(|m| m.len());
        let read = ticker.start(&name, size);
        let mut source = Source {
            input: &input,
            name: &name,
            options,
            summary: &mut summary,
            batch: &mut batch,
            ticker: &mut ticker,
        };
        let hash = match file {
            None => {
                let inner = std::io::stdin().lock();
                read_lines(
                    BufReader::with_capacity(1 << 16, Counting { inner, read }),
                    &mut source,
                )?
            }
            Some(file) => {
                let mut reader = BufReader::with_capacity(1 << 16, Counting { inner: file, read });
                let head = reader.fill_buf().at(&input)?;
                if head.starts_with(&[0x1f, 0x8b]) {
                    read_lines(BufReader::new(MultiGzDecoder::new(reader)), &mut source)?
                } else if head.starts_with(capture::AVRO_MAGIC) {
                    capture::ingest_capture(reader, &mut source)?
                } else {
                    read_lines(reader, &mut source)?
                }
            }
        };
        ticker.report(&summary);
        let prefix = format!("{}-{hash:016x}", file_stem(&name));
        batch.finish(&prefix, &mut summary)?;
    }
    Ok(summary)
}

/// One input being read, and where its outcomes go.
pub(crate) struct Source<'s, 't> {
    pub(crate) input: &'s Path,
    /// The input as positions name it (`stdin` for `-`).
    pub(crate) name: &'s str,
    pub(crate) options: &'s IngestOptions,
    pub(crate) summary: &'s mut IngestSummary,
    pub(crate) batch: &'s mut Batch,
    pub(crate) ticker: &'s mut Ticker<'t>,
}

impl Source<'_, '_> {
    /// Hands what one `event` decoded to (`decoded`, drained) to the batch,
    /// then moves the progress line on.
    pub(crate) fn accept_event(
        &mut self,
        decoded: &mut Vec<(SourcePosition, Decoded)>,
        event: &[u8],
    ) -> Result<()> {
        for (position, outcome) in decoded.drain(..) {
            self.batch.accept(self.summary, &position, outcome, event)?;
        }
        self.ticker.tick(self.summary);
        Ok(())
    }

    /// At the end of the input: the parts and LLM-log records `decoder` still
    /// holds are written or quarantined.
    pub(crate) fn end_of_input(&mut self, mut decoder: EventDecoder) -> Result<()> {
        let mut decoded = Vec::new();
        decoder.finish(&mut decoded);
        for (position, outcome) in decoded {
            self.batch.accept(self.summary, &position, outcome, &[])?;
        }
        Ok(())
    }
}

/// Directories become their `.jsonl`, `.jsonl.gz`, `.json`, `.ndjson`, `.avro` files, sorted.
fn expand(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut found: Vec<PathBuf> = fs::read_dir(input)
                .at(input)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                    [".jsonl", ".jsonl.gz", ".json", ".ndjson", ".ndjson.gz", ".avro"]
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

/// Reads JSON Lines, one event per line; returns the hash of the bytes read,
/// which names the output so a re-run rewrites the same files.
fn read_lines(mut reader: impl BufRead, source: &mut Source<'_, '_>) -> Result<u64> {
    let (input, options) = (source.input, source.options);
    let mut decoder = options.decoder();
    let mut decoded = Vec::new();
    let mut hasher = Xxh3::new();
    let mut line = Vec::with_capacity(1 << 16);
    let mut line_no = 0i64;
    loop {
        let read = read_line(&mut reader, &mut line, options.max_event_bytes, &mut hasher).at(input)?;
        if read == Line::End {
            break;
        }
        line_no += 1;
        let record = line.trim_ascii();
        let position = SourcePosition {
            source: source.name.to_owned(),
            partition: None,
            offset: line_no,
        };
        let event = if let Line::TooLong(bytes) = read {
            let reason = format!(
                "line of {bytes} bytes is over the event limit of {} bytes; only its first {} bytes are kept",
                options.max_event_bytes,
                line.len()
            );
            decoded.push((position, Decoded::bad("oversized", reason)));
            &line[..]
        } else if record.is_empty() {
            continue;
        } else {
            decoder.decode(record, &position, &mut decoded);
            record
        };
        source.summary.records += 1;
        source.accept_event(&mut decoded, event)?;
    }
    source.end_of_input(decoder)?;
    Ok(hasher.digest())
}

/// What [`read_line`] read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    /// A line (without its `\n`) is in the buffer.
    Whole,
    /// The line had this many bytes, more than the limit: the buffer holds its
    /// first [`KEPT_OF_LONG_LINE`] bytes, the rest was read past unkept.
    TooLong(u64),
    End,
}

/// How much of an over-long line is kept for the quarantine entry.
const KEPT_OF_LONG_LINE: usize = 4096;

/// Reads one line into `line`, holding at most `limit` bytes of it: a longer line
/// is read through to its end without being kept, so one huge line costs no more
/// memory than the event limit. Every byte read is hashed.
fn read_line(
    reader: &mut impl BufRead,
    line: &mut Vec<u8>,
    limit: usize,
    hasher: &mut Xxh3,
) -> std::io::Result<Line> {
    line.clear();
    let kept = KEPT_OF_LONG_LINE.min(limit);
    let (mut read, mut length) = (0usize, 0u64);
    let mut too_long = false;
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            break;
        }
        let (take, done) = match memchr::memchr(b'\n', chunk) {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let part = &chunk[..take];
        hasher.update(part);
        read += take;
        let content = part.strip_suffix(b"\n").unwrap_or(part);
        length += content.len() as u64;
        if !too_long && line.len() + content.len() > limit {
            too_long = true;
            line.truncate(kept);
        }
        if !too_long {
            line.extend_from_slice(content);
        } else if line.len() < kept {
            let room = kept - line.len();
            line.extend_from_slice(&content[..room.min(content.len())]);
        }
        reader.consume(take);
        if done {
            break;
        }
    }
    Ok(match (read, too_long) {
        (0, _) => Line::End,
        (_, true) => Line::TooLong(length),
        (_, false) => Line::Whole,
    })
}

/// A readable, path-safe stem of the input name for output file names.
fn file_stem(name: &str) -> String {
    let base = Path::new(name)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(name);
    let stem = path_safe(base.split('.').next().unwrap_or(base));
    if stem.is_empty() { "input".to_owned() } else { stem }
}

/// `name` with every character but ASCII letters, digits, `-` and `_` made `_`, so
/// output file names are portable and parse back unambiguously.
pub(crate) fn path_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
