use super::*;
use serde_json::json;
use tokentally_core::{AppIdSource, UsageSource};

fn position(offset: i64) -> SourcePosition {
    SourcePosition {
        source: "t".into(),
        partition: Some(0),
        offset,
    }
}

fn llm_chunk(
    seq: i64,
    request: serde_json::Value,
    response: serde_json::Value,
    tokens: bool,
) -> serde_json::Value {
    let mut props = json!({
        "CorrelationId": "corr-1",
        "SequenceNumber": seq,
        "ModelName": "gpt-4o-2024-08-06",
        "DeploymentName": "gpt-4o",
        "ApiVersion": "2024-10-21",
        "IsStreamCompletion": true,
        "OperationName": "ChatCompletions_Create",
        "RequestMessages": request,
        "ResponseMessages": response,
    });
    if tokens {
        props["PromptTokens"] = json!(120);
        props["CompletionTokens"] = json!(30);
        props["TotalTokens"] = json!(150);
    }
    json!({"time": "2026-10-05T08:00:00Z", "category": "GatewayLlmLogs", "properties": props})
}

fn gateway_log() -> serde_json::Value {
    json!({"time": "2026-10-05T08:00:00Z", "category": "GatewayLogs", "correlationId": "corr-1",
           "properties": {"apimSubscriptionId": "sub-42", "responseCode": 200,
                          "url": "https://apim.example/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21",
                          "backendUrl": "https://aoai.example"}})
}

fn export(records: &[serde_json::Value]) -> Vec<u8> {
    serde_json::to_vec(&json!({ "records": records })).expect("json")
}

fn decode_all(events: &[Vec<u8>]) -> Vec<(SourcePosition, Decoded)> {
    let mut decoder = EventDecoder::new(1 << 20);
    let mut out = Vec::new();
    for (i, event) in events.iter().enumerate() {
        decoder.decode(event, &position(i64::try_from(i).expect("small")), &mut out);
    }
    decoder.finish_batch(&mut out);
    out
}

fn rows(out: &[(SourcePosition, Decoded)]) -> Vec<&UsageRecord> {
    out.iter()
        .filter_map(|(_, d)| match d {
            Decoded::Row(r) => Some(r.as_ref()),
            _ => None,
        })
        .collect()
}

#[test]
fn llm_log_chunks_across_events_rejoin_with_the_gateway_log() {
    // The request text arrives as string fragments in two events, out of order;
    // the caller's subscription only in the gateway log.
    let messages =
        r#"[{"role":"system","content":"You are terse."},{"role":"user","content":"Hello there"}]"#;
    let (a, b) = messages.split_at(40);
    let answer = json!([{"role": "assistant", "content": "Hi."}]);
    let events = [
        export(&[
            llm_chunk(1, json!(b), serde_json::Value::Null, false),
            gateway_log(),
        ]),
        export(&[llm_chunk(0, json!(a), answer, true)]),
    ];
    let out = decode_all(&events);
    let rows = rows(&out);
    assert_eq!(rows.len(), 1, "{out:?}");
    let row = rows[0];
    assert_eq!(row.request_id.as_deref(), Some("corr-1"));
    assert_eq!((row.prompt_tokens, row.completion_tokens), (120, 30));
    assert_eq!(row.usage_source, UsageSource::Reported);
    assert_eq!(
        (row.app_id.as_str(), row.app_id_source),
        ("sub-42", AppIdSource::Subscription)
    );
    assert!(row.streamed && !row.partial);
    assert_eq!(row.deployment.as_deref(), Some("gpt-4o"));
    assert_eq!(row.model.as_deref(), Some("gpt-4o-2024-08-06"));
    // The rejoined prompt was readable: the estimate covers both messages.
    assert!(row.estimated_prompt_tokens.is_some_and(|n| n > 10), "{row:?}");
}

#[test]
fn a_missing_chunk_marks_the_row_partial_and_no_tokens_means_estimated() {
    let events = [export(&[
        llm_chunk(
            0,
            json!([{"role": "user", "content": "a"}]),
            serde_json::Value::Null,
            false,
        ),
        llm_chunk(
            2,
            json!([{"role": "user", "content": "b"}]),
            json!("the answer"),
            false,
        ),
    ])];
    let out = decode_all(&events);
    let row = rows(&out)[0];
    assert!(row.partial);
    assert_eq!(row.usage_source, UsageSource::Estimated);
    assert!(row.completion_tokens > 0);
    assert_eq!(row.app_id, "unattributed");
}

#[test]
fn other_categories_and_lone_gateway_logs_are_counted_skips() {
    let other = json!({"category": "WebSocketConnectionLogs", "properties": {}});
    let out = decode_all(&[export(&[other, gateway_log()])]);
    let skipped: Vec<&str> = out
        .iter()
        .filter_map(|(_, d)| match d {
            Decoded::Skipped { what } => Some(what.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        skipped,
        [
            "diagnostic category WebSocketConnectionLogs",
            "gateway log without an LLM log"
        ]
    );
}

#[test]
fn bad_diagnostic_records_are_quarantined_one_by_one() {
    let no_id = json!({"category": "GatewayLlmLogs", "properties": {"ModelName": "gpt-4o"}});
    let out = decode_all(&[
        export(&[no_id, llm_chunk(0, json!([]), json!([]), true)]),
        b"{\"records\": [".to_vec(),
    ]);
    let bad: Vec<(&str, &str)> = out
        .iter()
        .filter_map(|(_, d)| match d {
            Decoded::Bad { kind, reason, .. } => Some((kind.as_str(), reason.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(bad.len(), 2, "{out:?}");
    assert_eq!(bad[0].0, "invalid_diagnostic_record");
    assert!(
        bad[0].1.contains("records[0]") && bad[0].1.contains("CorrelationId"),
        "{}",
        bad[0].1
    );
    assert_eq!(bad[1].0, "invalid_json");
    assert_eq!(rows(&out).len(), 1);
}

#[test]
fn gzip_events_are_inflated_and_oversized_ones_quarantined() {
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write as _;
    let record =
        r#"{"schema":1,"request_id":"r1","request_time":"2026-10-01T00:00:00Z","response":{"status":500}}"#;
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(record.as_bytes()).expect("gzip");
    let compressed = gz.finish().expect("gzip");
    let out = decode_all(&[compressed, b"\x1f\x8bnot gzip".to_vec()]);
    assert_eq!(rows(&out).len(), 1);
    assert!(matches!(&out[1].1, Decoded::Bad { kind, .. } if kind == "invalid_gzip"));

    let mut decoder = EventDecoder::new(10);
    let mut out = Vec::new();
    decoder.decode(record.as_bytes(), &position(7), &mut out);
    assert!(matches!(&out[0].1, Decoded::Bad { kind, .. } if kind == "oversized"));
}

#[test]
fn only_a_leading_records_key_makes_a_diagnostic_export() {
    assert!(is_diagnostic_export(b" {\n  \"records\": []}"));
    assert!(!is_diagnostic_export(br#"{"schema":1,"records":[]}"#));
    assert!(!is_diagnostic_export(b"[]"));
}
