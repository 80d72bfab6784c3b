//! The price table (`pipelines/prices.csv`): what one million tokens of each class
//! cost, per model and deployment type (optionally per region), over a range of days.
//!
//! Prices are hand-maintained (list prices are replaced by negotiated ones), so the
//! parser is strict and names the file and line of every problem: a typo must stop
//! the report, not turn into a zero on somebody's invoice. Files written before
//! prices had a deployment type still read: a row without one applies to every type.

use crate::csv_rows::{self, range_text, ranges_overlap};
use crate::deployments::DeploymentType;
use crate::{Error, Result};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
pub use tokentally_core::TokenClass;

/// The only unit accepted; stated in every row so nobody mistakes it for per-1K.
pub const PRICE_UNIT: &str = "1M tokens";

/// Decimal places a price may have: enough for any real per-1M price, and what the
/// `prices` SQL table (Decimal128(38, 10)) can hold exactly.
pub const MAX_PRICE_SCALE: u32 = 10;

/// What the price lookup knows of a deployment: its type and region from the
/// deployment table (`None` when the table does not list it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeploymentKind<'a> {
    pub deployment_type: DeploymentType,
    pub region: Option<&'a str>,
}

/// One validated row of the price table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Price {
    /// As written in the file.
    pub model: String,
    /// `None`: any deployment type (rows of files from before the column).
    pub deployment_type: Option<DeploymentType>,
    /// `None`: any region.
    pub region: Option<String>,
    pub class: TokenClass,
    /// Per [`PRICE_UNIT`].
    pub price: Decimal,
    pub currency: String,
    pub effective_from: NaiveDate,
    /// Exclusive; `None` while the price is current.
    pub effective_to: Option<NaiveDate>,
    pub source: String,
    /// 1-based line in the price file, to point at the row in errors.
    pub line: u64,
}

impl Price {
    pub fn in_effect(&self, day: NaiveDate) -> bool {
        self.effective_from <= day && self.effective_to.is_none_or(|to| day < to)
    }

    /// Whether the row applies to a deployment of `kind`, and how specifically:
    /// a row naming the type beats one that does not, then one naming the region.
    fn specificity(&self, kind: Option<DeploymentKind<'_>>) -> Option<(bool, bool)> {
        let (ty, region) = kind.map_or((None, None), |k| (Some(k.deployment_type), k.region));
        let type_fits = self.deployment_type.is_none_or(|t| Some(t) == ty);
        let region_fits = self
            .region
            .as_deref()
            .is_none_or(|r| region.is_some_and(|x| x.eq_ignore_ascii_case(r)));
        (type_fits && region_fits).then_some((self.deployment_type.is_some(), self.region.is_some()))
    }
}

/// The parsed price table.
#[derive(Debug, Clone, Default)]
pub struct PriceTable {
    path: PathBuf,
    prices: Vec<Price>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrice {
    model: String,
    #[serde(default)]
    deployment_type: String,
    #[serde(default)]
    region: String,
    token_class: String,
    unit: String,
    price: String,
    currency: String,
    effective_from: String,
    #[serde(default)]
    effective_to: String,
    #[serde(default)]
    source: String,
}

impl PriceTable {
    /// The table's currency when every row has the same one.
    pub fn single_currency(&self) -> Option<&str> {
        let first = self.prices.first()?.currency.as_str();
        self.prices.iter().all(|p| p.currency == first).then_some(first)
    }

    /// # Errors
    /// When the file cannot be read or a row is invalid; the error names file and line.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(Error::file(path))?;
        Self::parse(path, &text)
    }

    /// Parses CSV text; `path` only names the source in errors.
    ///
    /// # Errors
    /// On the first invalid row (bad decimal, class, type, unit, currency or date)
    /// or overlapping effective ranges of one model, type, region and class.
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let err = |line: u64, message: String| Error::Prices {
            path: path.to_owned(),
            line,
            message,
        };
        let mut prices = Vec::new();
        for (line, raw) in csv_rows::read_rows::<RawPrice>(text, &err)? {
            prices.push(validate(raw, line).map_err(|m| err(line, m))?);
        }
        check_overlaps(&prices).map_err(|(line, m)| err(line, m))?;
        Ok(Self {
            path: path.to_owned(),
            prices,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn prices(&self) -> &[Price] {
        &self.prices
    }

    /// The price of `class` in effect on `day` for a call to `model` on
    /// `deployment`, a deployment of `kind` (`None`: not in the deployment table).
    ///
    /// The most specific name wins: the model exactly as the response named it
    /// (`gpt-4o-2024-08-06`), then its catalog family (`gpt-4o`; AOAI's
    /// `gpt-35-turbo` is family `gpt-3.5-turbo`), then the deployment name, for
    /// deployments priced by contract rather than by model. Among a name's rows the
    /// one naming the deployment type beats one for any type, then one naming the
    /// region beats one for any region; an unlisted deployment matches only rows
    /// for any type and region. The fallback is per class and day, so a dated
    /// override for one version leaves the family price in force elsewhere. Names
    /// compare ASCII case-insensitively.
    pub fn lookup(
        &self,
        model: Option<&str>,
        deployment: Option<&str>,
        kind: Option<DeploymentKind<'_>>,
        class: TokenClass,
        day: NaiveDate,
    ) -> Option<&Price> {
        let family = model.and_then(tokentally_core::lookup_model).map(|m| m.family);
        [model, family, deployment]
            .into_iter()
            .flatten()
            .find_map(|name| {
                let name = name.trim();
                self.prices
                    .iter()
                    .filter(|p| p.class == class && p.model.eq_ignore_ascii_case(name) && p.in_effect(day))
                    .filter_map(|p| p.specificity(kind).map(|s| (s, p)))
                    // Overlap checks leave at most one row per specificity.
                    .max_by_key(|(s, _)| *s)
                    .map(|(_, p)| p)
            })
    }
}

/// Days since 1970-01-01, Arrow's Date32.
pub(crate) fn epoch_days(d: NaiveDate) -> i32 {
    i32::try_from((d - NaiveDate::default()).num_days()).unwrap_or(i32::MIN)
}

fn validate(raw: RawPrice, line: u64) -> Result<Price, String> {
    if raw.model.is_empty() {
        return Err("model is empty".into());
    }
    let deployment_type = match raw.deployment_type.as_str() {
        "" => None,
        s => Some(DeploymentType::parse(s)?),
    };
    if deployment_type == Some(DeploymentType::Provisioned) {
        return Err(
            "provisioned deployments are not priced per token: put their monthly_cost in the deployment table"
                .into(),
        );
    }
    let class = TokenClass::from_name(&raw.token_class).ok_or_else(|| {
        let names: Vec<&str> = TokenClass::ALL.iter().map(|c| c.as_str()).collect();
        format!(
            "unknown token_class {:?} (expected one of {}; reasoning and predicted-output tokens bill as output)",
            raw.token_class,
            names.join(", ")
        )
    })?;
    if raw.unit != PRICE_UNIT {
        return Err(format!(
            "unit {:?} is not supported (expected {PRICE_UNIT:?})",
            raw.unit
        ));
    }
    let price = csv_rows::amount("price", &raw.price, MAX_PRICE_SCALE)?;
    let currency = csv_rows::currency(&raw.currency)?;
    let effective_from = csv_rows::date("effective_from", &raw.effective_from)?;
    Ok(Price {
        model: raw.model,
        deployment_type,
        region: Some(raw.region).filter(|r| !r.is_empty()),
        class,
        price,
        currency,
        effective_to: csv_rows::end_date(&raw.effective_to, effective_from)?,
        effective_from,
        source: raw.source,
        line,
    })
}

/// Two rows for one model, type, region and class on the same day would make the
/// price depend on row order; reject them and name both lines.
fn check_overlaps(prices: &[Price]) -> Result<(), (u64, String)> {
    type Key = (String, Option<DeploymentType>, Option<String>, TokenClass);
    let mut groups: BTreeMap<Key, Vec<&Price>> = BTreeMap::new();
    for p in prices {
        let region = p.region.as_ref().map(|r| r.to_ascii_lowercase());
        groups
            .entry((p.model.to_ascii_lowercase(), p.deployment_type, region, p.class))
            .or_default()
            .push(p);
    }
    for ((model, ty, region, class), mut rows) in groups {
        rows.sort_by_key(|p| (p.effective_from, p.line));
        for pair in rows.windows(2) {
            let [a, b] = pair else { continue };
            if ranges_overlap(
                (a.effective_from, a.effective_to),
                (b.effective_from, b.effective_to),
            ) {
                let (first, second) = if a.line < b.line { (a, b) } else { (b, a) };
                let mut what = model.clone();
                for part in [ty.map(|t| t.as_str().to_owned()), region.clone()]
                    .into_iter()
                    .flatten()
                {
                    what = format!("{what} {part}");
                }
                return Err((
                    second.line,
                    format!(
                        "{what} {class} effective {} overlaps line {} ({})",
                        range_text(second.effective_from, second.effective_to),
                        first.line,
                        range_text(first.effective_from, first.effective_to)
                    ),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
