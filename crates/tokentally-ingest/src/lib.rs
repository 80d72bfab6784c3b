//! Everything with I/O on the way in: reading sources, quarantining what cannot be
//! parsed, and writing the Parquet usage dataset.
//!
//! **Architecture invariant:** a row is durable (fsynced, renamed into place) before
//! the input it came from is considered consumed, and every input record ends as
//! either a usage row or a quarantine entry; nothing is dropped.

mod batch;
mod envelope;
mod error;
mod faults;
mod files;
mod kafka;
mod quarantine;
mod sink;
mod summary;

pub use error::{Error, Result};
pub use files::{
    DEFAULT_MAX_EVENT_BYTES, DEFAULT_MAX_HELD_BYTES, FileProgress, IngestOptions, ingest_files,
    ingest_files_with_progress,
};
pub use kafka::{KafkaConfig, KafkaSummary, Mode, PartitionSummary, Progress, ingest_kafka};
pub use quarantine::{Quarantine, QuarantineEntry};
pub use sink::{DEFAULT_MAX_BUFFERED_BYTES, DEFAULT_MAX_BUFFERED_ROWS, ParquetSink, SinkOptions};
pub use summary::IngestSummary;
