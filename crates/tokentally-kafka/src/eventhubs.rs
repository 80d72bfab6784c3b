//! Azure Event Hubs through its Kafka endpoint: where the namespace is, how to
//! authenticate (a connection string, or Entra ID with the identity the workload
//! has), and the client settings Microsoft recommends for it. Shared by every Kafka
//! client tokentally makes: the ingest consumer and the capture proxy's producer.

use crate::entra::{Credential, CredentialKind, EntraToken};
use crate::{Error, Result};
use rdkafka::ClientConfig;
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;

/// How tokentally reaches an Event Hubs namespace. Exactly one way: a connection
/// string (from the environment or a file, never the config itself), or the
/// namespace's name with an Entra ID credential (OAUTHBEARER), for namespaces
/// whose shared-access keys are disabled.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventHubsConfig {
    /// Environment variable holding `Endpoint=sb://…;SharedAccessKeyName=…;SharedAccessKey=…`.
    #[serde(default)]
    pub connection_string_env: Option<String>,
    /// File holding it (a mounted Kubernetes secret, a systemd credential).
    #[serde(default)]
    pub connection_string_file: Option<PathBuf>,
    /// Entra ID instead of a key: the namespace (`contoso-logs`, or its host
    /// `contoso-logs.servicebus.windows.net`). Tokens are requested for
    /// `https://<host>/.default`.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Which Entra ID identity to use with `namespace`: `auto` (the default:
    /// a service principal's secret from `AZURE_CLIENT_SECRET`, else workload
    /// identity from `AZURE_FEDERATED_TOKEN_FILE`, else managed identity),
    /// `client_secret`, `workload_identity` or `managed_identity`.
    #[serde(default)]
    pub credential: CredentialKind,
    /// A user-assigned managed identity's client id (`managed_identity` and
    /// `auto`); the system-assigned identity when absent.
    #[serde(default)]
    pub managed_identity_client_id: Option<String>,
}

/// Which kind of client a connection is for: the recommended settings differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientRole {
    Consumer,
    Producer,
}

/// librdkafka settings plus, for Entra ID, the token source the client's context
/// must serve OAUTHBEARER refreshes from.
#[derive(Debug)]
pub struct Connection {
    pub config: ClientConfig,
    pub oauth: Option<Arc<EntraToken>>,
}

/// The consumer's session timeout on Event Hubs (`RECOMMENDED`).
pub const CONSUMER_SESSION_TIMEOUT_MS: u64 = 30_000;

/// Microsoft's recommended client settings for the Event Hubs Kafka endpoint
/// ("Recommended configurations for Apache Kafka clients", librdkafka section),
/// applied before the user's `options`, which may override any of them.
pub const RECOMMENDED: &[RecommendedSetting] = &[
    RecommendedSetting {
        key: "socket.keepalive.enable",
        value: "true",
        role: None,
        why: "Azure closes inbound TCP connections idle for more than 240 s",
    },
    RecommendedSetting {
        key: "metadata.max.age.ms",
        value: "180000",
        role: None,
        why: "refresh metadata (and so use the connection) inside the 240 s idle cut-off",
    },
    RecommendedSetting {
        key: "connections.max.idle.ms",
        value: "180000",
        role: None,
        why: "close idle connections before Azure drops them silently at 240 s",
    },
    RecommendedSetting {
        key: "session.timeout.ms",
        value: "30000", // CONSUMER_SESSION_TIMEOUT_MS
        role: Some(ClientRole::Consumer),
        why: "lower values make consumers time out and rebalance in a loop",
    },
    RecommendedSetting {
        key: "heartbeat.interval.ms",
        value: "3000",
        role: Some(ClientRole::Consumer),
        why: "a tenth of the session timeout",
    },
    RecommendedSetting {
        key: "request.timeout.ms",
        value: "60000",
        role: Some(ClientRole::Producer),
        why: "Event Hubs holds requests up to 20 s internally; shorter client timeouts misfire",
    },
];

/// One recommended librdkafka setting and the reason for it (docs/operations.md
/// lists them from here).
#[derive(Debug, Clone, Copy)]
pub struct RecommendedSetting {
    pub key: &'static str,
    pub value: &'static str,
    /// `None`: both consumers and producers.
    pub role: Option<ClientRole>,
    pub why: &'static str,
}

impl EventHubsConfig {
    /// Exactly one way to authenticate.
    pub fn validate(&self) -> Result<()> {
        let ways = usize::from(self.connection_string_env.is_some())
            + usize::from(self.connection_string_file.is_some())
            + usize::from(self.namespace.is_some());
        if ways != 1 {
            return Err(Error::Config(
                "[kafka.event_hubs] needs exactly one of connection_string_env, connection_string_file, namespace (Entra ID)"
                    .into(),
            ));
        }
        if self.namespace.is_none()
            && (self.credential != CredentialKind::Auto || self.managed_identity_client_id.is_some())
        {
            return Err(Error::Config(
                "[kafka.event_hubs] credential and managed_identity_client_id apply only with namespace (Entra ID)"
                    .into(),
            ));
        }
        if let Some(namespace) = &self.namespace {
            namespace_host(namespace)?;
        }
        Ok(())
    }
}

/// Where the brokers are and how to authenticate: Event Hubs (SASL PLAIN with the
/// namespace connection string, or OAUTHBEARER with Entra ID) and/or an explicit
/// `brokers` list, with Microsoft's recommended settings for Event Hubs.
pub fn connection_config(
    brokers: Option<&str>,
    event_hubs: Option<&EventHubsConfig>,
    role: ClientRole,
) -> Result<Connection> {
    let mut config = ClientConfig::new();
    let mut oauth = None;
    if let Some(eh) = event_hubs {
        eh.validate()?;
        if let Some(namespace) = &eh.namespace {
            let host = namespace_host(namespace)?;
            let credential =
                Credential::from_environment(eh.credential, eh.managed_identity_client_id.as_deref())
                    .map_err(|e| Error::Config(format!("[kafka.event_hubs] {e}")))?;
            let token = EntraToken::new(credential, &host);
            config
                .set("bootstrap.servers", format!("{host}:9093"))
                .set("security.protocol", "SASL_SSL")
                .set("sasl.mechanisms", "OAUTHBEARER");
            oauth = Some(Arc::new(token));
        } else {
            let secret = read_connection_string(eh)?;
            let host = event_hubs_host(&secret)?;
            config
                .set("bootstrap.servers", format!("{host}:9093"))
                .set("security.protocol", "SASL_SSL")
                .set("sasl.mechanisms", "PLAIN")
                .set("sasl.username", "$ConnectionString")
                .set("sasl.password", secret);
        }
        for setting in RECOMMENDED.iter().filter(|s| s.role.is_none_or(|r| r == role)) {
            config.set(setting.key, setting.value);
        }
    }
    if let Some(brokers) = brokers {
        config.set("bootstrap.servers", brokers);
    }
    Ok(Connection { config, oauth })
}

fn read_connection_string(eh: &EventHubsConfig) -> Result<String> {
    crate::read_secret(
        "kafka.event_hubs",
        "namespace connection string",
        eh.connection_string_env.as_deref(),
        eh.connection_string_file.as_deref(),
    )
}

/// `contoso` or `contoso.servicebus.windows.net` → `contoso.servicebus.windows.net`.
pub(crate) fn namespace_host(namespace: &str) -> Result<String> {
    let namespace = namespace.trim().trim_end_matches('/');
    let namespace = namespace.strip_prefix("sb://").unwrap_or(namespace);
    let valid = !namespace.is_empty()
        && namespace
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if !valid {
        return Err(Error::Config(format!(
            "[kafka.event_hubs] namespace {namespace:?} is not an Event Hubs namespace name or host"
        )));
    }
    Ok(if namespace.contains('.') {
        namespace.to_ascii_lowercase()
    } else {
        format!("{}.servicebus.windows.net", namespace.to_ascii_lowercase())
    })
}

/// `Endpoint=sb://<ns>.servicebus.windows.net/;…` → `<ns>.servicebus.windows.net`.
/// The error names the part that is wrong, never the secret.
pub(crate) fn event_hubs_host(connection_string: &str) -> Result<String> {
    let endpoint = connection_string
        .split(';')
        .filter_map(|part| part.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("Endpoint"))
        .map(|(_, v)| v.trim())
        .ok_or_else(|| {
            Error::Config("the Event Hubs connection string has no Endpoint=sb://… part".into())
        })?;
    let host = endpoint
        .strip_prefix("sb://")
        .map(|rest| rest.trim_end_matches('/'))
        .filter(|host| !host.is_empty() && !host.contains('/'))
        .ok_or_else(|| {
            Error::Config(
                "the Event Hubs connection string's Endpoint is not sb://<namespace>.servicebus.windows.net/"
                    .into(),
            )
        })?;
    Ok(host.to_owned())
}

#[cfg(test)]
mod tests;
