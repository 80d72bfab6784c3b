//! Azure diagnostic exports: `{"records": [...]}` as Azure Monitor streams resource
//! logs to Event Hubs. API Management writes two categories that matter here:
//! the LLM log (`GatewayLlmLogs`, table `ApiManagementGatewayLlmLog`: tokens, model,
//! messages in chunks) and the gateway log (`GatewayLogs`: the caller's
//! subscription, status, backend). Exports name fields in PascalCase (Log Analytics)
//! or camelCase (resource logs), at the top level or under `properties`, so fields
//! are looked up case-insensitively in both places, `properties` first: a
//! resource log's top level is Azure's envelope (its `operationName` is the log
//! category's, its `location` a display name), `properties` the log's own fields.

use super::{Decoded, Rejoin};
use serde_json::Value;
use tokentally_core::SourcePosition;

/// One diagnostic record, with case-insensitive field lookup.
#[derive(Debug, Clone, Copy)]
pub(super) struct DiagRecord<'a>(pub(super) &'a Value);

impl<'a> DiagRecord<'a> {
    /// The first of `names` present (not null) in the record's `properties`, else
    /// at its top level.
    pub(super) fn get(&self, names: &[&str]) -> Option<&'a Value> {
        self.find(names, |v| !v.is_null())
    }

    /// Like [`Self::get`], for a non-empty string: an empty one is no value.
    pub(super) fn str(&self, names: &[&str]) -> Option<&'a str> {
        self.find(names, |v| v.as_str().is_some_and(|s| !s.is_empty()))
            .and_then(Value::as_str)
    }

    fn find(&self, names: &[&str], keep: impl Fn(&Value) -> bool) -> Option<&'a Value> {
        let lookup = |obj: &'a Value| {
            let map = obj.as_object()?;
            names.iter().find_map(|name| {
                map.iter()
                    .find(|(k, v)| k.eq_ignore_ascii_case(name) && keep(v))
                    .map(|(_, v)| v)
            })
        };
        self.0
            .get("properties")
            .and_then(lookup)
            .or_else(|| lookup(self.0))
    }

    /// Integers arrive as numbers or, from some exporters, as strings.
    pub(super) fn int(&self, names: &[&str]) -> Option<i64> {
        match self.get(names)? {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    pub(super) fn bool(&self, names: &[&str]) -> Option<bool> {
        match self.get(names)? {
            Value::Bool(b) => Some(*b),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
}

/// Which kind of API Management log a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Category {
    Llm,
    Gateway,
    Other,
}

pub(super) fn category(record: DiagRecord<'_>) -> (Category, String) {
    let name = record
        .str(&["category", "Type"])
        .unwrap_or("(no category)")
        .to_owned();
    let lower = name.to_ascii_lowercase();
    let kind = if lower.contains("llmlog") {
        Category::Llm
    } else if lower == "gatewaylogs" || lower == "apimanagementgatewaylogs" {
        Category::Gateway
    } else {
        Category::Other
    };
    (kind, name)
}

/// Splits an export into its records and hands LLM and gateway logs to `rejoin`.
pub(super) fn decode(
    event: &[u8],
    position: &SourcePosition,
    rejoin: &mut Rejoin,
    out: &mut Vec<(SourcePosition, Decoded)>,
) {
    // Each record read to a bounded depth: one caller's deeply nested request
    // must not make the export, and the other calls in it, unreadable.
    #[derive(serde::Deserialize)]
    struct Export {
        records: Vec<tokentally_parse::shallow::Shallow>,
    }
    let export: Export = match serde_json::from_slice(event) {
        Ok(export) => export,
        Err(e) => {
            let kind = if std::str::from_utf8(event).is_err() {
                "invalid_utf8"
            } else {
                "invalid_json"
            };
            let reason = format!("diagnostic export {{\"records\": [...]}} does not parse: {e}");
            out.push((position.clone(), Decoded::bad(kind, reason)));
            return;
        }
    };
    for (index, value) in export.records.iter().map(|r| &r.value).enumerate() {
        let record = DiagRecord(value);
        let (kind, name) = category(record);
        let result = match kind {
            Category::Llm => rejoin.add_llm(record, position, out),
            Category::Gateway => rejoin.add_gateway(record, position, out),
            Category::Other => {
                out.push((
                    position.clone(),
                    Decoded::Skipped {
                        what: format!("diagnostic category {name}"),
                    },
                ));
                Ok(())
            }
        };
        if let Err(reason) = result {
            out.push((
                position.clone(),
                Decoded::Bad {
                    kind: "invalid_diagnostic_record".to_owned(),
                    reason: format!("records[{index}] ({name}): {reason}"),
                    raw: Some(serde_json::to_vec(value).unwrap_or_default()),
                },
            ));
        }
    }
}
