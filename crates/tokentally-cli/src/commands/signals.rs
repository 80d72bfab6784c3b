//! SIGTERM (Kubernetes, systemd) and SIGINT (Ctrl-C) ask a Kafka run to stop: it
//! finishes the event in hand, writes and commits what it read, and exits.

use anyhow::{Context as _, Result};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

pub fn stop_flag() -> Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, Arc::clone(&stop)).context("installing the signal handler")?;
    }
    Ok(stop)
}
