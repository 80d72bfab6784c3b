//! Who is calling, reduced to what billing needs and nothing secret: a bearer
//! token becomes a few of its claims (the signature and the token itself never
//! leave this module), an `api-key` becomes a salted fingerprint. A trusted
//! context (APIM's, signature checked) names the caller instead, and then no
//! credential on the call can change who pays.

use crate::context::GatewayContext;
use http::{HeaderMap, HeaderValue};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

/// Claims kept from a bearer token: who the app is (`appid`/`azp`), its tenant and
/// object, and what the token was for. Names, e-mail addresses and the like are
/// not needed to bill a call and are not recorded.
const KEPT_CLAIMS: [&str; 9] = ["appid", "azp", "oid", "tid", "sub", "aud", "iss", "idtyp", "ver"];

/// A call's credentials: at most one `Authorization` and one `api-key` header.
#[derive(Debug, Clone, Copy, Default)]
pub struct Credentials<'a> {
    pub authorization: Option<&'a HeaderValue>,
    pub api_key: Option<&'a HeaderValue>,
}

/// Credentials the proxy cannot bill by: refused, never guessed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialRefusal {
    TwoAuthorizations,
    TwoApiKeys,
    BothKinds,
    /// `Connection` names a credential header: it would be stripped as hop-by-hop,
    /// so upstream would never see (nor check) the credential the bill names.
    NamedByConnection,
}

/// The credential headers: the bill is based on them, so none may be hop-by-hop.
const CREDENTIAL_HEADERS: [&str; 2] = ["authorization", "api-key"];

impl CredentialRefusal {
    /// The error code of the 400 answer.
    pub fn code(self) -> &'static str {
        match self {
            Self::TwoAuthorizations | Self::TwoApiKeys | Self::BothKinds => "credentials_ambiguous",
            Self::NamedByConnection => "credential_hop_by_hop",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Self::TwoAuthorizations => "more than one Authorization header: a call carries one credential",
            Self::TwoApiKeys => "more than one api-key header: a call carries one credential",
            Self::BothKinds => {
                "both an Authorization and an api-key header: they may name different payers; send one"
            }
            Self::NamedByConnection => {
                "the Connection header names Authorization or api-key: a hop would strip the credential the call is billed by; do not list credential headers in Connection"
            }
        }
    }
}

impl<'a> Credentials<'a> {
    /// The call's credentials. Two of a kind are refused; so is one of each unless
    /// `trusted_context`, where APIM names the caller and may have added its own
    /// credential (managed identity) beside the caller's key; so is a `Connection`
    /// header naming either kind.
    pub fn read(headers: &'a HeaderMap, trusted_context: bool) -> Result<Self, CredentialRefusal> {
        if names_a_credential(headers) {
            return Err(CredentialRefusal::NamedByConnection);
        }
        let one = |name, twice| {
            let mut values = headers.get_all(name).iter();
            let first = values.next();
            if values.next().is_some() {
                Err(twice)
            } else {
                Ok(first)
            }
        };
        let authorization = one(
            http::header::AUTHORIZATION.as_str(),
            CredentialRefusal::TwoAuthorizations,
        )?;
        let api_key = one("api-key", CredentialRefusal::TwoApiKeys)?;
        if authorization.is_some() && api_key.is_some() && !trusted_context {
            return Err(CredentialRefusal::BothKinds);
        }
        Ok(Self {
            authorization,
            api_key,
        })
    }
}

/// Whether a `Connection` header lists a credential header among its options.
fn names_a_credential(headers: &HeaderMap) -> bool {
    headers
        .get_all(http::header::CONNECTION)
        .iter()
        .flat_map(|value| value.as_bytes().split(|b| *b == b','))
        .any(|option| {
            let option = option.trim_ascii();
            CREDENTIAL_HEADERS
                .iter()
                .any(|name| option.eq_ignore_ascii_case(name.as_bytes()))
        })
}

/// The record's `caller` object.
///
/// With a trusted `context` the caller is APIM's: its claims (validate-jwt's output)
/// or its subscription, never a token's, since the `Authorization` header may be
/// the one APIM added to reach AOAI with its managed identity. Without, the
/// token's claims, which AOAI checks when it accepts the call.
pub fn caller(
    credentials: &Credentials<'_>,
    context: Option<&GatewayContext>,
    salt: Option<&str>,
) -> Map<String, Value> {
    let mut caller = match context {
        Some(context) => context.caller.clone(),
        None => bearer_claims(credentials.authorization)
            .map(|claims| Map::from_iter([("claims".to_owned(), Value::Object(claims))]))
            .unwrap_or_default(),
    };
    // The fingerprint comes last in the identity order (docs/formats.md), so it
    // never outranks the claims or a subscription.
    if let (Some(salt), Some(key)) = (salt, credentials.api_key) {
        caller.insert(
            "api_key_fingerprint".into(),
            Value::String(fingerprint(salt, key.as_bytes())),
        );
    }
    // Never a credential, whatever the context held.
    caller.remove("authorization");
    caller
}

fn bearer_claims(authorization: Option<&HeaderValue>) -> Option<Map<String, Value>> {
    let header = authorization?.to_str().ok()?.trim();
    let (scheme, token) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let claims = tokentally_core::jwt_claims(token.trim())?;
    Some(
        claims
            .into_iter()
            .filter(|(name, _)| KEPT_CLAIMS.contains(&name.as_str()))
            .collect(),
    )
}

/// First 16 bytes of SHA-256(salt ‖ 0 ‖ key), hex: stable across replicas and
/// restarts that share the salt, useless for guessing keys without it.
pub fn fingerprint(salt: &str, key: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(salt.as_bytes());
    hasher.update([0]);
    hasher.update(key.trim_ascii());
    let digest = hasher.finalize();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
