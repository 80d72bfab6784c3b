//! The chargeback lines (one per app × deployment × model), the summary file of
//! docs/formats.md "Chargeback": the month's calls and tokens beside the cost of
//! their charges (`charges.rs`), rolled up.
//!
//! Every cost here is a sum of rounded charges, never rounded again, so the detail
//! file, these lines and the printed totals agree to the micro-unit.

use crate::charges::{Charge, LineKey, Priced, Pricing, line_key, resolve};
use crate::dataset::DayUsage;
use crate::deployments::{DeploymentType, Deployments};
use crate::prices::TokenClass;
use crate::{Error, Month, Result};
use rust_decimal::{Decimal, RoundingStrategy};
use std::collections::{BTreeMap, BTreeSet};

/// Decimal places of every cost in the outputs.
pub const COST_SCALE: u32 = 6;

/// Shown for calls that named no deployment / no model.
pub const NO_DEPLOYMENT: &str = "(none)";
pub const UNKNOWN_MODEL: &str = "(unknown)";

/// One row of the chargeback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargebackLine {
    pub month: Month,
    pub app_id: String,
    pub app_id_source: String,
    pub deployment: String,
    /// From the deployment table; `None` when it does not list the deployment.
    pub deployment_type: Option<DeploymentType>,
    pub model: String,
    pub calls: i64,
    pub failed_calls: i64,
    pub prompt_tokens: i64,
    pub cached_prompt_tokens: i64,
    pub completion_tokens: i64,
    pub reasoning_tokens: i64,
    pub total_tokens: i64,
    pub estimated_calls: i64,
    /// Per-token costs of the priced charges of each class; `None` when the class
    /// has tokens but none of them could be priced.
    pub input_cost: Option<Decimal>,
    pub cached_input_cost: Option<Decimal>,
    pub output_cost: Option<Decimal>,
    /// The line's share of provisioned (PTU) capacity.
    pub provisioned_cost: Option<Decimal>,
    /// The sum of the parts; `None` when nothing of the line could be priced.
    pub cost: Option<Decimal>,
    /// `None` when unpriced, or when nothing was billed and no price row names it.
    pub currency: Option<String>,
    /// `false` when some tokens of the line have no price (they are in the
    /// unpriced file, and their cost is in no total).
    pub priced: bool,
    /// Tokens of the line no price applied to.
    pub unpriced_tokens: i64,
}

impl ChargebackLine {
    /// `app/deployment/model`, to name the line in errors and logs.
    pub fn label(&self) -> String {
        format!("{}/{}/{}", self.app_id, self.deployment, self.model)
    }

    fn empty(month: Month, key: &LineKey) -> Self {
        Self {
            month,
            app_id: key.0.clone(),
            app_id_source: key.1.clone(),
            deployment: key.2.clone(),
            deployment_type: key.3,
            model: key.4.clone(),
            calls: 0,
            failed_calls: 0,
            prompt_tokens: 0,
            cached_prompt_tokens: 0,
            completion_tokens: 0,
            reasoning_tokens: 0,
            total_tokens: 0,
            estimated_calls: 0,
            input_cost: None,
            cached_input_cost: None,
            output_cost: None,
            provisioned_cost: None,
            cost: None,
            currency: None,
            priced: true,
            unpriced_tokens: 0,
        }
    }
}

/// Sums the days into lines and rolls the charges up into their costs.
///
/// # Errors
/// When the prices applied to one line disagree on currency, or a sum overflows.
pub(crate) fn build_lines(
    month: Month,
    days: &[DayUsage],
    deployments: &Deployments,
    priced: &Priced,
) -> Result<Vec<ChargebackLine>> {
    let mut lines: BTreeMap<LineKey, ChargebackLine> = BTreeMap::new();
    for d in days {
        let (_, key) = resolve(d, deployments);
        let l = lines
            .entry(key)
            .or_insert_with_key(|k| ChargebackLine::empty(month, k));
        add_counts(l, d)?;
    }
    let mut by_line: BTreeMap<LineKey, Vec<&Charge>> = BTreeMap::new();
    for c in &priced.charges {
        by_line.entry(line_key(c)).or_default().push(c);
    }
    for (key, line) in &mut lines {
        let charges = by_line.remove(key).unwrap_or_default();
        let fallback = priced.fallback_currency.get(key).map_or(&[][..], Vec::as_slice);
        cost_line(line, &charges, fallback)?;
    }
    // Idle provisioned capacity has charges but no usage.
    for (key, charges) in by_line {
        let mut line = ChargebackLine::empty(month, &key);
        cost_line(&mut line, &charges, &[])?;
        lines.insert(key, line);
    }
    Ok(lines.into_values().collect())
}

fn add_counts(l: &mut ChargebackLine, d: &DayUsage) -> Result<()> {
    let label = l.label();
    for (sum, add) in [
        (&mut l.calls, d.calls),
        (&mut l.failed_calls, d.failed_calls),
        (&mut l.prompt_tokens, d.prompt_tokens),
        (&mut l.cached_prompt_tokens, d.cached_prompt_tokens),
        (&mut l.completion_tokens, d.completion_tokens),
        (&mut l.reasoning_tokens, d.reasoning_tokens),
        (&mut l.total_tokens, d.total_tokens),
        (&mut l.estimated_calls, d.estimated_calls),
    ] {
        *sum = sum.checked_add(add).ok_or_else(|| Error::Overflow {
            line: label.clone(),
            what: "a count",
        })?;
    }
    Ok(())
}

/// Which cost column a charge adds to.
fn column(c: &Charge) -> usize {
    match (&c.pricing, c.class) {
        (Pricing::Provisioned { .. }, _) | (_, None) => 3,
        (_, Some(TokenClass::Input)) => 0,
        (_, Some(TokenClass::CachedInput)) => 1,
        (_, Some(TokenClass::Output)) => 2,
    }
}

fn cost_line(line: &mut ChargebackLine, charges: &[&Charge], fallback: &[String]) -> Result<()> {
    let label = line.label();
    let overflow = || Error::Overflow {
        line: label.clone(),
        what: "a cost",
    };
    let mut sums = [Some(Decimal::ZERO); 4];
    let mut unpriced = [false; 4];
    let mut any_priced = false;
    let mut currencies: BTreeMap<String, Vec<&Charge>> = BTreeMap::new();
    for c in charges {
        let col = column(c);
        match c.cost {
            Some(cost) => {
                any_priced = true;
                sums[col] = sums[col].and_then(|s| s.checked_add(cost));
                if let Some(currency) = &c.currency {
                    currencies.entry(currency.clone()).or_default().push(c);
                }
            }
            None => {
                unpriced[col] = true;
                line.unpriced_tokens = line.unpriced_tokens.checked_add(c.tokens).ok_or_else(overflow)?;
            }
        }
    }
    if currencies.len() > 1 {
        let rows: BTreeSet<String> = currencies
            .iter()
            .flat_map(|(currency, cs)| cs.iter().map(move |c| describe(c, currency)))
            .collect();
        return Err(Error::CurrencyConflict {
            line: line.label(),
            rows: rows.into_iter().collect::<Vec<_>>().join("; "),
        });
    }
    line.priced = !unpriced.contains(&true);
    if !any_priced && !line.priced {
        return Ok(());
    }
    let mut parts = [None; 4];
    for (i, part) in parts.iter_mut().enumerate() {
        let sum = sums[i].ok_or_else(overflow)?;
        // A class whose tokens were all unpriced has no known cost.
        let nothing_priced = unpriced[i] && charges.iter().all(|c| column(c) != i || c.cost.is_none());
        *part = (!nothing_priced).then(|| round_cost(sum));
    }
    [
        line.input_cost,
        line.cached_input_cost,
        line.output_cost,
        line.provisioned_cost,
    ] = parts;
    line.cost = Some(parts.iter().flatten().copied().sum());
    let unbilled: BTreeSet<&String> = fallback.iter().collect();
    line.currency = currencies.into_keys().next().or_else(|| {
        (unbilled.len() == 1)
            .then(|| unbilled.into_iter().next().cloned())
            .flatten()
    });
    Ok(())
}

fn describe(c: &Charge, currency: &str) -> String {
    match &c.pricing {
        Pricing::PerToken { price_line, .. } => format!("price line {price_line} {currency}"),
        Pricing::Provisioned { deployment_line } => format!("deployment line {deployment_line} {currency}"),
        Pricing::Unpriced { .. } => String::new(),
    }
}

/// `tokens × price / 1M`, exactly: the division only moves the decimal point.
pub(crate) fn exact_cost(tokens: i64, price_per_million: Decimal) -> Option<Decimal> {
    let mut cost = Decimal::from(tokens).checked_mul(price_per_million)?;
    cost.set_scale(cost.scale() + 6).ok()?;
    Some(cost)
}

/// Rounds once, half to even (banker's rounding: no drift up over many lines), and
/// pins the scale so every cost prints with exactly six decimals.
pub(crate) fn round_cost(exact: Decimal) -> Decimal {
    let mut rounded = exact.round_dp_with_strategy(COST_SCALE, RoundingStrategy::MidpointNearestEven);
    rounded.rescale(COST_SCALE);
    rounded
}

#[cfg(test)]
mod tests;
