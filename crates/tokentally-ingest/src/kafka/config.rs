//! The `[kafka]` section of a pipeline config, and how it becomes librdkafka
//! settings. Secrets (the Event Hubs connection string, passwords in `options`)
//! are read from the environment or a file at start and never printed: `Debug`
//! redacts them.

use crate::{Error, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;
use tokentally_kafka::{ClientRole, Connection, EventHubsConfig, connection_config, redacted};

/// Reading a Kafka topic (or an Event Hub through its Kafka endpoint) into the dataset.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaConfig {
    /// `bootstrap.servers`. For Event Hubs it defaults to
    /// `<namespace>.servicebus.windows.net:9093`, taken from the connection string.
    #[serde(default)]
    pub brokers: Option<String>,
    /// Topics (Event Hubs: event hub names) to read.
    pub topics: Vec<String>,
    /// Consumer group. Offsets are committed under it; replicas share it to split
    /// the partitions.
    #[serde(default = "default_group_id")]
    pub group_id: String,
    /// `until-caught-up` (batch: read to the end seen at start, then exit) or
    /// `follow` (run until SIGTERM/Ctrl-C).
    #[serde(default)]
    pub mode: Mode,
    /// Rows held before files are written and offsets committed; bounds memory.
    #[serde(default = "default_flush_records")]
    pub flush_records: usize,
    /// Bytes of rows (what their column builders hold) before files are written
    /// and offsets committed, whichever of this and `flush_records` comes first;
    /// bounds memory when rows are large.
    #[serde(default = "default_flush_bytes")]
    pub flush_bytes: usize,
    /// In `follow` mode, the longest time a read record waits before it is written
    /// and its offset committed.
    #[serde(default = "default_flush_interval_secs")]
    pub flush_interval_secs: u64,
    /// How long to keep retrying an unreachable broker (or one that rejects the
    /// credentials) before an `until-caught-up` run fails.
    #[serde(default = "default_connect_timeout_secs")]
    pub connect_timeout_secs: u64,
    /// Azure Event Hubs: where to find the namespace connection string.
    #[serde(default)]
    pub event_hubs: Option<EventHubsConfig>,
    /// Any other librdkafka setting, passed through (`security.protocol`,
    /// `sasl.mechanisms`, `ssl.ca.location` …). Values of keys naming a password or
    /// secret are redacted in logs.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

/// How long a run lasts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Read every assigned partition up to the high-water mark seen when it was
    /// assigned, write, commit, exit: for cron, systemd timers, Kubernetes CronJobs.
    #[default]
    UntilCaughtUp,
    /// Long-running: flush every `flush_records` rows or `flush_interval_secs`;
    /// SIGTERM/Ctrl-C flushes, commits and exits.
    Follow,
}

fn default_group_id() -> String {
    "tokentally".to_owned()
}
fn default_flush_records() -> usize {
    100_000
}
fn default_flush_bytes() -> usize {
    crate::sink::DEFAULT_MAX_BUFFERED_BYTES
}
fn default_flush_interval_secs() -> u64 {
    60
}
fn default_connect_timeout_secs() -> u64 {
    60
}

impl fmt::Debug for KafkaConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let options = redacted(&self.options);
        f.debug_struct("KafkaConfig")
            .field("brokers", &self.brokers)
            .field("topics", &self.topics)
            .field("group_id", &self.group_id)
            .field("mode", &self.mode)
            .field("flush_records", &self.flush_records)
            .field("flush_bytes", &self.flush_bytes)
            .field("flush_interval_secs", &self.flush_interval_secs)
            .field("connect_timeout_secs", &self.connect_timeout_secs)
            .field("event_hubs", &self.event_hubs)
            .field("options", &options)
            .finish()
    }
}

impl KafkaConfig {
    /// A config reading `topics` from `brokers` with every other setting at its default.
    pub fn new(brokers: impl Into<String>, topics: Vec<String>) -> Self {
        Self {
            brokers: Some(brokers.into()),
            topics,
            group_id: default_group_id(),
            mode: Mode::default(),
            flush_records: default_flush_records(),
            flush_bytes: default_flush_bytes(),
            flush_interval_secs: default_flush_interval_secs(),
            connect_timeout_secs: default_connect_timeout_secs(),
            event_hubs: None,
            options: BTreeMap::new(),
        }
    }

    /// Cross-field checks, so a bad config fails before anything connects.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::Config(msg));
        if self.topics.is_empty() || self.topics.iter().any(|t| t.trim().is_empty()) {
            return bad("[kafka] topics must name at least one topic, none empty".into());
        }
        if self.group_id.trim().is_empty() {
            return bad("[kafka] group_id is empty".into());
        }
        if self.flush_records == 0 || self.flush_bytes == 0 || self.flush_interval_secs == 0 {
            return bad(
                "[kafka] flush_records, flush_bytes and flush_interval_secs must be at least 1".into(),
            );
        }
        if self.brokers.is_none() && self.event_hubs.is_none() {
            return bad("[kafka] needs `brokers`, or an [kafka.event_hubs] connection string".into());
        }
        for key in [
            "enable.auto.commit",
            "enable.auto.offset.store",
            "enable.partition.eof",
            "group.id",
        ] {
            if self.options.contains_key(key) {
                return bad(format!(
                    "[kafka.options] {key} is managed by tokentally (offsets are committed only after files are durable)"
                ));
            }
        }
        if self
            .options
            .get("partition.assignment.strategy")
            .is_some_and(|s| s.contains("cooperative"))
        {
            return bad("[kafka.options] partition.assignment.strategy: cooperative rebalancing is not supported; use range or roundrobin".into());
        }
        if let Some(eh) = &self.event_hubs {
            eh.validate()?;
        }
        Ok(())
    }

    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_secs)
    }

    /// The group's session timeout (librdkafka's default unless set in `options`):
    /// a member that died without leaving keeps its partitions this long.
    pub fn session_timeout(&self) -> Duration {
        let ms = self
            .options
            .get("session.timeout.ms")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(if self.event_hubs.is_some() {
                tokentally_kafka::CONSUMER_SESSION_TIMEOUT_MS
            } else {
                45_000
            });
        Duration::from_millis(ms)
    }

    pub fn flush_interval(&self) -> Duration {
        Duration::from_secs(self.flush_interval_secs)
    }

    /// The librdkafka settings of the consumer (Microsoft's recommended ones for
    /// Event Hubs, then `options`); reads the Event Hubs secret.
    pub(crate) fn client_config(&self) -> Result<Connection> {
        self.validate()?;
        let mut connection = connection_config(
            self.brokers.as_deref(),
            self.event_hubs.as_ref(),
            ClientRole::Consumer,
        )?;
        connection
            .config
            .set("group.id", &self.group_id)
            .set("client.id", "tokentally")
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "true");
        for (key, value) in &self.options {
            connection.config.set(key, value);
        }
        Ok(connection)
    }
}
