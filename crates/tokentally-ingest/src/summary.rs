use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// What an ingest run did, for the terminal and for machines (`--json`).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct IngestSummary {
    pub inputs: Vec<String>,
    /// Records read (non-blank lines).
    pub records: u64,
    pub rows_written: u64,
    pub quarantined: u64,
    /// Quarantined records by reason kind (`invalid_json`, `unknown_schema` …).
    pub quarantined_by_kind: BTreeMap<String, u64>,
    /// The first quarantined records as `file:line: reason`, for the terminal.
    pub quarantine_examples: Vec<String>,
    pub estimated_rows: u64,
    pub partial_rows: u64,
    /// Rows whose model the catalog does not know (estimated with a fallback).
    pub unknown_model_rows: u64,
    /// Records understood and deliberately not turned into rows, by what they were
    /// (other diagnostic categories, gateway logs without an LLM log).
    pub skipped: BTreeMap<String, u64>,
    pub rows_by_date: BTreeMap<String, u64>,
    pub files_written: Vec<PathBuf>,
    pub quarantine_files: Vec<PathBuf>,
    /// Present for Kafka / Event Hubs runs: mode, commits, per-partition offsets and lag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kafka: Option<crate::KafkaSummary>,
}

impl IngestSummary {
    /// How many quarantine examples a summary keeps.
    pub const MAX_EXAMPLES: usize = 10;
}
