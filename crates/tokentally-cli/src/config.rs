//! Pipeline configuration files (TOML). Unknown keys are errors: a typo in a
//! scheduled job's config must fail loudly, not silently fall back to a default.

use anyhow::{Context as _, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use tokentally_ingest::KafkaConfig;

/// The embedded default pipeline: the committed sample month, resolved as if it
/// were read from `pipelines/sample.toml` in the current directory.
const SAMPLE: &str = include_str!("../../../pipelines/sample.toml");

/// A pipeline: where records come from, where the dataset goes, what to report.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    #[serde(default)]
    pub input: InputConfig,
    /// Kafka or Event Hubs source (see pipelines/local-kafka.toml, eventhubs.toml).
    #[serde(default)]
    pub kafka: Option<KafkaConfig>,
    #[serde(default)]
    pub output: OutputConfig,
    #[serde(default)]
    pub report: ReportConfig,
}

/// Inputs of an ingest run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputConfig {
    /// Files or directories of gateway records (`.jsonl`, `.jsonl.gz`), relative to
    /// the config file. Event Hubs Capture files (Avro) are read too.
    #[serde(default)]
    pub files: Vec<PathBuf>,
    /// Events (lines, Kafka messages, Capture bodies) larger than this many bytes
    /// are quarantined unread; so are gzip events and split records that would
    /// inflate or join past it.
    #[serde(default = "default_max_event_bytes")]
    pub max_event_bytes: usize,
    /// Bytes of split-record parts and LLM-log records one source (a Kafka
    /// partition, a file) holds while waiting for the rest; past it the oldest
    /// are given up (written with what they have, or quarantined). At least
    /// `max_event_bytes`.
    #[serde(default = "default_max_held_bytes")]
    pub max_held_bytes: usize,
}

impl Default for InputConfig {
    fn default() -> Self {
        Self {
            files: Vec::new(),
            max_event_bytes: default_max_event_bytes(),
            max_held_bytes: default_max_held_bytes(),
        }
    }
}

fn default_max_event_bytes() -> usize {
    tokentally_ingest::DEFAULT_MAX_EVENT_BYTES
}
fn default_max_held_bytes() -> usize {
    tokentally_ingest::DEFAULT_MAX_HELD_BYTES
}

/// The usage dataset and where reports go.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    /// Output root, relative to the config file: `usage/`, `quarantine/` and the
    /// chargeback files are written below it.
    #[serde(default = "default_out_dir")]
    pub dir: PathBuf,
    /// Rows buffered before Parquet parts are written; bounds memory.
    #[serde(default = "default_max_buffered_rows")]
    pub max_buffered_rows: usize,
    /// Bytes of rows (what their column builders hold) buffered before Parquet
    /// parts are written, whichever of this and `max_buffered_rows` comes first.
    #[serde(default = "default_max_buffered_bytes")]
    pub max_buffered_bytes: usize,
    /// Raw bytes of bad records kept in quarantine per input.
    #[serde(default = "default_max_quarantine_bytes")]
    pub max_quarantine_bytes: usize,
}

/// What the batch job reports after ingesting.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportConfig {
    /// `YYYY-MM`, `previous` for the month before the current one, or `current`
    /// for the month so far (UTC).
    #[serde(default = "default_month")]
    pub month: String,
    /// Price table, relative to the config file.
    #[serde(default = "default_prices")]
    pub prices: PathBuf,
    /// Cost-center map (app_id → app name, team, cost center, owner), relative to
    /// the config file; without it every app is reported under `unassigned`.
    #[serde(default)]
    pub cost_centers: Option<PathBuf>,
    /// Deployment table (type, region, PTU monthly cost), relative to the config
    /// file; without it only prices for any deployment type apply.
    #[serde(default)]
    pub deployments: Option<PathBuf>,
    /// Azure Cost Management export in the FOCUS format (CSV or Parquet),
    /// relative to the config file: each Azure OpenAI resource's invoiced cost
    /// is shared over the apps that used it (the deployment table names each
    /// deployment's resource). Without it the chargeback is list prices only.
    #[serde(default)]
    pub invoice: Option<PathBuf>,
}

fn default_out_dir() -> PathBuf {
    PathBuf::from("out")
}
fn default_max_buffered_rows() -> usize {
    tokentally_ingest::DEFAULT_MAX_BUFFERED_ROWS
}
fn default_max_buffered_bytes() -> usize {
    tokentally_ingest::DEFAULT_MAX_BUFFERED_BYTES
}
fn default_max_quarantine_bytes() -> usize {
    64 << 20
}
fn default_month() -> String {
    "previous".to_owned()
}
fn default_prices() -> PathBuf {
    PathBuf::from("prices.csv")
}

impl Default for OutputConfig {
    fn default() -> Self {
        Self {
            dir: default_out_dir(),
            max_buffered_rows: default_max_buffered_rows(),
            max_buffered_bytes: default_max_buffered_bytes(),
            max_quarantine_bytes: default_max_quarantine_bytes(),
        }
    }
}

impl Default for ReportConfig {
    fn default() -> Self {
        Self {
            month: default_month(),
            prices: default_prices(),
            cost_centers: None,
            deployments: None,
            invoice: None,
        }
    }
}

impl PipelineConfig {
    /// Reads a config file; relative paths in it are resolved against its folder.
    pub fn load(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading config {}", path.display()))?;
        Self::parse(&text, path.parent().unwrap_or(Path::new(".")))
            .with_context(|| format!("in config {}", path.display()))
    }

    /// The embedded default (the sample pipeline).
    pub fn embedded_sample() -> Result<Self> {
        Self::parse(SAMPLE, Path::new("pipelines")).context("in the embedded sample config")
    }

    fn parse(text: &str, base: &Path) -> Result<Self> {
        let mut config: Self = toml::from_str(text)?;
        if config.input.files.is_empty() && config.kafka.is_none() {
            anyhow::bail!("no input: name [input] files, or a [kafka] source");
        }
        if let Some(kafka) = &mut config.kafka {
            kafka.validate()?;
            if let Some(path) = kafka
                .event_hubs
                .as_mut()
                .and_then(|eh| eh.connection_string_file.as_mut())
                && path.is_relative()
            {
                *path = lexical_join(base, path);
            }
        }
        if config.input.max_event_bytes == 0 {
            anyhow::bail!("[input] max_event_bytes must be at least 1");
        }
        if config.input.max_held_bytes < config.input.max_event_bytes {
            anyhow::bail!(
                "[input] max_held_bytes ({}) must be at least max_event_bytes ({}): one split record of the largest event must fit",
                config.input.max_held_bytes,
                config.input.max_event_bytes
            );
        }
        let month = config.report.month.as_str();
        if !matches!(month, "previous" | "current") && month.parse::<tokentally_report::Month>().is_err() {
            anyhow::bail!("[report] month {month:?}: expected YYYY-MM, \"previous\" or \"current\"");
        }
        if config.output.max_buffered_rows == 0 || config.output.max_buffered_bytes == 0 {
            anyhow::bail!("[output] max_buffered_rows and max_buffered_bytes must be at least 1");
        }
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() && p.as_os_str() != "-" {
                *p = lexical_join(base, p);
            }
        };
        config.input.files.iter_mut().for_each(resolve);
        // An object-store URL is not relative to anything.
        if !config.output.dir.to_str().is_some_and(tokentally_store::is_url) {
            resolve(&mut config.output.dir);
        }
        resolve(&mut config.report.prices);
        if let Some(path) = &mut config.report.cost_centers {
            resolve(path);
        }
        if let Some(path) = &mut config.report.deployments {
            resolve(path);
        }
        if let Some(path) = &mut config.report.invoice {
            resolve(path);
        }
        Ok(config)
    }
}

/// `base/rel` with `dir/..` pairs folded, so printed paths read `out/usage`
/// rather than `pipelines/../out/usage`. Only a `..` that follows a named folder
/// is folded; a leading `..` stays. Like most tools, `..` is read as the folder
/// above in the path as written, not above a symlink's target.
fn lexical_join(base: &Path, rel: &Path) -> PathBuf {
    use std::path::Component;
    let mut out: Vec<Component<'_>> = Vec::new();
    for c in base.components().chain(rel.components()) {
        match c {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.last(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    if out.is_empty() {
        PathBuf::from(".")
    } else {
        out.iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_is_valid() {
        let config = PipelineConfig::embedded_sample().expect("valid");
        assert_eq!(
            config.input.files[0],
            PathBuf::from("sample-data/gateway-2026-10.jsonl.gz")
        );
        assert!(config.report.prices.ends_with("prices.csv"));
        assert_eq!(
            config.report.deployments,
            Some(PathBuf::from("pipelines/deployments.csv"))
        );
    }

    #[test]
    fn joined_paths_fold_parent_folders() {
        assert_eq!(
            lexical_join(Path::new("pipelines"), Path::new("../out")),
            PathBuf::from("out")
        );
        assert_eq!(
            lexical_join(Path::new("."), Path::new("../x")),
            PathBuf::from("../x")
        );
        assert_eq!(
            lexical_join(Path::new("/etc/tt"), Path::new("a/../b")),
            PathBuf::from("/etc/tt/b")
        );
        assert_eq!(lexical_join(Path::new("a"), Path::new("..")), PathBuf::from("."));
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = PipelineConfig::parse("[input]\nfiles = [\"a\"]\nfile = \"b\"\n", Path::new("."))
            .expect_err("typo");
        assert!(format!("{err:#}").contains("unknown field `file`"), "{err:#}");
    }

    #[test]
    fn shipped_kafka_pipelines_are_valid() {
        for name in ["local-kafka.toml", "eventhubs.toml"] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../pipelines")
                .join(name);
            let config = PipelineConfig::load(&path).unwrap_or_else(|e| panic!("{name}: {e:#}"));
            assert!(config.kafka.is_some(), "{name}");
        }
    }

    #[test]
    fn a_bad_month_is_named() {
        let err = PipelineConfig::parse(
            "[input]\nfiles = [\"a\"]\n[report]\nmonth = \"2026-13\"\n",
            Path::new("."),
        )
        .expect_err("bad month");
        assert!(
            format!("{err:#}").contains("[report] month \"2026-13\""),
            "{err:#}"
        );
    }

    #[test]
    fn a_pipeline_needs_some_input() {
        let err = PipelineConfig::parse("[output]\ndir = \"o\"\n", Path::new(".")).expect_err("no input");
        assert!(format!("{err:#}").contains("no input"), "{err:#}");
        let err = PipelineConfig::parse("[kafka]\nbrokers = \"b:1\"\ntopics = []\n", Path::new("."))
            .expect_err("no topics");
        assert!(format!("{err:#}").contains("topics"), "{err:#}");
    }

    #[test]
    fn limits_are_checked_against_each_other() {
        let err = PipelineConfig::parse(
            "[input]\nfiles = [\"a\"]\nmax_event_bytes = 2000\nmax_held_bytes = 1000\n",
            Path::new("."),
        )
        .expect_err("held below one event");
        assert!(format!("{err:#}").contains("max_held_bytes (1000)"), "{err:#}");
        let err = PipelineConfig::parse(
            "[input]\nfiles = [\"a\"]\n[output]\nmax_buffered_bytes = 0\n",
            Path::new("."),
        )
        .expect_err("zero");
        assert!(format!("{err:#}").contains("max_buffered_bytes"), "{err:#}");
        let config = PipelineConfig::parse("[input]\nfiles = [\"a\"]\n", Path::new(".")).expect("defaults");
        assert_eq!(
            config.output.max_buffered_bytes,
            tokentally_ingest::DEFAULT_MAX_BUFFERED_BYTES
        );
        assert_eq!(
            config.input.max_held_bytes,
            tokentally_ingest::DEFAULT_MAX_HELD_BYTES
        );
    }

    #[test]
    fn paths_resolve_against_the_config_folder() {
        let config = PipelineConfig::parse("[input]\nfiles = [\"a.jsonl\", \"-\"]\n", Path::new("/etc/tt"))
            .expect("ok");
        assert_eq!(
            config.input.files,
            [PathBuf::from("/etc/tt/a.jsonl"), PathBuf::from("-")]
        );
        assert_eq!(config.output.dir, PathBuf::from("/etc/tt/out"));
    }
}
