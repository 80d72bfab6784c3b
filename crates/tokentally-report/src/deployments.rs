//! The deployment table (`pipelines/deployments.csv`): what kind of AOAI
//! deployment each name is, where it runs, and what a provisioned one costs.
//!
//! Usage rows carry only the deployment's name, yet its price depends on its type
//! (global, data zone, regional, batch) and sometimes its region, and a
//! provisioned (PTU) deployment is not priced per token at all but costs a fixed
//! amount a month. Deployments get re-created as another type, so rows are
//! effective-dated like prices.

use crate::csv_rows::{self, range_text, ranges_overlap};
use crate::month::Period;
use crate::{Error, Month, Result};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// Decimal places of a monthly cost: money, to the micro-unit like every cost.
const MAX_COST_SCALE: u32 = 6;

/// How Azure bills a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DeploymentType {
    Global,
    DataZone,
    Regional,
    Batch,
    /// Reserved capacity (PTU): a fixed monthly cost, allocated by tokens.
    Provisioned,
}

impl DeploymentType {
    pub const ALL: [Self; 5] = [
        Self::Global,
        Self::DataZone,
        Self::Regional,
        Self::Batch,
        Self::Provisioned,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Global => "global",
            Self::DataZone => "data_zone",
            Self::Regional => "regional",
            Self::Batch => "batch",
            Self::Provisioned => "provisioned",
        }
    }

    /// Parses the table spelling; the error lists the accepted ones.
    pub(crate) fn parse(s: &str) -> Result<Self, String> {
        Self::ALL.into_iter().find(|t| t.as_str() == s).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|t| t.as_str()).collect();
            format!("unknown deployment_type {s:?} (expected {})", names.join(", "))
        })
    }
}

impl fmt::Display for DeploymentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A provisioned deployment's fixed cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthlyCost {
    pub amount: Decimal,
    pub currency: String,
}

/// One validated row of the deployment table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    /// As in the usage rows (the name in the request URL).
    pub name: String,
    pub deployment_type: DeploymentType,
    /// Azure region of the resource; `None` when it spans several (global,
    /// load-balanced) and only region-independent prices apply.
    pub region: Option<String>,
    /// Set exactly for provisioned deployments.
    pub monthly_cost: Option<MonthlyCost>,
    /// The Azure OpenAI resource (account) the deployment belongs to, as its
    /// Azure resource id: what a Cost Management export bills. `None`: the
    /// deployment's cost cannot be tied to an invoice.
    pub resource: Option<String>,
    /// `NaiveDate::MIN` when the row gives none.
    pub effective_from: NaiveDate,
    /// Exclusive; `None` while current.
    pub effective_to: Option<NaiveDate>,
    pub source: String,
    /// 1-based line in the file.
    pub line: u64,
}

impl Deployment {
    pub fn in_effect(&self, day: NaiveDate) -> bool {
        self.effective_from <= day && self.effective_to.is_none_or(|to| day < to)
    }

    /// Days of `month` this row is in effect: the proration of a monthly cost.
    pub fn days_in(&self, month: Month) -> i64 {
        self.period_in(month).days()
    }

    /// The days of `month` this row covers.
    pub fn period_in(&self, month: Month) -> Period {
        month.period().within(self.effective_from, self.effective_to)
    }
}

/// The parsed table; empty when none is configured (every deployment unlisted).
#[derive(Debug, Clone, Default)]
pub struct Deployments {
    rows: Vec<Deployment>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Row {
    deployment: String,
    deployment_type: String,
    #[serde(default)]
    region: String,
    #[serde(default)]
    monthly_cost: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    effective_from: String,
    #[serde(default)]
    effective_to: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    resource: String,
}

impl Deployments {
    /// # Errors
    /// When the file cannot be read or a row is invalid; the error names file and line.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(Error::file(path))?;
        Self::parse(path, &text)
    }

    /// Parses CSV text; `path` only names the source in errors.
    ///
    /// # Errors
    /// On the first invalid row, or two rows for one deployment in effect on one day.
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let err = |line: u64, message: String| Error::Deployments {
            path: path.to_owned(),
            line,
            message,
        };
        let mut rows = Vec::new();
        for (line, raw) in csv_rows::read_rows::<Row>(text, &err)? {
            rows.push(validate(raw, line).map_err(|m| err(line, m))?);
        }
        check_overlaps(&rows).map_err(|(line, m)| err(line, m))?;
        Ok(Self { rows })
    }

    pub fn rows(&self) -> &[Deployment] {
        &self.rows
    }

    /// The row for deployment `name` in effect on `day` (names compare ASCII
    /// case-insensitively, as Azure treats them).
    pub fn on(&self, name: &str, day: NaiveDate) -> Option<&Deployment> {
        self.rows
            .iter()
            .find(|d| d.name.eq_ignore_ascii_case(name) && d.in_effect(day))
    }

    /// Provisioned rows in effect on at least one day of `month`: each owes its
    /// (prorated) monthly cost whether or not anything called it.
    pub fn provisioned_in(&self, month: Month) -> impl Iterator<Item = &Deployment> {
        self.rows
            .iter()
            .filter(move |d| d.monthly_cost.is_some() && d.days_in(month) > 0)
    }
}

fn validate(raw: Row, line: u64) -> Result<Deployment, String> {
    if raw.deployment.is_empty() {
        return Err("deployment is empty".into());
    }
    let deployment_type = DeploymentType::parse(&raw.deployment_type)?;
    let monthly_cost = match (deployment_type, raw.monthly_cost.as_str()) {
        (DeploymentType::Provisioned, "") => {
            return Err("a provisioned deployment needs monthly_cost and currency".into());
        }
        (DeploymentType::Provisioned, cost) => Some(MonthlyCost {
            amount: csv_rows::amount("monthly_cost", cost, MAX_COST_SCALE)?,
            currency: csv_rows::currency(&raw.currency)?,
        }),
        (_, "") if raw.currency.is_empty() => None,
        (other, _) => {
            return Err(format!(
                "monthly_cost and currency are for provisioned deployments only, not {other} \
                 (its tokens are priced in the price table)"
            ));
        }
    };
    let effective_from = match raw.effective_from.as_str() {
        "" => NaiveDate::MIN,
        s => csv_rows::date("effective_from", s)?,
    };
    Ok(Deployment {
        name: raw.deployment,
        deployment_type,
        region: Some(raw.region).filter(|r| !r.is_empty()),
        monthly_cost,
        resource: Some(raw.resource).filter(|r| !r.is_empty()),
        effective_to: csv_rows::end_date(&raw.effective_to, effective_from)?,
        effective_from,
        source: raw.source,
        line,
    })
}

/// One deployment name with two rows in effect on one day would make its type
/// depend on row order; reject and name both lines.
fn check_overlaps(rows: &[Deployment]) -> Result<(), (u64, String)> {
    let mut by_name: BTreeMap<String, Vec<&Deployment>> = BTreeMap::new();
    for d in rows {
        by_name.entry(d.name.to_ascii_lowercase()).or_default().push(d);
    }
    for (name, rows) in by_name {
        for (i, a) in rows.iter().enumerate() {
            for b in &rows[i + 1..] {
                if ranges_overlap(
                    (a.effective_from, a.effective_to),
                    (b.effective_from, b.effective_to),
                ) {
                    let range = |d: &Deployment| range_text(d.effective_from, d.effective_to);
                    return Err((
                        b.line,
                        format!(
                            "deployment {name} effective {} overlaps line {} ({})",
                            range(b),
                            a.line,
                            range(a)
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
