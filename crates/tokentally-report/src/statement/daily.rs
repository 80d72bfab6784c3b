//! Cost per day and app, for the statement's daily chart.
//!
//! Costs are rounded per charge over the month, not per day, so a day's cost is
//! a share: each chargeback line's cost is split over the days of its usage in
//! proportion to their tokens (largest remainder, as PTU shares are), and a line
//! with no tokens behind it (idle capacity) evenly over the month. The days of
//! an app therefore add up exactly to its cost in the chargeback.

use crate::chargeback::ChargebackLine;
use crate::charges::{LineKey, resolve};
use crate::dataset::DayUsage;
use crate::deployments::Deployments;
use crate::ptu::allocate;
use crate::{Error, Month, Result};
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// One app's cost on each day of the month (index 0 = the 1st).
pub(crate) type DailyCosts = BTreeMap<String, Vec<Decimal>>;

fn key(l: &ChargebackLine) -> LineKey {
    LineKey {
        app_id: l.app_id.clone(),
        app_id_source: l.app_id_source.clone(),
        deployment: l.deployment.clone(),
        deployment_type: l.deployment_type,
        model: l.model.clone(),
    }
}

/// Each app's cost per day in `currency`, lines of other currencies left out.
///
/// # Errors
/// When a sum overflows.
pub(crate) fn app_costs(
    month: Month,
    days: &[DayUsage],
    lines: &[ChargebackLine],
    deployments: &Deployments,
    currency: &str,
) -> Result<DailyCosts> {
    let n = usize::try_from(month.days()).unwrap_or(0);
    let mut weights: BTreeMap<LineKey, Vec<i64>> = BTreeMap::new();
    for d in days {
        let (_, line) = resolve(d, deployments);
        let index = usize::try_from((d.day - month.first_day()).num_days()).unwrap_or(n);
        let day_weights = weights.entry(line).or_insert_with(|| vec![0; n]);
        if let Some(w) = day_weights.get_mut(index) {
            *w = w.saturating_add(d.tokens.total.max(0));
        }
    }
    let mut apps = DailyCosts::new();
    for l in lines {
        let (Some(cost), Some(true)) = (l.cost, l.currency.as_deref().map(|c| c == currency)) else {
            continue;
        };
        let overflow = || Error::Overflow {
            line: format!("the statement's daily costs of chargeback line {}", l.label()),
            what: "a cost",
        };
        let shares = weights
            .get(&key(l))
            .and_then(|w| allocate(cost, w))
            .or_else(|| allocate(cost, &vec![1; n]))
            .ok_or_else(overflow)?;
        let app = apps
            .entry(l.app_id.clone())
            .or_insert_with(|| vec![Decimal::ZERO; n]);
        for (sum, share) in app.iter_mut().zip(shares) {
            *sum = sum.checked_add(share).ok_or_else(overflow)?;
        }
    }
    Ok(apps)
}
