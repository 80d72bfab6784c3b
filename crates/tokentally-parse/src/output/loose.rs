//! Member types that accept any JSON and keep only the shape billing reads.
//!
//! Producers are not strict: an `index` may come as a string, `error` as a bare
//! string, `function_call` as `null`. With plain serde types one stray member would
//! fail the whole chunk and lose its text; these read a wrong-typed member as
//! "absent" (or, for containers, as what `serde_json::Value` lookups saw before the
//! parser was typed), so the rest of the event still counts.

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// Visitor methods for the JSON kinds a type does not want: the value is read
/// (containers drained) and `$absent` is produced instead of an error.
macro_rules! skip_kinds {
    ($absent:expr; scalars) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($absent)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($absent)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($absent)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($absent)
        }
    };
    ($absent:expr; ints) => {
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($absent)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($absent)
        }
    };
    ($absent:expr; strings) => {
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($absent)
        }
    };
    ($absent:expr; seq) => {
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok($absent)
        }
    };
    ($absent:expr; map) => {
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok($absent)
        }
    };
}

/// A string member, borrowed from the input unless it had escapes to undo.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Str<'a>(pub Option<Cow<'a, str>>);

impl Str<'_> {
    pub fn get(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Str<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
                Ok(Str(Some(Cow::Borrowed(s))))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Ok(Str(Some(Cow::Owned(s.to_owned()))))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
                Ok(Str(Some(Cow::Owned(s))))
            }
            skip_kinds!(Str(None); scalars);
            skip_kinds!(Str(None); ints);
            skip_kinds!(Str(None); seq);
            skip_kinds!(Str(None); map);
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// An integer member: what `Value::as_u64` accepted; floats, strings and
/// out-of-range numbers are absent. (Token counts are not read this way: they are
/// checked strictly by `usage.rs`.)
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Uint(pub Option<u64>);

macro_rules! int_type {
    ($name:ident, $t:ty) => {
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("any JSON value")
                    }
                    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
                        Ok($name(<$t>::try_from(n).ok()))
                    }
                    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
                        Ok($name(<$t>::try_from(n).ok()))
                    }
                    skip_kinds!($name(None); scalars);
                    skip_kinds!($name(None); strings);
                    skip_kinds!($name(None); seq);
                    skip_kinds!($name(None); map);
                }
                d.deserialize_any(V)
            }
        }
    };
}
int_type!(Uint, u64);

/// An object member. Keeps apart "absent or null" from "some other value", which
/// some members need (`function_call: 5` still opened a legacy call before).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Obj<T> {
    #[default]
    Absent,
    Null,
    Other,
    Object(T),
}

impl<T> Obj<T> {
    pub fn object(&self) -> Option<&T> {
        match self {
            Self::Object(t) => Some(t),
            _ => None,
        }
    }

    /// The same member, its object borrowed (and unboxed: see [`Self::as_deref`]).
    pub fn as_ref(&self) -> Obj<&T> {
        match self {
            Self::Absent => Obj::Absent,
            Self::Null => Obj::Null,
            Self::Other => Obj::Other,
            Self::Object(t) => Obj::Object(t),
        }
    }

    /// The same member with a boxed object borrowed, so boxed and inline members
    /// go through the same code.
    pub fn as_deref(&self) -> Obj<&T::Target>
    where
        T: std::ops::Deref,
    {
        match self {
            Self::Absent => Obj::Absent,
            Self::Null => Obj::Null,
            Self::Other => Obj::Other,
            Self::Object(t) => Obj::Object(&**t),
        }
    }

    /// Present and not `null`: what `v.get(key).filter(|v| !v.is_null())` tested.
    pub fn is_given(&self) -> bool {
        matches!(self, Self::Other | Self::Object(_))
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Obj<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Obj::Object)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Obj::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Obj::Null)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Obj::Other)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Obj::Other)
            }
            skip_kinds!(Obj::Other; ints);
            skip_kinds!(Obj::Other; strings);
            skip_kinds!(Obj::Other; seq);
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// An array member whose elements are objects. An element of another type still
/// takes its place as `T::default()`: positions number tool calls and output
/// items, and a `choices: [null]` element opened choice 0 before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct List<T>(pub Option<Vec<T>>);

impl<T> Default for List<T> {
    fn default() -> Self {
        Self(None)
    }
}

impl<T> List<T> {
    pub fn items(&self) -> &[T] {
        self.0.as_deref().unwrap_or_default()
    }
}

impl<'de, T: Deserialize<'de> + Default> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de> + Default> Visitor<'de> for V<T> {
            type Value = List<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(1).min(64));
                while let Some(item) = seq.next_element::<Obj<T>>()? {
                    items.push(match item {
                        Obj::Object(t) => t,
                        _ => T::default(),
                    });
                }
                Ok(List(Some(items)))
            }
            skip_kinds!(List(None); scalars);
            skip_kinds!(List(None); ints);
            skip_kinds!(List(None); strings);
            skip_kinds!(List(None); map);
        }
        d.deserialize_any(V(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::{Value, json};

    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    struct Probe<'a> {
        #[serde(borrow)]
        s: Str<'a>,
        u: Uint,
        o: Obj<Inner>,
        l: List<Inner>,
    }

    #[derive(Debug, Default, Deserialize, PartialEq, Eq)]
    #[serde(default)]
    struct Inner {
        n: Uint,
    }

    const WEIRD: [&str; 9] = [
        "null",
        "true",
        "1.5",
        "-3",
        "7",
        "\"x\"",
        "[1,{}]",
        "{\"n\":2}",
        "18446744073709551615",
    ];

    #[test]
    fn every_json_kind_is_accepted_and_typed_like_value_lookups() {
        for member in WEIRD {
            for key in ["s", "u", "o", "l"] {
                let text = format!("{{\"{key}\":{member}}}");
                let probe: Probe<'_> = serde_json::from_str(&text).expect("never fails on valid JSON");
                let value: Value = serde_json::from_str(member).expect("json");
                match key {
                    "s" => assert_eq!(probe.s.get(), value.as_str(), "{text}"),
                    "u" => assert_eq!(probe.u.0, value.as_u64(), "{text}"),
                    "o" => {
                        assert_eq!(probe.o.is_given(), !value.is_null(), "{text}");
                        assert_eq!(probe.o.object().is_some(), value.is_object(), "{text}");
                    }
                    _ => assert_eq!(
                        probe.l.0.as_ref().map(Vec::len),
                        value.as_array().map(Vec::len),
                        "{text}"
                    ),
                }
            }
        }
    }

    #[test]
    fn strings_borrow_unless_escaped_and_lists_keep_positions() {
        let text = r#"{"s":"plain","l":[null,{"n":4},"x"]}"#;
        let probe: Probe<'_> = serde_json::from_str(text).expect("json");
        assert!(matches!(probe.s.0, Some(Cow::Borrowed("plain"))));
        let n: Vec<Option<u64>> = probe.l.items().iter().map(|i| i.n.0).collect();
        assert_eq!(n, [None, Some(4), None]);
        let escaped: Probe<'_> = serde_json::from_str(r#"{"s":"a\nb"}"#).expect("json");
        assert!(matches!(escaped.s.0, Some(Cow::Owned(ref s)) if s == "a\nb"));
        // Read from a `Value` too (the fallback for duplicate members), borrowing.
        let value = json!({"s": "v", "o": {"n": 1}});
        let from_value = Probe::deserialize(&value).expect("from value");
        assert_eq!(
            (from_value.s.get(), from_value.o.object()),
            (Some("v"), Some(&Inner { n: Uint(Some(1)) }))
        );
    }
}
