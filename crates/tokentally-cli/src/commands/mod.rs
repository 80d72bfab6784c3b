//! One module per subcommand; each turns arguments into library calls and prints.

mod ingest;
mod progress;
mod report;
mod run;
mod sample;
mod signals;
mod sql;

use crate::args::{Cli, Command};
use anyhow::{Context as _, Result};
use chrono::{Datelike as _, Utc};
use std::process::ExitCode;
use tokentally_report::Month;

pub fn dispatch(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Run { config, month, json } => run::run(config.as_deref(), month.as_deref(), json),
        Command::Ingest {
            inputs,
            config,
            out,
            json,
        } => ingest::ingest(&inputs, config.as_deref(), out.as_deref(), json),
        Command::Report {
            month,
            out,
            prices,
            cost_centers,
            strict,
        } => report::report(month.as_deref(), &out, &prices, cost_centers.as_deref(), strict),
        Command::Sql {
            query,
            out,
            prices,
            format,
        } => sql::sql(&query, &out, &prices, format),
        Command::Sample {
            out,
            calls,
            seed,
            month,
        } => sample::sample(&out, calls, seed, &month),
    }
}

/// `YYYY-MM`, or `previous` for the month before this one (UTC).
pub fn parse_month(text: Option<&str>) -> Result<Month> {
    match text.unwrap_or("previous") {
        "previous" => {
            let today = Utc::now().date_naive();
            let (year, month) = if today.month() == 1 {
                (today.year() - 1, 12)
            } else {
                (today.year(), today.month() - 1)
            };
            format!("{year:04}-{month:02}")
                .parse()
                .context("computing the previous month")
        }
        text => text
            .parse()
            .with_context(|| format!("--month {text:?}: expected YYYY-MM")),
    }
}

/// A multi-threaded runtime for the DataFusion commands.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth a message.
pub fn print(text: &str) -> Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing to stdout"),
    }
}
