//! Fault injection for the delivery-contract tests (`tests/e2e/kafka_faults.rs`).
//!
//! With the `failpoints` feature, which only the CLI's test build turns on,
//! `TOKENTALLY_FAILPOINTS="name=actions;…"` (fail-rs action syntax, e.g.
//! `sink::rename=1*off->return` fails the second rename) arms these points:
//!
//! - `sink::rename`: a Parquet part's rename into place fails (an I/O error).
//! - `kafka::commit`: the process aborts after a flush's files are renamed and
//!   fsynced, before their offsets are committed (a crash in that window).
//!
//! Without the feature the points compile to nothing.

/// Arms the points named in `TOKENTALLY_FAILPOINTS`, once per process.
pub(crate) fn arm_from_env() {
    #[cfg(feature = "failpoints")]
    {
        static ARMED: std::sync::Once = std::sync::Once::new();
        ARMED.call_once(|| {
            let Ok(spec) = std::env::var("TOKENTALLY_FAILPOINTS") else {
                return;
            };
            for item in spec.split(';').filter(|i| !i.trim().is_empty()) {
                let armed = item
                    .split_once('=')
                    .ok_or_else(|| "expected name=actions".to_owned())
                    .and_then(|(name, actions)| fail::cfg(name.trim(), actions.trim()));
                match armed {
                    Ok(()) => tracing::warn!(point = item, "fault injection armed"),
                    Err(e) => tracing::error!(point = item, error = %e, "fault injection"),
                }
            }
        });
    }
}
