//! `tokentally proxy`: starts the capture proxy and stops it gracefully on
//! SIGTERM/SIGINT, printing where it listens and, at the end, its counters.

use crate::exit::UsageContext as _;
use anyhow::{Context as _, Result};
use std::path::Path;
use std::process::ExitCode;
use tokentally_proxy::ProxyConfig;

pub fn proxy(config: &Path) -> Result<ExitCode> {
    let config = ProxyConfig::from_file(config)
        .with_context(|| format!("loading {}", config.display()))
        .usage()?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let running = tokentally_proxy::start(config)
            .await
            .context("starting the proxy")?;
        #[allow(clippy::print_stdout)]
        {
            println!("tokentally proxy listening on {}", running.addr());
        }
        wait_for_signal().await?;
        tracing::info!("signal received: draining in-flight calls");
        running.shutdown();
        let stats = running.wait().await.context("shutting the proxy down")?;
        #[allow(clippy::print_stdout)]
        {
            println!(
                "{}",
                serde_json::to_string(&stats).context("printing the counters")?
            );
        }
        Ok(if stats.records_lost > 0 {
            ExitCode::from(crate::exit::EXIT_RECORDS_LOST)
        } else {
            ExitCode::SUCCESS
        })
    })
}

async fn wait_for_signal() -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}
