//! The chargeback lines (one per app × deployment × model), the summary file of
//! docs/formats.md "Chargeback": the month's calls and tokens beside the cost of
//! their charges (`charges.rs`), rolled up.
//!
//! Every cost here is a sum of rounded charges, never rounded again, so the detail
//! file, these lines and the printed totals agree to the micro-unit.

use crate::charges::{Charge, LineKey, Priced, Pricing, line_key, resolve};
use crate::cost_centers::CostCenters;
use crate::dataset::DayUsage;
use crate::deployments::{DeploymentType, Deployments};
use crate::prices::TokenClass;
use crate::{Error, Month, Result};
use rust_decimal::{Decimal, RoundingStrategy};
use std::collections::{BTreeMap, BTreeSet};
use tokentally_core::TokenCounts;

/// Decimal places of every cost in the outputs.
pub const COST_SCALE: u32 = 6;

/// Shown for calls that named no deployment / no model.
pub const NO_DEPLOYMENT: &str = "(none)";
pub const UNKNOWN_MODEL: &str = "(unknown)";

/// One row of the chargeback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargebackLine {
    pub month: Month,
    /// From the cost-center map; [`crate::UNASSIGNED`] for apps it does not list.
    pub cost_center: String,
    pub app_id: String,
    /// From the cost-center map; empty for apps it does not list.
    pub app_name: String,
    pub app_id_source: String,
    pub deployment: String,
    /// From the deployment table; `None` when it does not list the deployment.
    pub deployment_type: Option<DeploymentType>,
    pub model: String,
    pub calls: i64,
    pub failed_calls: i64,
    /// The usage columns summed (each class's tokens: [`TokenCounts::classes`]).
    pub tokens: TokenCounts,
    pub estimated_calls: i64,
    /// Per-token costs of the priced charges of each class.
    pub class_costs: ClassCosts,
    /// The line's share of provisioned (PTU) capacity.
    pub provisioned_cost: Option<Decimal>,
    /// The sum of the parts; `None` when nothing of the line could be priced.
    pub cost: Option<Decimal>,
    /// The currency of the line's prices; for a line nothing of which was
    /// priced, the price table's currency when it has one (`None` only when the
    /// table mixes currencies and no price row names the line).
    pub currency: Option<String>,
    /// `false` when some tokens of the line have no price (they are in the
    /// unpriced file, and their cost is in no total).
    pub priced: bool,
    /// Tokens of the line no price applied to.
    pub unpriced_tokens: i64,
    /// The line's share of what Azure invoiced (the sum of its charges'
    /// shares, `invoice.rs`); `None` without an invoice or when the invoice does
    /// not list the line's resource.
    pub invoice_cost: Option<Decimal>,
    pub invoice_currency: Option<String>,
}

impl ChargebackLine {
    /// `app/deployment/model`, to name the line in errors and logs.
    pub fn label(&self) -> String {
        format!("{}/{}/{}", self.app_id, self.deployment, self.model)
    }

    fn empty(month: Month, key: &LineKey) -> Self {
        Self {
            month,
            cost_center: crate::UNASSIGNED.to_owned(),
            app_id: key.app_id.clone(),
            app_name: String::new(),
            app_id_source: key.app_id_source.clone(),
            deployment: key.deployment.clone(),
            deployment_type: key.deployment_type,
            model: key.model.clone(),
            calls: 0,
            failed_calls: 0,
            tokens: TokenCounts::default(),
            estimated_calls: 0,
            class_costs: ClassCosts::default(),
            provisioned_cost: None,
            cost: None,
            currency: None,
            priced: true,
            unpriced_tokens: 0,
            invoice_cost: None,
            invoice_currency: None,
        }
    }
}

/// The cost of each token class on a line: `None` when the class has tokens but
/// none of them could be priced, or when nothing of the line was priced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClassCosts([Option<Decimal>; 9]);

impl ClassCosts {
    pub fn get(&self, class: TokenClass) -> Option<Decimal> {
        TokenClass::ALL
            .iter()
            .position(|&c| c == class)
            .and_then(|i| self.0.get(i).copied().flatten())
    }

    /// Each class with its cost, in [`TokenClass::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (TokenClass, Option<Decimal>)> + '_ {
        TokenClass::ALL.into_iter().zip(self.0)
    }
}

/// Names each line's owner from the cost-center map, and gives lines without a
/// currency of their own the price table's one currency, so every line of a
/// single-currency table says what its amounts are in.
pub(crate) fn label_lines(lines: &mut [ChargebackLine], owners: &CostCenters, table_currency: Option<&str>) {
    for l in lines {
        l.cost_center = owners.cost_center(&l.app_id).to_owned();
        l.app_name = owners
            .get(&l.app_id)
            .map(|c| c.app_name.clone())
            .unwrap_or_default();
        if l.currency.is_none() {
            l.currency = table_currency.map(str::to_owned);
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
    let rows = format!("chargeback line {} (adding the {})", l.label(), d.rows());
    let overflow = |what| Error::Overflow {
        line: rows.clone(),
        what,
    };
    for (sum, add) in [
        (&mut l.calls, d.calls),
        (&mut l.failed_calls, d.failed_calls),
        (&mut l.estimated_calls, d.estimated_calls),
    ] {
        *sum = sum.checked_add(add).ok_or_else(|| overflow("call counts"))?;
    }
    l.tokens = l
        .tokens
        .checked_add(&d.tokens)
        .ok_or_else(|| overflow("token counts"))?;
    Ok(())
}

/// The provisioned share's column after the nine classes.
const PROVISIONED: usize = 9;

/// Which cost column a charge adds to: its class's, or the provisioned share.
fn column(c: &Charge) -> usize {
    match (&c.pricing, c.class) {
        (Pricing::Provisioned { .. }, _) | (_, None) => PROVISIONED,
        (_, Some(class)) => TokenClass::ALL
            .iter()
            .position(|&x| x == class)
            .unwrap_or(PROVISIONED),
    }
}

/// Sums the charges' invoice shares into the line's; a line on resources
/// invoiced in two currencies keeps none (the tie-out reports each resource).
fn invoice_line(line: &mut ChargebackLine, charges: &[&Charge]) -> Result<()> {
    let mut currencies = BTreeSet::new();
    let mut sum: Option<Decimal> = None;
    for c in charges {
        if let Some(share) = c.invoice_cost {
            let add = sum.unwrap_or_default().checked_add(share);
            sum = Some(add.ok_or_else(|| Error::Overflow {
                line: line.label(),
                what: "invoice shares",
            })?);
            currencies.extend(c.invoice_currency.clone());
        }
    }
    if currencies.len() == 1 {
        line.invoice_cost = sum;
        line.invoice_currency = currencies.into_iter().next();
    }
    Ok(())
}

fn cost_line(line: &mut ChargebackLine, charges: &[&Charge], fallback: &[String]) -> Result<()> {
    invoice_line(line, charges)?;
    let label = line.label();
    let overflow = || Error::Overflow {
        line: label.clone(),
        what: "a cost",
    };
    let mut sums = [Some(Decimal::ZERO); PROVISIONED + 1];
    let mut unpriced = [false; PROVISIONED + 1];
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
    let mut parts = [None; PROVISIONED + 1];
    let mut cost = Decimal::ZERO;
    for (i, part) in parts.iter_mut().enumerate() {
        let sum = sums[i].ok_or_else(overflow)?;
        // A class whose tokens were all unpriced has no known cost.
        let nothing_priced = unpriced[i] && charges.iter().all(|c| column(c) != i || c.cost.is_none());
        *part = (!nothing_priced).then(|| round_cost(sum));
        if let Some(p) = part {
            cost = cost.checked_add(*p).ok_or_else(overflow)?;
        }
    }
    let mut classes = [None; 9];
    classes.copy_from_slice(&parts[..PROVISIONED]);
    line.class_costs = ClassCosts(classes);
    line.provisioned_cost = parts[PROVISIONED];
    line.cost = Some(cost);
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
        Pricing::Unpriced { .. } | Pricing::Unallocated { .. } => String::new(),
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
