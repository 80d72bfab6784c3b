use std::path::PathBuf;

/// Errors that stop an ingest run. Bad *records* are not errors: they go to
/// quarantine and the run goes on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("writing Parquet {path}: {source}")]
    Parquet {
        path: PathBuf,
        source: parquet::errors::ParquetError,
    },
    #[error(transparent)]
    Core(#[from] tokentally_core::Error),
    #[error("no input files found in {0}")]
    NoInput(PathBuf),
    /// An Event Hubs Capture file that is not readable Avro (the records before
    /// `index` were read).
    #[error("{path}: Avro record {index}: {reason}")]
    Capture {
        path: PathBuf,
        index: usize,
        reason: String,
    },
    #[error("config: {0}")]
    Config(String),
    /// Event Hubs settings or a secret that cannot be used (`tokentally-kafka`).
    #[error(transparent)]
    KafkaSetup(#[from] tokentally_kafka::Error),
    #[error("kafka: {context}: {source}")]
    Kafka {
        context: String,
        source: rdkafka::error::KafkaError,
    },
    /// Brokers unreachable, credentials refused, topic missing: after a bounded wait.
    #[error("kafka: {0}")]
    Unavailable(String),
    /// An upload to (or listing of) the object-store output failed after its retries.
    #[error(transparent)]
    Store(#[from] tokentally_store::StoreError),
    #[error("internal error (a bug): {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attaches the path to an I/O error, so every error names the file it is about.
pub(crate) trait IoContext<T> {
    fn at(self, path: &std::path::Path) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: &std::path::Path) -> Result<T> {
        self.map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })
    }
}
