//! The cost-center map (`pipelines/cost-centers.csv`): which team pays for an app.
//!
//! Hand-maintained like the prices, so the parser is strict and names the line of
//! every problem. An app missing from the map is still reported, under
//! [`UNASSIGNED`], so its spend is visible rather than dropped.

use crate::{Error, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Cost center (and team) of apps the map does not list.
pub const UNASSIGNED: &str = "unassigned";

/// Who owns one app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostCenter {
    pub app_name: String,
    pub team: String,
    pub cost_center: String,
    pub owner: String,
}

/// `app_id` → owner; empty when no map is configured (every app unassigned).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CostCenters {
    apps: BTreeMap<String, CostCenter>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Row {
    app_id: String,
    app_name: String,
    team: String,
    cost_center: String,
    owner: String,
}

impl CostCenters {
    /// Reads and validates the map.
    ///
    /// # Errors
    /// When the file cannot be read or a row is malformed, empty or repeated.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(Error::file(path))?;
        Self::parse(path, &text)
    }

    /// Parses the map's text; `path` only names the file in errors.
    ///
    /// # Errors
    /// When a row is malformed, has an empty `app_id` or `cost_center`, or repeats an app.
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let err = |line: u64, message: String| Error::CostCenters {
            path: path.to_owned(),
            line,
            message,
        };
        let mut apps = BTreeMap::new();
        for (line, row) in crate::csv_rows::read_rows::<Row>(text, &err)? {
            if row.app_id.is_empty() || row.cost_center.is_empty() {
                return Err(err(line, "app_id and cost_center must not be empty".to_owned()));
            }
            let owner = CostCenter {
                app_name: row.app_name,
                team: row.team,
                cost_center: row.cost_center,
                owner: row.owner,
            };
            if apps.insert(row.app_id.clone(), owner).is_some() {
                return Err(err(line, format!("app_id {:?} is listed twice", row.app_id)));
            }
        }
        Ok(Self { apps })
    }

    /// The app's owner, if the map lists it.
    pub fn get(&self, app_id: &str) -> Option<&CostCenter> {
        self.apps.get(app_id)
    }

    /// Every listed app with its owner, by app id.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &CostCenter)> {
        self.apps.iter().map(|(id, c)| (id.as_str(), c))
    }

    /// The app's cost center, [`UNASSIGNED`] when not listed.
    pub fn cost_center(&self, app_id: &str) -> &str {
        self.get(app_id).map_or(UNASSIGNED, |c| c.cost_center.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "app_id,app_name,team,cost_center,owner\n";

    #[test]
    fn maps_listed_apps_and_leaves_others_unassigned() {
        let text = format!("{HEADER}payroll-bot,Payroll bot,HR,CC-100,ana@example.com\n");
        let map = CostCenters::parse(Path::new("cc.csv"), &text).expect("valid");
        assert_eq!(map.cost_center("payroll-bot"), "CC-100");
        assert_eq!(map.cost_center("other"), UNASSIGNED);
    }

    #[test]
    fn duplicate_and_empty_rows_name_their_line() {
        let dup = format!("{HEADER}a,A,T,CC-1,o\na,A,T,CC-2,o\n");
        let err = CostCenters::parse(Path::new("cc.csv"), &dup)
            .expect_err("duplicate")
            .to_string();
        assert!(err.contains("cc.csv:3") && err.contains("twice"), "{err}");
        let empty = format!("{HEADER}a,A,T,,o\n");
        let err = CostCenters::parse(Path::new("cc.csv"), &empty)
            .expect_err("empty")
            .to_string();
        assert!(err.contains("cc.csv:2"), "{err}");
    }
}
