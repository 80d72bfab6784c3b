//! The `tokentally` binary: argument parsing and wiring over the library crates.
//! No business logic lives here (see ARCHITECTURE.md).

mod args;
mod commands;
mod config;

use clap::Parser as _;
use std::process::ExitCode;

/// Parsing allocates a small string per JSON field it keeps; mimalloc made
/// parsing and ingest about a tenth faster than the system allocator
/// (benches/README.md, "Kafka ingest"). The benches that time whole runs use it too.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = args::Cli::parse();
    init_tracing(args.verbose);
    match commands::dispatch(args) {
        Ok(code) => code,
        Err(err) => {
            // anyhow's alternate form prints the whole context chain on one line.
            #[allow(clippy::print_stderr)]
            {
                eprintln!("error: {err:#}");
            }
            ExitCode::from(2)
        }
    }
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
