//! Fast in-process tests against librdkafka's mock cluster. The real-broker tests
//! (tansu) are in `tests/e2e/kafka.rs`.

use super::*;
use rdkafka::ClientConfig;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer as _, ThreadedProducer};
use std::path::Path;
use std::time::Duration;

fn record(id: usize) -> String {
    format!(
        r#"{{"schema":1,"request_id":"req-{id}","request_time":"2026-10-0{}T12:00:00Z","caller":{{"subscription_id":"s1"}},"deployment":"gpt-4o","operation":"chat/completions","request":{{"messages":[{{"role":"user","content":"hi"}}]}},"response":{{"status":200,"body":{{"model":"gpt-4o","choices":[{{"index":0,"message":{{"content":"hello"}},"finish_reason":"stop"}}],"usage":{{"prompt_tokens":8,"completion_tokens":1,"total_tokens":9}}}}}}}}"#,
        1 + id % 3
    )
}

fn produce(brokers: &str, topic: &str, events: &[Vec<u8>]) {
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("producer");
    for (i, event) in events.iter().enumerate() {
        let key = i.to_string();
        producer
            .send(BaseRecord::to(topic).key(&key).payload(event))
            .map_err(|(e, _)| e)
            .expect("send");
    }
    producer.flush(Duration::from_secs(10)).expect("flush");
}

/// Sends `events` to partition `partition` of `topic`.
fn produce_to(brokers: &str, topic: &str, partition: i32, events: &[Vec<u8>]) {
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("producer");
    for event in events {
        producer
            .send(
                BaseRecord::<(), [u8]>::to(topic)
                    .partition(partition)
                    .payload(event.as_slice()),
            )
            .map_err(|(e, _)| e)
            .expect("send");
    }
    producer.flush(Duration::from_secs(10)).expect("flush");
}

fn config(brokers: &str, topic: &str) -> KafkaConfig {
    let mut config = KafkaConfig::new(brokers, vec![topic.to_owned()]);
    config.connect_timeout_secs = 20;
    config.flush_records = 7;
    config.options.insert("session.timeout.ms".into(), "6000".into());
    config
}

fn run(config: &KafkaConfig, out: &Path) -> IngestSummary {
    let stop = AtomicBool::new(false);
    ingest_kafka(config, &IngestOptions::new(out), &stop, &mut |_| {}).expect("ingest")
}

#[test]
fn reads_to_the_end_commits_and_a_second_run_reads_nothing() {
    let cluster = MockCluster::new(1).expect("mock cluster");
    cluster.create_topic("calls", 2, 1).expect("topic");
    let brokers = cluster.bootstrap_servers();
    let mut events: Vec<Vec<u8>> = (0..20).map(|i| record(i).into_bytes()).collect();
    events.push(b"{not json".to_vec());
    produce(&brokers, "calls", &events);

    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(&brokers, "calls");
    let first = run(&config, dir.path());
    assert_eq!(
        (first.records, first.rows_written, first.quarantined),
        (21, 20, 1)
    );
    assert_eq!(first.inputs, ["kafka:calls"]);
    let kafka = first.kafka.as_ref().expect("kafka summary");
    assert!(!kafka.interrupted && kafka.commits >= 1);
    assert_eq!(kafka.partitions.iter().map(|p| p.records).sum::<u64>(), 21);
    assert!(
        kafka
            .partitions
            .iter()
            .all(|p| p.lag == 0 && p.next_offset == p.high_watermark)
    );
    assert!(
        first.files_written.iter().all(|f| f
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("kafka-calls-p"))),
        "{:?}",
        first.files_written
    );

    let second = run(&config, dir.path());
    assert_eq!(
        (second.records, second.rows_written),
        (0, 0),
        "offsets were committed"
    );
}

/// The broker answers at once that the topic is missing; the run asks again until
/// `connect_timeout_secs` has passed (a topic may be created meanwhile), then
/// fails naming the topic and the broker address it asked.
#[test]
fn a_missing_topic_fails_after_the_bounded_wait_with_its_name() {
    let cluster = MockCluster::new(1).expect("mock cluster");
    let brokers = cluster.bootstrap_servers();
    let mut config = config(&brokers, "nope");
    config.connect_timeout_secs = 1;
    config
        .options
        .insert("allow.auto.create.topics".into(), "false".into());
    let dir = tempfile::tempdir().expect("tempdir");
    let stop = AtomicBool::new(false);
    let started = std::time::Instant::now();
    let err =
        ingest_kafka(&config, &IngestOptions::new(dir.path()), &stop, &mut |_| {}).expect_err("no topic");
    let waited = started.elapsed();
    let text = err.to_string();
    assert!(
        text.contains("`nope`") && text.contains(&brokers) && text.contains("connect_timeout_secs"),
        "{text}"
    );
    assert!(
        waited >= config.connect_timeout(),
        "gave up after {waited:?}, before connect_timeout_secs"
    );
}

#[test]
fn an_unreachable_broker_fails_after_the_bounded_wait() {
    let mut config = config("127.0.0.1:1", "calls");
    config.connect_timeout_secs = 1;
    let dir = tempfile::tempdir().expect("tempdir");
    let stop = AtomicBool::new(false);
    let err = ingest_kafka(&config, &IngestOptions::new(dir.path()), &stop, &mut |_| {}).expect_err("down");
    let text = err.to_string();
    assert!(text.contains("cannot reach the brokers at 127.0.0.1:1"), "{text}");
}

#[test]
fn config_checks_name_the_setting() {
    let mut config = KafkaConfig::new("b:9092", vec![]);
    assert!(
        config
            .validate()
            .expect_err("no topics")
            .to_string()
            .contains("topics")
    );
    config.topics = vec!["t".into()];
    config.options.insert("enable.auto.commit".into(), "true".into());
    assert!(
        config
            .validate()
            .expect_err("managed")
            .to_string()
            .contains("enable.auto.commit")
    );
}

#[test]
fn secrets_never_reach_debug_output() {
    let mut config = KafkaConfig::new("b:9092", vec!["t".into()]);
    config.options.insert("sasl.password".into(), "hunter2".into());
    assert!(!format!("{config:?}").contains("hunter2"));
}

/// A split record whose parts straddle two runs: the first run holds its commit
/// at the first part, the second reads that part again with the rest, and the
/// record becomes exactly one row.
#[test]
fn a_split_record_waits_for_its_parts_across_runs() {
    use std::io::Write as _;
    let cluster = MockCluster::new(1).expect("mock cluster");
    cluster.create_topic("split", 1, 1).expect("topic");
    let brokers = cluster.bootstrap_servers();
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(record(99).as_bytes()).expect("gzip");
    let whole = gzip.finish().expect("gzip");
    let parts = tokentally_kafka::split_event("req-99", &whole, 300);
    assert!(parts.len() >= 2, "{} parts", parts.len());
    produce(&brokers, "split", &[record(0).into_bytes(), parts[0].clone()]);

    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(&brokers, "split");
    let first = run(&config, dir.path());
    assert_eq!((first.records, first.rows_written, first.quarantined), (2, 1, 0));

    produce(&brokers, "split", &parts[1..]);
    let second = run(&config, dir.path());
    assert_eq!(
        (second.records, second.rows_written, second.quarantined),
        (parts.len() as u64, 1, 0),
        "the held part is read again with the rest"
    );
    let third = run(&config, dir.path());
    assert_eq!(
        (third.records, third.rows_written),
        (0, 0),
        "committed past the record now"
    );
}

/// An LLM-log call whose message rows and token row straddle a flush: the call
/// is held across it (the commit waiting at its first record) and written once,
/// with its reported tokens, never as two partial rows.
#[test]
fn an_llm_log_call_split_over_two_flushes_is_one_row() {
    use crate::envelope::llm_tests::{Form, call};
    let cluster = MockCluster::new(1).expect("mock cluster");
    cluster.create_topic("llm", 1, 1).expect("topic");
    let brokers = cluster.bootstrap_servers();
    let [token, request, response] = call(Form::ResourceLog, "straddle", "Hi", "Hello!", (1200, 80));
    let export = |records: &[serde_json::Value]| {
        serde_json::to_vec(&serde_json::json!({ "records": records })).expect("json")
    };
    let events = [
        export(&[response, request]),
        record(1).into_bytes(),
        record(2).into_bytes(),
        export(&[token]),
    ];
    produce(&brokers, "llm", &events);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = config(&brokers, "llm");
    config.flush_records = 2;
    let summary = run(&config, dir.path());
    assert_eq!(
        (summary.records, summary.rows_written, summary.partial_rows),
        (4, 3, 0),
        "{summary:?}"
    );
    assert!(
        summary.kafka.as_ref().is_some_and(|k| k.commits >= 2),
        "a flush came between"
    );
    let again = run(&config, dir.path());
    assert_eq!(again.records, 0, "committed past the call once it was written");
}

/// Rows are flushed by bytes as well as by count.
#[test]
fn flushes_come_by_bytes_as_well_as_rows() {
    let cluster = MockCluster::new(1).expect("mock cluster");
    cluster.create_topic("bytes", 1, 1).expect("topic");
    let brokers = cluster.bootstrap_servers();
    let events: Vec<Vec<u8>> = (0..6).map(|i| record(i).into_bytes()).collect();
    produce(&brokers, "bytes", &events);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = config(&brokers, "bytes");
    config.flush_records = 1_000;
    config.flush_bytes = 1;
    let summary = run(&config, dir.path());
    assert_eq!(summary.rows_written, 6);
    assert!(
        summary.kafka.as_ref().is_some_and(|k| k.commits >= 6),
        "{summary:?}"
    );
}

/// An until-caught-up run that caught up leaves no LLM-log call pending: one
/// still held at the last flush is written (partial, with what it has) in a
/// flush that read nothing new, named `-r1`, and committed past.
#[test]
fn held_llm_log_calls_are_written_when_the_run_catches_up() {
    use crate::envelope::llm_tests::{Form, call};
    let cluster = MockCluster::new(1).expect("mock cluster");
    cluster.create_topic("pending", 1, 1).expect("topic");
    let brokers = cluster.bootstrap_servers();
    let [_, request, _] = call(Form::LogAnalytics, "no-token-row", "Hi", "", (1, 1));
    let export = serde_json::to_vec(&serde_json::json!({ "records": [request] })).expect("json");
    produce(&brokers, "pending", &[export, record(1).into_bytes()]);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = config(&brokers, "pending");
    config.flush_records = 1;
    let summary = run(&config, dir.path());
    assert_eq!(
        (summary.rows_written, summary.partial_rows),
        (2, 1),
        "{summary:?}"
    );
    assert!(
        summary
            .files_written
            .iter()
            .any(|f| f.to_string_lossy().contains("-p0-0-1-r1-")),
        "{:?}",
        summary.files_written
    );
    assert_eq!(run(&config, dir.path()).records, 0, "committed past the call");
}

/// The wiring librdkafka relies on: a consumer configured for OAUTHBEARER asks its
/// context for a token through its queue, and a poll serves the request. (The
/// token sources themselves are tested in `tokentally-kafka`.)
#[test]
fn a_consumer_polls_its_first_token_from_the_source() {
    use super::context::IngestContext;
    use rdkafka::consumer::BaseConsumer;
    use std::io::{BufRead as _, BufReader, Write as _};
    use std::net::TcpListener;
    use tokentally_kafka::{Credential, CredentialKind, EntraToken};

    // A fake managed-identity endpoint: reports the request line of the first request.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("address"));
    let (tx, seen) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let Ok((stream, _)) = listener.accept() else {
            return;
        };
        let mut reader = BufReader::new(stream);
        let mut request_line = String::new();
        let _ = reader.read_line(&mut request_line);
        let _ = tx.send(request_line.trim().to_owned());
        let reply = r#"{"access_token":"consumer-tok","expires_in":"3600"}"#;
        let _ = write!(
            reader.into_inner(),
            "HTTP/1.1 200 X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
            reply.len()
        );
    });
    let vars = [
        ("IDENTITY_ENDPOINT", endpoint),
        ("IDENTITY_HEADER", "h".to_owned()),
    ];
    let credential = Credential::from_env_with(CredentialKind::ManagedIdentity, None, &|name: &str| {
        vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone())
    })
    .expect("credential");
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let consumer: BaseConsumer<IngestContext> = ClientConfig::new()
        .set("bootstrap.servers", format!("127.0.0.1:{port}"))
        .set("security.protocol", "SASL_PLAINTEXT")
        .set("sasl.mechanisms", "OAUTHBEARER")
        .set("group.id", "oauth-test")
        .create_with_context(IngestContext::new(Some(std::sync::Arc::new(EntraToken::new(
            credential,
            "contoso.servicebus.windows.net",
        )))))
        .expect("consumer");
    for _ in 0..50 {
        let _ = consumer.poll(Duration::from_millis(100));
        if let Ok(request_line) = seen.try_recv() {
            assert!(
                request_line.starts_with("GET /?api-version=2019-08-01&resource="),
                "{request_line}"
            );
            return;
        }
    }
    panic!("the consumer never asked for a token");
}

/// A topic of split records that never complete: what a partition holds stays
/// under `max_held_bytes` during the run (the oldest parts are given up, with the
/// bound as their reason), and the records behind them are still read.
#[test]
fn held_parts_past_max_held_bytes_are_given_up_during_the_run() {
    let cluster = MockCluster::new(1).expect("mock cluster");
    cluster.create_topic("unfinished", 1, 1).expect("topic");
    let brokers = cluster.bootstrap_servers();
    let mut events: Vec<Vec<u8>> = (0..12)
        .map(|i| {
            let parts =
                tokentally_kafka::split_event(&format!("req-unfinished-{i}"), record(i).as_bytes(), 200);
            assert!(parts.len() > 1);
            parts[0].clone()
        })
        .collect();
    let part = events[0].len();
    events.push(record(99).into_bytes());
    produce(&brokers, "unfinished", &events);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut options = IngestOptions::new(dir.path());
    // Room for about three parts.
    options.max_held_bytes = 3 * part + part / 2;
    options.max_event_bytes = options.max_held_bytes;
    let stop = AtomicBool::new(false);
    let summary =
        ingest_kafka(&config(&brokers, "unfinished"), &options, &stop, &mut |_| {}).expect("ingest");
    assert_eq!(
        summary.rows_written, 1,
        "the whole record behind the parts: {summary:?}"
    );
    assert!(summary.quarantined >= 8, "{summary:?}");
    let reasons: Vec<String> = summary
        .quarantine_files
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .expect("quarantine")
                .lines()
                .map(|l| {
                    let entry: serde_json::Value = serde_json::from_str(l).expect("entry");
                    entry["reason"].as_str().unwrap_or_default().to_owned()
                })
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(reasons.len() as u64, summary.quarantined);
    assert!(
        reasons.iter().all(|r| r.contains("passed max_held_bytes")),
        "{reasons:#?}"
    );
}

/// A signal that stops an until-caught-up run before it caught up (another member
/// of its group holds a partition nobody has read) keeps the LLM-log calls still
/// held: they are not written partial as at the end of a caught-up run, and the
/// commit waits at them, so the next run reads the call again and writes it once.
#[test]
fn a_run_stopped_before_catching_up_keeps_held_llm_log_calls_for_the_next_run() {
    use crate::envelope::llm_tests::{Form, call};
    use rdkafka::consumer::{BaseConsumer, Consumer as _};
    use std::sync::Arc;
    use std::sync::atomic::Ordering;
    let cluster = MockCluster::new(1).expect("mock cluster");
    cluster.create_topic("stopped", 2, 1).expect("topic");
    let brokers = cluster.bootstrap_servers();
    for partition in 0..2 {
        let [_, request, _] = call(Form::LogAnalytics, &format!("held-{partition}"), "Hi", "", (1, 1));
        let export = serde_json::to_vec(&serde_json::json!({ "records": [request] })).expect("json");
        let gateway = record(usize::try_from(partition).expect("partition")).into_bytes();
        produce_to(&brokers, "stopped", partition, &[export, gateway]);
    }
    let mut config = config(&brokers, "stopped");
    // Shorter than the session timeout, so the wait for the other member's
    // partition is the sum of the two (a difference would not fit a `Duration`).
    config.connect_timeout_secs = 4;

    // The other member: takes what the group gives it and never commits, as a
    // stuck one would.
    let member_stop = Arc::new(AtomicBool::new(false));
    let (assigned, first_assignment) = std::sync::mpsc::channel();
    let member = std::thread::spawn({
        let (brokers, group, stop) = (brokers.clone(), config.group_id.clone(), Arc::clone(&member_stop));
        move || {
            let member: BaseConsumer = ClientConfig::new()
                .set("bootstrap.servers", &brokers)
                .set("group.id", &group)
                .set("enable.auto.commit", "false")
                .set("session.timeout.ms", "6000")
                .create()
                .expect("member");
            member.subscribe(&["stopped"]).expect("subscribe");
            while !stop.load(Ordering::Relaxed) {
                let _ = member.poll(Duration::from_millis(100));
                if member.assignment().is_ok_and(|a| a.count() > 0) {
                    let _ = assigned.send(());
                }
            }
        }
    });
    first_assignment
        .recv_timeout(Duration::from_secs(30))
        .expect("the other member was assigned");

    let dir = tempfile::tempdir().expect("tempdir");
    let stop = AtomicBool::new(false);
    let stopped = ingest_kafka(&config, &IngestOptions::new(dir.path()), &stop, &mut |p| {
        if p.records >= 2 {
            stop.store(true, Ordering::Relaxed);
        }
    })
    .expect("ingest");
    member_stop.store(true, Ordering::Relaxed);
    member.join().expect("member");

    assert!(
        stopped.kafka.as_ref().is_some_and(|k| k.interrupted),
        "the run must have been stopped, not have caught up: {stopped:?}"
    );
    assert_eq!(
        (stopped.records, stopped.rows_written, stopped.partial_rows),
        (2, 1, 0),
        "the gateway record written, the LLM-log call held: {stopped:?}"
    );
    let next = run(&config, dir.path());
    assert_eq!(
        (next.records, next.rows_written, next.partial_rows),
        (4, 4, 2),
        "both partitions read whole, the held call's from the call on: {next:?}"
    );
}

/// In follow mode, what was read is written and committed every
/// `flush_interval_secs`, however few the rows.
#[test]
fn follow_mode_writes_on_its_interval() {
    use std::sync::atomic::Ordering;
    use std::time::Instant;
    let cluster = MockCluster::new(1).expect("mock cluster");
    cluster.create_topic("interval", 1, 1).expect("topic");
    let brokers = cluster.bootstrap_servers();
    produce(&brokers, "interval", &[record(1).into_bytes()]);
    let mut config = config(&brokers, "interval");
    config.mode = Mode::Follow;
    config.flush_interval_secs = 1;
    let dir = tempfile::tempdir().expect("tempdir");
    let usage = dir.path().join("usage");
    // Progress counts rows as they are read; a file in the dataset is a flush.
    let flushed = || {
        std::fs::read_dir(&usage)
            .into_iter()
            .flatten()
            .flatten()
            .flat_map(|day| std::fs::read_dir(day.path()).into_iter().flatten().flatten())
            .any(|f| f.path().extension().is_some_and(|e| e == "parquet"))
    };
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    let mut flushed_while_running = false;
    let summary = ingest_kafka(&config, &IngestOptions::new(dir.path()), &stop, &mut |_| {
        // The stop's own flush writes the row too, and a last progress report
        // follows it: only what was there before the stop counts.
        if stop.load(Ordering::Relaxed) {
            return;
        }
        flushed_while_running |= flushed();
        // Stop once the row was written, or after long enough to tell it never was.
        if flushed_while_running || started.elapsed() > Duration::from_secs(20) {
            stop.store(true, Ordering::Relaxed);
        }
    })
    .expect("ingest");
    assert!(flushed_while_running, "{summary:?}");
    assert_eq!(summary.rows_written, 1);
}
