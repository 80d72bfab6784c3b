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

use crate::args::{Cli, Command, IngestArgs, PriceCheckArgs, PricesCommand, ReportArgs, SqlArgs, TableArgs};
use crate::discover::{self, Pipeline};
use crate::exit::UsageContext as _;
use anyhow::{Context as _, Result};
use chrono::{Datelike as _, Utc};
use std::process::ExitCode;
use tokentally_report::Month;

pub fn dispatch(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Run(args) => run::run(&args),
        Command::Proxy { config } => proxy::proxy(&config),
        Command::Ingest(args) => ingest(args),
        Command::Report(args) => report(args),
        Command::Sql(args) => sql(args),
        Command::Prices {
            command: PricesCommand::Check(args),
        } => prices_check(args),
        Command::Sample(args) => sample::sample(&args.out, args.calls, args.seed, &args.month),
    }
}

fn ingest(args: IngestArgs) -> Result<ExitCode> {
    let pipeline = discover::pipeline(args.config.config.as_deref())?;
    let flags = ingest::IngestFlags {
        json: args.json,
        fail_on_quarantine: args.fail_on_quarantine,
        allow_empty: args.allow_empty,
    };
    ingest::ingest(&args.inputs, pipeline, args.out, flags)
}

fn report(args: ReportArgs) -> Result<ExitCode> {
    let mut pipeline = with_tables(discover::pipeline(args.config.config.as_deref())?, args.tables);
    if args.invoice.is_some() {
        pipeline.config.report.invoice = args.invoice;
    }
    let flags = report::ReportFlags {
        strict: args.strict,
        allow_empty: args.allow_empty,
        json: args.json,
    };
    report::report(args.month.as_deref(), &pipeline, flags)
}

fn sql(args: SqlArgs) -> Result<ExitCode> {
    let pipeline = with_tables(discover::pipeline(args.config.config.as_deref())?, args.tables);
    let source = sql::Source::from_args(args.query, args.file);
    let print = sql::Print {
        format: args.format,
        all: args.all,
    };
    sql::sql_over(&pipeline, source, print, args.output.as_deref())
}

fn prices_check(args: PriceCheckArgs) -> Result<ExitCode> {
    let pipeline = with_tables(discover::pipeline(args.config.config.as_deref())?, args.tables);
    prices::check(args.month.as_deref(), &pipeline)
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
