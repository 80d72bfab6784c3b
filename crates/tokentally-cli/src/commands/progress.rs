//! Ingest progress for operators (Kafka, files, stdin): a live line on a
//! terminal, a structured log line every few seconds otherwise (journald,
//! Kubernetes logs).

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal as _;
use std::time::{Duration, Instant};
use tokentally_ingest::{FileProgress, Progress};

const LOG_EVERY: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub struct ProgressView {
    bar: Option<ProgressBar>,
    last_log: Option<Instant>,
}

impl ProgressView {
    pub fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{spinner} {elapsed} {msg}") {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Self { bar, last_log: None }
    }

    pub fn update(&mut self, p: &Progress) {
        let lag: i64 = p.partitions.iter().map(|x| x.lag).sum();
        if let Some(bar) = &self.bar {
            bar.set_message(format!(
                "{} records ({:.0}/s), {} rows, {} quarantined, lag {lag} over {} partition(s)",
                p.records,
                p.records_per_sec,
                p.rows_written,
                p.quarantined,
                p.partitions.len()
            ));
            return;
        }
        if self.last_log.is_some_and(|t| t.elapsed() < LOG_EVERY) {
            return;
        }
        self.last_log = Some(Instant::now());
        for x in &p.partitions {
            tracing::info!(topic = %x.topic, partition = x.partition, next_offset = x.next_offset,
                high_watermark = x.high_watermark, lag = x.lag, "partition progress");
        }
        tracing::info!(
            records = p.records,
            records_per_sec = p.records_per_sec as u64,
            rows = p.rows_written,
            quarantined = p.quarantined,
            lag,
            "ingest progress"
        );
    }

    /// A file or stdin ingest: the input, how much of it is read, and the counts.
    pub fn update_files(&mut self, p: &FileProgress) {
        let read = match p.bytes_total {
            Some(total) if total > 0 => format!(
                "{} of {} ({}%)",
                indicatif::HumanBytes(p.bytes_read),
                indicatif::HumanBytes(total),
                p.bytes_read.saturating_mul(100) / total
            ),
            _ => format!("{} read", indicatif::HumanBytes(p.bytes_read)),
        };
        if let Some(bar) = &self.bar {
            bar.set_message(format!(
                "{}: {read}; {} records, {} rows, {} quarantined",
                p.input, p.records, p.rows_written, p.quarantined
            ));
            return;
        }
        if self.last_log.is_some_and(|t| t.elapsed() < LOG_EVERY) {
            return;
        }
        self.last_log = Some(Instant::now());
        tracing::info!(
            input = %p.input,
            bytes_read = p.bytes_read,
            bytes_total = p.bytes_total,
            records = p.records,
            rows = p.rows_written,
            quarantined = p.quarantined,
            "ingest progress"
        );
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
