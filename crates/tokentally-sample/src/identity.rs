//! The `caller` object: Entra ID tokens and claims, APIM subscriptions.
//!
//! Tokens are minted the way clients hold them: an app reuses its token until it is
//! about to expire, so the same JWT shows up on many calls and then changes, as in
//! real logs (and as gzip likes it).

use crate::apps::{App, Auth, tenant_id};
use crate::ids::{b64url, stable_rng, stable_uuid};
use crate::vocab::PEOPLE;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::{Rng, RngCore};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// The audience of v2 tokens: the gateway's own API registration.
const GATEWAY_AUDIENCE: &str = "api://aoai-gateway.contoso.com";
const COGNITIVE_AUDIENCE: &str = "https://cognitiveservices.azure.com";

/// Key for app-only tokens in the token cache.
const APP_ONLY: usize = usize::MAX;

#[derive(Debug, Default)]
pub(crate) struct Identities {
    /// `(app, user)` → (expiry, `Bearer …` value).
    tokens: HashMap<(usize, usize), (i64, String)>,
}

impl Identities {
    /// The `caller` of one call, or `None` when the gateway logged none.
    pub(crate) fn caller(
        &mut self,
        rng: &mut ChaCha8Rng,
        app_index: usize,
        app: &App,
        user: usize,
        now_s: i64,
    ) -> Option<Value> {
        let mut caller = Map::new();
        match app.auth {
            Auth::Anonymous => {
                if rng.random_bool(0.5) {
                    return None;
                }
                let ip = format!("10.99.{}.{}", rng.random_range(0..4), rng.random_range(2..250));
                caller.insert("ip".into(), Value::String(ip));
                return Some(Value::Object(caller));
            }
            Auth::BearerV1 { .. } | Auth::BearerV2User => {
                let key = if app.auth == Auth::BearerV2User {
                    (app_index, user)
                } else {
                    (app_index, APP_ONLY)
                };
                let token = match self.tokens.get(&key) {
                    Some((exp, token)) if *exp - 300 > now_s => token.clone(),
                    _ => {
                        let (exp, token) = mint(rng, app, user, now_s);
                        self.tokens.insert(key, (exp, token.clone()));
                        token
                    }
                };
                caller.insert("authorization".into(), Value::String(token));
            }
            Auth::ClaimsV1 | Auth::ClaimsV2 => {
                caller.insert("claims".into(), apim_claims(app));
            }
            Auth::Key => {}
        }
        if let Some(sub) = &app.subscription {
            if let Some(id) = sub.id {
                caller.insert("subscription_id".into(), Value::String(id.into()));
            }
            caller.insert("subscription_name".into(), Value::String(sub.name.into()));
            caller.insert("product".into(), Value::String(sub.product.into()));
        }
        let ip = if app.auth == Auth::BearerV2User {
            format!("10.40.{}.{}", user % 250, 10 + app_index)
        } else {
            let mut r = stable_rng(app.name);
            format!(
                "10.{}.{}.{}",
                20 + app_index,
                r.random_range(0..250),
                r.random_range(2..250)
            )
        };
        caller.insert("ip".into(), Value::String(ip));
        Some(Value::Object(caller))
    }
}

/// The people who use the delegated-token apps.
pub(crate) fn user_count() -> usize {
    PEOPLE.len()
}

fn user_oid(user: usize) -> (String, &'static str, &'static str) {
    let (name, upn) = PEOPLE[user % PEOPLE.len()];
    (stable_uuid(&format!("tokentally-sample/user/{upn}")), name, upn)
}

/// Object id of an app's service principal (differs from its client id).
fn service_principal(app: &App) -> String {
    stable_uuid(&format!("tokentally-sample/sp/{}", app.name))
}

/// The subset of claims the APIM policy copies out of `validate-jwt`.
fn apim_claims(app: &App) -> Value {
    let tid = tenant_id(app.tenant);
    let oid = service_principal(app);
    if app.auth == Auth::ClaimsV2 {
        json!({
            "aud": GATEWAY_AUDIENCE, "azp": app.app_id(), "idtyp": "app",
            "iss": format!("https://login.microsoftonline.com/{tid}/v2.0"),
            "oid": oid, "roles": ["Chat.Invoke"], "tid": tid, "ver": "2.0",
        })
    } else {
        json!({
            "aud": COGNITIVE_AUDIENCE, "appid": app.app_id(), "idtyp": "app",
            "iss": format!("https://sts.windows.net/{tid}/"), "oid": oid, "tid": tid, "ver": "1.0",
        })
    }
}

/// A fresh `Bearer` value and its expiry.
fn mint(rng: &mut ChaCha8Rng, app: &App, user: usize, now_s: i64) -> (i64, String) {
    let tid = tenant_id(app.tenant);
    let iat = now_s - rng.random_range(0..240);
    let exp = iat + rng.random_range(3900..5400);
    let kid = b64url(&mut stable_rng(&format!("kid/{}", app.tenant)), 27);
    let header = format!(r#"{{"typ":"JWT","alg":"RS256","x5t":"{kid}","kid":"{kid}"}}"#);
    let mut claims = json!({
        "iat": iat, "nbf": iat, "exp": exp, "tid": tid,
        "aio": b64url(rng, 44), "rh": format!("1.AXkA{}.", b64url(rng, 44)), "uti": b64url(rng, 22),
    });
    let fields = match app.auth {
        Auth::BearerV2User => {
            let (oid, name, upn) = user_oid(user);
            json!({
                "aud": GATEWAY_AUDIENCE, "azp": app.app_id(), "azpacr": "0",
                "iss": format!("https://login.microsoftonline.com/{tid}/v2.0"),
                "name": name, "oid": oid, "preferred_username": format!("{upn}@contoso.com"),
                "scp": "Chat.Invoke",
                "sub": b64url(rng, 43), "ver": "2.0",
            })
        }
        _ => {
            let oid = service_principal(app);
            json!({
                "aud": COGNITIVE_AUDIENCE, "appid": app.app_id(), "appidacr": "2",
                "idp": format!("https://sts.windows.net/{tid}/"), "idtyp": "app",
                "iss": format!("https://sts.windows.net/{tid}/"),
                "oid": oid, "sub": oid, "ver": "1.0", "xms_idrel": "7 18",
            })
        }
    };
    if let (Some(claims), Value::Object(fields)) = (claims.as_object_mut(), fields) {
        claims.extend(fields);
    }
    let signature = match app.auth {
        Auth::BearerV1 { signed: true } => {
            let mut sig = [0u8; 256];
            rng.fill_bytes(&mut sig);
            URL_SAFE_NO_PAD.encode(sig)
        }
        _ => String::new(),
    };
    let token = format!(
        "Bearer {}.{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        signature
    );
    (exp, token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apps::APPS;
    use rand::SeedableRng;

    fn payload(bearer: &str) -> Value {
        let jwt = bearer.strip_prefix("Bearer ").expect("bearer");
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).expect("b64")).expect("json");
        assert_eq!(header["alg"], "RS256");
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("b64")).expect("json")
    }

    #[test]
    fn tokens_carry_the_app_claim_and_are_reused_until_expiry() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut ids = Identities::default();
        for (i, app) in APPS.iter().enumerate() {
            let caller = ids.caller(&mut rng, i, app, 3, 1_790_000_000);
            let again = ids.caller(&mut rng, i, app, 3, 1_790_000_060);
            match app.auth {
                Auth::BearerV1 { .. } => {
                    let auth = caller
                        .as_ref()
                        .and_then(|c| c["authorization"].as_str())
                        .expect("auth");
                    assert_eq!(payload(auth)["appid"], app.app_id());
                    assert_eq!(payload(auth)["ver"], "1.0");
                    assert_eq!(caller, again);
                }
                Auth::BearerV2User => {
                    let auth = caller
                        .as_ref()
                        .and_then(|c| c["authorization"].as_str())
                        .expect("auth");
                    assert_eq!(payload(auth)["azp"], app.app_id());
                    assert_eq!(payload(auth)["ver"], "2.0");
                }
                Auth::ClaimsV1 => assert_eq!(caller.expect("caller")["claims"]["appid"], app.app_id()),
                Auth::ClaimsV2 => assert_eq!(caller.expect("caller")["claims"]["azp"], app.app_id()),
                Auth::Key => assert!(caller.expect("caller")["subscription_name"].is_string()),
                Auth::Anonymous => {}
            }
        }
        let app = &APPS[0];
        let first = ids.caller(&mut rng, 0, app, 0, 1_790_000_000);
        let later = ids.caller(&mut rng, 0, app, 0, 1_790_000_000 + 7200);
        assert_ne!(first, later);
    }
}
