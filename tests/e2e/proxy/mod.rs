//! The capture proxy against a fake AOAI upstream and the real broker (tansu):
//! no buffering, records equal to what the caller saw, failures on every side
//! recorded, the spool, shutdown, and the records through ingest and report.

mod adversarial;
mod calls;
mod outage;
mod pipeline;
mod upstream;

use super::broker;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::Message as _;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;
use std::io::Read as _;
use std::path::Path;
use std::time::{Duration, Instant};
use tokentally_proxy::{ProxyConfig, RunningProxy};

/// How long a test waits for something that should take well under a second.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// `tokentally ingest --json` over `topic` with a fresh consumer group, into
/// `dir/out`; its run summary.
pub fn ingest_topic(dir: &Path, topic: &str) -> Value {
    let config = broker::kafka_config(dir, "ingest.toml", topic, &broker::unique("proxy-ingest"), "");
    let args = ["ingest", "--config", config.to_str().expect("utf-8"), "--json"];
    let output = crate::support::tokentally(dir, &args, 0);
    serde_json::from_slice(&output.stdout).expect("summary JSON")
}

/// A one-partition topic no other test uses.
pub async fn topic(name: &str) -> String {
    let topic = broker::unique(name);
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", broker::address())
        .create()
        .expect("admin client");
    let results = admin
        .create_topics(
            &[NewTopic::new(&topic, 1, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        )
        .await
        .expect("create topic");
    for result in results {
        result.expect("topic created");
    }
    topic
}

/// Proxy config text: `upstream`, records to `brokers`/`topic`, spool under `dir`.
/// Producer settings keep one record per produce request (tansu's fetch of a
/// batch from its middle is unreliable) and give up on an absent broker quickly.
pub fn config_text(dir: &Path, upstream: &str, brokers: &str, topic: &str, extra_proxy: &str) -> String {
    format!(
        "[proxy]\nlisten = \"127.0.0.1:0\"\nupstreams = [{{ url = {upstream:?}, region = \"swedencentral\" }}]\n\
         api_key_salt = {{ file = \"salt.txt\" }}\nshutdown_timeout_secs = 20\n{extra_proxy}\n\n\
         [kafka]\nbrokers = {brokers:?}\ntopic = {topic:?}\nmax_event_bytes = 100000\n\n\
         [kafka.options]\n\"linger.ms\" = \"0\"\n\"batch.num.messages\" = \"1\"\n\"message.timeout.ms\" = \"3000\"\n\n\
         [spool]\ndir = {:?}\nretry_secs = 1\n",
        dir.join("spool")
    )
}

/// The secret the tests' APIM signs contexts with.
pub const CONTEXT_SECRET: &str = "e2e-context-secret";

/// `[proxy]` lines that make the proxy believe contexts signed with [`CONTEXT_SECRET`].
pub const TRUST: &str = "context_header = \"trust\"\ncontext_secret = { file = \"context-secret.txt\" }";

/// What APIM's route-streaming policy adds to a call: `context` as
/// `x-tokentally-context`, signed for a POST to `path` at `time` (unix seconds).
pub fn apim_headers(context: &Value, path: &str, time: i64) -> [(&'static str, String); 2] {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(context.to_string());
    let signature = tokentally_proxy::signature_header(CONTEXT_SECRET, time, "POST", path, &encoded);
    [
        (tokentally_proxy::CONTEXT_HEADER, encoded),
        (tokentally_proxy::SIGNATURE_HEADER, signature),
    ]
}

/// The proxy's clock, as the signatures use it.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

/// The path of a chat/completions call to `deployment`.
pub fn chat_path(deployment: &str) -> String {
    format!("/openai/deployments/{deployment}/chat/completions")
}

pub async fn start_proxy(dir: &Path, text: &str) -> RunningProxy {
    std::fs::write(dir.join("salt.txt"), "e2e-salt\n").expect("write salt");
    std::fs::write(dir.join("context-secret.txt"), CONTEXT_SECRET).expect("write context secret");
    let path = dir.join("proxy.toml");
    std::fs::write(&path, text).expect("write proxy config");
    let config = ProxyConfig::from_file(&path).expect("proxy config");
    tokentally_proxy::start(config).await.expect("proxy starts")
}

/// A fake upstream, a topic, and a proxy between them writing to `brokers`
/// (the real broker unless a test puts something in front of it).
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub upstream: upstream::Upstream,
    pub topic: String,
    pub proxy: RunningProxy,
}

impl Fixture {
    pub async fn start(name: &str) -> Self {
        Self::with(name, &broker::address(), "").await
    }

    /// `spool` is appended to the `[spool]` section.
    pub async fn with(name: &str, brokers: &str, spool: &str) -> Self {
        Self::configured(name, brokers, "", spool).await
    }

    /// `proxy` is added to the `[proxy]` section; `rest` (other sections, or lines
    /// of `[spool]`) is appended.
    pub async fn configured(name: &str, brokers: &str, proxy: &str, rest: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let upstream = upstream::start().await;
        let topic = topic(name).await;
        let mut text = config_text(dir.path(), &upstream.url(), brokers, &topic, proxy);
        text.push_str(rest);
        let proxy = start_proxy(dir.path(), &text).await;
        Self {
            dir,
            upstream,
            topic,
            proxy,
        }
    }

    /// Stops the proxy gracefully; its final counters.
    pub async fn stop(self) -> tokentally_proxy::StatsSnapshot {
        self.proxy.shutdown();
        self.proxy.wait().await.expect("the proxy stops cleanly")
    }
}

/// Who a test call claims to be.
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    /// An Entra ID app (a bearer token naming it).
    App(&'a str),
    /// An `api-key` header.
    Key(&'a str),
}

/// A chat/completions call to `deployment` through the proxy at `addr`, HTTP/1.1.
pub async fn call(
    addr: std::net::SocketAddr,
    deployment: &str,
    caller: Caller<'_>,
    stream: bool,
) -> reqwest::Response {
    let request = client(false)
        .post(format!(
            "http://{addr}/openai/deployments/{deployment}/chat/completions?api-version=2024-10-21"
        ))
        .json(&chat_body(stream));
    let request = match caller {
        Caller::App(app) => request.header("authorization", bearer(app)),
        Caller::Key(key) => request.header("api-key", key),
    };
    request.send().await.expect("the proxy answers")
}

/// An HTTP client for the proxy: HTTP/1.1, or HTTP/2 without TLS (prior knowledge).
pub fn client(http2: bool) -> reqwest::Client {
    let builder = reqwest::Client::builder().timeout(PATIENCE);
    let builder = if http2 {
        builder.http2_prior_knowledge()
    } else {
        builder.http1_only()
    };
    builder.build().expect("client")
}

pub fn chat_body(stream: bool) -> Value {
    serde_json::json!({
        "messages": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say hello."}],
        "stream": stream
    })
}

/// A JWT for app `app` with a recognisable signature, which must never be recorded.
pub fn bearer(app: &str) -> String {
    use base64::Engine as _;
    let enc = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let claims = serde_json::json!({"appid": app, "tid": "tenant-1", "oid": "obj-1", "name": "Ada Lovelace"});
    format!(
        "Bearer {}.{}.SIGNATURE-MUST-NOT-LEAK",
        enc.encode(br#"{"alg":"RS256","typ":"JWT"}"#),
        enc.encode(claims.to_string())
    )
}

/// Reads `count` records from the start of `topic`, inflating gzip ones. Returns
/// each as (raw event bytes, record JSON).
pub fn read_records(topic: &str, count: usize) -> Vec<(Vec<u8>, Value)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker::address())
        .set("group.id", broker::unique("proxy-reader"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, 0, Offset::Beginning)
        .expect("assignment");
    consumer.assign(&assignment).expect("assign");
    let deadline = Instant::now() + PATIENCE;
    let mut records = Vec::new();
    while records.len() < count {
        assert!(
            Instant::now() < deadline,
            "only {} of {count} records reached {topic}",
            records.len()
        );
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => {
                let raw = message.payload().unwrap_or_default().to_vec();
                records.push((raw.clone(), record_json(&raw)));
            }
            Some(Err(e)) => panic!("reading {topic}: {e}"),
            None => {}
        }
    }
    records
}

pub fn record_json(raw: &[u8]) -> Value {
    let mut text = Vec::new();
    if raw.starts_with(&[0x1f, 0x8b]) {
        flate2::read::GzDecoder::new(raw)
            .read_to_end(&mut text)
            .expect("gzip record inflates");
    } else {
        text = raw.to_vec();
    }
    serde_json::from_slice(&text).expect("record is JSON")
}

/// Waits until `check` holds, polling.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
