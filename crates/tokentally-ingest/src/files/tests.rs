use super::*;
use parquet::file::reader::{FileReader, SerializedFileReader};
use std::io::Write as _;

fn record(id: &str, day: u32) -> String {
    format!(
        r#"{{"schema":1,"request_id":"{id}","request_time":"2026-10-{day:02}T12:00:00Z","caller":{{"subscription_id":"s1"}},"deployment":"gpt-4o","operation":"chat/completions","request":{{"messages":[{{"role":"user","content":"hi"}}]}},"response":{{"status":200,"body":{{"model":"gpt-4o","choices":[{{"index":0,"message":{{"content":"hello"}},"finish_reason":"stop"}}],"usage":{{"prompt_tokens":8,"completion_tokens":1,"total_tokens":9}}}}}}}}"#
    )
}

fn input(dir: &Path, name: &str, lines: &[&[u8]]) -> PathBuf {
    let path = dir.join(name);
    let mut f = File::create(&path).expect("create");
    for l in lines {
        f.write_all(l).expect("write");
        f.write_all(b"\n").expect("write");
    }
    path
}

fn rows_in(paths: &[PathBuf]) -> i64 {
    paths
        .iter()
        .map(|p| {
            SerializedFileReader::new(File::open(p).expect("open"))
                .expect("parquet")
                .metadata()
                .file_metadata()
                .num_rows()
        })
        .sum()
}

#[test]
fn good_rows_land_and_bad_lines_are_quarantined_with_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (record("a", 1), record("b", 2));
    let path = input(
        dir.path(),
        "calls.jsonl",
        &[
            a.as_bytes(),
            b"{oops",
            b"",
            b"\xff\xfe",
            b.as_bytes(),
            br#"{"schema":9}"#,
        ],
    );
    let out = dir.path().join("out");
    let summary = ingest_files(std::slice::from_ref(&path), &IngestOptions::new(&out)).expect("ingest");
    assert_eq!(
        (summary.records, summary.rows_written, summary.quarantined),
        (5, 2, 3)
    );
    assert_eq!(summary.rows_by_date.len(), 2);
    assert_eq!(rows_in(&summary.files_written), 2);
    assert!(
        summary
            .files_written
            .iter()
            .all(|p| p.to_string_lossy().contains("/usage/date=2026-10-0"))
    );
    assert!(
        summary.quarantine_examples[0]
            .ends_with("calls.jsonl:2: not a JSON object: key must be a string at line 1 column 2"),
        "{:?}",
        summary.quarantine_examples
    );
    let q = fs::read_to_string(&summary.quarantine_files[0]).expect("quarantine");
    let entries: Vec<serde_json::Value> = q
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0]["offset"], 2);
    assert_eq!(entries[0]["raw"], "{oops");
    assert_eq!(entries[1]["kind"], "invalid_utf8");
    assert_eq!(entries[1]["raw_base64"], "//4=");
    assert_eq!(entries[2]["kind"], "unknown_schema");
}

#[test]
fn rerun_rewrites_the_same_files_byte_for_byte() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lines: Vec<String> = (0..50).map(|i| record(&format!("r{i}"), 1 + i % 3)).collect();
    let refs: Vec<&[u8]> = lines.iter().map(|l| l.as_bytes()).collect();
    let path = input(dir.path(), "x.jsonl", &refs);
    let mut options = IngestOptions::new(dir.path().join("out"));
    options.sink.max_buffered_rows = 7;
    let first = ingest_files(std::slice::from_ref(&path), &options).expect("first");
    let bytes: Vec<Vec<u8>> = first
        .files_written
        .iter()
        .map(|p| fs::read(p).expect("read"))
        .collect();
    let second = ingest_files(std::slice::from_ref(&path), &options).expect("second");
    assert_eq!(first.files_written, second.files_written);
    let again: Vec<Vec<u8>> = second
        .files_written
        .iter()
        .map(|p| fs::read(p).expect("read"))
        .collect();
    assert_eq!(bytes, again);
    assert_eq!(rows_in(&second.files_written), 50);
    let all = fs::read_dir(dir.path().join("out/usage/date=2026-10-01"))
        .expect("dir")
        .count();
    assert_eq!(
        all,
        first
            .files_written
            .iter()
            .filter(|p| p.to_string_lossy().contains("2026-10-01"))
            .count()
    );
}

#[test]
fn gzip_input_and_directories() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("in");
    fs::create_dir(&data).expect("mkdir");
    let mut gz = flate2::write::GzEncoder::new(
        File::create(data.join("a.jsonl.gz")).expect("create"),
        Default::default(),
    );
    writeln!(gz, "{}", record("g1", 4)).expect("write");
    gz.finish().expect("finish");
    input(&data, "b.jsonl", &[record("p1", 4).as_bytes()]);
    fs::write(data.join("notes.txt"), "ignored").expect("write");
    let summary = ingest_files(&[data], &IngestOptions::new(dir.path().join("out"))).expect("ingest");
    assert_eq!(summary.inputs.len(), 2);
    assert_eq!(summary.rows_written, 2);
}

#[test]
fn missing_input_names_the_path() {
    let err = ingest_files(
        &[PathBuf::from("/nonexistent/x.jsonl")],
        &IngestOptions::new("/tmp/unused"),
    )
    .expect_err("missing");
    assert!(err.to_string().starts_with("/nonexistent/x.jsonl: "), "{err}");
}

/// The schema Event Hubs Capture writes (Microsoft.ServiceBus.Messaging.EventData).
const CAPTURE_SCHEMA: &str = r#"{"type":"record","name":"EventData","namespace":"Microsoft.ServiceBus.Messaging",
 "fields":[{"name":"SequenceNumber","type":"long"},{"name":"Offset","type":"string"},
 {"name":"EnqueuedTimeUtc","type":"string"},
 {"name":"SystemProperties","type":{"type":"map","values":["long","double","string","bytes"]}},
 {"name":"Properties","type":{"type":"map","values":["long","double","string","bytes","null"]}},
 {"name":"Body","type":["null","bytes"]}]}"#;

fn capture_file(path: &Path, bodies: &[Option<&[u8]>]) {
    use apache_avro::types::{Record, Value};
    let schema = apache_avro::Schema::parse_str(CAPTURE_SCHEMA).expect("schema");
    let file = File::create(path).expect("create");
    let codec = apache_avro::Codec::Deflate(apache_avro::DeflateSettings::default());
    let mut writer = apache_avro::Writer::with_codec(&schema, file, codec).expect("writer");
    for (i, body) in bodies.iter().enumerate() {
        let mut record = Record::new(writer.schema()).expect("record");
        let n = i64::try_from(i).expect("small") + 100;
        record.put("SequenceNumber", n);
        record.put("Offset", (n * 512).to_string());
        record.put("EnqueuedTimeUtc", "10/5/2026 8:00:00 AM");
        record.put("SystemProperties", Value::Map(Default::default()));
        record.put("Properties", Value::Map(Default::default()));
        let body = match body {
            Some(b) => Value::Union(1, Box::new(Value::Bytes(b.to_vec()))),
            None => Value::Union(0, Box::new(Value::Null)),
        };
        record.put("Body", body);
        writer.append_value(record).expect("append");
    }
    writer.flush().expect("flush");
}

#[test]
fn event_hubs_capture_files_are_read_like_a_topic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (record("cap-a", 3), record("cap-b", 4));
    let path = dir.path().join("07.avro");
    capture_file(
        &path,
        &[Some(a.as_bytes()), None, Some(b"{oops"), Some(b.as_bytes())],
    );
    let out = dir.path().join("out");
    let summary = ingest_files(std::slice::from_ref(&path), &IngestOptions::new(&out)).expect("ingest");
    assert_eq!(
        (summary.records, summary.rows_written, summary.quarantined),
        (4, 2, 2)
    );
    assert_eq!(rows_in(&summary.files_written), 2);
    // Quarantine positions are the events' sequence numbers.
    let quarantine = fs::read_to_string(&summary.quarantine_files[0]).expect("quarantine");
    assert!(
        quarantine.contains("\"offset\":101") && quarantine.contains("\"offset\":102"),
        "{quarantine}"
    );

    // A directory picks the .avro file up, and the same bytes give the same names.
    let again = ingest_files(&[dir.path().to_owned()], &IngestOptions::new(&out));
    let again = again.expect("ingest dir");
    assert_eq!(again.files_written, summary.files_written);
}

/// One line far over the event limit is refused without being held whole: the
/// quarantine keeps its position and first bytes, the next line is read as usual.
#[test]
fn a_huge_line_is_refused_without_being_read_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let huge = vec![b'x'; 3 << 20];
    let good = record("after", 5);
    let path = input(dir.path(), "huge.jsonl", &[&huge, good.as_bytes()]);
    let mut options = IngestOptions::new(dir.path().join("out"));
    options.max_event_bytes = 1 << 20;
    let summary = ingest_files(std::slice::from_ref(&path), &options).expect("ingest");
    assert_eq!(
        (summary.records, summary.rows_written, summary.quarantined),
        (2, 1, 1)
    );
    let q = fs::read_to_string(&summary.quarantine_files[0]).expect("quarantine");
    let entry: serde_json::Value = serde_json::from_str(q.trim()).expect("entry");
    assert_eq!(
        (entry["kind"].as_str(), entry["offset"].as_i64()),
        (Some("oversized"), Some(1))
    );
    assert!(
        entry["reason"]
            .as_str()
            .is_some_and(|r| r.contains("3145728 bytes")),
        "{entry}"
    );
    assert_eq!(
        entry["raw"].as_str().map(str::len),
        Some(4096),
        "only the first bytes are kept"
    );
}

#[test]
fn the_line_reader_holds_at_most_the_limit() {
    let text = b"short\nxxxxxxxxxxxxxxxxxxxx\r\nlast".to_vec();
    let mut reader = BufReader::with_capacity(4, &text[..]);
    let (mut line, mut hasher) = (Vec::new(), Xxh3::new());
    let mut read = || read_line(&mut reader, &mut line, 8, &mut hasher).expect("read");
    assert_eq!(read(), Line::Whole);
    assert_eq!(read(), Line::TooLong(21));
    assert_eq!(read(), Line::Whole);
    assert_eq!(read(), Line::End);
    assert_eq!(
        hasher.digest(),
        xxhash_rust::xxh3::xxh3_64(&text),
        "every byte is hashed"
    );
}

/// A Capture file ending with a split record's first part: the part is
/// quarantined, as at the end of any file, not dropped.
#[test]
fn capture_files_quarantine_parts_never_completed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let parts = tokentally_kafka::split_event("req-cap", record("cap-split", 3).as_bytes(), 200);
    assert!(parts.len() > 1);
    let path = dir.path().join("08.avro");
    let done = record("cap-done", 3);
    capture_file(&path, &[Some(&parts[0]), Some(done.as_bytes())]);
    let summary = ingest_files(
        std::slice::from_ref(&path),
        &IngestOptions::new(dir.path().join("out")),
    )
    .expect("ingest");
    assert_eq!(
        (summary.records, summary.rows_written, summary.quarantined),
        (2, 1, 1)
    );
    assert_eq!(
        summary.quarantined_by_kind.get("incomplete_split_record"),
        Some(&1)
    );
}

/// The same for LLM-log records of a Capture file: written when the file ends.
#[test]
fn capture_files_write_held_llm_log_calls_at_their_end() {
    use crate::envelope::llm_tests::{Form, call};
    let dir = tempfile::tempdir().expect("tempdir");
    let [token, request, response] = call(Form::LogAnalytics, "cap-llm", "Hi", "Hello!", (1200, 80));
    let export = |records: &[serde_json::Value]| {
        serde_json::to_vec(&serde_json::json!({ "records": records })).expect("json")
    };
    let (a, b) = (export(&[response]), export(&[request, token]));
    let path = dir.path().join("09.avro");
    capture_file(&path, &[Some(&a), Some(&b)]);
    let summary = ingest_files(
        std::slice::from_ref(&path),
        &IngestOptions::new(dir.path().join("out")),
    )
    .expect("ingest");
    assert_eq!(
        (summary.records, summary.rows_written, summary.partial_rows),
        (2, 1, 0)
    );
}

/// First parts of records that never complete, more than `max_held_bytes` of
/// them in one Capture file: the oldest are given up as the bound is passed,
/// part-way through the file, not only when it ends.
#[test]
fn capture_parts_past_max_held_bytes_are_given_up_before_the_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let firsts: Vec<Vec<u8>> = (0..12)
        .map(|i| {
            let record = record(&format!("cap-held-{i}"), 3);
            let parts = tokentally_kafka::split_event(&format!("req-held-{i}"), record.as_bytes(), 200);
            assert!(parts.len() > 1);
            parts[0].clone()
        })
        .collect();
    let held_per_part = firsts[0].len();
    let path = dir.path().join("10.avro");
    let bodies: Vec<Option<&[u8]>> = firsts.iter().map(|p| Some(p.as_slice())).collect();
    capture_file(&path, &bodies);
    let mut options = IngestOptions::new(dir.path().join("out"));
    // Room for about three parts.
    options.max_held_bytes = 3 * held_per_part + held_per_part / 2;
    options.max_event_bytes = options.max_held_bytes;
    let summary = ingest_files(std::slice::from_ref(&path), &options).expect("ingest");
    assert_eq!(
        (summary.records, summary.rows_written, summary.quarantined),
        (12, 0, 12)
    );
    let quarantine = fs::read_to_string(&summary.quarantine_files[0]).expect("quarantine");
    let reasons: Vec<String> = quarantine
        .lines()
        .map(|l| {
            let entry: serde_json::Value = serde_json::from_str(l).expect("entry");
            entry["reason"].as_str().unwrap_or_default().to_owned()
        })
        .collect();
    let by_bound = reasons
        .iter()
        .filter(|r| r.contains("passed max_held_bytes"))
        .count();
    let at_end = reasons
        .iter()
        .filter(|r| r.contains("the input ended first"))
        .count();
    assert!(by_bound >= 8 && by_bound + at_end == 12, "{reasons:#?}");
}
