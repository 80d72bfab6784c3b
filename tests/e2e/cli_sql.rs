//! `tokentally sql` as analysts use DuckDB's or psql's: scripts of several
//! statements split by the SQL parser, JSON Lines, and a prompt with line
//! editing, history and `\d`.

use crate::support::{OnTerminal, sample, stderr, stdout, tokentally, tokentally_with_stdin};
use std::io::Write as _;
use std::path::Path;

fn dataset(dir: &Path) {
    let input = sample(dir, "calls.jsonl", 30, 41);
    tokentally(dir, &["ingest", input.to_str().expect("utf-8")], 0);
}

#[test]
fn a_script_runs_in_order_and_prints_the_last_result_or_all() {
    let dir = tempfile::tempdir().expect("tempdir");
    dataset(dir.path());
    // A `;` inside a string or a comment does not end a statement.
    let script = "CREATE VIEW apps AS SELECT DISTINCT app_id FROM calls; -- a view; then\n\
                  SELECT 'a;b' AS word;\n\
                  /* counted; */ SELECT count(*) AS n FROM calls\n";
    let last = tokentally_with_stdin(dir.path(), &["sql", "--format", "csv"], script, 0);
    assert_eq!(stdout(&last), "n\n30\n");
    let all = tokentally_with_stdin(dir.path(), &["sql", "--format", "csv", "--all"], script, 0);
    let text = stdout(&all);
    assert!(
        text.contains("word\na;b\n") && text.ends_with("n\n30\n"),
        "{text}"
    );

    // The second statement fails: the error says which one; the first ran.
    let out = tokentally(dir.path(), &["sql", "SELECT 1 AS one; SELECT nope FROM calls"], 2);
    assert!(stderr(&out).contains("statement 2 of 2"), "{}", stderr(&out));
}

#[test]
fn json_is_json_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    dataset(dir.path());
    let query = "SELECT app_id, count(*) AS n FROM calls GROUP BY app_id";
    let out = tokentally(dir.path(), &["sql", query, "--format", "json"], 0);
    let text = stdout(&out);
    assert!(text.lines().count() > 1, "{text}");
    for line in text.lines() {
        let row: serde_json::Value = serde_json::from_str(line).expect("one object per line");
        assert!(row["n"].is_i64(), "{line}");
    }
    let help = stdout(&tokentally(dir.path(), &["sql", "--help"], 0));
    assert!(help.contains("JSON Lines"), "{help}");
}

/// The prompt needs a terminal: `script` gives it one. Each line is typed once
/// the prompt for it is shown (the line editor discards input typed earlier).
#[test]
fn the_prompt_lists_tables_and_columns_and_keeps_history() {
    let dir = tempfile::tempdir().expect("tempdir");
    dataset(dir.path());
    let home = dir.path().to_str().expect("utf-8");
    let mut term = OnTerminal::start(dir.path(), "sql", &[("HOME", home)]);
    let prompts = |text: &str| text.matches("tokentally> ").count() + text.matches("...> ").count();
    for (i, line) in [".tables", "\\d calls", "SELECT 40 + 2", "  AS answer;", "\\q"]
        .iter()
        .enumerate()
    {
        term.wait_for(|screen| prompts(screen) > i);
        writeln!(term.stdin, "{line}").expect("type");
    }
    let (success, text) = term.finish();
    assert!(success, "{text}");
    assert!(text.contains("chargeback"), "{text}");
    assert!(
        text.contains("request_time") && text.contains("Timestamp"),
        "\\d calls: {text}"
    );
    assert!(text.contains("42"), "{text}");
    let history = std::fs::read_to_string(dir.path().join(".tokentally_history")).expect("history file");
    assert!(history.contains("AS answer;"), "{history}");
}
