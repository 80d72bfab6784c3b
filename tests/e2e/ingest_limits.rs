//! Inputs built to exhaust the ingest's memory, through the real binary: a gzip
//! bomb on Kafka and split-record parts that never complete. Each is quarantined
//! with its reason and the run goes on (docs/security.md, "Ingest limits").

use super::broker::{address, kafka_config, unique};
use super::kafka::path_str;
use super::support::{repo_root, stderr, stdout, tokentally};
use base64::Engine as _;
use serde_json::Value;
use std::process::Command;
use tokentally_testdata::gateway::Call;

fn summary(output: &std::process::Output) -> Value {
    serde_json::from_str(&stdout(output)).unwrap_or_else(|e| panic!("{e}: {}", stdout(output)))
}

/// One gzip event that inflates to 64 MiB (64 KiB on the wire): inflated only up
/// to the event limit, then quarantined as `oversized`; the call beside it is
/// still ingested.
#[test]
fn a_gzip_bomb_on_kafka_is_quarantined_not_inflated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let topic = unique("e2e-gzip-bomb");
    let good = Call::chat("good-1", "app").to_json();
    let script = r#"
import gzip, sys
sys.path.insert(0, sys.argv[1])
from produce import create_topic
from confluent_kafka import Producer
brokers, topic, good = sys.argv[2], sys.argv[3], sys.argv[4]
create_topic(brokers, topic, 1)
bomb = gzip.compress(b'{"schema": 1, "pad": "' + b"0" * (64 << 20) + b'"}', compresslevel=9)
p = Producer({"bootstrap.servers": brokers, "linger.ms": 0, "message.max.bytes": 10000000})
p.produce(topic, value=bomb, key=b"0")
p.flush(30)
p.produce(topic, value=good.encode(), key=b"1")
assert p.flush(30) == 0
print(len(bomb))
"#;
    let produced = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(repo_root().join("tests/python"))
        .args([&address(), &topic, &good.to_string()])
        .output()
        .expect("python3");
    assert!(produced.status.success(), "{}", stderr(&produced));
    let wire: usize = stdout(&produced).trim().parse().expect("size");
    assert!(wire < 1 << 20, "the bomb is small on the wire: {wire}");
    let cfg = kafka_config(dir.path(), "kafka.toml", &topic, &topic, "");
    let run = tokentally(dir.path(), &["ingest", "--config", path_str(&cfg), "--json"], 0);
    let s = summary(&run);
    assert_eq!(s["quarantined_by_kind"]["oversized"], 1, "{s}");
    assert_eq!(s["rows_written"], 1, "{s}");
    assert!(
        s["quarantine_examples"][0]
            .as_str()
            .is_some_and(|e| e.contains("inflates past the event limit")),
        "{s}"
    );
}

/// First parts of split records whose other parts never come: held only up to
/// `[input] max_held_bytes`, oldest given up first, each quarantined as
/// `incomplete_split_record`; the whole call after them is ingested.
#[test]
fn split_parts_that_never_complete_are_bounded_and_quarantined() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = base64::engine::general_purpose::STANDARD.encode([b'x'; 3000]);
    let mut lines: Vec<String> = (0..40)
        // Written as the proxy writes them: the part header first (how ingest tells
        // a part from a gateway record without parsing it).
        .map(|i| {
            format!(r#"{{"tokentally_part":{{"record":"never-{i}","index":0,"count":2}},"data":"{data}"}}"#)
        })
        .collect();
    lines.push(Call::chat("whole-1", "app").to_json().to_string());
    std::fs::write(dir.path().join("parts.jsonl"), lines.join("\n") + "\n").expect("write");
    let cfg = dir.path().join("limits.toml");
    std::fs::write(
        &cfg,
        "[input]\nfiles = [\"parts.jsonl\"]\nmax_event_bytes = 8192\nmax_held_bytes = 16384\n\n[output]\ndir = \"out\"\n",
    )
    .expect("write config");
    let run = tokentally(dir.path(), &["ingest", "--config", path_str(&cfg), "--json"], 0);
    let s = summary(&run);
    assert_eq!(s["quarantined_by_kind"]["incomplete_split_record"], 40, "{s}");
    assert_eq!(s["rows_written"], 1, "{s}");
    // Given up for memory while the file was still being read, not all at its end.
    let examples = s["quarantine_examples"].to_string();
    assert!(
        examples.contains("passed max_held_bytes (16384 bytes)"),
        "{examples}"
    );
}
