//! The usage dataset and reports in object storage: `ingest` and `report` against
//! Azurite (abfss:// / az://) and moto's S3 server, started by `scripts/test`
//! (`scripts/lake`). Objects are read back with clients tokentally does not use
//! (the Azure Storage Blob SDK for Python, boto3) into a local folder that the
//! local checkers (DuckDB, pyarrow, Spark) then read.

use super::broker::{
    HOLD_AT_SIXTH_COMMIT, SESSION_TIMEOUT_MS, address, dataset_counts, kill_once_six_written, produce,
    unique, wait_out_dead_members_session,
};
use super::kafka::{path_str, reference_chargeback};
use super::support::{
    as_strs, check_outputs, repo_root, report_args, report_section, sample, stderr, stdout,
};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// An emulator's endpoint from the environment `scripts/test` sets up. Panics
/// (never skips) when it is missing.
fn endpoint(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: run the suite with scripts/test, which starts the emulators (scripts/lake)")
    })
}

/// One of the two emulated stores, with a container or bucket of its own.
struct Lake {
    kind: &'static str,
    endpoint: String,
    bucket: String,
}

impl Lake {
    fn azurite(name: &str) -> Self {
        Self::new("azure", endpoint("TOKENTALLY_TEST_AZURITE"), name)
    }

    fn s3(name: &str) -> Self {
        Self::new("s3", endpoint("TOKENTALLY_TEST_S3"), name)
    }

    fn new(kind: &'static str, endpoint: String, name: &str) -> Self {
        // Container and bucket names: lowercase letters, digits and dashes.
        let bucket: String = unique(name)
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .take(60)
            .collect();
        let lake = Self {
            kind,
            endpoint,
            bucket,
        };
        lake.python(&["create", &lake.bucket]);
        lake
    }

    /// The output root URL tokentally is given.
    fn url(&self) -> String {
        match self.kind {
            "azure" => format!("az://{}/lake", self.bucket),
            _ => format!("s3://{}/lake", self.bucket),
        }
    }

    /// What tokentally needs in its environment to reach the emulator.
    fn env(&self) -> Vec<(&'static str, String)> {
        match self.kind {
            "azure" => vec![
                ("AZURE_STORAGE_USE_EMULATOR", "true".to_owned()),
                ("AZURITE_BLOB_STORAGE_URL", self.endpoint.clone()),
            ],
            _ => vec![
                ("AWS_ENDPOINT_URL", self.endpoint.clone()),
                ("AWS_ALLOW_HTTP", "true".to_owned()),
                ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
                ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
                ("AWS_REGION", "us-east-1".to_owned()),
            ],
        }
    }

    fn python(&self, args: &[&str]) -> String {
        let output = Command::new("python3")
            .arg(repo_root().join("tests/python/lake.py"))
            .args([self.kind, &self.endpoint])
            .args(args)
            .output()
            .expect("python3");
        assert!(
            output.status.success(),
            "lake.py {args:?} failed (scripts/test installs azure-storage-blob and boto3):\n{}",
            stderr(&output)
        );
        stdout(&output)
    }

    /// The objects under the output root, as relative names.
    fn objects(&self) -> Vec<String> {
        self.python(&["list", &self.bucket, "lake"])
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// Copies every object under the output root to `dest` with the independent client.
    fn download(&self, dest: &Path) -> PathBuf {
        self.python(&["download", &self.bucket, "lake", path_str(dest)]);
        dest.to_owned()
    }

    fn command(&self, dir: &Path, args: &[&str]) -> Command {
        let mut command = super::support::command(dir, args);
        command.envs(self.env());
        command
    }

    fn run(&self, dir: &Path, args: &[&str], expected: i32) -> Output {
        let output = self.command(dir, args).output().expect("run tokentally");
        super::support::expect_status(output, args, expected)
    }

    /// `report` for October 2026 from and to the store; returns the stored chargeback CSV.
    fn report(&self, dir: &Path) -> String {
        let url = self.url();
        let args = report_args(&url, &[]);
        let output = self.run(dir, &as_strs(&args), 0);
        assert!(
            stdout(&output).contains(&format!("{url}/chargeback-2026-10.csv")),
            "the report names the objects it wrote:\n{}",
            stdout(&output)
        );
        let copy = self.download(&dir.join(format!("copy-{}", unique("r"))));
        assert!(
            copy.join("statement-2026-10.html").is_file(),
            "the statement goes up with the other files"
        );
        std::fs::read_to_string(copy.join("chargeback-2026-10.csv")).expect("stored chargeback")
    }
}

impl Lake {
    /// The month's report from the store equals the file run's, the stored
    /// dataset and outputs pass the independent checks, and `sql` counts `rows`
    /// in `table`, reading it in place through DataFusion's object-store registry.
    fn assert_report_and_sql(&self, dir: &Path, file: &Path, rows: u64, table: &str) {
        let chargeback = self.report(dir);
        assert_eq!(chargeback, reference_chargeback(dir, file));
        let copy = self.download(&dir.join("copy"));
        assert_eq!(dataset_counts(&copy), (rows, rows));
        check_outputs(&copy, "2026-10");
        let (url, query) = (self.url(), format!("SELECT count(*) AS n FROM {table}"));
        let sql = self.run(dir, &["sql", "--out", &url, "--format", "csv", &query], 0);
        assert_eq!(stdout(&sql), format!("n\n{rows}\n"));
    }
}

/// A pipeline config reading `topic` into the store.
fn kafka_config(dir: &Path, lake: &Lake, topic: &str, extra: &str) -> PathBuf {
    let text = format!(
        "[kafka]\nbrokers = {:?}\ntopics = [{topic:?}]\ngroup_id = {topic:?}\nconnect_timeout_secs = 60\n{extra}\n\n\
         [kafka.options]\n\"session.timeout.ms\" = \"{SESSION_TIMEOUT_MS}\"\n\n[output]\ndir = {:?}\n\n{}",
        address(),
        lake.url(),
        report_section()
    );
    let path = dir.join("lake.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

#[test]
fn lake_kafka_ingest_into_azurite_then_report_from_and_into_azurite_is_exact() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lake = Lake::azurite("e2e-lake-az");
    let file = sample(dir.path(), "calls.jsonl", 1200, 21);
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, b"{oops\n{\"schema\":9}\n").expect("write");
    let topic = unique("e2e-lake-az");
    assert_eq!(produce(&topic, 3, &[&file, &bad]), 1202);
    let cfg = kafka_config(dir.path(), &lake, &topic, "flush_records = 300");

    let output = lake.run(dir.path(), &["ingest", "--config", path_str(&cfg), "--json"], 0);
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("JSON summary");
    assert_eq!(summary["rows_written"], 1200);
    assert_eq!(summary["quarantined"], 2);
    let url = lake.url();
    let files = summary["files_written"].as_array().expect("files");
    assert!(
        !files.is_empty()
            && files
                .iter()
                .all(|f| f.as_str().is_some_and(|f| f.starts_with(&url))),
        "{files:?}"
    );
    let objects = lake.objects();
    assert!(
        objects.iter().any(|o| o.starts_with("quarantine/kafka-")),
        "{objects:?}"
    );
    assert!(
        objects.iter().all(|o| !o.ends_with(".tmp")),
        "no temporary object is ever uploaded: {objects:?}"
    );

    lake.assert_report_and_sql(dir.path(), &file, 1200, "calls");
}

#[test]
fn lake_files_into_s3_then_report_and_sql_match_the_local_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lake = Lake::s3("e2e-lake-s3");
    let file = sample(dir.path(), "calls.jsonl", 800, 22);
    let url = lake.url();
    lake.run(dir.path(), &["ingest", path_str(&file), "--out", &url], 0);
    // Ingesting the same file again overwrites the same objects.
    lake.run(dir.path(), &["ingest", path_str(&file), "--out", &url], 0);
    lake.assert_report_and_sql(dir.path(), &file, 800, "usage");
}

#[test]
fn lake_killed_kafka_ingest_into_azurite_then_rerun_gives_the_uninterrupted_totals() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lake = Lake::azurite("e2e-lake-kill");
    let file = sample(dir.path(), "calls.jsonl", 4000, 23);
    let topic = unique("e2e-lake-kill");
    assert_eq!(produce(&topic, 4, &[&file]), 4000);
    let cfg = kafka_config(dir.path(), &lake, &topic, "flush_records = 200");

    let mut child = lake
        .command(dir.path(), &["ingest", "--config", path_str(&cfg)])
        .env("TOKENTALLY_FAILPOINTS", HOLD_AT_SIXTH_COMMIT)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn tokentally");
    // SIGKILL (no flush, no commit) once some objects are uploaded; the run is held
    // at its sixth commit, so it is not done.
    kill_once_six_written(&mut child, Duration::from_secs(120), || {
        lake.objects().iter().filter(|o| o.ends_with(".parquet")).count()
    });

    wait_out_dead_members_session();
    let rerun = lake.run(dir.path(), &["ingest", "--config", path_str(&cfg), "--json"], 0);
    let rerun: serde_json::Value = serde_json::from_str(&stdout(&rerun)).expect("JSON summary");
    let reread = rerun["records"].as_u64().expect("records");
    assert!(reread > 0, "the kill came too late to test anything");
    assert_eq!(
        dataset_counts(&lake.download(&dir.path().join("after"))),
        (4000, 4000)
    );
    assert_eq!(lake.report(dir.path()), reference_chargeback(dir.path(), &file));
}

#[test]
fn lake_a_failing_upload_fails_the_run_and_commits_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lake = Lake::azurite("e2e-lake-fail");
    let file = sample(dir.path(), "calls.jsonl", 300, 24);
    let topic = unique("e2e-lake-fail");
    assert_eq!(produce(&topic, 1, &[&file]), 300);
    let cfg = kafka_config(dir.path(), &lake, &topic, "flush_records = 100");
    let output = lake
        .command(dir.path(), &["ingest", "--config", path_str(&cfg)])
        .env("TOKENTALLY_FAILPOINTS", "sink::upload=return")
        .output()
        .expect("run tokentally");
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("sink::upload"), "{}", stderr(&output));
    let committed = Command::new("python3")
        .arg(repo_root().join("tests/python/committed.py"))
        .args([&address(), &topic, &topic, "1"])
        .output()
        .expect("python3");
    assert!(committed.status.success(), "{}", stderr(&committed));
    assert_eq!(stdout(&committed).trim(), "0 -1", "nothing may be committed");

    // Once uploads work again, the same group reads everything.
    lake.run(dir.path(), &["ingest", "--config", path_str(&cfg)], 0);
    assert_eq!(
        dataset_counts(&lake.download(&dir.path().join("copy"))),
        (300, 300)
    );
}

#[test]
fn lake_bad_urls_are_usage_errors_naming_the_url_never_a_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lake = Lake::azurite("e2e-lake-url");
    let file = sample(dir.path(), "calls.jsonl", 10, 25);
    let output = lake.run(
        dir.path(),
        &[
            "ingest",
            path_str(&file),
            "--out",
            "az://c/lake?sv=2024&sig=SECRETSIG",
        ],
        2,
    );
    let text = stderr(&output);
    assert!(
        text.contains("az://c/lake") && !text.contains("SECRETSIG"),
        "{text}"
    );
    // An empty container: no dataset, named by its URL, exit 1 as for a local folder.
    let url = lake.url();
    let args = report_args(&url, &[]);
    let output = lake.run(dir.path(), &as_strs(&args), 1);
    assert!(
        stderr(&output).contains(&format!("no usage dataset at {url}/usage")),
        "{}",
        stderr(&output)
    );
    let output = lake.run(
        dir.path(),
        &["ingest", path_str(&file), "--out", "ftp://host/x"],
        2,
    );
    assert!(stderr(&output).contains("ftp://host/x"), "{}", stderr(&output));
    // No account anywhere (not in the URL, not in the environment, no emulator).
    let output = Command::new(env!("CARGO_BIN_EXE_tokentally"))
        .args(["ingest", path_str(&file), "--out", "az://container/lake"])
        .current_dir(dir.path())
        .env_remove("AZURE_STORAGE_ACCOUNT_NAME")
        .env_remove("AZURE_STORAGE_USE_EMULATOR")
        .output()
        .expect("run tokentally");
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("az://container/lake")
            && stderr(&output).contains("AZURE_STORAGE_ACCOUNT_NAME"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn lake_spark_reads_a_dataset_written_by_tokentally_and_its_totals_equal_the_chargeback() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lake = Lake::azurite("e2e-lake-spark");
    let file = sample(dir.path(), "calls.jsonl", 600, 26);
    let url = lake.url();
    // Two ingests of overlapping input: Spark sees the duplicates and drops them
    // by event_id, as the chargeback does.
    lake.run(dir.path(), &["ingest", path_str(&file), "--out", &url], 0);
    // Other content (one more, bad, line), so other object names: the same calls twice.
    let copy = dir.path().join("calls-again.jsonl");
    let mut again = std::fs::read(&file).expect("read");
    again.extend_from_slice(b"{oops\n");
    std::fs::write(&copy, again).expect("write");
    lake.run(dir.path(), &["ingest", path_str(&copy), "--out", &url], 0);
    let output = lake.run(dir.path(), &as_strs(&report_args(&url, &["--json"])), 0);
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("JSON report");
    let mut chargeback = serde_json::Map::new();
    for app in report["apps"].as_array().expect("apps") {
        if app["calls"] != 0 {
            chargeback.insert(
                app["app_id"].as_str().expect("app id").to_owned(),
                serde_json::json!([app["calls"], app["total_tokens"]]),
            );
        }
    }
    let local = lake.download(&dir.path().join("copy"));
    let spark = Command::new("python3")
        .arg(repo_root().join("tests/python/spark_totals.py"))
        .arg(local.join("usage"))
        .arg("2026-10")
        .output()
        .expect("python3");
    assert!(
        spark.status.success(),
        "Spark failed (scripts/test installs pyspark; Java 17 is needed):\n{}",
        stderr(&spark)
    );
    let by_spark: serde_json::Value =
        serde_json::from_str(stdout(&spark).trim().lines().last().unwrap_or_default()).expect("Spark's JSON");
    assert_eq!(by_spark, serde_json::Value::Object(chargeback));
}

#[test]
fn lake_a_file_past_the_single_put_size_goes_up_in_parts_and_comes_back_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lake = Lake::azurite("e2e-lake-big");
    let file = sample(dir.path(), "calls.jsonl", 10, 27);
    // 48 bad lines of 500 kB: a quarantine file of about 24 MB, past the 16 MiB
    // that go up in one request.
    let line = "x".repeat(500_000);
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, format!("{line}\n").repeat(48)).expect("write");
    let url = lake.url();
    lake.run(
        dir.path(),
        &["ingest", path_str(&file), path_str(&bad), "--out", &url],
        0,
    );
    let copy = lake.download(&dir.path().join("copy"));
    let quarantined: Vec<PathBuf> = std::fs::read_dir(copy.join("quarantine"))
        .expect("quarantine objects")
        .map(|e| e.expect("entry").path())
        .collect();
    let entries: Vec<serde_json::Value> = quarantined
        .iter()
        .flat_map(|p| {
            std::fs::read_to_string(p)
                .expect("read")
                .lines()
                .map(|l| serde_json::from_str(l).expect("entry"))
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(entries.len(), 48);
    assert!(entries.iter().all(|e| e["raw"].as_str() == Some(line.as_str())));
    assert_eq!(dataset_counts(&copy), (10, 10));
}

#[test]
fn lake_an_unreachable_store_fails_the_run_after_retries_naming_the_url_never_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = sample(dir.path(), "calls.jsonl", 20, 28);
    // Nothing listens on port 9 of the loopback; the key is valid base64, so it is
    // accepted and sent, never shown.
    let key = "U0VDUkVUS0VZU0VDUkVUS0VZ";
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_tokentally"))
        .args(["ingest", path_str(&file), "--out", "az://gone/lake"])
        .current_dir(dir.path())
        .env_remove("RUST_LOG")
        .env("AZURE_STORAGE_USE_EMULATOR", "true")
        .env("AZURITE_BLOB_STORAGE_URL", "http://127.0.0.1:9")
        .env("AZURE_STORAGE_ACCOUNT_KEY", key)
        .output()
        .expect("run tokentally");
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("az://gone/lake/usage/date=2026-10-"), "{text}");
    assert!(text.contains("upload failed; retrying"), "retried first: {text}");
    assert!(!text.contains(key), "{text}");
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "gave up without backing off"
    );
}

/// With no key in the environment, `s3://` takes the credentials and region of
/// the profile `AWS_PROFILE` names in the shared files, as the AWS CLI does; a
/// profile that is not there is a usage error naming it.
#[test]
fn lake_s3_credentials_come_from_the_named_aws_profile() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lake = Lake::s3("e2e-lake-profile");
    let file = sample(dir.path(), "calls.jsonl", 50, 31);
    let credentials = dir.path().join("aws-credentials");
    std::fs::write(
        &credentials,
        "[default]\naws_access_key_id = not-this-one\n\n[lake]\naws_access_key_id = testing\naws_secret_access_key = testing\n",
    )
    .expect("write");
    let config = dir.path().join("aws-config");
    std::fs::write(&config, "[profile lake]\nregion = us-east-1\n").expect("write");
    let url = lake.url();
    let ingest = |profile: &str| {
        let mut command = lake.command(dir.path(), &["ingest", path_str(&file), "--out", &url]);
        command
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_REGION")
            .env("AWS_SHARED_CREDENTIALS_FILE", &credentials)
            .env("AWS_CONFIG_FILE", &config)
            .env("AWS_PROFILE", profile)
            // Without the profile, object_store would ask the instance metadata.
            .env("AWS_EC2_METADATA_DISABLED", "true");
        command.output().expect("run tokentally")
    };
    let read = ingest("lake");
    assert_eq!(read.status.code(), Some(0), "{}", stderr(&read));
    assert!(
        lake.objects()
            .iter()
            .any(|o| o.starts_with("usage/date=2026-10-"))
    );

    let missing = ingest("nope");
    let text = stderr(&missing);
    assert_eq!(missing.status.code(), Some(2), "{text}");
    assert!(text.contains("AWS profile `nope`: not found in"), "{text}");
    assert!(!text.contains("testing"), "{text}");
}
