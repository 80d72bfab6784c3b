//! JSON from callers, read to a bounded depth.
//!
//! serde_json refuses a document nested deeper than 128 levels, with one error
//! for all of it: a request with a deeply nested tool schema would make its whole
//! gateway record, or the whole diagnostic export around it with other callers'
//! calls, unreadable, so unbilled. [`Shallow`] reads a value like `Value` does
//! down to [`MAX_DEPTH`] levels below where it starts, and skips anything deeper
//! (serde_json skips a value without recursing), leaving [`CUT`] in its place.

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, de};
use serde_json::{Map, Value};
use std::cell::Cell;
use std::fmt;

/// Levels read below the value's own: the gateway record and the diagnostic
/// export hold their caller JSON at most three levels down, so the whole stays
/// under serde_json's 128.
pub const MAX_DEPTH: usize = 96;

/// What stands in for a value nested deeper than [`MAX_DEPTH`].
pub const CUT: &str = "(nested deeper than tokentally reads: not read)";

/// A JSON value read to [`MAX_DEPTH`] levels.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shallow {
    pub value: Value,
    /// Whether some part was deeper and is [`CUT`].
    pub cut: bool,
}

impl<'de> Deserialize<'de> for Shallow {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let cut = Cell::new(false);
        let value = Seed { depth: 0, cut: &cut }.deserialize(d)?;
        Ok(Self {
            value,
            cut: cut.get(),
        })
    }
}

/// Reads one value `depth` levels below the [`Shallow`]'s start.
#[derive(Clone, Copy)]
struct Seed<'c> {
    depth: usize,
    cut: &'c Cell<bool>,
}

impl Seed<'_> {
    fn below(self) -> Self {
        Self {
            depth: self.depth + 1,
            cut: self.cut,
        }
    }

    /// Past the depth: the rest of a container is skipped.
    fn too_deep(self) -> bool {
        let deep = self.depth >= MAX_DEPTH;
        if deep {
            self.cut.set(true);
        }
        deep
    }
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(n.into())
    }

    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(n.into())
    }

    fn visit_f64<E>(self, n: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        self.deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        if self.too_deep() {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(Value::String(CUT.to_owned()));
        }
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element_seed(self.below())? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        if self.too_deep() {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            return Ok(Value::String(CUT.to_owned()));
        }
        let mut members = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(self.below())?;
            members.insert(key, value);
        }
        Ok(Value::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn nested(depth: usize) -> String {
        format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
    }

    #[test]
    fn values_within_the_depth_read_as_serde_json_reads_them() {
        let text = r#"{"a": [1, -2, 3.5, "x", null, true, {"b": {}}], "c": 18446744073709551615}"#;
        let shallow: Shallow = serde_json::from_str(text).expect("parse");
        let value: Value = serde_json::from_str(text).expect("parse");
        assert_eq!(shallow.value, value);
        assert!(!shallow.cut);
        let at_limit: Shallow = serde_json::from_str(&nested(MAX_DEPTH)).expect("parse");
        assert!(!at_limit.cut);
    }

    #[test]
    fn deeper_parts_are_cut_and_the_rest_is_read() {
        // Far past serde_json's own limit, inside an object with siblings.
        for deep in [MAX_DEPTH + 1, 200, 100_000] {
            let text = format!(r#"{{"tools": {}, "model": "gpt-4o"}}"#, nested(deep));
            assert!(serde_json::from_str::<Value>(&text).is_err() || deep <= 127);
            let shallow: Shallow = serde_json::from_str(&text).expect("read");
            assert!(shallow.cut, "{deep}");
            assert_eq!(shallow.value["model"], "gpt-4o");
            // `tools` is one level down; the array `MAX_DEPTH` levels down is cut.
            let mut inner = &shallow.value["tools"];
            for _ in 1..MAX_DEPTH {
                assert!(inner.is_array(), "{deep}");
                inner = &inner[0];
            }
            assert_eq!(inner, CUT, "{deep}");
        }
    }

    #[test]
    fn broken_json_is_still_an_error() {
        assert!(serde_json::from_str::<Shallow>("[[[1]]").is_err());
        assert!(serde_json::from_str::<Shallow>(&format!("{}1", "[".repeat(500))).is_err());
    }

    proptest! {
        /// Any JSON within the depth reads as serde_json reads it.
        #[test]
        fn agrees_with_serde_json(value in any_json()) {
            let text = serde_json::to_string(&value).expect("write");
            let shallow: Shallow = serde_json::from_str(&text).expect("read");
            let read: Value = serde_json::from_str(&text).expect("read");
            prop_assert_eq!(shallow.value, read);
            prop_assert!(!shallow.cut);
        }
    }

    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (-1.0e9..1.0e9f64).prop_map(Value::from),
            ".*".prop_map(Value::String),
        ];
        leaf.prop_recursive(6, 64, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(".*", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
