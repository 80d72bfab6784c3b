use super::*;
use http::HeaderValue;

const SECRET: &str = "apim-secret";
const PATH: &str = "/openai/deployments/gpt-4o/chat/completions";
/// base64 of `{"request_id":"r-1","caller":{"subscription_id":"sub-a"}}`.
const CONTEXT: &str = "eyJyZXF1ZXN0X2lkIjoici0xIiwiY2FsbGVyIjp7InN1YnNjcmlwdGlvbl9pZCI6InN1Yi1hIn19";
const NOW: i64 = 1_763_800_000;

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(*name, HeaderValue::from_str(value).expect("header value"));
    }
    map
}

fn signed(timestamp: i64, method: &str, path: &str) -> HeaderMap {
    headers(&[
        (CONTEXT_HEADER, CONTEXT),
        (
            SIGNATURE_HEADER,
            &signature_header(SECRET, timestamp, method, path, CONTEXT),
        ),
    ])
}

#[test]
fn the_signed_text_is_the_documented_one() {
    // Python: base64(hmac.new(b"apim-secret", "\n".join(["tokentally-context-v1",
    // "1763800000", "POST", PATH, CONTEXT]).encode(), sha256).digest()); the APIM
    // policy builds the same lines.
    assert_eq!(
        signature_header(SECRET, NOW, "POST", PATH, CONTEXT),
        "t=1763800000,v1=M5sobmE/D5fUJyQlG5wS+lnv1DtHc8rJYsYtvsP22L4="
    );
}

#[test]
fn a_signed_context_is_believed() {
    let verifier = Verifier::new(SECRET, 300);
    let context = verifier.check("POST", PATH, &signed(NOW - 299, "POST", PATH), NOW);
    let context = context.expect("checks");
    assert_eq!(context.request_id.as_deref(), Some("r-1"));
    assert_eq!(context.caller.get("subscription_id"), Some(&Value::from("sub-a")));
}

#[test]
fn every_forgery_is_refused_with_its_reason() {
    let verifier = Verifier::new(SECRET, 300);
    let check =
        |headers: &HeaderMap, method: &str, path: &str| verifier.check(method, path, headers, NOW).err();
    assert_eq!(check(&HeaderMap::new(), "POST", PATH), Some(Refusal::Missing));
    assert_eq!(
        check(&headers(&[(CONTEXT_HEADER, CONTEXT)]), "POST", PATH),
        Some(Refusal::SignatureMissing)
    );
    let garbled = headers(&[(CONTEXT_HEADER, CONTEXT), (SIGNATURE_HEADER, "v1=abc")]);
    assert_eq!(check(&garbled, "POST", PATH), Some(Refusal::SignatureMalformed));
    assert_eq!(
        check(&signed(NOW - 301, "POST", PATH), "POST", PATH),
        Some(Refusal::SignatureExpired)
    );
    assert_eq!(
        check(&signed(NOW + 301, "POST", PATH), "POST", PATH),
        Some(Refusal::SignatureExpired)
    );
    // Moved onto another operation or method.
    let elsewhere = "/openai/deployments/gpt-4o/embeddings";
    assert_eq!(
        check(&signed(NOW, "POST", PATH), "POST", elsewhere),
        Some(Refusal::SignatureInvalid)
    );
    assert_eq!(
        check(&signed(NOW, "POST", PATH), "PUT", PATH),
        Some(Refusal::SignatureInvalid)
    );
    // Another context under a valid signature, or a signature under another secret.
    let mut swapped = signed(NOW, "POST", PATH);
    swapped.insert(CONTEXT_HEADER, HeaderValue::from_static("e30="));
    assert_eq!(check(&swapped, "POST", PATH), Some(Refusal::SignatureInvalid));
    let other_secret = Verifier::new("not-the-secret", 300);
    assert_eq!(
        other_secret
            .check("POST", PATH, &signed(NOW, "POST", PATH), NOW)
            .err(),
        Some(Refusal::SignatureInvalid)
    );
    let mut twice = signed(NOW, "POST", PATH);
    twice.append(CONTEXT_HEADER, HeaderValue::from_static("e30="));
    assert_eq!(check(&twice, "POST", PATH), Some(Refusal::Repeated));
}

#[test]
fn a_signed_but_unreadable_context_is_refused() {
    let verifier = Verifier::new(SECRET, 300);
    let headers = headers(&[
        (CONTEXT_HEADER, "%%%"),
        (
            SIGNATURE_HEADER,
            &signature_header(SECRET, NOW, "POST", PATH, "%%%"),
        ),
    ]);
    assert_eq!(
        verifier.check("POST", PATH, &headers, NOW).err(),
        Some(Refusal::Unreadable)
    );
}

#[test]
fn the_secret_never_shows_in_debug_output() {
    let text = format!("{:?}", Verifier::new(SECRET, 300));
    assert!(!text.contains(SECRET), "{text}");
}
