use std::path::PathBuf;

/// Everything that can stop a report or a query.
///
/// Bad input (a price row, a month, a missing dataset) gets its own variant naming
/// the file and line, so the operator can fix it without reading a backtrace.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid month {input:?}: {reason} (expected YYYY-MM, e.g. 2026-10)")]
    InvalidMonth { input: String, reason: &'static str },

    /// A bad row in the price table; `line` is 1-based, as editors show it.
    #[error("{}:{line}: {message}", path.display())]
    Prices {
        path: PathBuf,
        line: u64,
        message: String,
    },

    /// A bad row in the deployment table; `line` is 1-based.
    #[error("{}:{line}: {message}", path.display())]
    Deployments {
        path: PathBuf,
        line: u64,
        message: String,
    },

    /// A bad row in the cost-center map; `line` is 1-based.
    #[error("{}:{line}: {message}", path.display())]
    CostCenters {
        path: PathBuf,
        line: u64,
        message: String,
    },

    /// A bad row or column in a Cost Management (FOCUS) export; `at` is the CSV
    /// line or `row N` of a Parquet file.
    #[error("{}:{at}: {message}", path.display())]
    Invoice {
        path: PathBuf,
        at: String,
        message: String,
    },

    /// The charges on one invoiced resource are priced in several currencies, so
    /// their proportions of its invoice would mean nothing.
    #[error(
        "resource {resource}: its deployments are priced in {currencies}; the invoice can only be shared by prices in one currency"
    )]
    InvoiceCurrencies { resource: String, currencies: String },

    #[error("no usage dataset at {}: {reason} (run `tokentally ingest` first)", path.display())]
    NoUsage { path: PathBuf, reason: &'static str },

    /// The dataset's object store could not be listed or read.
    #[error(transparent)]
    Store(#[from] tokentally_store::StoreError),

    /// Two price rows billed to one chargeback line disagree on the currency;
    /// adding them up would be meaningless.
    #[error("{line}: prices in different currencies apply ({rows}); one line must have one currency")]
    CurrencyConflict { line: String, rows: String },

    /// A cost or token sum that does not fit the output types: an error naming
    /// the rows, never a wrapped number.
    #[error("{line}: the sum of {what} overflows (it does not fit 64 bits); no report was written")]
    Overflow { line: String, what: &'static str },

    /// Token columns that cannot be split into billed classes (a negative count,
    /// or parts above their whole): rows written by something other than
    /// tokentally's ingest, which quarantines such calls.
    #[error("{rows}: {reason}")]
    InvalidTokens {
        rows: String,
        reason: tokentally_core::TokenError,
    },

    /// A usage Parquet file the report scan cannot read (corrupt, truncated, a
    /// column of a type that cannot be cast, a required column missing).
    #[error("{}: {reason}", path.display())]
    UsageFile { path: PathBuf, reason: String },

    #[error("{}: {source}", path.display())]
    File { path: PathBuf, source: std::io::Error },

    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),

    #[error("CSV error: {0}")]
    Csv(#[from] csv::Error),

    #[error("query error: {0}")]
    DataFusion(#[from] datafusion::error::DataFusionError),

    #[error("arrow error: {0}")]
    Arrow(#[from] arrow::error::ArrowError),

    #[error("parquet error: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),

    /// SQL that does not parse or plan (a typo, an unknown column): the query's
    /// fault, not the data's.
    #[error("{0}")]
    InvalidQuery(datafusion::error::DataFusionError),

    /// A query names a table the session does not have.
    #[error("no table named {name}; the tables are: {tables}")]
    UnknownTable { name: String, tables: String },

    /// SQL text with nothing to run (only whitespace or comments).
    #[error("no SQL statement (only whitespace or comments)")]
    NoStatement,

    /// A broken invariant inside tokentally, never bad input.
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Whether the error is in the SQL itself (parse, plan, unknown table),
    /// rather than in running it: the CLI reports those as usage errors.
    pub fn is_invalid_query(&self) -> bool {
        matches!(
            self,
            Self::InvalidQuery(_) | Self::UnknownTable { .. } | Self::NoStatement
        )
    }

    pub(crate) fn file(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::File { path, source }
    }
}
