//! What the ingest consumer and the capture proxy share about Kafka and Event
//! Hubs: how a client reaches Event Hubs (connection string or Entra ID, and
//! Microsoft's recommended settings), Entra ID tokens served to librdkafka's
//! OAUTHBEARER refreshes, secrets read from the environment or a file, the
//! redaction of secret-looking librdkafka options, and the split-record format
//! (the proxy splits, ingest joins).
//!
//! Kept small on purpose: the proxy depends on it instead of on ingest, so it
//! builds without Parquet and Avro.

mod entra;
mod error;
mod eventhubs;
mod oauth;
mod redact;
mod secret;
mod split;

pub use entra::{AccessToken, Credential, CredentialKind, EntraToken, TokenError};
pub use error::{Error, Result};
pub use eventhubs::{
    CONSUMER_SESSION_TIMEOUT_MS, ClientRole, Connection, EventHubsConfig,
    RECOMMENDED as EVENT_HUBS_RECOMMENDED, RecommendedSetting, connection_config,
};
pub use oauth::{OAuthContext, oauth_token};
pub use redact::redacted;
pub use secret::read_secret;
pub use split::{MARKER, MAX_PARTS, PartEvent, PartHeader, is_part, split_event};
