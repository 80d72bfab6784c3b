//! `pipelines/proxy.toml`: where the proxy listens, which AOAI endpoints it may
//! forward to, where records go and where they wait while the broker is away.
//! Secrets (the Event Hubs connection string, the API-key salt, the secret APIM
//! signs its context header with) are read from the environment or a file, never
//! from this file.

use crate::error::{Error, IoContext as _, Result};
use crate::limits::Limits;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokentally_kafka::EventHubsConfig;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfig {
    pub proxy: ListenConfig,
    pub kafka: ProducerConfig,
    #[serde(default)]
    pub spool: SpoolConfig,
    #[serde(default)]
    pub limits: Limits,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenConfig {
    /// `host:port` to accept calls on (APIM's backend URL points here).
    pub listen: SocketAddr,
    /// The AOAI endpoints calls may go to. The first is the default; APIM names
    /// another with `upstream` in `x-tokentally-context`, and anything not listed
    /// here is refused, so the header cannot send traffic elsewhere.
    pub upstreams: Vec<Upstream>,
    /// Whether `x-tokentally-context` (request id, time, caller, upstream written by
    /// APIM's route-streaming policy) is believed. `ignore` (the default): the
    /// proxy reads the caller from the credentials itself and keeps its own request
    /// id and time. `trust`: only with `context_secret`, and only a context whose
    /// signature checks; any other call is refused (400).
    #[serde(default)]
    pub context_header: ContextHeader,
    /// The secret APIM signs `x-tokentally-context` with (HMAC-SHA256, the named
    /// value `tokentally-context-secret`). Required with `context_header = "trust"`.
    #[serde(default)]
    pub context_secret: Option<SecretSource>,
    /// How far the time in a context's signature may be from the proxy's clock, in
    /// seconds, either way: a captured header is worthless after this long.
    #[serde(default = "default_context_max_skew_secs")]
    pub context_max_skew_secs: u64,
    /// Serve TLS (HTTP/2 by ALPN) with this certificate; plain HTTP (HTTP/1.1 and
    /// HTTP/2 prior knowledge) when absent.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// Fingerprints of `api-key` headers are salted with a secret so a fingerprint
    /// cannot be checked against guessed keys. Without it key-based callers are
    /// recorded without a fingerprint.
    #[serde(default)]
    pub api_key_salt: Option<SecretSource>,
    /// How long a shutdown waits for in-flight calls (streams) to finish.
    #[serde(default = "default_shutdown_timeout_secs")]
    pub shutdown_timeout_secs: u64,
    /// Connect timeout to an upstream.
    #[serde(default = "default_connect_timeout_secs")]
    pub connect_timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upstream {
    /// `https://<resource>.openai.azure.com` (scheme, host and optional port only).
    pub url: String,
    /// The Azure region, written into each record.
    #[serde(default)]
    pub region: Option<String>,
}

/// Who may say who pays: the credentials (`ignore`) or APIM's signed context (`trust`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ContextHeader {
    Trust,
    #[default]
    Ignore,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain.
    pub cert_file: PathBuf,
    /// PEM private key.
    pub key_file: PathBuf,
}

/// A secret named by where it lives.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretSource {
    #[serde(default)]
    pub env: Option<String>,
    #[serde(default)]
    pub file: Option<PathBuf>,
}

/// The Kafka producer the records go to.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProducerConfig {
    #[serde(default)]
    pub brokers: Option<String>,
    /// Topic (Event Hubs: event hub) the records are sent to.
    pub topic: String,
    #[serde(default)]
    pub event_hubs: Option<EventHubsConfig>,
    /// Largest event the broker takes (Event Hubs: 1 MB). Bigger records are sent
    /// gzip-compressed; a record still too big compressed waits in the spool's
    /// `oversized/` folder and is counted as lost.
    #[serde(default = "default_max_event_bytes")]
    pub max_event_bytes: usize,
    /// Any other librdkafka producer setting, passed through.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

impl fmt::Debug for ProducerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProducerConfig")
            .field("brokers", &self.brokers)
            .field("topic", &self.topic)
            .field("event_hubs", &self.event_hubs)
            .field("max_event_bytes", &self.max_event_bytes)
            .field("options", &tokentally_kafka::redacted(&self.options))
            .finish()
    }
}

/// Where records wait while the broker cannot take them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpoolConfig {
    #[serde(default = "default_spool_dir")]
    pub dir: PathBuf,
    /// Past this many bytes new records are lost (counted, logged as errors).
    #[serde(default = "default_spool_max_bytes")]
    pub max_bytes: u64,
    /// How often spooled records are offered to the broker again.
    #[serde(default = "default_retry_secs")]
    pub retry_secs: u64,
}

impl Default for SpoolConfig {
    fn default() -> Self {
        Self {
            dir: default_spool_dir(),
            max_bytes: default_spool_max_bytes(),
            retry_secs: default_retry_secs(),
        }
    }
}

fn default_context_max_skew_secs() -> u64 {
    300
}
fn default_shutdown_timeout_secs() -> u64 {
    120
}
fn default_connect_timeout_secs() -> u64 {
    10
}
fn default_max_event_bytes() -> usize {
    1_000_000
}
fn default_spool_dir() -> PathBuf {
    PathBuf::from("spool")
}
fn default_spool_max_bytes() -> u64 {
    1 << 30
}
fn default_retry_secs() -> u64 {
    5
}

impl ProxyConfig {
    /// Reads and checks a config file; relative paths in it are taken from the
    /// file's folder, so the proxy can be started from anywhere.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).context(|| format!("reading {}", path.display()))?;
        let mut config: Self = toml::from_str(&text).map_err(|source| Error::ConfigSyntax {
            path: path.to_owned(),
            source: Box::new(source),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        config.resolve_paths(base);
        config.validate()?;
        Ok(config)
    }

    fn resolve_paths(&mut self, base: &Path) {
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        resolve(&mut self.spool.dir);
        if let Some(tls) = &mut self.proxy.tls {
            resolve(&mut tls.cert_file);
            resolve(&mut tls.key_file);
        }
        for secret in [&mut self.proxy.api_key_salt, &mut self.proxy.context_secret] {
            if let Some(file) = secret.as_mut().and_then(|s| s.file.as_mut()) {
                resolve(file);
            }
        }
    }

    /// Cross-field checks, so a bad config fails before anything listens.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: &str| Err(Error::Config(msg.to_owned()));
        if self.proxy.upstreams.is_empty() {
            return bad("[proxy] upstreams must name at least one AOAI endpoint");
        }
        for upstream in &self.proxy.upstreams {
            origin(&upstream.url)?;
        }
        if self.kafka.topic.trim().is_empty() {
            return bad("[kafka] topic is empty");
        }
        if self.kafka.brokers.is_none() && self.kafka.event_hubs.is_none() {
            return bad(
                "[kafka] needs `brokers`, or [kafka.event_hubs] (a connection string or an Entra ID namespace)",
            );
        }
        if let Some(eh) = &self.kafka.event_hubs {
            eh.validate()?;
        }
        if self.kafka.max_event_bytes < 1024 {
            return bad("[kafka] max_event_bytes must be at least 1024");
        }
        for (name, secret) in [
            ("api_key_salt", &self.proxy.api_key_salt),
            ("context_secret", &self.proxy.context_secret),
        ] {
            if let Some(secret) = secret
                && secret.env.is_some() == secret.file.is_some()
            {
                return bad(&format!("[proxy.{name}] needs exactly one of env, file"));
            }
        }
        if self.proxy.context_header == ContextHeader::Trust && self.proxy.context_secret.is_none() {
            return bad(
                "[proxy] context_header = \"trust\" needs context_secret: the proxy believes a context only with APIM's signature on it",
            );
        }
        if self.proxy.context_max_skew_secs == 0 {
            return bad("[proxy] context_max_skew_secs must be at least 1");
        }
        self.limits.validate()?;
        if self.spool.retry_secs == 0 {
            return bad("[spool] retry_secs must be at least 1");
        }
        Ok(())
    }

    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.proxy.shutdown_timeout_secs)
    }
}

impl SecretSource {
    /// The secret's value; the error names where it was looked for, never a value.
    pub fn read(&self, section: &str) -> Result<String> {
        Ok(tokentally_kafka::read_secret(
            section,
            "secret",
            self.env.as_deref(),
            self.file.as_deref(),
        )?)
    }
}

/// `scheme://host[:port]` of an upstream URL, lower-cased, without a trailing
/// slash: the form the allow-list is compared in.
pub fn origin(url: &str) -> Result<String> {
    let bad = || {
        Error::Config(format!(
            "upstream {url:?} is not an http(s)://host[:port] URL (no path, query or credentials)"
        ))
    };
    let url = url.trim().trim_end_matches('/');
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    let scheme = scheme.to_ascii_lowercase();
    if !matches!(scheme.as_str(), "http" | "https")
        || rest.is_empty()
        || rest.contains(['/', '?', '#', '@', ' '])
    {
        return Err(bad());
    }
    Ok(format!("{scheme}://{}", rest.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalized_and_paths_refused() {
        assert_eq!(
            origin("HTTPS://AOAI.openai.azure.com/").ok().as_deref(),
            Some("https://aoai.openai.azure.com")
        );
        assert!(origin("https://a.example/openai").is_err());
        assert!(origin("ftp://a.example").is_err());
        assert!(origin("https://user:pw@a.example").is_err());
    }

    #[test]
    fn unknown_keys_are_refused_with_their_place() {
        let text = "[proxy]\nlisten = \"127.0.0.1:0\"\nupstreams = [{ url = \"http://a\" }]\nlisten_port = 1\n\n[kafka]\nbrokers = \"b\"\ntopic = \"t\"\n";
        let err = toml::from_str::<ProxyConfig>(text)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("listen_port"), "{err}");
    }

    #[test]
    fn the_shipped_config_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipelines/proxy.toml");
        let config = ProxyConfig::from_file(&path).map_err(|e| e.to_string());
        let config = config.as_ref().map(|c| {
            (
                c.proxy.upstreams.len(),
                c.spool.dir.ends_with("spool"),
                c.proxy.context_header,
                &c.limits,
            )
        });
        // Safe as shipped: the context is not believed, and every limit is set
        // (to its default, so the file documents them).
        assert_eq!(config, Ok((2, true, ContextHeader::Ignore, &Limits::default())));
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        for name in [
            "max_connections",
            "max_calls",
            "header_read_timeout_secs",
            "upstream_idle_timeout_secs",
        ] {
            assert!(
                text.contains(&format!("\n{name} = ")),
                "{name} not spelled out in proxy.toml"
            );
        }
    }

    #[test]
    fn defaults_and_checks() {
        let text = "[proxy]\nlisten = \"127.0.0.1:0\"\nupstreams = [{ url = \"http://a:8080\", region = \"x\" }]\n\n[kafka]\nbrokers = \"b\"\ntopic = \"t\"\n";
        let config: ProxyConfig = toml::from_str(text).expect("parses");
        assert!(config.validate().is_ok());
        assert_eq!(config.proxy.context_header, ContextHeader::Ignore);
        assert_eq!(config.kafka.max_event_bytes, 1_000_000);
        let mut no_topic = config.clone();
        no_topic.kafka.topic = " ".into();
        assert!(no_topic.validate().is_err());
        let mut no_upstream = config.clone();
        no_upstream.proxy.upstreams.clear();
        assert!(no_upstream.validate().is_err());
        let mut unsigned_trust = config;
        unsigned_trust.proxy.context_header = ContextHeader::Trust;
        let err = unsigned_trust
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("context_secret"), "{err}");
    }
}
