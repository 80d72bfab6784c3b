/// Why a gateway record could not become a usage row. Every variant ends up in
/// quarantine with the record's raw bytes and source position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("not valid UTF-8 at byte {0}")]
    InvalidUtf8(usize),
    #[error("not a JSON object: {0}")]
    InvalidJson(String),
    #[error("unknown gateway record schema {0} (this build reads schema 1)")]
    UnknownSchema(String),
    #[error("missing required field `{0}`")]
    MissingField(&'static str),
    #[error("invalid `{field}`: {reason}")]
    InvalidField { field: &'static str, reason: String },
}

impl ParseError {
    /// A short stable name for summaries and quarantine files.
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::InvalidUtf8(_) => "invalid_utf8",
            Self::InvalidJson(_) => "invalid_json",
            Self::UnknownSchema(_) => "unknown_schema",
            Self::MissingField(_) => "missing_field",
            Self::InvalidField { .. } => "invalid_field",
        }
    }
}
