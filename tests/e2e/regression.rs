//! Bugs that once escaped, one test each, named for the symptom.

use crate::support::tokentally;

#[test]
fn missing_input_file_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = tokentally(dir.path(), &["ingest", "nope.jsonl"], 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nope.jsonl"), "{err}");
}

#[test]
fn bad_month_names_the_argument() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = tokentally(dir.path(), &["report", "--month", "2026-13"], 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--month \"2026-13\""), "{err}");
}
