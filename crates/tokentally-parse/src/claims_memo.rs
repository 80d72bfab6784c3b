//! The claims of bearer tokens seen lately, per thread.
//!
//! Why: a client reuses its token until it nearly expires, so the same JWT
//! arrives on every call an app makes for an hour; base64-decoding it and
//! reading its JSON into a `Value` on every call is a visible share of a
//! streamed call's parse (the `parse` bench; figures in benches/README.md).
//!
//! Exactness: keyed by the whole token text (compared in full on lookup, the
//! hash only picks the bucket), and a token's claims depend on nothing else,
//! so a remembered answer is the answer. Bounded: at most [`CAPACITY`] tokens
//! of at most [`MAX_TOKEN`] bytes per thread, and emptied when full. Emptied
//! by `CountCache::clear` too (`memo.rs`).

use crate::identity::claim;
use crate::memo;
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use tokentally_core::jwt_claims;
use xxhash_rust::xxh3::Xxh3DefaultBuilder;

/// Tokens remembered per thread before the table is emptied.
const CAPACITY: usize = 1024;
/// Longer tokens are decoded every time: a hostile header must not fill memory.
const MAX_TOKEN: usize = 16 << 10;

/// The claims of a token that `identify` reads, as `claim` reads them
/// (trimmed, empty and non-string claims absent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TokenClaims {
    pub appid: Option<String>,
    pub azp: Option<String>,
    pub tid: Option<String>,
    pub oid: Option<String>,
}

impl TokenClaims {
    fn of(claims: &Map<String, Value>) -> Self {
        Self {
            appid: claim(claims, "appid"),
            azp: claim(claims, "azp"),
            tid: claim(claims, "tid"),
            oid: claim(claims, "oid"),
        }
    }
}

#[derive(Debug)]
struct Memo {
    tokens: HashMap<Box<str>, Option<TokenClaims>, Xxh3DefaultBuilder>,
    generation: u64,
}

thread_local! {
    static MEMO: RefCell<Memo> = RefCell::new(Memo {
        tokens: HashMap::default(),
        generation: memo::generation(),
    });
}

/// [`jwt_claims`] of `token`, read as [`TokenClaims`]; `None` when it holds no
/// decodable JWT.
pub(crate) fn token_claims(token: &str) -> Option<TokenClaims> {
    let decode = || jwt_claims(token).map(|claims| TokenClaims::of(&claims));
    if token.len() > MAX_TOKEN {
        return decode();
    }
    MEMO.with(|cell| {
        let Ok(mut memo) = cell.try_borrow_mut() else {
            return decode();
        };
        let generation = memo::generation();
        if memo.generation != generation {
            memo.tokens.clear();
            memo.generation = generation;
        }
        if let Some(claims) = memo.tokens.get(token) {
            return claims.clone();
        }
        let claims = decode();
        if memo.tokens.len() >= CAPACITY {
            memo.tokens.clear();
        }
        memo.tokens.insert(token.into(), claims.clone());
        claims
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    #[test]
    fn remembered_claims_equal_decoded_ones() {
        let payload = r#"{"appid":" a1 ","tid":"t","oid":7,"azp":""}"#;
        let token = format!("h.{}.s", URL_SAFE_NO_PAD.encode(payload));
        let expected = TokenClaims {
            appid: Some("a1".to_owned()),
            tid: Some("t".to_owned()),
            ..TokenClaims::default()
        };
        for _ in 0..3 {
            assert_eq!(token_claims(&token), Some(expected.clone()));
            assert_eq!(token_claims("not-a-jwt"), None);
        }
        let long = format!("h.{}.s", "A".repeat(MAX_TOKEN));
        assert_eq!(token_claims(&long), None);
    }
}
