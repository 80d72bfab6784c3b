//! The unpriced-usage file: every token no price applied to, with the reason in
//! the words of the table to fix. Written every month, empty but for its header
//! when everything was priced, so a scheduler or a reviewer can always look.

use crate::charges::{Charge, Pricing};
use crate::cost_centers::CostCenters;
use crate::{Error, Month, Result};
use std::path::{Path, PathBuf};

/// Column names, in file order.
pub const UNPRICED_COLUMNS: [&str; 12] = [
    "month",
    "app_id",
    "cost_center",
    "deployment",
    "deployment_type",
    "region",
    "model",
    "token_class",
    "tokens",
    "first_day",
    "last_day",
    "reason",
];

pub fn csv_path(out_dir: &Path, month: Month) -> PathBuf {
    out_dir.join(format!("unpriced-{month}.csv"))
}

/// The unpriced charges as CSV text, header first, in detail-file order.
///
/// # Errors
/// Only if the CSV writer fails, which it does not for in-memory output.
pub(crate) fn to_csv(month: Month, charges: &[Charge], owners: &CostCenters) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(UNPRICED_COLUMNS)?;
    for c in charges {
        let Pricing::Unpriced { reason } = &c.pricing else {
            continue;
        };
        w.write_record([
            month.to_string(),
            c.app_id.clone(),
            owners.cost_center(&c.app_id).to_owned(),
            c.deployment.clone(),
            c.deployment_type
                .map(|t| t.as_str().to_owned())
                .unwrap_or_default(),
            c.region.clone().unwrap_or_default(),
            c.model.clone(),
            c.class.map(|t| t.as_str().to_owned()).unwrap_or_default(),
            c.tokens.to_string(),
            c.used.0.to_string(),
            c.used.1.to_string(),
            reason.clone(),
        ])?;
    }
    w.into_inner().map_err(|e| Error::Io(e.into_error()))
}

pub(crate) fn write(path: &Path, month: Month, charges: &[Charge], owners: &CostCenters) -> Result<()> {
    crate::files::write_bytes(path, &to_csv(month, charges, owners)?)
}
