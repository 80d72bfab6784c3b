//! Exit statuses: the one list, shown in every command's `--help` and kept
//! equal to the README's table by an end-to-end test.

/// A runtime failure: an input, the broker or an output failed while working.
pub const EXIT_FAILURE: u8 = 1;
/// A usage error: bad arguments or configuration, found before any work (clap
/// uses 2 for its own argument errors too).
pub const EXIT_USAGE: u8 = 2;
/// `--strict` found usage without a price (files still written).
pub const EXIT_UNPRICED: u8 = 3;
/// `--fail-on-quarantine` and records were quarantined.
pub const EXIT_QUARANTINED: u8 = 4;
/// An until-caught-up Kafka run stopped by SIGTERM/SIGINT before it caught up: what
/// was read is durable and committed, the rest is read next time.
pub const EXIT_INTERRUPTED: u8 = 5;
/// The proxy stopped after losing records (spool full or unwritable, or records
/// too big for the broker); the log names each loss.
pub const EXIT_RECORDS_LOST: u8 = 6;
/// Nothing to report: an ingest where every record was quarantined, or a month
/// with no calls. `--allow-empty` makes both a success.
pub const EXIT_EMPTY: u8 = 7;

/// The `--help` section listing them.
pub const EXIT_CODES_HELP: &str = "\
Exit status:
  0  success
  1  runtime failure: an input, the broker or an output failed while working (the message names it)
  2  usage error: bad arguments or configuration, found before any work was done
  3  --strict: some usage has no price (all files are still written)
  4  --fail-on-quarantine: some records were quarantined (the rest is still ingested and reported)
  5  an until-caught-up Kafka run was stopped by a signal before catching up (no report is written)
  6  proxy: records were lost (spool full, or a record too big even compressed)
  7  nothing to report: every record was quarantined, or the month has no calls (--allow-empty: 0)";

/// Bad arguments or configuration: exits with [`EXIT_USAGE`] rather than
/// [`EXIT_FAILURE`]. Holds the whole message of the error it marks.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(String);

/// Marks an error as a usage error, keeping its message and causes.
pub fn usage(err: anyhow::Error) -> anyhow::Error {
    anyhow::Error::new(UsageError(message(&err)))
}

/// `.usage()` on a result: its error becomes a usage error.
pub trait UsageContext<T> {
    fn usage(self) -> anyhow::Result<T>;
}

impl<T> UsageContext<T> for anyhow::Result<T> {
    fn usage(self) -> anyhow::Result<T> {
        self.map_err(usage)
    }
}

/// The status an error exits with.
pub fn code(err: &anyhow::Error) -> u8 {
    if err.chain().any(|e| e.is::<UsageError>()) {
        EXIT_USAGE
    } else {
        EXIT_FAILURE
    }
}

/// The error and its causes on one line, each said once: a cause whose text the
/// line already holds (a library error that repeats its source's message) is left out.
pub fn message(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if text.is_empty() || line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context as _;

    #[test]
    fn a_repeated_cause_is_said_once() {
        let inner = std::io::Error::other("Schema error: no field named nope");
        let err = anyhow::Error::new(inner)
            .context("query error: Schema error: no field named nope")
            .context("query q.sql");
        assert_eq!(
            message(&err),
            "query q.sql: query error: Schema error: no field named nope"
        );
        assert_eq!(code(&err), EXIT_FAILURE);
    }

    #[test]
    fn usage_errors_keep_their_status_under_more_context() {
        let err = usage(anyhow::anyhow!("--month \"2026-13\": expected YYYY-MM"));
        let err = Err::<(), _>(err).context("in run").expect_err("error");
        assert_eq!(code(&err), EXIT_USAGE);
        assert!(message(&err).contains("2026-13"), "{}", message(&err));
    }
}
