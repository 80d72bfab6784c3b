//! Broker → Parquet throughput against parse-only throughput of the same records.
//!
//! Needs a broker: `benches/kafka.sh` starts tansu and runs this with
//! `TOKENTALLY_BENCH_BROKER` set (`TOKENTALLY_BENCH_CALLS` records, default 20000).
//! Not a criterion bench: one run reads a topic once, and the figures that matter
//! are ratios on the same records, printed as JSON: wall clock (with the test
//! broker told not to hold fetches, see below), CPU time of this process (user
//! and system), and, under callgrind
//! (`benches/kafka.sh --instructions`), instructions. Both sides run with the
//! token-count cache warm (parse-only runs twice first), and each side's figure
//! is the best of two runs.

#![allow(clippy::print_stdout, clippy::unwrap_used)]

/// The `tokentally` binary's allocator, so both sides are timed as it runs them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer as _, ThreadedProducer};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};
use tokentally_core::SourcePosition;
use tokentally_ingest::{IngestOptions, KafkaConfig, ingest_kafka};

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let Ok(brokers) = std::env::var("TOKENTALLY_BENCH_BROKER") else {
        println!("TOKENTALLY_BENCH_BROKER is not set; run benches/kafka.sh");
        return;
    };
    let calls = env_number("TOKENTALLY_BENCH_CALLS", 20_000);
    let flush = env_number("TOKENTALLY_BENCH_FLUSH", 10_000);
    let config = tokentally_sample::SampleConfig {
        calls,
        ..tokentally_sample::SampleConfig::default()
    };
    let mut data = Vec::new();
    tokentally_sample::generate(&config, &mut data).unwrap();
    // TOKENTALLY_BENCH_ONE_DAY=1: the same records, all dated the 15th, as when
    // Event Hubs is read as traffic arrives (a flush then spans a day, not the
    // sample's month, so it writes one file per partition instead of 31).
    if std::env::var("TOKENTALLY_BENCH_ONE_DAY").is_ok_and(|v| v == "1") {
        one_day(&mut data);
    }
    let records: Vec<&[u8]> = data.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
    let bytes: usize = records.iter().map(|r| r.len()).sum();

    let position = SourcePosition {
        source: "bench".into(),
        partition: None,
        offset: 0,
    };
    // Wall clock and CPU time (one thread: the process's CPU time is this loop's),
    // so the CPU-time ratio below compares like with like on a busy machine.
    let (mut parse_secs, mut parse_cpu) = (f64::MAX, f64::MAX);
    for _ in 0..2 {
        let (start, cpu) = (Instant::now(), cpu_secs());
        parse_only_pass(&records, &position);
        parse_secs = parse_secs.min(start.elapsed().as_secs_f64());
        parse_cpu = parse_cpu.min(cpu_secs() - cpu);
    }

    // TOKENTALLY_BENCH_TOPIC and TOKENTALLY_BENCH_STAGE=produce|consume split the
    // run in two processes, so that a profiler of the second (`benches/kafka.sh
    // --instructions`) sees only parsing and ingesting, not the producer's threads.
    let topic = std::env::var("TOKENTALLY_BENCH_TOPIC")
        .unwrap_or_else(|_| format!("bench-{}-{calls}", std::process::id()));
    let stage = std::env::var("TOKENTALLY_BENCH_STAGE").unwrap_or_default();
    if stage != "consume" {
        produce(&brokers, &topic, &records);
    }
    if stage == "produce" {
        println!(
            "{}",
            serde_json::json!({"produced": records.len(), "topic": topic})
        );
        return;
    }

    // Best of two on both sides: parse-only is the best of two runs as well, and
    // on a shared machine a single run is biased against the side that runs once.
    // Each run is a fresh consumer group into a fresh directory.
    let rss_before = peak_rss_kib();
    let (mut kafka_secs, mut kafka_cpu, mut kafka_sleeps) = (f64::MAX, f64::MAX, u64::MAX);
    let mut kafka_system = f64::MAX;
    for run in 0..2 {
        let dir = tempfile::tempdir().unwrap();
        let mut kafka = KafkaConfig::new(brokers.clone(), vec![topic.clone()]);
        kafka.group_id = format!("{topic}-{}-{run}", std::process::id());
        kafka.flush_records = flush;
        // tansu answers a fetch only when `fetch.wait.max.ms` has passed, even with
        // records waiting (500 ms by default: about 20 MiB/s, a tenth of parsing).
        // At 10 ms it serves faster than the ingest reads, so the wall clock
        // measures tokentally, not the broker's wait.
        kafka
            .options
            .insert("fetch.wait.max.ms".to_owned(), "10".to_owned());
        // TOKENTALLY_BENCH_KAFKA_OPTIONS="key=value,...": librdkafka settings, as
        // `[kafka.options]` in a pipeline file.
        kafka
            .options
            .extend(env_options("TOKENTALLY_BENCH_KAFKA_OPTIONS"));
        let mut options = IngestOptions::new(dir.path());
        options.sink.max_buffered_rows = flush;
        let ((user_before, system_before), sleeps_before) = (user_system_secs(), sleeps());
        let start = Instant::now();
        let summary = ingest_pass(&kafka, &options);
        kafka_secs = kafka_secs.min(start.elapsed().as_secs_f64());
        let (user, system) = user_system_secs();
        kafka_cpu = kafka_cpu.min(user + system - user_before - system_before);
        kafka_sleeps = kafka_sleeps.min(sleeps() - sleeps_before);
        kafka_system = kafka_system.min(system - system_before);
        assert_eq!(summary.records as usize, records.len());
    }

    let mib = bytes as f64 / (1024.0 * 1024.0);
    let rate = |secs: f64| {
        serde_json::json!({
            "secs": (secs * 1000.0).round() / 1000.0,
            "records_per_sec": (records.len() as f64 / secs).round(),
            "mib_per_sec": (mib / secs * 10.0).round() / 10.0,
        })
    };
    let report = serde_json::json!({
        "records": records.len(),
        "mib": (mib * 10.0).round() / 10.0,
        "flush_records": flush,
        "one_day": std::env::var("TOKENTALLY_BENCH_ONE_DAY").is_ok_and(|v| v == "1"),
        "parse_only": rate(parse_secs),
        "broker_to_parquet": rate(kafka_secs),
        "ratio": ((parse_secs / kafka_secs) * 1000.0).round() / 1000.0,
        // What this process spent (all its threads: poll, parse, Parquet, librdkafka),
        // the broker's own work excluded: on one shared machine the broker can be the
        // bottleneck of the wall-clock figure.
        "broker_to_parquet_cpu": rate(kafka_cpu),
        "parse_only_cpu": rate(parse_cpu),
        "cpu_ratio": ((parse_cpu / kafka_cpu) * 1000.0).round() / 1000.0,
        "ingest_thread_sleeps": kafka_sleeps,
        // The kernel's share (socket reads, page faults, fsync): callgrind's
        // instruction counts do not see it.
        "broker_to_parquet_system_secs": (kafka_system * 100.0).round() / 100.0,
        "peak_rss_kib": {"before_ingest": rss_before, "after_ingest": peak_rss_kib()},
    });
    println!("{report}");
}

/// One parse-only pass; its own function so that a profile names its cost.
#[inline(never)]
fn parse_only_pass(records: &[&[u8]], position: &SourcePosition) {
    for record in records {
        let _ = std::hint::black_box(tokentally_parse::parse_record(record, position.clone()));
    }
}

/// One broker → Parquet run (until caught up); its own function for profiles too.
#[inline(never)]
fn ingest_pass(kafka: &KafkaConfig, options: &IngestOptions) -> tokentally_ingest::IngestSummary {
    ingest_kafka(kafka, options, &AtomicBool::new(false), &mut |_| {}).unwrap()
}

/// librdkafka settings from `NAME="key=value,..."`.
fn env_options(name: &str) -> Vec<(String, String)> {
    std::env::var(name)
        .unwrap_or_default()
        .split(',')
        .filter_map(|pair| pair.split_once('='))
        .map(|(key, value)| (key.trim().to_owned(), value.trim().to_owned()))
        .collect()
}

fn produce(brokers: &str, topic: &str, records: &[&[u8]]) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap();
    let new_topic = NewTopic::new(topic, 4, TopicReplication::Fixed(1));
    let created = block_on(admin.create_topics([&new_topic], &AdminOptions::new())).unwrap();
    for result in created {
        result.map_err(|(t, e)| format!("creating {t}: {e}")).unwrap();
    }
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "5")
        .set("message.max.bytes", "10000000");
    for (key, value) in env_options("TOKENTALLY_BENCH_PRODUCER_OPTIONS") {
        config.set(key, value);
    }
    let producer: ThreadedProducer<DefaultProducerContext> = config.create().unwrap();
    for (i, record) in records.iter().enumerate() {
        let key = i.to_string();
        let mut message = BaseRecord::to(topic).key(&key).payload(*record);
        // A full local queue is back-pressure: wait for deliveries, then retry.
        while let Err((_, back)) = producer.send(message) {
            message = back;
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    producer.flush(Duration::from_secs(120)).unwrap();
}

/// The admin API is async; a current-thread runtime is enough for one call.
fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// Rewrites every `"request_time":"YYYY-MM-DD` to the 15th of its month, in place
/// (same length, so nothing else in the records moves).
fn one_day(data: &mut [u8]) {
    let key = b"\"request_time\":\"";
    let mut i = 0;
    while let Some(at) = memchr::memmem::find(&data[i..], key) {
        let day = i + at + key.len() + 8;
        if let Some(slot) = data.get_mut(day..day + 2) {
            slot.copy_from_slice(b"15");
        }
        i = day;
    }
}

/// User + system CPU time of this process so far (all threads).
fn cpu_secs() -> f64 {
    let (user, system) = user_system_secs();
    user + system
}

/// User and system CPU time of this process so far (all threads), from /proc.
fn user_system_secs() -> (f64, f64) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return (0.0, 0.0);
    };
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let secs = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0) / 100.0;
    (secs(11), secs(12))
}

/// The process's peak resident set (VmHWM), in KiB; 0 where /proc is missing.
fn peak_rss_kib() -> u64 {
    status_field("/proc/self/status", "VmHWM:")
}

/// Times this thread (the one that polls and parses) went to sleep waiting: each
/// wake-up starts parsing with cold caches.
fn sleeps() -> u64 {
    status_field("/proc/thread-self/status", "voluntary_ctxt_switches:")
}

fn status_field(file: &str, field: &str) -> u64 {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
