/// What the shared Kafka pieces raise: a config that cannot be used (a missing or
/// empty secret, a bad Event Hubs section). Entra ID token failures are
/// [`crate::TokenError`], reported through librdkafka.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("config: {0}")]
    Config(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
