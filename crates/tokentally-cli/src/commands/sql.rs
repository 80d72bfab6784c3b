use super::{print, runtime};
use crate::args::SqlFormat;
use anyhow::{Context as _, Result, bail};
use std::io::{BufRead as _, IsTerminal as _, Read as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tokentally_report::{QueryOutput, SqlSession, SqlTables, StatementBuffer};

/// Where the SQL comes from.
#[derive(Debug)]
pub enum Source {
    Text(String),
    File(PathBuf),
    Stdin,
    /// No query and stdin is a terminal: prompt for statements.
    Prompt,
}

impl Source {
    pub fn from_args(query: Option<String>, file: Option<PathBuf>) -> Self {
        match (query, file) {
            (Some(q), _) if q == "-" => Self::Stdin,
            (Some(q), _) => Self::Text(q),
            (None, Some(f)) if f.as_os_str() == "-" => Self::Stdin,
            (None, Some(f)) => Self::File(f),
            (None, None) if std::io::stdin().is_terminal() => Self::Prompt,
            (None, None) => Self::Stdin,
        }
    }
}

/// How a query is named in errors: its file, or its first line.
fn query_name(source: &Source, text: &str) -> String {
    match source {
        Source::File(path) => path.display().to_string(),
        Source::Stdin => "from stdin".to_owned(),
        Source::Text(_) | Source::Prompt => {
            let first = text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or_default()
                .trim();
            let short: String = first.chars().take(60).collect();
            let more = if short.len() < first.len() || text.trim().lines().count() > 1 {
                " …"
            } else {
                ""
            };
            format!("{short:?}{more}")
        }
    }
}

pub fn sql(source: Source, tables: &SqlTables, format: SqlFormat, output: Option<&Path>) -> Result<ExitCode> {
    if matches!(format, SqlFormat::Parquet) && output.is_none() {
        bail!("--format parquet needs --output PATH (Parquet is not written to a terminal)");
    }
    let text = match &source {
        Source::Text(q) => q.clone(),
        Source::File(path) => {
            std::fs::read_to_string(path).with_context(|| format!("reading query file {}", path.display()))?
        }
        Source::Stdin => {
            let mut q = String::new();
            std::io::stdin()
                .read_to_string(&mut q)
                .context("reading the query from stdin")?;
            q
        }
        Source::Prompt => String::new(),
    };
    let rt = runtime()?;
    let session = rt
        .block_on(SqlSession::open(tables))
        .context("opening the SQL tables")?;
    if matches!(source, Source::Prompt) {
        return prompt(&rt, &session, format);
    }
    if text.trim().is_empty() {
        bail!("no query given (pass it as an argument, with --file, or on stdin)");
    }
    let name = query_name(&source, &text);
    let result = rt
        .block_on(session.query(&text))
        .with_context(|| format!("query {name}"))?;
    emit(&result, format, output)?;
    Ok(ExitCode::SUCCESS)
}

fn render(result: &QueryOutput, format: SqlFormat) -> Result<String> {
    Ok(match format {
        SqlFormat::Table | SqlFormat::Parquet => {
            let mut t = tokentally_report::format_table(result)?;
            t.push('\n');
            t
        }
        SqlFormat::Csv => tokentally_report::batches_to_csv(result)?,
        SqlFormat::Json => tokentally_report::batches_to_json(result)?,
    })
}

fn emit(result: &QueryOutput, format: SqlFormat, output: Option<&Path>) -> Result<()> {
    match (format, output) {
        (SqlFormat::Parquet, Some(path)) => tokentally_report::write_query_parquet(path, result)
            .with_context(|| format!("writing {}", path.display())),
        (_, Some(path)) => std::fs::write(path, render(result, format)?)
            .with_context(|| format!("writing {}", path.display())),
        (_, None) => print(&render(result, format)?),
    }
}

/// The interactive prompt: statements end with `;`; `\q` or end of input quits.
/// A failing statement prints its error and the prompt goes on.
fn prompt(rt: &tokio::runtime::Runtime, session: &SqlSession, format: SqlFormat) -> Result<ExitCode> {
    let format = if matches!(format, SqlFormat::Parquet) {
        SqlFormat::Table
    } else {
        format
    };
    print(
        "tokentally sql: tables usage, prices, deployments, cost_centers, chargeback. End statements with ';', \\q quits.\n",
    )?;
    let mut buffer = StatementBuffer::default();
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    loop {
        print(if buffer.is_pending() {
            "   ...> "
        } else {
            "tokentally> "
        })?;
        let Some(line) = lines.next() else { break };
        let line = line.context("reading stdin")?;
        if !buffer.is_pending() && matches!(line.trim(), "\\q" | "quit" | "exit") {
            break;
        }
        let Some(statement) = buffer.push_line(&line) else {
            continue;
        };
        match rt.block_on(session.query(&statement)) {
            Ok(result) => print(&render(&result, format)?)?,
            Err(e) => {
                #[allow(clippy::print_stderr)]
                {
                    eprintln!("error: query {}: {e}", query_name(&Source::Prompt, &statement));
                }
            }
        }
    }
    print("\n")?;
    Ok(ExitCode::SUCCESS)
}
