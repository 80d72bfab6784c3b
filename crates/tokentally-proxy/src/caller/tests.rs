use super::*;
use base64::Engine as _;
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
        map.append(*name, value.parse().expect("header value"));
    }
    map
}

fn caller_of(h: &HeaderMap, context: Option<&GatewayContext>, salt: Option<&str>) -> Map<String, Value> {
    let credentials = Credentials::read(h, context.is_some()).expect("one credential");
    caller(&credentials, context, salt)
}

#[test]
fn bearer_token_is_reduced_to_identity_claims() {
    let token = jwt(&json!({"appid": "app-1", "tid": "t", "name": "Ada", "upn": "ada@x"}));
    let h = headers(&[("authorization", format!("Bearer {token}"))]);
    let caller = caller_of(&h, None, None);
    assert_eq!(caller.get("claims"), Some(&json!({"appid": "app-1", "tid": "t"})));
    let text = Value::Object(caller).to_string();
    assert!(!text.contains("c2lnbmF0dXJl") && !text.contains("Ada"), "{text}");
}

#[test]
fn a_trusted_context_names_the_caller_and_no_token_adds_to_it() {
    // APIM's managed identity token beside a key-only caller's subscription.
    let token = jwt(&json!({"appid": "apim-managed-identity", "oid": "o"}));
    let context = GatewayContext {
        caller: json!({"subscription_id": "s", "authorization": "Bearer x.y.z"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        ..GatewayContext::default()
    };
    let h = headers(&[
        ("authorization", format!("bearer {token}")),
        ("api-key", "caller-key".to_owned()),
    ]);
    let caller = caller_of(&h, Some(&context), Some("salt"));
    assert_eq!(caller.get("claims"), None, "{caller:?}");
    assert_eq!(caller.get("subscription_id"), Some(&json!("s")));
    assert!(!caller.contains_key("authorization"));
    assert!(caller.contains_key("api_key_fingerprint"));
}

#[test]
fn api_keys_become_salted_fingerprints() {
    let h = headers(&[("api-key", "secret-key-1".to_owned())]);
    let a = caller_of(&h, None, Some("salt"));
    let fp = a
        .get("api_key_fingerprint")
        .and_then(Value::as_str)
        .unwrap_or_default();
    assert_eq!(fp.len(), 32);
    assert!(!Value::Object(a.clone()).to_string().contains("secret-key-1"));
    assert_eq!(fp, fingerprint("salt", b"secret-key-1"));
    assert_ne!(fp, fingerprint("other", b"secret-key-1"));
    assert!(caller_of(&h, None, None).get("api_key_fingerprint").is_none());
}

#[test]
fn credentials_that_could_name_two_payers_are_refused() {
    let bearer = || ("authorization", format!("Bearer {}", jwt(&json!({"appid": "a"}))));
    let key = |k: &str| ("api-key", k.to_owned());
    let read = |pairs: &[(&'static str, String)], trusted| Credentials::read(&headers(pairs), trusted).err();
    assert_eq!(
        read(&[bearer(), bearer()], false),
        Some(CredentialRefusal::TwoAuthorizations)
    );
    assert_eq!(
        read(&[bearer(), bearer()], true),
        Some(CredentialRefusal::TwoAuthorizations)
    );
    assert_eq!(
        read(&[key("a"), key("b")], true),
        Some(CredentialRefusal::TwoApiKeys)
    );
    assert_eq!(
        read(&[bearer(), key("a")], false),
        Some(CredentialRefusal::BothKinds)
    );
    assert_eq!(read(&[bearer(), key("a")], true), None, "APIM names the payer");
    assert_eq!(read(&[bearer()], false), None);
    assert_eq!(read(&[], false), None);
}

#[test]
fn a_connection_header_naming_a_credential_is_refused() {
    let read = |pairs: &[(&'static str, String)]| Credentials::read(&headers(pairs), true).err();
    let key = || ("api-key", "k".to_owned());
    for connection in ["authorization", "keep-alive, API-Key", " Authorization "] {
        assert_eq!(
            read(&[key(), ("connection", connection.to_owned())]),
            Some(CredentialRefusal::NamedByConnection),
            "{connection}"
        );
    }
    // Named on a second Connection line, with no credential sent at all.
    let pairs = [
        ("connection", "keep-alive".to_owned()),
        ("connection", "api-key".to_owned()),
    ];
    assert_eq!(read(&pairs), Some(CredentialRefusal::NamedByConnection));
    assert_eq!(
        read(&[key(), ("connection", "keep-alive, x-api-key-hint".to_owned())]),
        None
    );
}
