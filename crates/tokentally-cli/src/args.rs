//! Command-line arguments. Validation that needs more than clap (month format,
//! config files, tables) happens in the commands before any work, with the
//! argument named in the error.

use crate::exit::EXIT_CODES_HELP;
use crate::logging::LogFormat;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Turn Azure OpenAI traffic logs into per-application token chargebacks.
///
/// Every command reads one pipeline config: --config, else the file named by
/// TOKENTALLY_CONFIG, else ./tokentally.toml, else the embedded sample pipeline
/// (pipelines/sample.toml; a note on stderr says so).
#[derive(Debug, Parser)]
#[command(name = "tokentally", version, about, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    /// More logging on stderr (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Log errors only (no warnings, no notes); RUST_LOG overrides.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Log lines as text, or as JSON objects for log shippers. Colour only when
    /// stderr is a terminal (and NO_COLOR is unset).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

/// `--config`, shared by the commands that read a pipeline.
#[derive(Debug, Clone, Args)]
pub struct ConfigArg {
    /// Pipeline config (TOML; see pipelines/sample.toml). Default: $TOKENTALLY_CONFIG,
    /// else ./tokentally.toml, else the embedded sample pipeline.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The batch job: ingest the configured inputs, then write the month's chargeback.
    #[command(after_help = EXIT_CODES_HELP)]
    Run(RunArgs),
    /// The capture proxy: forward AOAI calls unbuffered and send each call's gateway
    /// record to Kafka / Event Hubs. Runs until SIGTERM/Ctrl-C, then drains in-flight
    /// streams and settles every record (broker or spool) before exiting.
    #[command(after_help = EXIT_CODES_HELP)]
    Proxy {
        /// Proxy config (TOML); see pipelines/proxy.toml.
        #[arg(long)]
        config: PathBuf,
    },
    /// Read gateway records into the usage dataset: from files (JSONL, .gz, Event Hubs
    /// Capture .avro) or stdin (-), or from the config's inputs and Kafka / Event Hubs source.
    #[command(after_help = EXIT_CODES_HELP)]
    Ingest(IngestArgs),
    /// Write the monthly chargeback (CSV and Parquet), its FOCUS detail and the
    /// unpriced usage from the usage dataset, with the config's tables.
    #[command(after_help = EXIT_CODES_HELP)]
    Report(ReportArgs),
    /// Run SQL over the usage dataset and the config's tables: `usage` (every stored
    /// row), `calls` (one row per call, the copy the report counts: use it for
    /// totals), `prices`, `deployments`, `cost_centers` and `chargeback` (the
    /// written detail). Several statements run in order; the last one's result is
    /// printed (all with --all). Without a query or --file: reads stdin, or prompts
    /// when stdin is a terminal (statements end with `;`, `\d [TABLE]` lists
    /// columns, `.tables` the tables, `\q` quits; history in ~/.tokentally_history).
    #[command(after_help = EXIT_CODES_HELP)]
    Sql(SqlArgs),
    /// The price table: `tokentally prices check` lists the catalog models the
    /// usage data bills in a token class no price row names.
    Prices {
        #[command(subcommand)]
        command: PricesCommand,
    },
    /// Generate realistic, seeded sample traffic (gateway records).
    #[command(after_help = EXIT_CODES_HELP)]
    Sample(SampleArgs),
}

#[derive(Debug, Subcommand)]
pub enum PricesCommand {
    /// List the catalog models of a month's usage that use a token class (input,
    /// audio_output, …) no row of the price table prices, for any deployment type
    /// or date. Exit status 3 when there are any, 0 when there are none.
    #[command(after_help = EXIT_CODES_HELP)]
    Check(PriceCheckArgs),
}

/// `tokentally run`'s arguments.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Report this month (YYYY-MM) instead of the configured one.
    #[arg(long, conflicts_with = "month_to_date")]
    pub month: Option<String>,
    /// Report the current month so far (UTC) instead of the configured one:
    /// for a daily job that keeps a running chargeback.
    #[arg(long)]
    pub month_to_date: bool,
    /// Print the whole run as one JSON object: the ingest summaries and the
    /// report (month, totals, apps, files written).
    #[arg(long)]
    pub json: bool,
    /// Exit with status 3 when some usage has no price (files still written).
    #[arg(long)]
    pub strict: bool,
    /// Exit with status 4 when some input records were quarantined (the run
    /// still ingests the rest and writes the report).
    #[arg(long)]
    pub fail_on_quarantine: bool,
    /// Exit 0 rather than 7 when the month has no calls.
    #[arg(long)]
    pub allow_empty: bool,
}

impl RunArgs {
    /// The month asked for: `--month`, or `current` for `--month-to-date`.
    pub fn month_text(&self) -> Option<&str> {
        if self.month_to_date {
            Some("current")
        } else {
            self.month.as_deref()
        }
    }
}

/// `tokentally ingest`'s arguments.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Input files or directories; `-` reads stdin. They replace the config's
    /// inputs (and its Kafka source).
    pub inputs: Vec<PathBuf>,
    #[command(flatten)]
    pub config: ConfigArg,
    /// Output root (usage/ and quarantine/ go below it); default: the config's
    /// [output] dir.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the run summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// Exit with status 4 when some records were quarantined (the rest is
    /// still ingested).
    #[arg(long)]
    pub fail_on_quarantine: bool,
    /// Exit 0 rather than 7 when every record was quarantined.
    #[arg(long)]
    pub allow_empty: bool,
}

/// `tokentally report`'s arguments.
#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// The month, YYYY-MM (UTC), `current` (month to date) or `previous`.
    /// Default: the config's [report] month.
    #[arg(long)]
    pub month: Option<String>,
    #[command(flatten)]
    pub tables: TableArgs,
    /// An Azure Cost Management export in the FOCUS format (CSV or
    /// Parquet): each Azure OpenAI resource's invoiced cost is shared over
    /// the apps that used it (`invoice_cost`). Default: the config's
    /// [report] invoice.
    #[arg(long)]
    pub invoice: Option<PathBuf>,
    /// Exit with status 3 when some usage has no price (the files are still
    /// written), so a scheduler notices instead of finance finding a gap.
    #[arg(long)]
    pub strict: bool,
    /// Exit 0 rather than 7 when the month has no calls.
    #[arg(long)]
    pub allow_empty: bool,
    /// Print the report (month, totals, apps, files written) as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `tokentally sql`'s arguments.
#[derive(Debug, Args)]
pub struct SqlArgs {
    /// The SQL (may start with a `--` comment); `-` reads stdin.
    #[arg(allow_hyphen_values = true, conflicts_with = "file")]
    pub query: Option<String>,
    /// Read the SQL from this file (`-`: stdin).
    #[arg(long)]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub config: ConfigArg,
    #[command(flatten)]
    pub tables: TableArgs,
    /// Print every statement's result, not only the last.
    #[arg(long)]
    pub all: bool,
    #[arg(long, value_enum, default_value_t = SqlFormat::Table)]
    pub format: SqlFormat,
    /// Write the result to this file instead of stdout (required for parquet).
    #[arg(long, required_if_eq("format", "parquet"))]
    pub output: Option<PathBuf>,
}

/// `tokentally prices check`'s arguments.
#[derive(Debug, Args)]
pub struct PriceCheckArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// The month, YYYY-MM (UTC), `current` or `previous`. Default: the
    /// config's [report] month.
    #[arg(long)]
    pub month: Option<String>,
    #[command(flatten)]
    pub tables: TableArgs,
}

/// `tokentally sample`'s arguments.
#[derive(Debug, Args)]
pub struct SampleArgs {
    /// Output file; `.gz` compresses.
    #[arg(long)]
    pub out: PathBuf,
    /// Number of calls.
    #[arg(long, default_value_t = tokentally_sample::SampleConfig::default().calls)]
    pub calls: usize,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Month of the traffic, YYYY-MM.
    #[arg(long, default_value = "2026-10")]
    pub month: String,
}

/// Overrides of the config's folders and tables, for one run.
#[derive(Debug, Clone, Args)]
pub struct TableArgs {
    /// Output root holding usage/ (and where the chargeback goes). Default: the
    /// config's [output] dir.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Price table (CSV). Default: the config's [report] prices.
    #[arg(long)]
    pub prices: Option<PathBuf>,
    /// Deployment table (CSV: deployment type, region, PTU monthly cost).
    /// Default: the config's [report] deployments.
    #[arg(long)]
    pub deployments: Option<PathBuf>,
    /// Cost-center map (CSV: app_id, app_name, team, cost_center, owner).
    /// Default: the config's [report] cost_centers; apps it does not list are
    /// reported under `unassigned`.
    #[arg(long)]
    pub cost_centers: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SqlFormat {
    /// An aligned text table.
    Table,
    /// CSV with a header row.
    Csv,
    /// JSON Lines: one JSON object per row, one row per line (for jq, pandas `lines=True`).
    #[value(alias = "jsonl")]
    Json,
    /// One Parquet file (needs --output).
    Parquet,
}
