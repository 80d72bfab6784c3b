use chrono::NaiveDate;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use tokentally_core::{UsageRecord, UsageSource};

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
    /// Rows by UTC day of their request time (the `date=` folder they went to).
    pub rows_by_date: BTreeMap<NaiveDate, u64>,
    pub files_written: Vec<PathBuf>,
    pub quarantine_files: Vec<PathBuf>,
    /// Present for Kafka / Event Hubs runs: mode, commits, per-partition offsets and lag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kafka: Option<crate::KafkaSummary>,
}

impl IngestSummary {
    /// How many quarantine examples a summary keeps.
    pub const MAX_EXAMPLES: usize = 10;

    /// Counts one written usage row. Every source (files, Kafka) counts rows here,
    /// so the summary's categories mean the same whatever the input.
    pub fn add_row(&mut self, row: &UsageRecord) {
        self.rows_written += 1;
        self.estimated_rows += u64::from(row.usage_source == UsageSource::Estimated);
        self.partial_rows += u64::from(row.partial);
        self.unknown_model_rows += u64::from(row.estimated_unknown_model());
        *self
            .rows_by_date
            .entry(row.request_time.date_naive())
            .or_default() += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokentally_core::SourcePosition;

    /// A call to `model` on 2026-10-01 whose answer reports no usage (so its
    /// tokens are counted).
    fn row(model: &str, status: u16) -> UsageRecord {
        let mut call = tokentally_testdata::gateway::Call::chat(model, "app");
        call.request_time = "2026-10-01T12:00:00Z".to_owned();
        call.deployment = model.to_owned();
        call.status = status;
        call.body = serde_json::json!({"model": model,
            "choices": [{"index": 0, "message": {"content": "hello"}}]});
        let position = SourcePosition {
            source: "t.jsonl".into(),
            partition: None,
            offset: 1,
        };
        tokentally_parse::parse_record(call.to_json().to_string().as_bytes(), position).expect("row")
    }

    #[test]
    fn unknown_models_are_counted_from_the_typed_family() {
        let mut summary = IngestSummary::default();
        summary.add_row(&row("gpt-4o-2024-08-06", 200));
        summary.add_row(&row("mystery-1", 200));
        // A failed call is not estimated, so no fallback encoding was used.
        summary.add_row(&row("mystery-2", 500));
        assert_eq!(
            (
                summary.rows_written,
                summary.estimated_rows,
                summary.unknown_model_rows
            ),
            (3, 2, 1)
        );
        assert_eq!(
            summary
                .rows_by_date
                .get(&NaiveDate::from_ymd_opt(2026, 10, 1).expect("date")),
            Some(&3)
        );
    }
}
