//! The real Kafka-compatible broker (tansu) the Kafka tests run against, started
//! once per test run by `scripts/test`, which exports its address. Every test uses
//! its own topic and consumer group, so tests share the broker safely.

use super::support::{repo_root, report_section, stdout};
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// The consumer session timeout every test config sets (`session.timeout.ms`):
/// short, so a member that died is dropped from its group within seconds.
pub const SESSION_TIMEOUT_MS: u64 = 6000;

/// `TOKENTALLY_FAILPOINTS` that holds an ingest at its sixth commit, after that
/// flush's files are durable and before its offsets are committed. A test that
/// kills the run once six files exist therefore kills it after some output and
/// before the end, at a point it chose rather than in a race with the child's
/// speed: five committed flushes and the sixth's renamed files are six files at
/// least, and the run cannot get past the sixth commit.
pub const HOLD_AT_SIXTH_COMMIT: &str = "kafka::commit=5*off->sleep(600000)";

/// SIGKILLs `child`, an ingest held by [`HOLD_AT_SIXTH_COMMIT`], once
/// `written()` counts six data files: after some durable output, before the
/// run could end. Fails when the run ends first or nothing appears within
/// `patience`.
pub fn kill_once_six_written(child: &mut Child, patience: Duration, written: impl Fn() -> usize) {
    let deadline = Instant::now() + patience;
    while written() < 6 {
        assert!(Instant::now() < deadline, "no output appeared");
        assert!(
            child.try_wait().expect("wait").is_none(),
            "finished before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
}

/// Waits until the broker has dropped a consumer that died without leaving its
/// group (SIGKILL, abort) before the test runs it again.
///
/// Kafka and Event Hubs hold a new member's join until the dead member's session
/// expires and then give the new member every partition, so a real rerun may start
/// at once. tansu 0.6 drops an expired member correctly when it notices at a join,
/// but when it notices at another member's heartbeat it keeps the group formed
/// with the old assignment (`Inner<_, Formed>::heartbeat`, and `sync` returning the
/// stored assignment): the dead member's partitions then stay assigned to no live
/// member, and the rerun, rightly, fails rather than call them caught up. Joining
/// after the session expired takes the first path every time.
pub fn wait_out_dead_members_session() {
    std::thread::sleep(Duration::from_millis(SESSION_TIMEOUT_MS + 1500));
}

/// The broker's address. Panics (never skips) when it is missing: the Kafka tests
/// must run wherever the suite runs.
pub fn address() -> String {
    std::env::var("TOKENTALLY_TEST_BROKER").unwrap_or_else(|_| {
        panic!(
            "TOKENTALLY_TEST_BROKER is not set: run the suite with scripts/test, which starts \
             the tansu broker, or start one and export its host:port"
        )
    })
}

/// A topic name no other test (or earlier run against the same broker) uses.
pub fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("{name}-{}-{nanos}", std::process::id())
}

/// Creates `topic` with `partitions` partitions and sends every line of `files`
/// with confluent-kafka, an independent client. Returns the number of events.
pub fn produce(topic: &str, partitions: u32, files: &[&Path]) -> usize {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let output = Command::new(&python)
        .arg(repo_root().join("tests/python/produce.py"))
        .arg(address())
        .arg(topic)
        .arg(partitions.to_string())
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("running {python}: {e} (scripts/test installs confluent-kafka)"));
    assert!(
        output.status.success(),
        "producing failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout(&output).trim().parse().expect("event count")
}

/// A pipeline config reading `topic` as consumer group `group` into `dir/out`.
pub fn kafka_config(dir: &Path, name: &str, topic: &str, group: &str, extra: &str) -> std::path::PathBuf {
    let text = format!(
        "[kafka]\nbrokers = {:?}\ntopics = [{topic:?}]\ngroup_id = {group:?}\nconnect_timeout_secs = 30\n{extra}\n\n\
         [kafka.options]\n\"session.timeout.ms\" = \"{SESSION_TIMEOUT_MS}\"\n\n[output]\ndir = \"out\"\n\n{}",
        address(),
        report_section()
    );
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write config");
    path
}

/// Rows and distinct event ids in the usage dataset, counted by DuckDB.
pub fn dataset_counts(out: &Path) -> (u64, u64) {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let glob = out.join("usage/*/*.parquet");
    let script = format!(
        "import duckdb; print(*duckdb.connect().execute(\"select count(*), count(distinct event_id) from read_parquet('{}', hive_partitioning=true)\").fetchone())",
        glob.display()
    );
    let output = Command::new(&python)
        .arg("-c")
        .arg(script)
        .output()
        .expect("python");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = stdout(&output);
    let mut numbers = text.split_whitespace().map(|n| n.parse::<u64>().expect("count"));
    (numbers.next().expect("rows"), numbers.next().expect("distinct"))
}
