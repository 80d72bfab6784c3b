//! Where tokentally reads and writes: a local folder, or a folder in object storage
//! (ADLS Gen2 / Azure Blob, S3, GCS) named by URL.
//!
//! Writers always write a local staging folder first, exactly as they do for a
//! local output, and hand each finished file to [`Remote::upload_file`], which
//! puts it whole under its deterministic name: a reader never sees half an
//! object, and a retry or replay overwrites the same object. Credentials come
//! from the environment the way each cloud's own tools read them
//! ([`credentials`]); no secret is ever logged or put in an error.

mod aws_profile;
mod blocking;
pub mod credentials;
mod error;
mod location;
mod transfer;

pub use blocking::BlockingRemote;
pub use error::{Result, StoreError};
pub use location::{Location, Remote, is_url};
pub use object_store::ObjectStore;
