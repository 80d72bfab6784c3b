/// Errors raised while turning usage records into Arrow data.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("arrow error: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// A broken invariant inside tokentally, never bad input.
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
