//! The statement's tables, from the chargeback lines, app sums and charges.

use super::charts::{Band, Bar};
use super::daily::DailyCosts;
use super::numbers;
use crate::chargeback::ChargebackLine;
use crate::charges::{Charge, Pricing};
use crate::cost_centers::CostCenters;
use crate::deployments::Deployments;
use crate::ptu::{IDLE_CAPACITY_APP, month_cost};
use crate::summary::{AppSummary, Costs};
use crate::{Error, Month, Result};
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Apps the bar chart names one by one; the rest are one bar.
const CHART_APPS: usize = 20;

fn overflow(what: &'static str) -> Error {
    Error::Overflow {
        line: "the statement's sums".to_owned(),
        what,
    }
}

fn add_costs(sum: &mut Costs, add: &Costs) -> Result<()> {
    for (currency, value) in add {
        let s = sum.entry(currency.clone()).or_default();
        *s = s.checked_add(*value).ok_or_else(|| overflow("costs"))?;
    }
    Ok(())
}

fn add_line_cost(sum: &mut Costs, l: &ChargebackLine) -> Result<()> {
    if let (Some(cost), Some(currency)) = (l.cost, &l.currency) {
        let s = sum.entry(currency.clone()).or_default();
        *s = s.checked_add(cost).ok_or_else(|| overflow("costs"))?;
    }
    Ok(())
}

fn add(sum: i64, n: i64, what: &'static str) -> Result<i64> {
    sum.checked_add(n).ok_or_else(|| overflow(what))
}

/// Calls and tokens summed over a group's lines.
#[derive(Debug, Clone, Copy, Default)]
struct Volume {
    calls: i64,
    tokens: i64,
}

impl Volume {
    fn add(&mut self, calls: i64, tokens: i64) -> Result<()> {
        self.calls = add(self.calls, calls, "calls")?;
        self.tokens = add(self.tokens, tokens, "tokens")?;
        Ok(())
    }
}

/// An app as people know it: its name from the cost-center map, else its id.
fn display_name(app_id: &str, app_name: &str) -> String {
    if app_name.is_empty() {
        app_id.to_owned()
    } else {
        app_name.to_owned()
    }
}

/// A fragment id for a cost center's section: letters, digits, `-` and `_`.
fn anchor(name: &str, taken: &mut BTreeSet<String>) -> String {
    let slug: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let base = format!("cc-{slug}");
    let mut id = base.clone();
    let mut n = 2;
    while !taken.insert(id.clone()) {
        id = format!("{base}-{n}");
        n += 1;
    }
    id
}

#[derive(Debug, Serialize)]
pub(crate) struct AppRow {
    pub app_id: String,
    pub app_name: String,
    pub calls: String,
    pub tokens: String,
    pub cost: String,
    pub unpriced_tokens: String,
    /// The app's share of the invoice (`-` without one).
    pub invoice_cost: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct LineRow {
    pub app_id: String,
    pub deployment: String,
    pub deployment_type: String,
    pub model: String,
    pub calls: String,
    pub tokens: String,
    pub cost: String,
}

/// A cost center's part of the statement, linkable by its `anchor`.
#[derive(Debug, Serialize)]
pub(crate) struct CostCenterSection {
    pub name: String,
    pub anchor: String,
    pub cost: String,
    pub calls: String,
    pub tokens: String,
    pub apps: Vec<AppRow>,
    pub lines: Vec<LineRow>,
    #[serde(skip)]
    pub costs: Costs,
}

/// One section per cost center, in name order (the apps are sorted so).
pub(crate) fn cost_centers(apps: &[AppSummary], lines: &[ChargebackLine]) -> Result<Vec<CostCenterSection>> {
    let mut invoiced: BTreeMap<&str, Costs> = BTreeMap::new();
    for l in lines {
        if let (Some(share), Some(currency)) = (l.invoice_cost, &l.invoice_currency) {
            let sum = invoiced
                .entry(&l.app_id)
                .or_default()
                .entry(currency.clone())
                .or_default();
            *sum = sum.checked_add(share).ok_or_else(|| overflow("invoice shares"))?;
        }
    }
    let mut taken = BTreeSet::new();
    let mut sections: Vec<CostCenterSection> = Vec::new();
    let mut sums: Vec<Volume> = Vec::new();
    for a in apps {
        if sections.last().is_none_or(|s| s.name != a.cost_center) {
            sections.push(CostCenterSection {
                name: a.cost_center.clone(),
                anchor: anchor(&a.cost_center, &mut taken),
                cost: String::new(),
                calls: String::new(),
                tokens: String::new(),
                apps: Vec::new(),
                lines: Vec::new(),
                costs: Costs::new(),
            });
            sums.push(Volume::default());
        }
        let (Some(section), Some(sum)) = (sections.last_mut(), sums.last_mut()) else {
            continue;
        };
        add_costs(&mut section.costs, &a.cost)?;
        sum.add(a.calls, a.total_tokens)?;
        section.apps.push(AppRow {
            app_id: a.app_id.clone(),
            app_name: a.app_name.clone(),
            calls: numbers::count(a.calls),
            tokens: numbers::count(a.total_tokens),
            cost: numbers::costs(&a.cost),
            unpriced_tokens: numbers::count(a.unpriced_tokens),
            invoice_cost: invoiced
                .get(a.app_id.as_str())
                .map_or_else(|| "-".to_owned(), numbers::costs),
        });
    }
    for (section, sum) in sections.iter_mut().zip(sums) {
        section.cost = numbers::costs(&section.costs);
        section.calls = numbers::count(sum.calls);
        section.tokens = numbers::count(sum.tokens);
        section.lines = lines
            .iter()
            .filter(|l| l.cost_center == section.name)
            .map(|l| LineRow {
                app_id: l.app_id.clone(),
                deployment: l.deployment.clone(),
                deployment_type: l.deployment_type.map_or("unlisted", |t| t.as_str()).to_owned(),
                model: l.model.clone(),
                calls: numbers::count(l.calls),
                tokens: numbers::count(l.tokens.total),
                cost: l
                    .cost
                    .zip(l.currency.as_deref())
                    .map_or_else(|| "-".to_owned(), |(c, cur)| numbers::money(c, cur)),
            })
            .collect();
    }
    Ok(sections)
}

fn cost_in(costs: &Costs, currency: &str) -> Decimal {
    costs.get(currency).copied().unwrap_or_default()
}

/// Largest first, then by label, so equal amounts keep a fixed order.
fn by_size(mut bars: Vec<Bar>) -> Vec<Bar> {
    bars.sort_by(|a, b| b.value.cmp(&a.value).then_with(|| a.label.cmp(&b.label)));
    bars
}

pub(crate) fn cost_center_bars(sections: &[CostCenterSection], currency: &str) -> Vec<Bar> {
    by_size(
        sections
            .iter()
            .map(|s| Bar {
                label: s.name.clone(),
                value: cost_in(&s.costs, currency),
            })
            .collect(),
    )
}

/// The apps by cost; past [`CHART_APPS`], one bar for the rest.
pub(crate) fn app_bars(apps: &[AppSummary], currency: &str) -> Vec<Bar> {
    let mut bars = by_size(
        apps.iter()
            .map(|a| Bar {
                label: display_name(&a.app_id, &a.app_name),
                value: cost_in(&a.cost, currency),
            })
            .collect(),
    );
    if bars.len() > CHART_APPS {
        let rest = bars.split_off(CHART_APPS - 1);
        bars.push(Bar {
            label: format!("{} other apps", rest.len()),
            value: rest.iter().map(|b| b.value).sum(),
        });
    }
    bars
}

/// The `top` apps by cost as bands (the largest at the bottom), the rest as one.
pub(crate) fn daily_bands(daily: &DailyCosts, owners: &CostCenters, top: usize) -> Result<Vec<Band>> {
    struct Ranked<'a> {
        month: Decimal,
        app: &'a String,
        days: &'a Vec<Decimal>,
    }
    let mut ranked: Vec<Ranked> = daily
        .iter()
        .map(|(app, days)| Ranked {
            month: days.iter().sum(),
            app,
            days,
        })
        .collect();
    ranked.sort_by(|a, b| b.month.cmp(&a.month).then_with(|| a.app.cmp(b.app)));
    let mut bands: Vec<Band> = ranked
        .iter()
        .take(top)
        .map(|r| Band {
            label: display_name(r.app, owners.get(r.app).map_or("", |c| c.app_name.as_str())),
            values: r.days.clone(),
        })
        .collect();
    let rest = ranked.get(top..).unwrap_or_default();
    if let Some(first) = rest.first() {
        let mut values = vec![Decimal::ZERO; first.days.len()];
        for r in rest {
            for (sum, v) in values.iter_mut().zip(r.days) {
                *sum = sum.checked_add(*v).ok_or_else(|| overflow("daily costs"))?;
            }
        }
        bands.push(Band {
            label: format!("{} other apps", rest.len()),
            values,
        });
    }
    Ok(bands)
}

#[derive(Debug, Serialize)]
pub(crate) struct ModelRow {
    pub model: String,
    pub deployment_type: String,
    pub calls: String,
    pub tokens: String,
    pub cost: String,
}

/// Cost per model and deployment type.
pub(crate) fn models(lines: &[ChargebackLine]) -> Result<Vec<ModelRow>> {
    #[derive(PartialEq, Eq, PartialOrd, Ord)]
    struct Group<'a> {
        model: &'a str,
        deployment_type: &'a str,
    }
    let mut groups: BTreeMap<Group, (Volume, Costs)> = BTreeMap::new();
    for l in lines {
        let group = Group {
            model: &l.model,
            deployment_type: l.deployment_type.map_or("unlisted", |t| t.as_str()),
        };
        let (volume, cost) = groups.entry(group).or_default();
        volume.add(l.calls, l.tokens.total)?;
        add_line_cost(cost, l)?;
    }
    Ok(groups
        .into_iter()
        .map(|(group, (volume, cost))| ModelRow {
            model: group.model.to_owned(),
            deployment_type: group.deployment_type.to_owned(),
            calls: numbers::count(volume.calls),
            tokens: numbers::count(volume.tokens),
            cost: numbers::costs(&cost),
        })
        .collect())
}

#[derive(Debug, Serialize)]
pub(crate) struct ProvisionedRow {
    pub deployment: String,
    pub from: String,
    pub days: String,
    pub month_cost: String,
    pub apps: String,
    pub tokens: String,
    pub used_cost: String,
    pub idle_cost: String,
}

/// Each provisioned reservation of the month: what it cost, how much of that
/// the apps that used it carry, and what went to idle capacity.
pub(crate) fn provisioned(
    month: Month,
    deployments: &Deployments,
    charges: &[Charge],
) -> Result<Vec<ProvisionedRow>> {
    let mut rows = Vec::new();
    for row in deployments.provisioned_in(month) {
        let currency = row.monthly_cost.as_ref().map_or("", |c| c.currency.as_str());
        let ours = charges.iter().filter(
            |c| matches!(c.pricing, Pricing::Provisioned { deployment_line } if deployment_line == row.line),
        );
        let mut apps = BTreeSet::new();
        let (mut tokens, mut used, mut idle) = (0_i64, Decimal::ZERO, Decimal::ZERO);
        for c in ours {
            let cost = c.cost.unwrap_or_default();
            if c.app_id == IDLE_CAPACITY_APP {
                idle = idle.checked_add(cost).ok_or_else(|| overflow("costs"))?;
            } else {
                apps.insert(c.app_id.as_str());
                tokens = add(tokens, c.tokens, "tokens")?;
                used = used.checked_add(cost).ok_or_else(|| overflow("costs"))?;
            }
        }
        rows.push(ProvisionedRow {
            deployment: row.name.clone(),
            from: row.period_in(month).start.to_string(),
            days: row.days_in(month).to_string(),
            month_cost: numbers::money(month_cost(row, month)?, currency),
            apps: apps.len().to_string(),
            tokens: numbers::count(tokens),
            used_cost: numbers::money(used, currency),
            idle_cost: numbers::money(idle, currency),
        });
    }
    Ok(rows)
}

#[derive(Debug, Serialize)]
pub(crate) struct EstimateRow {
    pub model: String,
    pub calls: String,
    pub estimated_calls: String,
    pub share: String,
    /// Share of the model's tokens that were estimated.
    pub token_share: String,
    /// (estimate − reported) / reported over calls with both; `-` without any.
    pub prompt_drift: String,
    pub completion_drift: String,
}

/// `(estimated - reported) / reported` as a signed percentage, `-` without a base.
fn drift(estimated: i64, reported: i64) -> String {
    let diff = Decimal::from(estimated) - Decimal::from(reported);
    match numbers::percent(diff, Decimal::from(reported)) {
        Some(p) if !p.starts_with('-') => format!("+{p}"),
        Some(p) => p,
        None => "-".to_owned(),
    }
}

/// Per model, the calls whose tokens tokentally counted itself because AOAI
/// reported none (streams without usage), the share of tokens so counted, and
/// the estimates' drift from reported counts (`drift.rs`).
pub(crate) fn estimates(
    lines: &[ChargebackLine],
    figures: &BTreeMap<String, super::drift::ModelEstimates>,
) -> Result<Vec<EstimateRow>> {
    #[derive(Default)]
    struct Calls {
        all: i64,
        estimated: i64,
    }
    let mut models: BTreeMap<&str, Calls> = BTreeMap::new();
    for l in lines.iter().filter(|l| l.calls > 0) {
        let m = models.entry(&l.model).or_default();
        m.all = add(m.all, l.calls, "calls")?;
        m.estimated = add(m.estimated, l.estimated_calls, "calls")?;
    }
    Ok(models
        .into_iter()
        .map(
            |(
                model,
                Calls {
                    all: calls,
                    estimated,
                },
            )| {
                let f = figures.get(model).cloned().unwrap_or_default();
                EstimateRow {
                    model: model.to_owned(),
                    calls: numbers::count(calls),
                    estimated_calls: numbers::count(estimated),
                    share: numbers::percent(Decimal::from(estimated), Decimal::from(calls))
                        .unwrap_or_default(),
                    token_share: numbers::percent(Decimal::from(f.estimated_tokens), Decimal::from(f.tokens))
                        .unwrap_or_else(|| "-".to_owned()),
                    prompt_drift: drift(f.estimated_prompt, f.reported_prompt),
                    completion_drift: drift(f.estimated_completion, f.reported_visible_completion),
                }
            },
        )
        .collect())
}

#[derive(Debug, Serialize)]
pub(crate) struct UnpricedRow {
    pub cost_center: String,
    pub app_id: String,
    pub deployment: String,
    pub model: String,
    pub token_class: String,
    pub tokens: String,
    pub reason: String,
}

/// The unpriced charges, as the unpriced file lists them.
pub(crate) fn unpriced(charges: &[Charge], owners: &CostCenters) -> Vec<UnpricedRow> {
    charges
        .iter()
        .filter_map(|c| match &c.pricing {
            Pricing::Unpriced { reason } => Some(UnpricedRow {
                cost_center: owners.cost_center(&c.app_id).to_owned(),
                app_id: c.app_id.clone(),
                deployment: c.deployment.clone(),
                model: c.model.clone(),
                token_class: c.class.map(|t| t.as_str()).unwrap_or_default().to_owned(),
                tokens: numbers::count(c.tokens),
                reason: reason.clone(),
            }),
            _ => None,
        })
        .collect()
}
