//! Command-line arguments. Validation that needs more than clap (month format,
//! config files) happens in the commands, with the argument named in the error.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Turn Azure OpenAI traffic logs into per-application token chargebacks.
#[derive(Debug, Parser)]
#[command(name = "tokentally", version, about)]
pub struct Cli {
    /// More logging on stderr (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The batch job: ingest the configured inputs, then write the month's chargeback.
    /// Without --config it runs the embedded default: the committed sample month.
    Run {
        /// Pipeline config (TOML); see pipelines/sample.toml.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Report this month (YYYY-MM) instead of the configured one.
        #[arg(long, conflicts_with = "month_to_date")]
        month: Option<String>,
        /// Report the current month so far (UTC) instead of the configured one:
        /// for a daily job that keeps a running chargeback.
        #[arg(long)]
        month_to_date: bool,
        /// Print the ingest summary as JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Exit with status 3 when some usage has no price (files still written).
        #[arg(long)]
        strict: bool,
        /// Exit with status 4 when some input records were quarantined (the run
        /// still ingests the rest and writes the report).
        #[arg(long)]
        fail_on_quarantine: bool,
    },
    /// The capture proxy: forward AOAI calls unbuffered and send each call's gateway
    /// record to Kafka / Event Hubs. Runs until SIGTERM/Ctrl-C, then drains in-flight
    /// streams and settles every record (broker or spool) before exiting.
    Proxy {
        /// Proxy config (TOML); see pipelines/proxy.toml.
        #[arg(long)]
        config: PathBuf,
    },
    /// Read gateway records into the usage dataset: from files (JSONL, .gz, Event Hubs
    /// Capture .avro) or stdin (-), or from the Kafka / Event Hubs source of --config.
    Ingest {
        /// Input files or directories; `-` reads stdin. With --config, these replace
        /// the config's inputs.
        inputs: Vec<PathBuf>,
        /// Pipeline config (TOML) naming files and/or a [kafka] source.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Output root (usage/ and quarantine/ go below it); default `out`, or the
        /// config's [output] dir.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print the run summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write the monthly chargeback (CSV and Parquet), its FOCUS detail and the
    /// unpriced usage from the usage dataset.
    Report {
        /// The month, YYYY-MM (UTC), or `current` (month to date). Defaults to the
        /// previous month.
        #[arg(long)]
        month: Option<String>,
        /// Output root holding usage/; the chargeback is written here too.
        #[arg(long, default_value = "out")]
        out: PathBuf,
        /// Price table (CSV).
        #[arg(long, default_value = "pipelines/prices.csv")]
        prices: PathBuf,
        /// Deployment table (CSV: deployment type, region, PTU monthly cost).
        /// Default: pipelines/deployments.csv when it exists; without one, only
        /// prices for any deployment type apply.
        #[arg(long)]
        deployments: Option<PathBuf>,
        /// Cost-center map (CSV: app_id, app_name, team, cost_center, owner); apps
        /// it does not list are reported under `unassigned`.
        #[arg(long)]
        cost_centers: Option<PathBuf>,
        /// Exit with status 3 when some usage has no price (the files are still
        /// written), so a scheduler notices instead of finance finding a gap.
        #[arg(long)]
        strict: bool,
    },
    /// Run SQL over the usage dataset and its tables: `usage`, `prices`,
    /// `deployments`, `cost_centers` and the `chargeback` view (the written detail).
    /// Without a query or --file: reads stdin, or prompts when stdin is a terminal
    /// (statements end with `;`).
    Sql {
        /// The query (may start with a `--` SQL comment); `-` reads stdin.
        #[arg(allow_hyphen_values = true, conflicts_with = "file")]
        query: Option<String>,
        /// Read the query from this file (`-`: stdin).
        #[arg(long)]
        file: Option<PathBuf>,
        /// Output root holding usage/ and the written chargeback detail.
        #[arg(long, default_value = "out")]
        out: PathBuf,
        /// Price table registered as `prices` (default: pipelines/prices.csv when it exists).
        #[arg(long)]
        prices: Option<PathBuf>,
        /// Deployment table registered as `deployments` (default: pipelines/deployments.csv when it exists).
        #[arg(long)]
        deployments: Option<PathBuf>,
        /// Cost-center map registered as `cost_centers` (default: pipelines/cost-centers.csv when it exists).
        #[arg(long)]
        cost_centers: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = SqlFormat::Table)]
        format: SqlFormat,
        /// Write the result to this file instead of stdout (required for parquet).
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// The price table: `tokentally prices check` lists the catalog models the
    /// usage data bills in a token class no price row names.
    Prices {
        #[command(subcommand)]
        command: PricesCommand,
    },
    /// Generate realistic, seeded sample traffic (gateway records).
    Sample {
        /// Output file; `.gz` compresses.
        #[arg(long)]
        out: PathBuf,
        /// Number of calls.
        #[arg(long, default_value_t = tokentally_sample::SampleConfig::default().calls)]
        calls: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Month of the traffic, YYYY-MM.
        #[arg(long, default_value = "2026-10")]
        month: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum PricesCommand {
    /// List the catalog models of a month's usage that use a token class (input,
    /// audio_output, …) no row of the price table prices, for any deployment type
    /// or date. Exit status 3 when there are any, 0 when there are none.
    Check {
        /// The month, YYYY-MM (UTC), or `current`. Defaults to the previous month.
        #[arg(long)]
        month: Option<String>,
        /// Output root holding usage/.
        #[arg(long, default_value = "out")]
        out: PathBuf,
        /// Price table (CSV).
        #[arg(long, default_value = "pipelines/prices.csv")]
        prices: PathBuf,
        /// Deployment table: usage on provisioned deployments needs no price row.
        /// Default: pipelines/deployments.csv when it exists.
        #[arg(long)]
        deployments: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SqlFormat {
    Table,
    Csv,
    Json,
    Parquet,
}
