use super::{lake, print, runtime, sql_prompt};
use crate::args::SqlFormat;
use crate::discover::Pipeline;
use crate::exit::{UsageContext as _, usage};
use anyhow::{Context as _, Result};
use std::io::{IsTerminal as _, Read as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tokentally_report::{QueryOutput, SqlSession, SqlTables};

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

/// How results are printed.
#[derive(Debug, Clone, Copy)]
pub struct Print {
    pub format: SqlFormat,
    /// Every statement's result, not only the last.
    pub all: bool,
}

/// How SQL is named in errors: its file, or its first line.
pub fn query_name(source: &Source, text: &str) -> String {
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

/// `sql` over the pipeline's tables: a local dataset in place, or, for an
/// object-store output, `usage` read in place through the store and the written
/// detail files (the `chargeback` table) staged.
pub fn sql_over(
    pipeline: &Pipeline,
    source: Source,
    print_as: Print,
    output: Option<&Path>,
) -> Result<ExitCode> {
    let mut tables = SqlTables {
        data_dir: pipeline.config.output.dir.clone(),
        usage_store: None,
        prices: pipeline.sql_prices(),
        deployments: pipeline.config.report.deployments.clone(),
        cost_centers: pipeline.config.report.cost_centers.clone(),
    };
    let _staging = match lake::remote_root(&pipeline.config.output.dir)? {
        Some(remote) => {
            let staging = lake::Staging::new("sql")?;
            runtime()?.block_on(lake::download_details(&remote, staging.path()))?;
            tables.data_dir = staging.path().to_owned();
            tables.usage_store = Some(remote);
            Some(staging)
        }
        None => None,
    };
    sql(source, &tables, print_as, output)
}

pub fn sql(source: Source, tables: &SqlTables, print_as: Print, output: Option<&Path>) -> Result<ExitCode> {
    let text = match &source {
        Source::Text(q) => q.clone(),
        Source::File(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading query file {}", path.display()))
            .usage()?,
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
        return sql_prompt::prompt(&rt, &session, print_as.format);
    }
    let name = query_name(&source, &text);
    let statements = session
        .statements(&text)
        .map_err(|e| usage(anyhow::Error::new(e).context(format!("query {name}"))))?;
    if statements.is_empty() {
        return Err(anyhow::anyhow!(
            "no query given (pass it as an argument, with --file, or on stdin)"
        ))
        .usage();
    }
    let count = statements.len();
    for (i, statement) in statements.iter().enumerate() {
        let result = rt.block_on(session.run(statement)).map_err(|e| {
            let invalid = e.is_invalid_query();
            let place = if count > 1 {
                format!(
                    "query {name}, statement {} of {count} ({})",
                    i + 1,
                    short(&statement.text)
                )
            } else {
                format!("query {name}")
            };
            let err = anyhow::Error::new(e).context(place);
            if invalid { usage(err) } else { err }
        })?;
        if print_as.all || i + 1 == count {
            emit(&result, print_as.format, output)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A statement's first 60 characters, for messages.
fn short(text: &str) -> String {
    let mut s: String = text.chars().take(60).collect();
    if s.len() < text.len() {
        s.push('…');
    }
    s
}

pub fn render(result: &QueryOutput, format: SqlFormat) -> Result<String> {
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

/// Prints a result, or writes it to `output` (with `--all`, each statement's
/// result replaces the last: the file holds the final one).
fn emit(result: &QueryOutput, format: SqlFormat, output: Option<&Path>) -> Result<()> {
    match (format, output) {
        (SqlFormat::Parquet, Some(path)) => tokentally_report::write_query_parquet(path, result)
            .with_context(|| format!("writing {}", path.display())),
        (_, Some(path)) => std::fs::write(path, render(result, format)?)
            .with_context(|| format!("writing {}", path.display())),
        (_, None) => print(&render(result, format)?),
    }
}
