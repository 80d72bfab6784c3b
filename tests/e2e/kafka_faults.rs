//! The delivery contract under injected faults (tokentally-ingest's `failpoints`
//! feature, on in this test build): a rename that fails, and a crash between the
//! renames and the offset commit. Offsets are read back with confluent-kafka and
//! the rows with DuckDB, so neither side trusts tokentally's own account.

use super::broker::{
    SESSION_TIMEOUT_MS, address, dataset_counts, kafka_config, produce, unique, wait_out_dead_members_session,
};
use super::kafka::{path_str, reference_chargeback, report};
use super::support::{command, repo_root, report_section, sample, stderr, stdout};
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const PARTITIONS: u32 = 2;

/// `ingest --config cfg` with the fail points in `faults` armed.
fn ingest_with_faults(dir: &Path, cfg: &Path, faults: &str) -> Output {
    command(dir, &["ingest", "--config", path_str(cfg)])
        .env("TOKENTALLY_FAILPOINTS", faults)
        .output()
        .expect("run tokentally")
}

/// The group's committed offset per partition (the next offset to read; 0: none).
fn committed(topic: &str, group: &str) -> Vec<i64> {
    let output = Command::new("python3")
        .arg(repo_root().join("tests/python/committed.py"))
        .args([&address(), topic, group, &PARTITIONS.to_string()])
        .output()
        .expect("python3");
    assert!(output.status.success(), "{}", stderr(&output));
    stdout(&output)
        .lines()
        .map(|l| {
            let offset: i64 = l
                .split_whitespace()
                .nth(1)
                .and_then(|o| o.parse().ok())
                .expect("offset");
            offset.max(0)
        })
        .collect()
}

/// Distinct offsets of `partition` below `end` that have a row in the dataset.
fn durable_below(out: &Path, topic: &str, partition: usize, end: i64) -> i64 {
    let glob = out.join("usage/*/*.parquet");
    let script = format!(
        "import duckdb; print(duckdb.connect().execute(\"select count(distinct source_offset) from read_parquet('{}', hive_partitioning=true) where source = '{topic}' and source_partition = {partition} and source_offset < {end}\").fetchone()[0])",
        glob.display()
    );
    let output = Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .expect("python3");
    assert!(output.status.success(), "{}", stderr(&output));
    stdout(&output).trim().parse().expect("count")
}

/// Every committed offset has its row on disk: nothing committed is lost.
fn assert_committed_is_durable(out: &Path, topic: &str, group: &str) -> Vec<i64> {
    let offsets = committed(topic, group);
    for (partition, &end) in offsets.iter().enumerate() {
        assert_eq!(
            durable_below(out, topic, partition, end),
            end,
            "partition {partition}: committed to {end} but not every record below it is durable"
        );
    }
    offsets
}

#[test]
fn a_failed_rename_fails_the_run_commits_nothing_undurable_and_a_rerun_is_exact() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = sample(dir.path(), "calls.jsonl", 1200, 21);
    let topic = unique("e2e-fault-rename");
    assert_eq!(produce(&topic, PARTITIONS, &[&file]), 1200);
    let cfg = kafka_config(dir.path(), "kafka.toml", &topic, &topic, "flush_records = 300");
    let out = dir.path().join("out");

    // Some flushes succeed; a later rename fails part-way through a flush.
    let failed = ingest_with_faults(dir.path(), &cfg, "sink::rename=5*off->return");
    assert!(
        !failed.status.success(),
        "the run must fail:\n{}",
        stderr(&failed)
    );
    assert!(
        stderr(&failed).contains("injected failure"),
        "{}",
        stderr(&failed)
    );
    let offsets = assert_committed_is_durable(&out, &topic, &topic);
    assert!(
        offsets.iter().sum::<i64>() < 1200,
        "the failure came after everything was committed: {offsets:?}"
    );

    let rerun = ingest_with_faults(dir.path(), &cfg, "");
    assert!(rerun.status.success(), "{}", stderr(&rerun));
    assert_eq!(dataset_counts(&out), (1200, 1200));
    assert_eq!(
        assert_committed_is_durable(&out, &topic, &topic)
            .iter()
            .sum::<i64>(),
        1200
    );
    assert_eq!(report(dir.path()), reference_chargeback(dir.path(), &file));
}

#[test]
fn a_crash_between_rename_and_commit_is_replayed_never_lost() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = sample(dir.path(), "calls.jsonl", 1200, 22);
    let topic = unique("e2e-fault-commit");
    assert_eq!(produce(&topic, PARTITIONS, &[&file]), 1200);
    let cfg = kafka_config(dir.path(), "kafka.toml", &topic, &topic, "flush_records = 300");
    let out = dir.path().join("out");

    // The third flush's files are renamed and fsynced, then the process dies.
    let crashed = ingest_with_faults(dir.path(), &cfg, "kafka::commit=2*off->return");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&crashed.status),
        Some(6),
        "expected an abort (SIGABRT):\n{}",
        stderr(&crashed)
    );
    let offsets = assert_committed_is_durable(&out, &topic, &topic);
    let (rows, _) = dataset_counts(&out);
    assert!(
        rows > u64::try_from(offsets.iter().sum::<i64>()).expect("offsets"),
        "the crash left no durable, uncommitted rows to replay: {rows} rows, committed {offsets:?}"
    );

    wait_out_dead_members_session();
    let rerun = ingest_with_faults(dir.path(), &cfg, "");
    assert!(rerun.status.success(), "{}", stderr(&rerun));
    assert_eq!(
        dataset_counts(&out),
        (1200, 1200),
        "replayed once, none lost, none twice"
    );
    assert_eq!(report(dir.path()), reference_chargeback(dir.path(), &file));
}

/// An until-caught-up run that shares its group with a live member holding
/// partitions it has not committed to their end never calls the topic caught up:
/// it waits for them, and fails naming them rather than exit 0 with those
/// partitions unread (the month's report would be short). The other member here
/// reads but commits only when it stops, as a stuck one would.
#[test]
fn an_until_caught_up_run_never_finishes_while_another_member_holds_unread_partitions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = sample(dir.path(), "calls.jsonl", 200, 23);
    let topic = unique("e2e-held-partitions");
    assert_eq!(produce(&topic, PARTITIONS, &[&file]), 200);
    let follow = kafka_config(
        dir.path(),
        "follow.toml",
        &topic,
        &topic,
        "mode = \"follow\"\nflush_interval_secs = 3600\nflush_records = 1000000",
    );
    // The follower must stay a member while the batch run waits: with the
    // suite's 6 s session, a heartbeat late under a full suite's load would let
    // the broker drop it and hand the batch run every partition. The batch run
    // keeps the short session, so its wait stays short.
    let text = std::fs::read_to_string(&follow).expect("read config").replace(
        &format!("\"session.timeout.ms\" = \"{SESSION_TIMEOUT_MS}\""),
        "\"session.timeout.ms\" = \"45000\"",
    );
    assert!(text.contains("45000"), "{text}");
    std::fs::write(&follow, text).expect("write config");
    let mut follower = Command::new(env!("CARGO_BIN_EXE_tokentally"))
        .args(["ingest", "--config", path_str(&follow)])
        .current_dir(dir.path())
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the follower");
    let log = follower.stderr.take().expect("stderr");
    let (assigned, first_assignment) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        for line in BufReader::new(log).lines().map_while(Result::ok) {
            if line.contains("partition assigned") {
                let _ = assigned.send(());
            }
            text.push_str(&line);
            text.push('\n');
        }
        text
    });
    // The follower, alone in the group, holds every partition first.
    let joined = first_assignment.recv_timeout(Duration::from_secs(60));
    // The batch run joins the same group: the group splits the partitions. Its
    // connect timeout leaves the rebalance time to assign it partitions under a
    // full suite's load, so it fails for the reason under test, not for none.
    let batch = dir.path().join("batch.toml");
    std::fs::write(
        &batch,
        format!(
            "[kafka]\nbrokers = {:?}\ntopics = [{topic:?}]\ngroup_id = {topic:?}\nconnect_timeout_secs = 10\n\n\
             [kafka.options]\n\"session.timeout.ms\" = \"{SESSION_TIMEOUT_MS}\"\n\n[output]\ndir = \"out-batch\"\n\n{}",
            address(),
            report_section()
        ),
    )
    .expect("write config");
    let batch_run = joined.is_ok().then(|| ingest_with_faults(dir.path(), &batch, ""));
    let _ = Command::new("kill")
        .args(["-TERM", &follower.id().to_string()])
        .status();
    let _ = follower.wait();
    let follower_log = reader.join().expect("log reader");
    let batch_run = batch_run.unwrap_or_else(|| panic!("the follower was never assigned:\n{follower_log}"));
    assert_eq!(
        batch_run.status.code(),
        Some(1),
        "the batch run must fail, not report a partial topic as caught up:\n{}",
        stderr(&batch_run)
    );
    assert!(
        stderr(&batch_run).contains("assigned to another member"),
        "{}",
        stderr(&batch_run)
    );
}
