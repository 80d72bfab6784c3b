//! Pricing the month's usage into charges: one per app × deployment × model ×
//! token class × price (or provisioned reservation) in effect, the rows of the
//! FOCUS detail file (docs/formats.md "Chargeback detail").
//!
//! Money is `rust_decimal` end to end: a per-token price times a token count is
//! exact, and each charge is rounded once, so charges add up to the lines and the
//! lines to the total.

use crate::chargeback::{NO_DEPLOYMENT, UNKNOWN_MODEL, exact_cost, round_cost};
use crate::dataset::DayUsage;
use crate::deployments::{Deployment, DeploymentType, Deployments};
use crate::month::{DaysUsed, Period};
use crate::prices::{DeploymentKind, Price, PriceTable, TokenClass};
use crate::ptu::{IDLE_CAPACITY_APP, allocate, month_cost};
use crate::{Error, Month, Result};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// How a charge's cost came about (FOCUS `PricingCategory`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pricing {
    /// Tokens × a price per 1 M tokens from the price table.
    PerToken { unit_price: Decimal, price_line: u64 },
    /// A share of a provisioned deployment's monthly cost.
    Provisioned { deployment_line: u64 },
    /// No price applies; the tokens are listed in the unpriced file.
    Unpriced { reason: String },
    /// Invoiced cost of an Azure resource nothing priced ran on (`invoice.rs`).
    Unallocated { resource: String },
}

/// One priced (or unpriced) quantity of tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    pub app_id: String,
    pub app_id_source: String,
    pub deployment: String,
    /// `None` when the deployment table does not list the deployment.
    pub deployment_type: Option<DeploymentType>,
    pub region: Option<String>,
    pub model: String,
    /// `None` only for idle provisioned capacity.
    pub class: Option<TokenClass>,
    pub tokens: i64,
    /// The days the charge covers, `[start, end)`: the month, cut to the price's
    /// and the deployment row's effective ranges.
    pub period: Period,
    /// First and last UTC day with usage (the period start for idle capacity).
    pub used: DaysUsed,
    pub pricing: Pricing,
    /// `None` exactly when unpriced.
    pub cost: Option<Decimal>,
    pub currency: Option<String>,
    /// The Azure resource of the deployment row behind the charge.
    pub resource: Option<String>,
    /// The charge's share of its resource's invoiced cost (`invoice.rs`);
    /// `None` without an invoice, or when the invoice does not list the resource.
    pub invoice_cost: Option<Decimal>,
    pub invoice_currency: Option<String>,
}

impl Charge {
    pub fn is_priced(&self) -> bool {
        self.cost.is_some()
    }
}

/// Sort and identity of a charge: the detail file's row order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    app_id: String,
    app_id_source: String,
    deployment: String,
    deployment_type: Option<DeploymentType>,
    model: String,
    class: Option<TokenClass>,
    period_start: NaiveDate,
    /// The deployment row and price row behind it: tell charges apart.
    rows: RowLines,
}

/// Lines of the deployment table and price table rows behind a charge (0 = none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct RowLines {
    deployment: u64,
    price: u64,
}

struct Acc<'a> {
    tokens: i64,
    used: DaysUsed,
    row: Option<&'a Deployment>,
    price: Option<&'a Price>,
    period: Period,
}

/// The month's usage, priced. `fallback_currency` maps a line key to currencies
/// of prices that were in effect for classes without tokens, so a line of failed
/// calls still shows the currency it would be billed in.
pub(crate) struct Priced {
    pub charges: Vec<Charge>,
    pub fallback_currency: BTreeMap<LineKey, Vec<String>>,
}

/// One chargeback line: who was charged (and by which identity rule), through
/// which deployment, on which model. Lines are ordered field by field, in this
/// order (the chargeback's row order).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct LineKey {
    pub app_id: String,
    pub app_id_source: String,
    pub deployment: String,
    pub deployment_type: Option<DeploymentType>,
    pub model: String,
}

pub(crate) fn line_key(c: &Charge) -> LineKey {
    LineKey {
        app_id: c.app_id.clone(),
        app_id_source: c.app_id_source.clone(),
        deployment: c.deployment.clone(),
        deployment_type: c.deployment_type,
        model: c.model.clone(),
    }
}

/// The deployment row in effect for `d`, and the line `d` belongs to.
pub(crate) fn resolve<'a>(d: &DayUsage, deployments: &'a Deployments) -> (Option<&'a Deployment>, LineKey) {
    let row = d.deployment.as_deref().and_then(|n| deployments.on(n, d.day));
    let key = LineKey {
        app_id: d.app_id.clone(),
        app_id_source: d.app_id_source.clone(),
        deployment: d.deployment.clone().unwrap_or_else(|| NO_DEPLOYMENT.to_owned()),
        deployment_type: row.map(|r| r.deployment_type),
        model: d.model.clone().unwrap_or_else(|| UNKNOWN_MODEL.to_owned()),
    };
    (row, key)
}

/// Prices every class of every day of usage, then allocates provisioned costs.
///
/// # Errors
/// When a cost or token sum overflows, or a day's token columns cannot be split
/// into classes; both name the rows.
pub(crate) fn price_month(
    month: Month,
    days: &[DayUsage],
    prices: &PriceTable,
    deployments: &Deployments,
) -> Result<Priced> {
    let mut accs: BTreeMap<Key, Acc<'_>> = BTreeMap::new();
    let mut fallback_currency: BTreeMap<LineKey, Vec<String>> = BTreeMap::new();
    for d in days {
        let (row, line) = resolve(d, deployments);
        let kind = row.map(|r| DeploymentKind {
            deployment_type: r.deployment_type,
            region: r.region.as_deref(),
        });
        let classes = d.tokens.classes().map_err(|reason| Error::InvalidTokens {
            rows: d.rows(),
            reason,
        })?;
        for (class, tokens) in classes.iter() {
            let provisioned = row.filter(|r| r.monthly_cost.is_some());
            let price = match provisioned {
                Some(_) => None,
                None => prices.lookup(d.model.as_deref(), d.deployment.as_deref(), kind, class, d.day),
            };
            if tokens == 0 {
                let currency = provisioned
                    .and_then(|r| r.monthly_cost.as_ref().map(|c| &c.currency))
                    .or(price.map(|p| &p.currency));
                if let Some(c) = currency {
                    fallback_currency.entry(line.clone()).or_default().push(c.clone());
                }
                continue;
            }
            let mut period = row.map_or(month.period(), |r| r.period_in(month));
            if let Some(p) = price {
                period = period.within(p.effective_from, p.effective_to);
            }
            let key = Key {
                app_id: line.app_id.clone(),
                app_id_source: line.app_id_source.clone(),
                deployment: line.deployment.clone(),
                deployment_type: line.deployment_type,
                model: line.model.clone(),
                class: Some(class),
                period_start: period.start,
                rows: RowLines {
                    deployment: row.map_or(0, |r| r.line),
                    price: price.map_or(0, |p| p.line),
                },
            };
            let acc = accs.entry(key).or_insert(Acc {
                tokens: 0,
                used: DaysUsed::day(d.day),
                row,
                price,
                period,
            });
            acc.tokens = acc.tokens.checked_add(tokens).ok_or_else(|| Error::Overflow {
                line: d.rows(),
                what: "tokens of a class",
            })?;
            acc.used = acc.used.with(d.day);
        }
    }
    let mut charges = accs
        .into_iter()
        .map(|(key, acc)| charge(key, &acc))
        .collect::<Result<Vec<_>>>()?;
    allocate_provisioned(month, deployments, &mut charges)?;
    Ok(Priced {
        charges,
        fallback_currency,
    })
}

fn charge(key: Key, acc: &Acc<'_>) -> Result<Charge> {
    let label = format!("{}/{}/{}", key.app_id, key.deployment, key.model);
    let (pricing, cost, currency) = match (acc.row.and_then(|r| r.monthly_cost.as_ref()), acc.price) {
        (Some(monthly), _) => (
            Pricing::Provisioned {
                deployment_line: acc.row.map_or(0, |r| r.line),
            },
            // Set by the allocation, which needs every app's tokens first.
            Some(Decimal::ZERO),
            Some(monthly.currency.clone()),
        ),
        (None, Some(p)) => {
            let exact = exact_cost(acc.tokens, p.price).ok_or_else(|| Error::Overflow {
                line: label.clone(),
                what: "a cost",
            })?;
            (
                Pricing::PerToken {
                    unit_price: p.price,
                    price_line: p.line,
                },
                Some(round_cost(exact)),
                Some(p.currency.clone()),
            )
        }
        (None, None) => (
            Pricing::Unpriced {
                reason: unpriced_reason(&key, acc.row),
            },
            None,
            None,
        ),
    };
    Ok(Charge {
        region: acc.row.and_then(|r| r.region.clone()),
        resource: acc.row.and_then(|r| r.resource.clone()),
        invoice_cost: None,
        invoice_currency: None,
        app_id: key.app_id,
        app_id_source: key.app_id_source,
        deployment: key.deployment,
        deployment_type: key.deployment_type,
        model: key.model,
        class: key.class,
        tokens: acc.tokens,
        period: acc.period,
        used: acc.used,
        pricing,
        cost,
        currency,
    })
}

/// Why no price applied, in the words of the tables the operator must fix.
fn unpriced_reason(key: &Key, row: Option<&Deployment>) -> String {
    let class = key.class.map_or("", TokenClass::as_str);
    match row {
        None if key.deployment == NO_DEPLOYMENT => {
            format!(
                "no deployment named; no {class} price for model {} for any deployment type",
                key.model
            )
        }
        None => format!(
            "deployment {} is not in the deployment table, and no {class} price for model {} applies to any deployment type",
            key.deployment, key.model
        ),
        Some(r) => format!(
            "no {class} price for model {} (or deployment {}) on a {} deployment{} in effect",
            key.model,
            key.deployment,
            r.deployment_type,
            r.region
                .as_deref()
                .map(|x| format!(" in {x}"))
                .unwrap_or_default()
        ),
    }
}

/// Shares each provisioned row's month cost over the charges of its tokens; a
/// row nobody used gets one charge to [`IDLE_CAPACITY_APP`], so the month's
/// reservations are always billed in full.
fn allocate_provisioned(month: Month, deployments: &Deployments, charges: &mut Vec<Charge>) -> Result<()> {
    for row in deployments.provisioned_in(month) {
        let total = month_cost(row, month)?;
        let ours = |c: &Charge| matches!(c.pricing, Pricing::Provisioned { deployment_line } if deployment_line == row.line);
        let idx: Vec<usize> = (0..charges.len()).filter(|&i| ours(&charges[i])).collect();
        let weights: Vec<i64> = idx.iter().map(|&i| charges[i].tokens).collect();
        if let Some(shares) = allocate(total, &weights) {
            for (i, share) in idx.into_iter().zip(shares) {
                charges[i].cost = Some(share);
            }
            continue;
        }
        let period = row.period_in(month);
        charges.push(Charge {
            app_id: IDLE_CAPACITY_APP.to_owned(),
            app_id_source: "none".to_owned(),
            deployment: row.name.clone(),
            deployment_type: Some(row.deployment_type),
            region: row.region.clone(),
            model: UNKNOWN_MODEL.to_owned(),
            class: None,
            tokens: 0,
            period,
            used: DaysUsed::day(period.start),
            pricing: Pricing::Provisioned {
                deployment_line: row.line,
            },
            cost: Some(total),
            currency: row.monthly_cost.as_ref().map(|c| c.currency.clone()),
            resource: row.resource.clone(),
            invoice_cost: None,
            invoice_currency: None,
        });
    }
    sort_charges(charges);
    Ok(())
}

/// The detail file's order: by line, then class, then period.
pub(crate) fn sort_charges(charges: &mut [Charge]) {
    charges.sort_by(|a, b| {
        let key = |c: &Charge| (line_key(c), c.class, c.period.start);
        key(a).cmp(&key(b))
    });
}
