//! The unpriced-usage file: every token no price applied to, with the reason in
//! the words of the table to fix. Written every month, empty but for its header
//! when everything was priced, so a scheduler or a reviewer can always look.

use crate::charges::{Charge, Pricing};
use crate::cost_centers::CostCenters;
use crate::files::{Cell, CsvText};
use crate::{Month, Result};
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

/// The unpriced charges as CSV text, header first, in detail-file order; text
/// cells escaped against formula injection.
pub(crate) fn to_csv(month: Month, charges: &[Charge], owners: &CostCenters) -> Vec<u8> {
    let mut csv = CsvText::with_header(&UNPRICED_COLUMNS);
    for c in charges {
        let Pricing::Unpriced { reason } = &c.pricing else {
            continue;
        };
        let text = |s: &str| Cell::Text(s.to_owned());
        csv.row([
            Cell::Value(month.to_string()),
            text(&c.app_id),
            text(owners.cost_center(&c.app_id)),
            text(&c.deployment),
            text(c.deployment_type.map(|t| t.as_str()).unwrap_or_default()),
            text(c.region.as_deref().unwrap_or_default()),
            text(&c.model),
            text(c.class.map(|t| t.as_str()).unwrap_or_default()),
            Cell::Value(c.tokens.to_string()),
            Cell::Value(c.used.first.to_string()),
            Cell::Value(c.used.last.to_string()),
            text(reason),
        ]);
    }
    csv.into_bytes()
}

pub(crate) fn write(path: &Path, month: Month, charges: &[Charge], owners: &CostCenters) -> Result<()> {
    crate::files::write_bytes(path, &to_csv(month, charges, owners))
}
