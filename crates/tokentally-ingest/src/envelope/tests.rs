use super::llm_tests::{Form, call};
use super::*;
use serde_json::json;
use tokentally_core::{AppIdSource, UsageSource};

pub(super) fn position(offset: i64) -> SourcePosition {
    SourcePosition {
        source: "t".into(),
        partition: Some(0),
        offset,
    }
}

fn gateway_log() -> serde_json::Value {
    json!({"time": "2026-10-05T08:00:00Z", "category": "GatewayLogs", "correlationId": "corr-1",
           "properties": {"apimSubscriptionId": "sub-42", "responseCode": 200,
                          "url": "https://apim.example/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21",
                          "backendUrl": "https://aoai.example"}})
}

pub(super) fn export(records: &[serde_json::Value]) -> Vec<u8> {
    serde_json::to_vec(&json!({ "records": records })).expect("json")
}

/// Decodes `events` as one file would be: positions 0, 1, …, everything held
/// written at the end.
pub(super) fn decode_all(events: &[Vec<u8>]) -> Vec<(SourcePosition, Decoded)> {
    let mut decoder = EventDecoder::new(1 << 20, 1 << 22);
    let mut out = Vec::new();
    for (i, event) in events.iter().enumerate() {
        decoder.decode(event, &position(i64::try_from(i).expect("small")), &mut out);
    }
    decoder.finish(&mut out);
    out
}

pub(super) fn rows(out: &[(SourcePosition, Decoded)]) -> Vec<&UsageRecord> {
    out.iter()
        .filter_map(|(_, d)| match d {
            Decoded::Row(r) => Some(r.as_ref()),
            _ => None,
        })
        .collect()
}

/// Other categories are counted skips. A gateway log whose LLM log this source
/// does not carry is a copy of its call naming the caller with unknown usage
/// (the LLM log's copy, from another partition or file, has the tokens), unless
/// it logs an API other than Azure OpenAI.
#[test]
fn other_categories_and_lone_gateway_logs() {
    let other = json!({"category": "WebSocketConnectionLogs", "properties": {}});
    let mut weather = gateway_log();
    weather["correlationId"] = json!("corr-2");
    weather["properties"]["url"] = json!("https://apim.example/weather/today");
    weather["properties"]["backendUrl"] = json!("https://weather.example");
    let out = decode_all(&[export(&[other, gateway_log(), weather])]);
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
            "gateway log of an API other than Azure OpenAI"
        ]
    );
    let rows = rows(&out);
    assert_eq!(rows.len(), 1, "{out:?}");
    let copy = rows[0];
    assert_eq!(copy.request_id.as_deref(), Some("corr-1"));
    assert_eq!(
        (copy.app_id.as_str(), copy.app_id_source),
        ("sub-42", AppIdSource::Subscription)
    );
    assert_eq!((copy.usage_source, copy.total_tokens), (UsageSource::None, 0));
    assert_eq!(copy.deployment.as_deref(), Some("gpt-4o"));
    assert!(copy.partial, "{copy:?}");
    assert!(
        copy.notes
            .as_deref()
            .is_some_and(|n| n.contains("tokens are in the LLM log's copy")),
        "{copy:?}"
    );
}

#[test]
fn bad_diagnostic_records_are_quarantined_one_by_one() {
    let no_id = json!({"category": "GatewayLlmLogs", "properties": {"ModelName": "gpt-4o"}});
    let [token, ..] = call(Form::ResourceLog, "corr-1", "", "", (10, 1));
    let out = decode_all(&[export(&[no_id, token]), b"{\"records\": [".to_vec()]);
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

    let mut decoder = EventDecoder::new(10, 10);
    let mut out = Vec::new();
    decoder.decode(record.as_bytes(), &position(7), &mut out);
    assert!(matches!(&out[0].1, Decoded::Bad { kind, .. } if kind == "oversized"));
}

/// A gzip bomb: a few kilobytes that would inflate to 65 times the event limit
/// (gzip members of 256 KiB of blanks, back to back). It inflates to the event
/// limit and no further, and is quarantined as oversized.
#[test]
fn gzip_inflates_to_at_most_the_event_limit() {
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write as _;
    let limit = 256 << 10;
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    gz.write_all(&vec![b' '; limit]).expect("gzip");
    let member = gz.finish().expect("gzip");
    let bomb = member.repeat(65);
    assert!(bomb.len() < limit / 10, "{}", bomb.len());
    let mut decoder = EventDecoder::new(limit, limit);
    let mut out = Vec::new();
    decoder.decode(&bomb, &position(3), &mut out);
    match &out[..] {
        [(_, Decoded::Bad { kind, reason, .. })] => {
            assert_eq!(kind, "oversized");
            assert!(reason.contains("event limit of 262144 bytes"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn only_a_leading_records_key_makes_a_diagnostic_export() {
    assert!(is_diagnostic_export(b" {\n  \"records\": []}"));
    assert!(!is_diagnostic_export(br#"{"schema":1,"records":[]}"#));
    assert!(!is_diagnostic_export(b"[]"));
}
