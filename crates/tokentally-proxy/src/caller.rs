//! Who is calling, reduced to what billing needs and nothing secret: a bearer
//! token becomes a few of its claims (the signature and the token itself never
//! leave this module), an `api-key` becomes a salted fingerprint. APIM's
//! `x-tokentally-context` header, when trusted, supplies the rest.

use base64::Engine as _;
use http::HeaderMap;
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

/// The header APIM's route-streaming policy writes (base64 of a JSON object).
pub const CONTEXT_HEADER: &str = "x-tokentally-context";

/// Claims kept from a bearer token: who the app is (`appid`/`azp`), its tenant and
/// object, and what the token was for. Names, e-mail addresses and the like are
/// not needed to bill a call and are not recorded.
const KEPT_CLAIMS: [&str; 9] = ["appid", "azp", "oid", "tid", "sub", "aud", "iss", "idtyp", "ver"];

/// What APIM tells the proxy about a call.
#[derive(Debug, Default, Deserialize)]
pub struct GatewayContext {
    pub request_id: Option<String>,
    pub request_time: Option<String>,
    #[serde(default)]
    pub caller: Map<String, Value>,
    pub region: Option<String>,
    pub upstream: Option<String>,
}

impl GatewayContext {
    /// Decodes the header; an unreadable one is reported and ignored, since a
    /// logging aid must never fail the call.
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let value = headers.get(CONTEXT_HEADER)?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(value.as_bytes().trim_ascii())
            .map_err(|e| e.to_string())
            .and_then(|bytes| serde_json::from_slice::<Self>(&bytes).map_err(|e| e.to_string()));
        match decoded {
            Ok(context) => Some(context),
            Err(reason) => {
                tracing::warn!(%reason, "ignoring an unreadable {CONTEXT_HEADER} header");
                None
            }
        }
    }
}

/// The record's `caller` object.
pub fn caller(
    headers: &HeaderMap,
    context: Option<&GatewayContext>,
    salt: Option<&str>,
) -> Map<String, Value> {
    let mut caller = context.map(|c| c.caller.clone()).unwrap_or_default();
    // The context's claims (validate-jwt's output) win; the token fills the gaps.
    if let Some(claims) = bearer_claims(headers) {
        let given = caller
            .entry("claims")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(given) = given {
            for (name, value) in claims {
                given.entry(name).or_insert(value);
            }
        }
    }
    if let (Some(salt), Some(key)) = (salt, headers.get("api-key")) {
        caller.insert(
            "api_key_fingerprint".into(),
            Value::String(fingerprint(salt, key.as_bytes())),
        );
    }
    // Never a credential, whatever the context held.
    caller.remove("authorization");
    caller
}

fn bearer_claims(headers: &HeaderMap) -> Option<Map<String, Value>> {
    let header = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let claims = tokentally_parse::identity::jwt_claims(token.trim())?;
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
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::json;

    fn jwt(payload: &Value) -> String {
        format!(
            "{}.{}.c2lnbmF0dXJl",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#),
            URL_SAFE_NO_PAD.encode(payload.to_string())
        )
    }

    fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().expect("header value"));
        }
        map
    }

    #[test]
    fn bearer_token_is_reduced_to_identity_claims() {
        let token = jwt(&json!({"appid": "app-1", "tid": "t", "name": "Ada", "upn": "ada@x"}));
        let h = headers(&[("authorization", format!("Bearer {token}"))]);
        let caller = caller(&h, None, None);
        assert_eq!(caller.get("claims"), Some(&json!({"appid": "app-1", "tid": "t"})));
        let text = Value::Object(caller).to_string();
        assert!(!text.contains("c2lnbmF0dXJl") && !text.contains("Ada"), "{text}");
    }

    #[test]
    fn context_claims_win_and_credentials_never_pass() {
        let token = jwt(&json!({"appid": "from-token", "oid": "o"}));
        let context = GatewayContext {
            caller: json!({"claims": {"appid": "from-apim"}, "subscription_id": "s", "authorization": "Bearer x.y.z"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            ..GatewayContext::default()
        };
        let h = headers(&[("authorization", format!("bearer {token}"))]);
        let caller = caller(&h, Some(&context), None);
        assert_eq!(
            caller.get("claims"),
            Some(&json!({"appid": "from-apim", "oid": "o"}))
        );
        assert_eq!(caller.get("subscription_id"), Some(&json!("s")));
        assert!(!caller.contains_key("authorization"));
    }

    #[test]
    fn api_keys_become_salted_fingerprints() {
        let h = headers(&[("api-key", "secret-key-1".to_owned())]);
        let a = caller(&h, None, Some("salt"));
        let fp = a
            .get("api_key_fingerprint")
            .and_then(Value::as_str)
            .unwrap_or_default();
        assert_eq!(fp.len(), 32);
        assert!(!Value::Object(a.clone()).to_string().contains("secret-key-1"));
        assert_eq!(fp, fingerprint("salt", b"secret-key-1"));
        assert_ne!(fp, fingerprint("other", b"secret-key-1"));
        assert!(caller(&h, None, None).get("api_key_fingerprint").is_none());
    }

    #[test]
    fn unreadable_context_is_ignored() {
        let h = headers(&[(CONTEXT_HEADER, "%%%".to_owned())]);
        assert!(GatewayContext::from_headers(&h).is_none());
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(r#"{"request_id":"r1","upstream":"https://a"}"#);
        let h = headers(&[(CONTEXT_HEADER, encoded)]);
        let context = GatewayContext::from_headers(&h).expect("decodes");
        assert_eq!(context.request_id.as_deref(), Some("r1"));
    }
}
