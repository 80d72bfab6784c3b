//! One module per subcommand; each turns arguments into library calls and prints.

mod ingest;
mod lake;
mod prices;
mod progress;
mod proxy;
mod report;
mod run;
mod sample;
mod signals;
mod sql;
mod sql_prompt;

use crate::args::{Cli, Command, PricesCommand, TableArgs};
use crate::discover::{self, Pipeline};
use crate::exit::UsageContext as _;
use anyhow::{Context as _, Result};
use chrono::{Datelike as _, Utc};
use std::process::ExitCode;
use tokentally_report::Month;

pub fn dispatch(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Run {
            config,
            month,
            month_to_date,
            json,
            strict,
            fail_on_quarantine,
            allow_empty,
        } => run::run(&run::RunArgs {
            config: config.config.as_deref(),
            month: if month_to_date {
                Some("current")
            } else {
                month.as_deref()
            },
            json,
            strict,
            fail_on_quarantine,
            allow_empty,
        }),
        Command::Proxy { config } => proxy::proxy(&config),
        Command::Ingest {
            inputs,
            config,
            out,
            json,
            fail_on_quarantine,
            allow_empty,
        } => {
            let pipeline = discover::pipeline(config.config.as_deref())?;
            let flags = ingest::IngestFlags {
                json,
                fail_on_quarantine,
                allow_empty,
            };
            ingest::ingest(&inputs, pipeline, out, flags)
        }
        Command::Report {
            config,
            month,
            tables,
            invoice,
            strict,
            allow_empty,
            json,
        } => {
            let mut pipeline = with_tables(discover::pipeline(config.config.as_deref())?, tables);
            if invoice.is_some() {
                pipeline.config.report.invoice = invoice;
            }
            let flags = report::ReportFlags {
                strict,
                allow_empty,
                json,
            };
            report::report(month.as_deref(), &pipeline, flags)
        }
        Command::Sql {
            query,
            file,
            config,
            tables,
            all,
            format,
            output,
        } => {
            let pipeline = with_tables(discover::pipeline(config.config.as_deref())?, tables);
            let source = sql::Source::from_args(query, file);
            sql::sql_over(&pipeline, source, sql::Print { format, all }, output.as_deref())
        }
        Command::Prices {
            command:
                PricesCommand::Check {
                    config,
                    month,
                    tables,
                },
        } => {
            let pipeline = with_tables(discover::pipeline(config.config.as_deref())?, tables);
            prices::check(month.as_deref(), &pipeline)
        }
        Command::Sample {
            out,
            calls,
            seed,
            month,
        } => sample::sample(&out, calls, seed, &month),
    }
}

/// The config with the command line's folder and tables in place of its own.
fn with_tables(mut pipeline: Pipeline, tables: TableArgs) -> Pipeline {
    if let Some(out) = tables.out {
        pipeline.config.output.dir = out;
    }
    let report = &mut pipeline.config.report;
    if let Some(prices) = tables.prices {
        // A table named on the command line must exist, whatever the config.
        pipeline.origin = discover::Origin::Flag(prices.clone());
        report.prices = prices;
    }
    if tables.deployments.is_some() {
        report.deployments = tables.deployments;
    }
    if tables.cost_centers.is_some() {
        report.cost_centers = tables.cost_centers;
    }
    pipeline
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
            .with_context(|| format!("--month {text:?}: expected YYYY-MM, current or previous"))
            .usage(),
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
