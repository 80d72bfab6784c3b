//! The `tokentally` binary: argument parsing and wiring over the library crates.
//! No business logic lives here (see ARCHITECTURE.md).

mod args;
mod commands;
mod config;
mod discover;
mod exit;
mod logging;

use clap::Parser as _;
use std::process::ExitCode;

/// Parsing allocates a small string per JSON field it keeps; mimalloc made
/// parsing and ingest about a tenth faster than the system allocator
/// (benches/README.md, "Kafka ingest"). The benches that time whole runs use it too.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = args::Cli::parse();
    logging::init(args.verbose, args.quiet, args.log_format);
    match commands::dispatch(args) {
        Ok(code) => code,
        Err(err) => {
            let code = exit::code(&err);
            logging::error(&exit::message(&err), code);
            ExitCode::from(code)
        }
    }
}
