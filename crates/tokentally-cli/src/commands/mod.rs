//! One module per subcommand; each turns arguments into library calls and prints.

mod ingest;
mod prices;
mod progress;
mod proxy;
mod report;
mod run;
mod sample;
mod signals;
mod sql;

use crate::args::{Cli, Command, PricesCommand};
use anyhow::{Context as _, Result};
use chrono::{Datelike as _, Utc};
use std::process::ExitCode;
use tokentally_report::Month;

/// Exit status when `--strict` finds usage without a price (files still written).
pub const EXIT_UNPRICED: u8 = 3;
/// Exit status of `run --fail-on-quarantine` when records were quarantined.
pub const EXIT_QUARANTINED: u8 = 4;
/// An until-caught-up Kafka run stopped by SIGTERM/SIGINT before it caught up: what
/// was read is durable and committed, the rest is read next time.
pub const EXIT_INTERRUPTED: u8 = 5;
/// The proxy stopped after losing records (spool full or unwritable, or records
/// too big for the broker); the log names each loss.
pub const EXIT_RECORDS_LOST: u8 = 6;

pub fn dispatch(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Run {
            config,
            month,
            month_to_date,
            json,
            strict,
            fail_on_quarantine,
        } => run::run(&run::RunArgs {
            config: config.as_deref(),
            month: if month_to_date {
                Some("current")
            } else {
                month.as_deref()
            },
            json,
            strict,
            fail_on_quarantine,
        }),
        Command::Proxy { config } => proxy::proxy(&config),
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
            deployments,
            cost_centers,
            strict,
        } => {
            let deployments = deployments.or_else(|| existing("pipelines/deployments.csv"));
            let tables = report::Tables {
                prices: &prices,
                deployments: deployments.as_deref(),
                cost_centers: cost_centers.as_deref(),
            };
            report::report(month.as_deref(), &out, &tables, strict)
        }
        Command::Sql {
            query,
            file,
            out,
            prices,
            deployments,
            cost_centers,
            format,
            output,
        } => {
            let tables = tokentally_report::SqlTables {
                data_dir: out,
                prices: prices.or_else(|| existing("pipelines/prices.csv")),
                deployments: deployments.or_else(|| existing("pipelines/deployments.csv")),
                cost_centers: cost_centers.or_else(|| existing("pipelines/cost-centers.csv")),
            };
            let source = sql::Source::from_args(query, file);
            sql::sql(source, &tables, format, output.as_deref())
        }
        Command::Prices {
            command:
                PricesCommand::Check {
                    month,
                    out,
                    prices,
                    deployments,
                },
        } => {
            let deployments = deployments.or_else(|| existing("pipelines/deployments.csv"));
            prices::check(month.as_deref(), &out, &prices, deployments.as_deref())
        }
        Command::Sample {
            out,
            calls,
            seed,
            month,
        } => sample::sample(&out, calls, seed, &month),
    }
}

/// A default table path, used only when the file is there (run from the
/// repository root, the shipped tables apply; elsewhere, none is assumed).
fn existing(path: &str) -> Option<std::path::PathBuf> {
    let path = std::path::PathBuf::from(path);
    path.is_file().then_some(path)
}

/// `YYYY-MM`, `previous` for the month before this one, or `current` for this
/// month so far (UTC).
pub fn parse_month(text: Option<&str>) -> Result<Month> {
    match text.unwrap_or("previous") {
        "current" => {
            let today = Utc::now().date_naive();
            Month::new(today.year(), today.month()).context("computing the current month")
        }
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
