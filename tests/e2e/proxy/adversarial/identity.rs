//! Who may say who pays: a forged context changes nothing, a trusted one needs
//! APIM's signature, APIM's own token never outranks the caller it names, and
//! credentials that could name two payers are refused.

use super::{credential, path, post, refusal};
use crate::broker;
use crate::proxy::{Caller, Fixture, TRUST, apim_headers, bearer, now, read_records};
use base64::Engine as _;
use serde_json::json;
use tokentally_core::SourcePosition;

fn here() -> SourcePosition {
    SourcePosition {
        source: "proxy-adversarial".into(),
        partition: None,
        offset: 1,
    }
}

/// With the shipped default (`ignore`), a client's own x-tokentally-context naming
/// another app, a request id and a time is ignored: its calls are its own, two of
/// them never merge into one event id, and neither moves out of its month.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_context_bills_nobody_else_and_merges_nothing() {
    let fx = Fixture::start("adv-forged-context").await;
    fx.upstream.open_gate();
    let forged = json!({"request_id": "forged-1", "request_time": "2020-01-01T00:00:00Z",
                        "caller": {"claims": {"appid": "victim-app"}, "subscription_id": "victim-sub"}});
    let forged = base64::engine::general_purpose::STANDARD.encode(forged.to_string());
    for _ in 0..2 {
        let headers = [
            credential(Caller::App("attacker-app")),
            ("x-tokentally-context", forged.clone()),
        ];
        let response = post(fx.proxy.addr(), &path(), &headers, false).await;
        assert_eq!(response.status(), 200);
        response.bytes().await.expect("body");
    }
    let records = read_records(&fx.topic, 2);
    let ids: Vec<&str> = records
        .iter()
        .filter_map(|(_, r)| r["request_id"].as_str())
        .collect();
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1], "two calls, two event ids");
    assert!(!ids.contains(&"forged-1"), "{ids:?}");
    let this_year = chrono::Utc::now().format("%Y").to_string();
    for (raw, record) in &records {
        assert!(
            record["request_time"]
                .as_str()
                .is_some_and(|t| t.starts_with(&this_year)),
            "{record}"
        );
        let row = tokentally_parse::parse_record(raw, here()).expect("parses");
        assert_eq!(row.app_id, "attacker-app");
        assert!(record["caller"].get("subscription_id").is_none(), "{record}");
    }
    fx.stop().await;
}

/// With `trust`, only a context APIM signed is believed; every forgery is a 400
/// with its reason, counted, and never forwarded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_context_needs_apims_signature() {
    let fx = Fixture::configured("adv-signed-context", &broker::address(), TRUST, "").await;
    fx.upstream.open_gate();
    let addr = fx.proxy.addr();
    let context = json!({"request_id": "apim-1", "request_time": "2026-10-20T10:00:00Z",
                         "caller": {"claims": {"appid": "signed-app"}}});
    let [signed_context, signature] = apim_headers(&context, &path(), now());
    let token = credential(Caller::App("caller-app"));
    let cases = [
        (vec![token.clone()], "context_missing"),
        (
            vec![token.clone(), signed_context.clone()],
            "context_signature_missing",
        ),
        (
            vec![
                token.clone(),
                signed_context.clone(),
                (signature.0, "t=1,v1=AAAA".to_owned()),
            ],
            "context_signature_expired",
        ),
        (
            vec![
                token.clone(),
                signed_context.clone(),
                (signature.0, "v1=AAAA".to_owned()),
            ],
            "context_signature_malformed",
        ),
        (
            vec![
                token.clone(),
                apim_headers(&json!({"caller": {}}), &path(), now())[0].clone(),
                signature.clone(),
            ],
            "context_signature_invalid",
        ),
    ];
    for (headers, code) in &cases {
        let (status, got) = refusal(post(addr, &path(), headers, false).await).await;
        assert_eq!((status, got.as_str()), (400, *code));
    }
    // The signature of one operation does not carry over to another.
    let embeddings = "/openai/deployments/gpt-4o/embeddings";
    let moved = [token.clone(), signed_context.clone(), signature.clone()];
    let (status, code) = refusal(post(addr, embeddings, &moved, false).await).await;
    assert_eq!((status, code.as_str()), (400, "context_signature_invalid"));
    assert_eq!(
        fx.upstream
            .counts
            .requests
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );

    let good = post(addr, &path(), &[token, signed_context, signature], false).await;
    assert_eq!(good.status(), 200);
    good.bytes().await.expect("body");
    let records = read_records(&fx.topic, 1);
    assert_eq!(records[0].1["request_id"], json!("apim-1"));
    let row = tokentally_parse::parse_record(&records[0].0, here()).expect("parses");
    assert_eq!(row.app_id, "signed-app");
    let stats = fx.stop().await;
    assert_eq!((stats.contexts_refused, stats.calls), (6, 1));
}

/// A key-only caller that APIM charges to its subscription stays there when APIM
/// reaches AOAI with its own managed identity (an Authorization header it added).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apims_own_token_never_outranks_the_caller_it_names() {
    let fx = Fixture::configured("adv-managed-identity", &broker::address(), TRUST, "").await;
    fx.upstream.open_gate();
    for stream in [false, true] {
        let context = json!({"caller": {"subscription_id": "sub-key-only", "subscription_name": "team-k"}});
        let mut headers = apim_headers(&context, &path(), now()).to_vec();
        headers.push(("authorization", bearer("apim-managed-identity")));
        headers.push(("api-key", "apim-subscription-key".to_owned()));
        let response = post(fx.proxy.addr(), &path(), &headers, stream).await;
        assert_eq!(response.status(), 200);
        response.bytes().await.expect("body");
    }
    for (raw, record) in read_records(&fx.topic, 2) {
        assert!(record["caller"].get("claims").is_none(), "{record}");
        let row = tokentally_parse::parse_record(&raw, here()).expect("parses");
        assert_eq!(row.app_id, "sub-key-only", "streamed: {}", row.streamed);
    }
    fx.stop().await;
}

/// Two `Authorization` headers, two `api-key` headers, or one of each: refused,
/// never forwarded, never guessed at.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_that_could_name_two_payers_are_refused() {
    let fx = Fixture::start("adv-credentials").await;
    fx.upstream.open_gate();
    let cases = [
        [credential(Caller::App("app-a")), credential(Caller::App("app-b"))],
        [credential(Caller::Key("key-a")), credential(Caller::Key("key-b"))],
        [credential(Caller::App("app-a")), credential(Caller::Key("key-b"))],
    ];
    for headers in &cases {
        let (status, code) = refusal(post(fx.proxy.addr(), &path(), headers, true).await).await;
        assert_eq!(
            (status, code.as_str()),
            (400, "credentials_ambiguous"),
            "{headers:?}"
        );
    }
    assert_eq!(
        fx.upstream
            .counts
            .requests
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );
    let stats = fx.stop().await;
    assert_eq!((stats.credentials_refused, stats.calls), (3, 0));
}

/// A `Connection` header naming the credential (which would let a hop strip the
/// credential the bill is based on, so upstream never checks it): refused with
/// its reason, counted, never forwarded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_named_hop_by_hop_is_refused() {
    let fx = Fixture::start("adv-hop-by-hop").await;
    fx.upstream.open_gate();
    let cases = [
        [
            credential(Caller::App("victim-app")),
            ("connection", "authorization".to_owned()),
        ],
        [
            credential(Caller::Key("key-a")),
            ("connection", "keep-alive, API-Key".to_owned()),
        ],
    ];
    for headers in &cases {
        let response = post(fx.proxy.addr(), &path(), headers, true).await;
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("credential_hop_by_hop")),
            "{headers:?}"
        );
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("Connection"), "{message}");
    }
    assert_eq!(
        fx.upstream
            .counts
            .requests
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );
    let stats = fx.stop().await;
    assert_eq!((stats.credentials_refused, stats.calls), (2, 0));
}

/// A call upstream refuses (401) is recorded without its bodies and without the
/// caller its refused token claims to be: nothing to bill, nobody to bill.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_call_is_recorded_without_bodies_or_its_claimed_caller() {
    let fx = Fixture::start("adv-refused").await;
    let response = post(
        fx.proxy.addr(),
        "/openai/deployments/refused/chat/completions",
        &[credential(Caller::App("forged-app"))],
        false,
    )
    .await;
    assert_eq!(response.status(), 401);
    let records = read_records(&fx.topic, 1);
    let (raw, record) = &records[0];
    assert_eq!(record["response"]["status"], json!(401));
    assert_eq!(
        (record["request"].clone(), record["response"]["body"].clone()),
        (json!(null), json!(null))
    );
    assert_eq!(record["caller"], json!({}));
    assert!(!String::from_utf8_lossy(raw).contains("Say hello"));
    let row = tokentally_parse::parse_record(raw, here()).expect("parses");
    assert_ne!(row.app_id, "forged-app");
    fx.stop().await;
}
