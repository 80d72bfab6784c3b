use std::path::PathBuf;

/// What went wrong reaching a location. Messages name the URL and what was
/// missing; they never hold a credential.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{url}: {reason}")]
    Url { url: String, reason: String },
    #[error("{url}: {source}{hint}")]
    Configure {
        url: String,
        hint: &'static str,
        #[source]
        source: object_store::Error,
    },
    #[error("{url}: {action}: {source}")]
    Request {
        url: String,
        action: &'static str,
        #[source]
        source: object_store::Error,
    },
    #[error("{}: {source}", path.display())]
    Local {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} from {}: {source}", path.display())]
    SecretFile {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("AWS profile `{profile}`: {reason}")]
    AwsProfile { profile: String, reason: String },
    #[error("{}: {reason}", path.display())]
    AwsFile { path: PathBuf, reason: String },
    #[error("starting the object-store runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
