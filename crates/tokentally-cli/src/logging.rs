//! Logs on stderr: plain text without colour codes unless stderr is a terminal
//! (systemd's journal and `kubectl logs` get plain text), or JSON lines for log
//! shippers; `-v`/`-vv` for more, `--quiet` for errors only; RUST_LOG overrides.

use clap::ValueEnum;
use std::io::IsTerminal as _;
use std::sync::OnceLock;

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One line of text per event.
    #[default]
    Text,
    /// One JSON object per event (timestamp, level, target, fields).
    Json,
}

/// What the process was started with, for notices printed outside `tracing`.
#[derive(Debug, Clone, Copy)]
struct Settings {
    quiet: bool,
    format: LogFormat,
}

static SETTINGS: OnceLock<Settings> = OnceLock::new();

pub fn init(verbose: u8, quiet: bool, format: LogFormat) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let _ = SETTINGS.set(Settings { quiet, format });
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn settings() -> Settings {
    SETTINGS.get().copied().unwrap_or(Settings {
        quiet: false,
        format: LogFormat::Text,
    })
}

/// A notice a person must see before anything else (which config is in use):
/// a plain line on stderr, a warning event in JSON; nothing with `--quiet`.
pub fn notice(text: &str) {
    let s = settings();
    if s.quiet {
        return;
    }
    match s.format {
        LogFormat::Json => tracing::warn!("{text}"),
        #[allow(clippy::print_stderr)]
        LogFormat::Text => eprintln!("note: {text}"),
    }
}

/// The final error: `error: …` on stderr, or an error event in JSON.
pub fn error(message: &str, code: u8) {
    match settings().format {
        LogFormat::Json => tracing::error!(exit_status = code, "{message}"),
        #[allow(clippy::print_stderr)]
        LogFormat::Text => eprintln!("error: {message}"),
    }
}
