//! The interactive `sql` prompt: line editing and history (rustyline), statements
//! that end with `;` (by the SQL tokenizer), `\d` / `.tables` to list tables and
//! columns, `\q` to quit. A failing statement prints its error; the prompt goes on.

use super::print;
use super::sql::{Source, query_name, render};
use crate::args::SqlFormat;
use crate::exit::message;
use anyhow::{Context as _, Result};
use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;
use std::path::PathBuf;
use std::process::ExitCode;
use tokentally_report::{QueryOutput, SqlSession, StatementBuffer};

const HELP: &str = "End statements with ';'. \\d lists every table's columns, \\d NAME one table's, \
                    .tables the tables; \\q quits. History: ~/.tokentally_history.";

/// Where the prompt keeps its history: `$HOME/.tokentally_history`, none without a home.
fn history_file() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".tokentally_history"))
}

/// A meta-command of the prompt.
#[derive(Debug, PartialEq, Eq)]
enum Meta<'a> {
    Quit,
    Help,
    Tables,
    Describe(Option<&'a str>),
}

fn meta(line: &str) -> Option<Meta<'_>> {
    let line = line.trim().trim_end_matches(';');
    let (command, arg) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let arg = Some(arg.trim()).filter(|a| !a.is_empty());
    Some(match command {
        "\\q" | ".quit" | ".exit" | "quit" | "exit" => Meta::Quit,
        "\\?" | ".help" | "help" => Meta::Help,
        ".tables" | "\\dt" => Meta::Tables,
        "\\d" | ".schema" => Meta::Describe(arg),
        _ => return None,
    })
}

pub fn prompt(rt: &tokio::runtime::Runtime, session: &SqlSession, format: SqlFormat) -> Result<ExitCode> {
    let format = if matches!(format, SqlFormat::Parquet) {
        SqlFormat::Table
    } else {
        format
    };
    let mut editor = DefaultEditor::new().context("starting the line editor")?;
    let history = history_file();
    if let Some(path) = &history {
        // A first run has no history yet.
        let _ = editor.load_history(path);
    }
    print(&format!(
        "tokentally sql: tables {}. {HELP}\n",
        session.table_names().join(", ")
    ))?;
    let mut buffer = StatementBuffer::default();
    loop {
        let prompt = if buffer.is_pending() {
            "   ...> "
        } else {
            "tokentally> "
        };
        let line = match editor.readline(prompt) {
            Ok(line) => line,
            // Ctrl-C drops the statement being typed, as in psql.
            Err(ReadlineError::Interrupted) => {
                buffer = StatementBuffer::default();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e).context("reading the prompt"),
        };
        if !buffer.is_pending()
            && let Some(command) = meta(&line)
        {
            let _ = editor.add_history_entry(line.trim());
            let shown = match command {
                Meta::Quit => break,
                Meta::Help => print(&format!("{HELP}\n")).map(|()| None),
                Meta::Tables => print(&format!("{}\n", session.table_names().join("\n"))).map(|()| None),
                Meta::Describe(table) => Ok(Some(rt.block_on(session.describe(table)))),
            }?;
            if let Some(result) = shown {
                show(result.map_err(anyhow::Error::new), format, &line)?;
            }
            continue;
        }
        let Some(text) = buffer.push_line(&line) else {
            continue;
        };
        let _ = editor.add_history_entry(text.as_str());
        run_text(rt, session, &text, format)?;
    }
    if let Some(path) = &history {
        // History is a convenience: a read-only home must not fail the session.
        let _ = editor.save_history(path);
    }
    print("\n")?;
    Ok(ExitCode::SUCCESS)
}

/// Runs every statement of the typed text, printing each result.
fn run_text(rt: &tokio::runtime::Runtime, session: &SqlSession, text: &str, format: SqlFormat) -> Result<()> {
    let statements = match session.statements(text) {
        Ok(s) => s,
        Err(e) => return show(Err(anyhow::Error::new(e)), format, text),
    };
    for statement in &statements {
        let result = rt.block_on(session.run(statement)).map_err(anyhow::Error::new);
        show(result, format, &statement.text)?;
    }
    Ok(())
}

fn show(result: Result<QueryOutput>, format: SqlFormat, text: &str) -> Result<()> {
    match result {
        Ok(result) => print(&render(&result, format)?),
        Err(e) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!(
                    "error: query {}: {}",
                    query_name(&Source::Prompt, text),
                    message(&e)
                );
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_commands_are_read_with_or_without_a_semicolon() {
        assert_eq!(meta("\\d"), Some(Meta::Describe(None)));
        assert_eq!(meta("\\d usage;"), Some(Meta::Describe(Some("usage"))));
        assert_eq!(meta(" .tables "), Some(Meta::Tables));
        assert_eq!(meta("\\q"), Some(Meta::Quit));
        assert_eq!(meta("SELECT 1;"), None);
    }
}
