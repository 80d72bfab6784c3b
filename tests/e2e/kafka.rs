//! Kafka ingest against the real broker: events produced by an independent client,
//! consumed by the real binary, and the dataset read back by DuckDB and pyarrow.
//! Each test compares with the same records ingested from a file, so "the totals
//! are equal" means byte-identical chargeback files.

use super::broker::{
    HOLD_AT_SIXTH_COMMIT, dataset_counts, kafka_config, kill_once_six_written, produce, unique,
    wait_out_dead_members_session,
};
use super::support::{as_strs, check_outputs, command, config, report_args, sample, stdout, tokentally};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The chargeback CSV of the records in `file`, ingested from the file.
pub(super) fn reference_chargeback(dir: &Path, file: &Path) -> String {
    let reference = dir.join("reference");
    std::fs::create_dir_all(&reference).expect("mkdir");
    let cfg = config(&reference, &[file]);
    tokentally(&reference, &["run", "--config", cfg.to_str().expect("utf-8")], 0);
    std::fs::read_to_string(reference.join("out/chargeback-2026-10.csv")).expect("reference chargeback")
}

pub(super) fn report(dir: &Path) -> String {
    tokentally(dir, &as_strs(&report_args("out", &[])), 0);
    std::fs::read_to_string(dir.join("out/chargeback-2026-10.csv")).expect("chargeback")
}

pub(super) fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8")
}

#[test]
fn topic_to_chargeback_until_caught_up_equals_the_file_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = sample(dir.path(), "calls.jsonl", 1500, 11);
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, b"{oops\n\xff\xfe\n{\"schema\":9}\n").expect("write");
    let topic = unique("e2e-run");
    assert_eq!(produce(&topic, 4, &[&file, &bad]), 1503);
    let cfg = kafka_config(dir.path(), "kafka.toml", &topic, &topic, "flush_records = 400");

    let output = tokentally(dir.path(), &["run", "--config", path_str(&cfg), "--json"], 0);
    // With --json, `run` prints one JSON object: the ingest summaries and the report.
    let run: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("JSON run");
    assert_eq!(run["report"]["totals"]["calls"], 1500);
    let summary = &run["ingest"][0];
    assert_eq!(summary["records"], 1503);
    assert_eq!(summary["quarantined"], 3);
    // Each bad event is kept with its topic, partition and offset.
    let kept: Vec<serde_json::Value> = summary["quarantine_files"]
        .as_array()
        .expect("files")
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f.as_str().expect("path"))
                .expect("read")
                .lines()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .map(|l| serde_json::from_str(&l).expect("entry"))
        .collect();
    assert_eq!(kept.len(), 3);
    assert!(
        kept.iter()
            .all(|e| e["source"] == topic.as_str() && e["partition"].is_i64() && e["offset"].is_i64())
    );
    let partitions = summary["kafka"]["partitions"].as_array().expect("partitions");
    assert_eq!(partitions.len(), 4);
    assert!(partitions.iter().all(|p| p["lag"] == 0), "{partitions:?}");

    let out = dir.path().join("out");
    assert_eq!(dataset_counts(&out), (1500, 1500));
    check_outputs(&out, "2026-10");
    let chargeback = std::fs::read_to_string(out.join("chargeback-2026-10.csv")).expect("chargeback");
    assert_eq!(chargeback, reference_chargeback(dir.path(), &file));

    // A second run of the same group has nothing to read: offsets were committed.
    let again = tokentally(dir.path(), &["ingest", "--config", path_str(&cfg), "--json"], 0);
    let again: serde_json::Value = serde_json::from_str(&stdout(&again)).expect("json");
    assert_eq!(again["records"], 0);

    // A new group replays the whole topic into the same dataset: rows are
    // rewritten, never added twice.
    let replay = kafka_config(
        dir.path(),
        "replay.toml",
        &topic,
        &unique("replay"),
        "flush_records = 250",
    );
    tokentally(dir.path(), &["ingest", "--config", path_str(&replay)], 0);
    assert_eq!(dataset_counts(&out), (1500, 1500));
    assert_eq!(report(dir.path()), chargeback);
}

#[test]
fn killed_mid_run_then_restarted_gives_the_uninterrupted_totals() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = sample(dir.path(), "calls.jsonl", 4000, 12);
    let topic = unique("e2e-kill");
    assert_eq!(produce(&topic, 4, &[&file]), 4000);
    let cfg = kafka_config(dir.path(), "kafka.toml", &topic, &topic, "flush_records = 200");

    let mut child = command(dir.path(), &["ingest", "--config", path_str(&cfg)])
        .env("TOKENTALLY_FAILPOINTS", HOLD_AT_SIXTH_COMMIT)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn tokentally");
    // Kill (SIGKILL: no flush, no commit) once some files are durable; the run is
    // held at its sixth commit, so it is not done.
    let usage = dir.path().join("out/usage");
    kill_once_six_written(&mut child, Duration::from_secs(60), || {
        parquet_files(&usage).len()
    });
    let (rows_before, _) = dataset_counts(&dir.path().join("out"));
    assert!(rows_before < 4000, "the kill came too late to test anything");

    wait_out_dead_members_session();
    tokentally(dir.path(), &["ingest", "--config", path_str(&cfg)], 0);
    assert_eq!(dataset_counts(&dir.path().join("out")), (4000, 4000));
    assert_eq!(report(dir.path()), reference_chargeback(dir.path(), &file));
}

#[test]
fn two_consumers_in_one_group_split_the_partitions_and_match_one_consumer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = sample(dir.path(), "calls.jsonl", 3000, 13);
    let topic = unique("e2e-scale");
    assert_eq!(produce(&topic, 4, &[&file]), 3000);
    let cfg = kafka_config(dir.path(), "kafka.toml", &topic, &topic, "flush_records = 300");

    let args = ["ingest", "--config", path_str(&cfg), "--json"];
    let (a, b) = (spawn(dir.path(), &args, true), spawn(dir.path(), &args, true));
    let mut partitions_seen = Vec::new();
    for child in [a, b] {
        let output = child.wait_with_output().expect("wait");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
        partitions_seen.push(summary["kafka"]["partitions"].as_array().map_or(0, Vec::len));
    }
    assert_eq!(dataset_counts(&dir.path().join("out")), (3000, 3000));
    assert_eq!(report(dir.path()), reference_chargeback(dir.path(), &file));
    // Both processes held partitions at the end (the group split the topic).
    assert!(partitions_seen.iter().sum::<usize>() >= 4, "{partitions_seen:?}");
}

#[test]
fn follow_mode_flushes_on_its_interval_and_sigterm_commits_before_exit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = sample(dir.path(), "calls.jsonl", 800, 14);
    let topic = unique("e2e-follow");
    assert_eq!(produce(&topic, 2, &[&file]), 800);
    let extra = "mode = \"follow\"\nflush_interval_secs = 1\nflush_records = 100000";
    let cfg = kafka_config(dir.path(), "follow.toml", &topic, &topic, extra);
    let mut child = spawn(
        dir.path(),
        &["ingest", "--config", path_str(&cfg), "--json"],
        true,
    );
    // The interval flush makes rows durable while the process keeps running.
    let out = dir.path().join("out");
    let deadline = Instant::now() + Duration::from_secs(60);
    while parquet_files(&out.join("usage")).is_empty() || dataset_counts(&out).0 < 800 {
        assert!(Instant::now() < deadline, "follow mode never flushed");
        assert!(
            child.try_wait().expect("wait").is_none(),
            "follow mode exited on its own"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    let output = child.wait_with_output().expect("wait");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(summary["kafka"]["interrupted"], true);
    assert_eq!(dataset_counts(&out), (800, 800));
    // Everything read was committed: a batch run of the same group finds nothing new.
    let batch = kafka_config(dir.path(), "batch.toml", &topic, &topic, "");
    let again = tokentally(dir.path(), &["ingest", "--config", path_str(&batch), "--json"], 0);
    let again: serde_json::Value = serde_json::from_str(&stdout(&again)).expect("json");
    assert_eq!(again["records"], 0);
}

#[test]
fn an_unreachable_broker_fails_with_a_clear_error_after_the_bounded_wait() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("down.toml");
    std::fs::write(
        &cfg,
        "[kafka]\nbrokers = \"127.0.0.1:1\"\ntopics = [\"t\"]\nconnect_timeout_secs = 2\n",
    )
    .expect("write");
    // A runtime failure (1), not a usage error (2): the config itself is valid.
    let output = tokentally(dir.path(), &["ingest", "--config", path_str(&cfg)], 1);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot reach the brokers") && stderr.contains("connect_timeout_secs"),
        "{stderr}"
    );
}

/// Starts `tokentally` without waiting; `capture` pipes its output (read it with
/// `wait_with_output`), else it is discarded so a full pipe cannot stall the process.
pub fn spawn(dir: &Path, args: &[&str], capture: bool) -> Child {
    let io = || if capture { Stdio::piped() } else { Stdio::null() };
    command(dir, args)
        .stdout(io())
        .stderr(io())
        .spawn()
        .expect("spawn tokentally")
}

fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for day in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        for f in std::fs::read_dir(day.path()).into_iter().flatten().flatten() {
            if f.path().extension().is_some_and(|e| e == "parquet") {
                found.push(f.path());
            }
        }
    }
    found
}
