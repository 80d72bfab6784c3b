//! Which pipeline config a command reads, found the way users of dbt or az
//! expect: `--config`, else the file `TOKENTALLY_CONFIG` names, else
//! `./tokentally.toml`, else the embedded sample pipeline, which says so first.
//! Every command (`run`, `ingest`, `report`, `sql`) reads its tables and folders
//! from the one config this finds, so they agree on cost centers and prices.

use crate::config::PipelineConfig;
use crate::exit::UsageContext as _;
use crate::logging;
use anyhow::{Context as _, Result};
use std::path::{Path, PathBuf};

/// The environment variable naming the config when `--config` is not given.
pub const CONFIG_ENV: &str = "TOKENTALLY_CONFIG";
/// The config file looked for in the working directory.
pub const LOCAL_CONFIG: &str = "tokentally.toml";

/// Where the config in use came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Flag(PathBuf),
    Env(PathBuf),
    WorkingDir(PathBuf),
    EmbeddedSample,
}

/// A config and where it came from.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub config: PipelineConfig,
    pub origin: Origin,
}

/// Finds and loads the config; a config that is named but missing or invalid
/// is a usage error, never a silent fall-back to the sample.
pub fn pipeline(flag: Option<&Path>) -> Result<Pipeline> {
    let origin = origin(
        flag,
        std::env::var_os(CONFIG_ENV).map(PathBuf::from),
        Path::new(LOCAL_CONFIG),
    );
    let config = match &origin {
        Origin::Flag(path) | Origin::WorkingDir(path) => PipelineConfig::load(path).usage()?,
        Origin::Env(path) => PipelineConfig::load(path)
            .with_context(|| format!("{CONFIG_ENV}={}", path.display()))
            .usage()?,
        Origin::EmbeddedSample => {
            logging::notice(&format!(
                "no --config, no {CONFIG_ENV} and no ./{LOCAL_CONFIG}: using the embedded sample \
                 pipeline (pipelines/sample.toml, paths relative to this directory)"
            ));
            sample_here()?
        }
    };
    tracing::debug!(?origin, "pipeline config");
    Ok(Pipeline { config, origin })
}

fn origin(flag: Option<&Path>, env: Option<PathBuf>, local: &Path) -> Origin {
    if let Some(path) = flag {
        return Origin::Flag(path.to_owned());
    }
    if let Some(path) = env.filter(|p| !p.as_os_str().is_empty()) {
        return Origin::Env(path);
    }
    if local.is_file() {
        return Origin::WorkingDir(local.to_owned());
    }
    Origin::EmbeddedSample
}

/// The embedded sample, its optional tables kept only where they exist here, so
/// `sql` and `report` work over a dataset in any folder.
fn sample_here() -> Result<PipelineConfig> {
    let mut config = PipelineConfig::embedded_sample()?;
    config.report.deployments = config.report.deployments.filter(|p| p.is_file());
    config.report.cost_centers = config.report.cost_centers.filter(|p| p.is_file());
    config.report.invoice = config.report.invoice.filter(|p| p.is_file());
    Ok(config)
}

impl Pipeline {
    /// The price table for `sql`: the config's, except that the embedded sample's
    /// is left out where it does not exist (a report needs one; a query does not).
    pub fn sql_prices(&self) -> Option<PathBuf> {
        let prices = &self.config.report.prices;
        (self.origin != Origin::EmbeddedSample || prices.is_file()).then(|| prices.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_beats_the_variable_beats_the_local_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let local = dir.path().join(LOCAL_CONFIG);
        let flag = Path::new("a.toml");
        let env = Some(PathBuf::from("b.toml"));
        assert_eq!(
            origin(Some(flag), env.clone(), &local),
            Origin::Flag(flag.to_owned())
        );
        assert_eq!(origin(None, env, &local), Origin::Env(PathBuf::from("b.toml")));
        assert_eq!(origin(None, Some(PathBuf::new()), &local), Origin::EmbeddedSample);
        std::fs::write(&local, "").expect("write");
        assert_eq!(origin(None, None, &local), Origin::WorkingDir(local.clone()));
    }
}
