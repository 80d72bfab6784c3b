//! Who pays for a call: the Entra ID app, else the APIM subscription, else the
//! fingerprint of the caller's API key, else nobody (the explicit `unattributed` app).
//!
//! The JWT is decoded, never verified: APIM's validate-jwt policy verified it before
//! the call reached AOAI, and the capture may have dropped the signature anyway.

use crate::claims_memo;
use crate::gateway::Caller;
use serde_json::{Map, Value};
use tokentally_core::{AppIdSource, UsageRecord};

/// The caller as the usage row names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub app_id: String,
    pub app_id_source: AppIdSource,
    pub tenant_id: Option<String>,
    pub object_id: Option<String>,
    pub subscription: Option<String>,
    pub product: Option<String>,
    /// Why a present Authorization header could not be used.
    pub note: Option<String>,
}

/// App ids of key-based callers: `api-key:<fingerprint>`, so cost-center tables can
/// map a key to a team without the key itself ever being stored.
pub const API_KEY_PREFIX: &str = "api-key:";

pub(crate) fn claim(claims: &Map<String, Value>, name: &str) -> Option<String> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn non_empty(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Resolves the caller of a gateway record.
///
/// Decoded `claims` (from the APIM policy) win over the token's payload claim by
/// claim, so a policy that forwards only some claims still gets the rest from the
/// token.
pub fn identify(caller: &Caller) -> Identity {
    let mut note = None;
    let token_claims = caller.authorization.as_deref().and_then(|header| {
        let header = header.trim();
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))?;
        // Memoized: a token recurs on every call its client makes until it expires.
        let claims = claims_memo::token_claims(token.trim());
        if claims.is_none() {
            note = Some("authorization header holds no decodable JWT".to_owned());
        }
        claims
    });
    let empty = Map::new();
    let given = caller.claims.as_ref().unwrap_or(&empty);
    let token = token_claims.unwrap_or_default();
    let subscription = non_empty(&caller.subscription_id).or_else(|| non_empty(&caller.subscription_name));
    let app = claim(given, "appid")
        .or_else(|| claim(given, "azp"))
        .or(token.appid)
        .or(token.azp);
    let (app_id, app_id_source) = match app {
        Some(app) => (app, AppIdSource::Claim),
        None => match &subscription {
            Some(sub) => (sub.clone(), AppIdSource::Subscription),
            None => match non_empty(&caller.api_key_fingerprint) {
                Some(fingerprint) => (format!("{API_KEY_PREFIX}{fingerprint}"), AppIdSource::ApiKey),
                None => (UsageRecord::UNATTRIBUTED.to_owned(), AppIdSource::None),
            },
        },
    };
    Identity {
        app_id,
        app_id_source,
        tenant_id: claim(given, "tid").or(token.tid),
        object_id: claim(given, "oid").or(token.oid),
        subscription,
        product: non_empty(&caller.product),
        note,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose;
    use serde_json::json;

    fn jwt(payload: &Value) -> String {
        let enc = general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.sig",
            enc.encode(br#"{"alg":"RS256"}"#),
            enc.encode(payload.to_string())
        )
    }

    #[test]
    fn v1_token_appid() {
        let caller = Caller {
            authorization: Some(format!(
                "Bearer {}",
                jwt(&json!({"appid": "a1", "tid": "t", "oid": "o"}))
            )),
            subscription_id: Some("sub".into()),
            ..Caller::default()
        };
        let id = identify(&caller);
        assert_eq!((id.app_id.as_str(), id.app_id_source), ("a1", AppIdSource::Claim));
        assert_eq!(id.tenant_id.as_deref(), Some("t"));
        assert_eq!(id.object_id.as_deref(), Some("o"));
        assert_eq!(id.subscription.as_deref(), Some("sub"));
    }

    #[test]
    fn v2_token_azp_and_signature_dropped() {
        let token = jwt(&json!({"azp": "a2", "ver": "2.0"}));
        let unsigned = format!("{}.", token.rsplit_once('.').map_or("", |(head, _)| head));
        let caller = Caller {
            authorization: Some(format!("Bearer {unsigned}")),
            ..Caller::default()
        };
        assert_eq!(identify(&caller).app_id, "a2");
    }

    #[test]
    fn decoded_claims_win() {
        let caller = Caller {
            claims: Some(
                json!({"azp": "from-claims"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            ),
            authorization: Some(format!("Bearer {}", jwt(&json!({"appid": "from-token"})))),
            ..Caller::default()
        };
        assert_eq!(identify(&caller).app_id, "from-claims");
    }

    #[test]
    fn partial_claims_fall_back_to_the_token() {
        let caller = Caller {
            claims: Some(json!({"tid": "t-given"}).as_object().cloned().unwrap_or_default()),
            authorization: Some(format!(
                "Bearer {}",
                jwt(&json!({"appid": "from-token", "tid": "t-token"}))
            )),
            ..Caller::default()
        };
        let id = identify(&caller);
        assert_eq!(
            (id.app_id.as_str(), id.tenant_id.as_deref()),
            ("from-token", Some("t-given"))
        );
    }

    #[test]
    fn subscription_then_unattributed() {
        let caller = Caller {
            subscription_name: Some("team-x".into()),
            ..Caller::default()
        };
        let id = identify(&caller);
        assert_eq!(
            (id.app_id.as_str(), id.app_id_source),
            ("team-x", AppIdSource::Subscription)
        );
        let id = identify(&Caller::default());
        assert_eq!(
            (id.app_id.as_str(), id.app_id_source),
            ("unattributed", AppIdSource::None)
        );
    }

    #[test]
    fn key_fingerprint_after_subscription_before_unattributed() {
        let mut caller = Caller {
            api_key_fingerprint: Some("3f9a".into()),
            ..Caller::default()
        };
        let id = identify(&caller);
        assert_eq!(
            (id.app_id.as_str(), id.app_id_source),
            ("api-key:3f9a", AppIdSource::ApiKey)
        );
        caller.subscription_id = Some("sub-1".into());
        assert_eq!(identify(&caller).app_id_source, AppIdSource::Subscription);
        caller.api_key_fingerprint = Some("  ".into());
        caller.subscription_id = None;
        assert_eq!(identify(&caller).app_id_source, AppIdSource::None);
    }

    #[test]
    fn garbage_token_is_noted_not_fatal() {
        let caller = Caller {
            authorization: Some("Bearer not-a-jwt".into()),
            subscription_id: Some("s".into()),
            ..Caller::default()
        };
        let id = identify(&caller);
        assert_eq!(id.app_id_source, AppIdSource::Subscription);
        assert!(id.note.is_some());
    }
}
