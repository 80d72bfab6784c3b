//! Which models of the catalog the usage data bills in a token class that the
//! price table has no row for at all: `tokentally prices check`, and a warning in
//! the report's summary. The unpriced file says which tokens went unpriced on
//! which day; this says which rows to add, per model family and class, before
//! the day a new model or modality shows up on an invoice.

use crate::dataset::DayUsage;
use crate::deployments::Deployments;
use crate::prices::PriceTable;
use crate::usage_dir::UsageDir;
use crate::{Error, Month, Result, scan};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use tokentally_core::{TokenClass, lookup_model};

/// A catalog family used in classes no price row names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingPrice {
    /// The catalog family (`gpt-4o-audio-preview`).
    pub family: String,
    /// The model names seen in the usage rows (`gpt-4o-audio-preview-2024-12-17`).
    pub models: Vec<String>,
    /// The classes with tokens and no row.
    pub classes: Vec<TokenClass>,
    /// Those classes' tokens.
    pub tokens: i64,
    /// Why no list price can be shipped for the family, when Azure does not
    /// sell it per token (see [`NOT_SOLD_PER_TOKEN`]).
    pub not_sold_per_token: Option<&'static str>,
}

/// A catalog family Azure does not sell per token, so no list price exists to
/// ship: its usage is charged only by a price row of your own or, on capacity
/// billed by the hour, by a `monthly_cost` on its deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotSoldPerToken {
    pub family: &'static str,
    /// How Azure offers it instead, and what to do (shown by `prices check`).
    pub why: &'static str,
}

/// The catalog families without an Azure per-token list price. Source: the
/// "gpt-oss" table of Microsoft's "Foundry Models sold directly by Azure"
/// (MicrosoftDocs/azure-ai-docs, `models-azure-direct-openai.md`, dated
/// 2026-06-11, read 2026-12-07): `gpt-oss-120b` is available for deployment,
/// `gpt-oss-20b` "via managed compute and Foundry Local" only.
pub const NOT_SOLD_PER_TOKEN: [NotSoldPerToken; 2] = [
    NotSoldPerToken {
        family: "gpt-oss-20b",
        why: "Azure offers it only on managed compute (billed per VM hour) and Foundry Local; \
              list its deployment as provisioned with a monthly_cost, or add your own per-token row",
    },
    NotSoldPerToken {
        family: "gpt-oss",
        why: "Azure offers gpt-oss in two sizes, 120b and 20b; another size runs on your own \
              compute: list its deployment as provisioned with a monthly_cost, or add your own per-token row",
    },
];

/// Why `family` has no shipped list price, when Azure does not sell it per token.
#[must_use]
pub fn not_sold_per_token(family: &str) -> Option<&'static str> {
    NOT_SOLD_PER_TOKEN
        .iter()
        .find(|n| n.family == family)
        .map(|n| n.why)
}

impl std::fmt::Display for MissingPrice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let classes: Vec<&str> = self.classes.iter().map(|c| c.as_str()).collect();
        write!(
            f,
            "{}: no {} price row ({} tokens; models {})",
            self.family,
            classes.join(", "),
            self.tokens,
            self.models.join(", ")
        )?;
        match self.not_sold_per_token {
            Some(why) => write!(f, "; not sold per token: {why}"),
            None => Ok(()),
        }
    }
}

/// What `tokentally prices check` looks at.
#[derive(Debug, Clone)]
pub struct PriceCheckOptions {
    /// Holds `usage/`.
    pub data_dir: PathBuf,
    /// When set, `usage/` is read in place from this folder in object storage
    /// instead of from `data_dir`.
    pub usage_store: Option<tokentally_store::Remote>,
    pub month: Month,
    pub prices: PathBuf,
    /// Usage on provisioned deployments needs no per-token price.
    pub deployments: Option<PathBuf>,
}

/// The catalog models of the month's usage with a billed class no price row
/// names, by family.
///
/// # Errors
/// An invalid price or deployment table, a missing dataset, or what the scan
/// and [`missing_prices`] report.
pub async fn check_prices(opts: &PriceCheckOptions, parallel: usize) -> Result<Vec<MissingPrice>> {
    let prices = PriceTable::load(&opts.prices)?;
    let deployments = match &opts.deployments {
        Some(path) => Deployments::load(path)?,
        None => Deployments::default(),
    };
    let usage = UsageDir::open(&opts.data_dir, opts.usage_store.as_ref()).await?;
    let days = scan::daily_usage(&usage, opts.month, parallel).await?;
    missing_prices(&days, &prices, &deployments)
}

/// Whether any row of `prices`, in effect on any day, for any deployment type
/// and region, prices `class` under one of `names` (the names a lookup tries).
fn has_row(prices: &PriceTable, names: &[&str], class: TokenClass) -> bool {
    prices
        .prices()
        .iter()
        .any(|p| p.class == class && names.iter().any(|n| p.model.eq_ignore_ascii_case(n.trim())))
}

/// The families of `days` (catalog models only; usage on provisioned
/// deployments left out) with classes that have tokens and no price row.
///
/// # Errors
/// Token columns that cannot be split into classes, or a token sum that
/// overflows; both name the rows.
pub(crate) fn missing_prices(
    days: &[DayUsage],
    prices: &PriceTable,
    deployments: &Deployments,
) -> Result<Vec<MissingPrice>> {
    #[derive(Default)]
    struct Seen {
        models: BTreeSet<String>,
        classes: BTreeSet<TokenClass>,
        tokens: i64,
    }
    let mut families: BTreeMap<&'static str, Seen> = BTreeMap::new();
    for d in days {
        let Some(model) = d.model.as_deref() else { continue };
        let Some(info) = lookup_model(model) else { continue };
        let provisioned = d
            .deployment
            .as_deref()
            .and_then(|name| deployments.on(name, d.day))
            .is_some_and(|row| row.monthly_cost.is_some());
        if provisioned {
            continue;
        }
        let classes = d.tokens.classes().map_err(|reason| Error::InvalidTokens {
            rows: d.rows(),
            reason,
        })?;
        let names: Vec<&str> = [Some(model), Some(info.family), d.deployment.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        for (class, tokens) in classes.iter() {
            if tokens == 0 || has_row(prices, &names, class) {
                continue;
            }
            let seen = families.entry(info.family).or_default();
            seen.models.insert(model.to_owned());
            seen.classes.insert(class);
            seen.tokens = seen.tokens.checked_add(tokens).ok_or_else(|| Error::Overflow {
                line: d.rows(),
                what: "tokens without a price row",
            })?;
        }
    }
    Ok(families
        .into_iter()
        .map(|(family, seen)| MissingPrice {
            family: family.to_owned(),
            models: seen.models.into_iter().collect(),
            classes: seen.classes.into_iter().collect(),
            tokens: seen.tokens,
            not_sold_per_token: not_sold_per_token(family),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use tokentally_core::TokenCounts;

    fn day(model: &str, deployment: &str, tokens: TokenCounts) -> DayUsage {
        DayUsage {
            app_id: "app".into(),
            app_id_source: "claim".into(),
            deployment: Some(deployment.into()),
            model: Some(model.into()),
            day: "2026-10-03".parse().expect("day"),
            calls: 1,
            failed_calls: 0,
            tokens,
            estimated_calls: 0,
        }
    }

    #[test]
    fn lists_catalog_families_with_classes_no_row_prices() {
        let prices = PriceTable::parse(
            Path::new("prices.csv"),
            "model,token_class,unit,price,currency,effective_from\n\
             gpt-4o-audio-preview,input,1M tokens,2.5,USD,2026-01-01\n\
             gpt-4o-audio-preview,output,1M tokens,10,USD,2026-01-01\n\
             contract-dep,input,1M tokens,1,USD,2026-01-01\n",
        )
        .expect("prices");
        let deployments = Deployments::parse(
            Path::new("deployments.csv"),
            "deployment,deployment_type,region,monthly_cost,currency\nptu,provisioned,,100,USD\n",
        )
        .expect("deployments");
        let audio = TokenCounts {
            prompt: 1000,
            audio_prompt: 700,
            completion: 600,
            audio_completion: 500,
            total: 1600,
            ..TokenCounts::default()
        };
        let text = TokenCounts {
            prompt: 10,
            total: 10,
            ..TokenCounts::default()
        };
        let days = [
            day("gpt-4o-audio-preview-2024-12-17", "audio", audio),
            // Priced by the deployment name: nothing missing.
            day("gpt-4.1", "contract-dep", text),
            // Provisioned: no per-token price needed.
            day("o3", "ptu", text),
            // Not in the catalog: the unpriced file's business, not this list's.
            day("llama-3-70b", "llama", text),
            day("gpt-5-mini", "g5", text),
            day("gpt-oss-20b", "oss", text),
        ];
        let missing = missing_prices(&days, &prices, &deployments).expect("check");
        let text: Vec<String> = missing.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "gpt-4o-audio-preview: no audio_input, audio_output price row (1200 tokens; models gpt-4o-audio-preview-2024-12-17)",
                "gpt-5-mini: no input price row (10 tokens; models gpt-5-mini)",
                "gpt-oss-20b: no input price row (10 tokens; models gpt-oss-20b); not sold per token: \
                 Azure offers it only on managed compute (billed per VM hour) and Foundry Local; list \
                 its deployment as provisioned with a monthly_cost, or add your own per-token row",
            ]
        );
    }
}
