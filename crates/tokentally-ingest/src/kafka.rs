//! Kafka and Azure Event Hubs (through its Kafka endpoint) as a source.
//!
//! **Delivery:** rows are written to Parquet, fsynced and renamed into place before
//! the offsets they came from are committed; output names carry the offset range,
//! and output of a run that died before committing is removed when its partition is
//! assigned again. A crash at any point therefore loses nothing and, once the
//! partition is read again, leaves no row twice.

mod config;
mod consume;
mod context;
mod group;
mod partition;

pub use config::{KafkaConfig, Mode};
pub use partition::PartitionSummary;

use crate::{IngestOptions, IngestSummary, Result};
use serde::Serialize;
use std::sync::atomic::AtomicBool;

/// What a Kafka run adds to the run summary.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct KafkaSummary {
    pub mode: Mode,
    pub group_id: String,
    /// A signal stopped the run (after a final flush and commit).
    pub interrupted: bool,
    /// Synchronous offset commits made.
    pub commits: u64,
    /// Every partition this process held at the end, with its end offsets and lag.
    pub partitions: Vec<PartitionSummary>,
}

/// A progress report, about once a second while consuming.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub records: u64,
    pub rows_written: u64,
    pub quarantined: u64,
    pub records_per_sec: f64,
    pub partitions: Vec<PartitionSummary>,
}

/// Reads the configured topics into the usage dataset under `options.out_dir`.
///
/// `stop` ends the run at the next poll (set it from a SIGTERM/Ctrl-C handler): what
/// was read is written and committed first. `progress` is called about once a second.
///
/// # Errors
/// A bad config, brokers or topics unreachable within `connect_timeout_secs`
/// (`until-caught-up` only; `follow` keeps retrying), or output that cannot be
/// written. Bad records are quarantined, not errors.
pub fn ingest_kafka(
    config: &KafkaConfig,
    options: &IngestOptions,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(&Progress),
) -> Result<IngestSummary> {
    config.validate()?;
    crate::faults::arm_from_env();
    consume::consume(consume::Run {
        config,
        options,
        stop,
        progress,
    })
}

#[cfg(test)]
mod tests;
