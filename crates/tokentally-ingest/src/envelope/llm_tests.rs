//! APIM's LLM log as Azure writes it: per call a token row (deployment, model,
//! tokens) and request and response message rows that carry none of those,
//! correlated by `CorrelationId`, in any order and over several events; in the
//! resource-log form (camelCase under `properties`, `time`, Azure's envelope) and
//! the Log Analytics form (PascalCase, `TimeGenerated`).

use super::tests::{decode_all, export, position, rows};
use super::*;
use proptest::prelude::*;
use serde_json::{Value, json};
use tokentally_core::{AppIdSource, UsageSource};
use tokentally_kafka::split_event;

#[derive(Debug, Clone, Copy)]
pub(crate) enum Form {
    ResourceLog,
    LogAnalytics,
}

/// One LLM-log record with the columns of `ApiManagementGatewayLlmLog` in `fields`.
pub(super) fn llm(form: Form, id: &str, time: &str, fields: Value) -> Value {
    let Value::Object(fields) = fields else {
        unreachable!("fields are an object")
    };
    match form {
        Form::LogAnalytics => {
            let mut record = fields;
            record.insert("TimeGenerated".into(), time.into());
            record.insert("Type".into(), "ApiManagementGatewayLlmLog".into());
            record.insert("CorrelationId".into(), id.into());
            Value::Object(record)
        }
        Form::ResourceLog => {
            let mut properties: serde_json::Map<String, Value> = fields
                .into_iter()
                .map(|(k, v)| (k[..1].to_ascii_lowercase() + &k[1..], v))
                .collect();
            properties.insert("correlationId".into(), id.into());
            json!({"time": time, "resourceId": "/SUBSCRIPTIONS/0000/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.APIMANAGEMENT/SERVICE/APIM-CONTOSO",
                   "category": "GatewayLlmLogs", "operationName": "Microsoft.ApiManagement/GatewayLlmLogs",
                   "location": "East US", "properties": properties})
        }
    }
}

/// The three records Azure writes for one non-chunked call: the token row, then
/// the request and response message rows (empty token columns, as Log Analytics
/// shows them).
pub(crate) fn call(form: Form, id: &str, prompt: &str, answer: &str, tokens: (i64, i64)) -> [Value; 3] {
    let time = "2026-10-05T08:00:00.1230000Z";
    let empty = json!({"DeploymentName": "", "ModelName": "", "PromptTokens": 0, "CompletionTokens": 0,
                       "TotalTokens": 0, "IsStreamCompletion": false, "ApiVersion": "", "OperationName": "", "Region": ""});
    let with = |extra: Value| {
        let mut fields = empty.clone();
        for (k, v) in extra.as_object().into_iter().flatten() {
            fields[k] = v.clone();
        }
        fields
    };
    [
        llm(
            form,
            id,
            time,
            with(
                json!({"SequenceNumber": 0, "DeploymentName": "gpt-4o", "ModelName": "gpt-4o-2024-11-20",
            "PromptTokens": tokens.0, "CompletionTokens": tokens.1, "TotalTokens": tokens.0 + tokens.1,
            "IsStreamCompletion": true, "ApiVersion": "2024-10-21", "OperationName": "ChatCompletions_Create",
            "Region": "East US", "RequestId": "chatcmpl-1"}),
            ),
        ),
        llm(
            form,
            id,
            "2026-10-05T08:00:00.2000000Z",
            with(json!({"SequenceNumber": 1,
            "RequestMessages": [{"role": "user", "content": prompt}]})),
        ),
        llm(
            form,
            id,
            "2026-10-05T08:00:01.5000000Z",
            with(json!({"SequenceNumber": 2,
            "ResponseMessages": [{"role": "assistant", "content": answer}]})),
        ),
    ]
}

pub(super) fn gateway_log(form: Form, id: &str, subscription: &str) -> Value {
    match form {
        Form::ResourceLog => {
            json!({"time": "2026-10-05T08:00:00Z", "category": "GatewayLogs", "correlationId": id,
            "location": "East US", "durationMs": 1500,
            "properties": {"apimSubscriptionId": subscription, "responseCode": 200,
                "url": "https://apim.example/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21",
                "backendUrl": "https://aoai-eus.openai.azure.com/openai"}})
        }
        Form::LogAnalytics => {
            json!({"TimeGenerated": "2026-10-05T08:00:00Z", "Type": "ApiManagementGatewayLogs",
            "CorrelationId": id, "ApimSubscriptionId": subscription, "ResponseCode": 200, "TotalTime": 1500,
            "Url": "https://apim.example/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21",
            "BackendUrl": "https://aoai-eus.openai.azure.com/openai"})
        }
    }
}

fn check_call(row: &UsageRecord, id: &str, subscription: &str) {
    assert_eq!(row.request_id.as_deref(), Some(id));
    assert_eq!(
        (row.prompt_tokens, row.completion_tokens, row.total_tokens),
        (1200, 80, 1280),
        "{row:?}"
    );
    assert_eq!(row.usage_source, UsageSource::Reported);
    assert_eq!(row.deployment.as_deref(), Some("gpt-4o"));
    assert_eq!(row.model.as_deref(), Some("gpt-4o-2024-11-20"));
    assert_eq!(row.region.as_deref(), Some("eastus"));
    assert_eq!(
        (row.app_id.as_str(), row.app_id_source),
        (subscription, AppIdSource::Subscription)
    );
    assert_eq!(row.request_time.to_rfc3339(), "2026-10-05T08:00:00.123+00:00");
    assert!(row.streamed && !row.partial, "{row:?}");
    assert!(row.estimated_completion_tokens.is_some_and(|n| n > 3), "{row:?}");
}

proptest! {
    /// Two calls in each form, their records and gateway logs shuffled over two
    /// events: every call keeps its deployment, model, tokens and caller.
    #[test]
    fn calls_merge_whatever_the_order_and_split(
        order in Just((0..16usize).collect::<Vec<_>>()).prop_shuffle(),
        split in 0..=16usize,
    ) {
        let mut records = Vec::new();
        for (form, a, b) in [(Form::ResourceLog, "rl-a", "rl-b"), (Form::LogAnalytics, "la-a", "la-b")] {
            for id in [a, b] {
                records.extend(call(form, id, "How many vacation days are left?", "Twelve days.", (1200, 80)));
                records.push(gateway_log(form, id, &format!("sub-{id}")));
            }
        }
        let shuffled: Vec<Value> = order.iter().map(|&i| records[i].clone()).collect();
        let (first, second) = shuffled.split_at(split);
        let out = decode_all(&[export(first), export(second)]);
        let rows = rows(&out);
        prop_assert_eq!(rows.len(), 4, "{:?}", out);
        for id in ["rl-a", "rl-b", "la-a", "la-b"] {
            let row = rows.iter().find(|r| r.request_id.as_deref() == Some(id));
            check_call(row.expect("a row per call"), id, &format!("sub-{id}"));
        }
    }
}

#[test]
fn chunked_messages_rejoin_in_sequence_order_across_events() {
    let text = r#"[{"role":"system","content":"You are terse."},{"role":"user","content":"Hello there"}]"#;
    let (a, b) = text.split_at(40);
    let [token, _, response] = call(Form::LogAnalytics, "chunks", "", "Hi.", (1200, 80));
    let chunk = |seq: i64, part: &str| {
        llm(
            Form::LogAnalytics,
            "chunks",
            "2026-10-05T08:00:00Z",
            json!({"SequenceNumber": seq, "RequestMessages": part}),
        )
    };
    let mut response = response;
    response["SequenceNumber"] = json!(3);
    let out = decode_all(&[export(&[chunk(2, b), response]), export(&[token, chunk(1, a)])]);
    let rows = rows(&out);
    assert_eq!(rows.len(), 1, "{out:?}");
    assert!(!rows[0].partial);
    // Both messages were read back: more than the 3 + 3 tokens of framing alone.
    assert!(
        rows[0].estimated_prompt_tokens.is_some_and(|n| n > 10),
        "{:?}",
        rows[0]
    );
}

#[test]
fn a_call_waits_across_flushes_for_its_token_row_then_is_written_once() {
    let [token, request, response] = call(Form::ResourceLog, "late-token", "Hi", "Hello!", (1200, 80));
    let mut decoder = EventDecoder::new(1 << 20, 1 << 20);
    let mut out = Vec::new();
    decoder.decode(&export(&[response, request]), &position(10), &mut out);
    decoder.release_ready(false, &mut out);
    assert!(out.is_empty(), "message rows alone are not a call: {out:?}");
    assert_eq!(
        decoder.held_from(),
        Some(10),
        "the commit waits at the first record"
    );
    decoder.decode(&export(std::slice::from_ref(&token)), &position(11), &mut out);
    decoder.release_ready(false, &mut out);
    assert_eq!(rows(&out).len(), 1, "{out:?}");
    assert_eq!(rows(&out)[0].prompt_tokens, 1200);
    assert_eq!((decoder.held_from(), decoder.held_bytes()), (None, 0));
    // The token row again (Azure delivers at least once): no second row.
    out.clear();
    decoder.decode(&export(&[token]), &position(12), &mut out);
    decoder.finish(&mut out);
    assert!(rows(&out).is_empty(), "{out:?}");
    assert!(matches!(&out[0].1, Decoded::Skipped { what } if what.contains("already written")));
}

#[test]
fn message_rows_after_their_call_was_written_are_counted_not_a_second_row() {
    let [token, request, response] = call(Form::LogAnalytics, "early", "Hi", "Hello!", (1200, 80));
    let mut decoder = EventDecoder::new(1 << 20, 1 << 20);
    let mut out = Vec::new();
    decoder.decode(&export(&[token]), &position(1), &mut out);
    decoder.release_ready(false, &mut out);
    decoder.decode(&export(&[request, response]), &position(2), &mut out);
    decoder.finish(&mut out);
    assert_eq!(rows(&out).len(), 1, "{out:?}");
    let skipped = out
        .iter()
        .filter(|(_, d)| matches!(d, Decoded::Skipped { .. }))
        .count();
    assert_eq!(skipped, 2, "{out:?}");
}

#[test]
fn a_call_without_its_token_row_is_estimated_and_partial_at_the_end() {
    let [_, request, response] = call(
        Form::ResourceLog,
        "no-token",
        "Tell me a story",
        "Once upon a time.",
        (1, 1),
    );
    let out = decode_all(&[export(&[request, response])]);
    let rows = rows(&out);
    assert_eq!(rows.len(), 1, "{out:?}");
    assert_eq!(rows[0].usage_source, UsageSource::Estimated);
    assert!(rows[0].partial && rows[0].completion_tokens > 0, "{:?}", rows[0]);
    assert!(
        rows[0]
            .notes
            .as_deref()
            .is_some_and(|n| n.contains("no token row")),
        "{:?}",
        rows[0]
    );
}

#[test]
fn a_call_with_nothing_billable_is_quarantined_with_its_records() {
    let bare = llm(
        Form::LogAnalytics,
        "bare",
        "2026-10-05T08:00:00Z",
        json!({"SequenceNumber": 4}),
    );
    let out = decode_all(&[export(&[bare])]);
    match &out[..] {
        [(_, Decoded::Bad { kind, raw, .. })] => {
            assert_eq!(kind, "incomplete_llm_log");
            assert!(raw.as_deref().is_some_and(|r| r.ends_with(b"\n")));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_missing_chunk_marks_the_row_partial() {
    let [token, request, _] = call(Form::LogAnalytics, "gap", "Hi", "", (1200, 80));
    let mut late = request.clone();
    late["SequenceNumber"] = json!(3);
    let out = decode_all(&[export(&[token, request, late])]);
    let rows = rows(&out);
    assert!(rows[0].partial, "{:?}", rows[0]);
    assert_eq!(rows[0].usage_source, UsageSource::Reported);
}

#[test]
fn cached_tokens_are_taken_where_the_log_carries_them() {
    let [mut token, request, mut response] = call(Form::LogAnalytics, "cache", "Hi", "Hello!", (1200, 80));
    token["CachedTokens"] = json!(1024);
    let out = decode_all(&[export(&[token.clone(), request.clone(), response.clone()])]);
    assert_eq!(rows(&out)[0].cached_prompt_tokens, 1024);
    // Or in a logged response body's usage.
    token.as_object_mut().map(|o| o.remove("CachedTokens"));
    response["ResponseMessages"] = json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!"}}],
        "usage": {"prompt_tokens": 1200, "completion_tokens": 80, "prompt_tokens_details": {"cached_tokens": 512}}});
    let out = decode_all(&[export(&[token, request, response])]);
    assert_eq!(rows(&out)[0].cached_prompt_tokens, 512);
}

/// Counts as exporters write them: floats (`640.0`, a pandas re-export), text,
/// one float among integers; read as the same counts, never as none.
#[test]
fn token_counts_written_as_floats_or_text_are_the_same_counts() {
    for form in [Form::LogAnalytics, Form::ResourceLog] {
        let key = |name: &str| match form {
            Form::LogAnalytics => name.to_owned(),
            Form::ResourceLog => name[..1].to_ascii_lowercase() + &name[1..],
        };
        for (prompt, completion, total) in [
            (json!(1200.0), json!(80.0), json!(1280.0)),
            (json!("1200"), json!(" 80 "), json!("1280.0")),
            (json!(1200), json!(80.0), Value::Null),
        ] {
            let [mut token, request, response] = call(form, "floats", "Hi", "Hello!", (1, 1));
            let columns = match form {
                Form::LogAnalytics => &mut token,
                Form::ResourceLog => &mut token["properties"],
            };
            columns[key("PromptTokens")] = prompt.clone();
            columns[key("CompletionTokens")] = completion.clone();
            columns[key("TotalTokens")] = total.clone();
            let out = decode_all(&[export(&[token, request, response])]);
            let rows = rows(&out);
            assert_eq!(rows.len(), 1, "{out:?}");
            assert_eq!(
                (
                    rows[0].prompt_tokens,
                    rows[0].completion_tokens,
                    rows[0].total_tokens
                ),
                (1200, 80, 1280),
                "{form:?} {prompt} {completion} {total}"
            );
            assert_eq!(rows[0].usage_source, UsageSource::Reported);
        }
    }
}

/// A token row whose counts are null is not a reported zero from the message
/// rows' zeros: the call is estimated from its messages.
#[test]
fn null_counts_on_the_token_row_are_estimated_not_the_message_rows_zeros() {
    let [mut token, request, response] = call(
        Form::LogAnalytics,
        "nulls",
        "How many days are left?",
        "Twelve.",
        (1, 1),
    );
    for column in ["PromptTokens", "CompletionTokens", "TotalTokens"] {
        token[column] = Value::Null;
    }
    let out = decode_all(&[export(&[token, request, response])]);
    let rows = rows(&out);
    assert_eq!(rows[0].usage_source, UsageSource::Estimated, "{:?}", rows[0]);
    assert!(
        rows[0].prompt_tokens > 0 && rows[0].completion_tokens > 0,
        "{:?}",
        rows[0]
    );
}

/// A count that is no count (a fraction, a word) is quarantined by name, not
/// read as none (which would be a reported zero).
#[test]
fn a_token_count_that_is_no_count_is_quarantined_by_name() {
    for bad in [json!(80.5), json!("eighty"), json!(-80)] {
        let [mut token, request, response] = call(Form::LogAnalytics, "bad", "Hi", "Hello!", (1200, 80));
        token["CompletionTokens"] = bad.clone();
        let out = decode_all(&[export(&[token, request, response])]);
        match &out[..] {
            [(_, Decoded::Bad { reason, .. })] => {
                assert!(reason.contains("completion_tokens"), "{bad}: {reason}");
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
}

/// One caller's request messages nested past serde_json's 128 levels do not
/// make the export unreadable: every call in it, that one too, is a row.
#[test]
fn a_record_nested_too_deep_does_not_take_its_export_with_it() {
    let mut deep = json!("x");
    for _ in 0..300 {
        deep = json!([deep]);
    }
    let [token, mut request, response] = call(Form::LogAnalytics, "deep", "Hi", "Hello!", (1200, 80));
    request["RequestMessages"] = json!([{"role": "user", "content": deep}]);
    let mut records = vec![token, request, response];
    records.extend(call(Form::LogAnalytics, "plain", "Hi", "Hello!", (1200, 80)));
    let event = export(&records);
    assert!(
        serde_json::from_slice::<Value>(&event).is_err(),
        "past serde_json's limit"
    );
    let out = decode_all(&[event]);
    let rows = rows(&out);
    assert_eq!(rows.len(), 2, "{out:?}");
    for row in rows {
        assert_eq!((row.prompt_tokens, row.completion_tokens), (1200, 80), "{row:?}");
    }
}

/// A topic of LLM-log records that never complete is not held whole: what a
/// source holds stays under `max_held_bytes`, and what is given up is written.
#[test]
fn held_calls_are_bounded_in_bytes() {
    let limit = 8 << 10;
    let mut decoder = EventDecoder::new(1 << 20, limit);
    let mut out = Vec::new();
    for i in 0..200i64 {
        let [_, request, _] = call(Form::ResourceLog, &format!("c{i}"), "Hello there", "", (1, 1));
        decoder.decode(&export(&[request]), &position(i), &mut out);
        assert!(
            decoder.held_bytes() <= limit,
            "{} held at {i}",
            decoder.held_bytes()
        );
    }
    let given_up = rows(&out);
    assert!(given_up.len() > 150, "{}", given_up.len());
    assert!(
        given_up
            .iter()
            .all(|r| r.partial && r.notes.as_deref().is_some_and(|n| n.contains("max_held_bytes")))
    );
    decoder.finish(&mut out);
    assert_eq!(rows(&out).len(), 200, "every call written once");
}

/// Records that never complete are given up once the source is
/// [`MAX_HELD_SPAN`] positions on, whatever their size.
#[test]
fn held_records_expire_by_position() {
    let mut decoder = EventDecoder::new(1 << 20, 1 << 30);
    let mut out = Vec::new();
    let [_, request, _] = call(Form::LogAnalytics, "stale", "Hello", "", (1, 1));
    decoder.decode(&export(&[request]), &position(5), &mut out);
    let part = &split_event("r", &[1u8; 3000], 1000)[0];
    decoder.decode(part, &position(6), &mut out);
    decoder.decode(b"{}", &position(5 + MAX_HELD_SPAN), &mut out);
    assert_eq!(decoder.held_from(), Some(5), "not yet past the span");
    decoder.decode(b"{}", &position(6 + MAX_HELD_SPAN), &mut out);
    assert_eq!(decoder.held_from(), Some(6));
    decoder.decode(b"{}", &position(7 + MAX_HELD_SPAN), &mut out);
    assert_eq!((decoder.held_from(), decoder.held_bytes()), (None, 0));
    assert_eq!(rows(&out).len(), 1);
    assert!(
        out.iter().any(|(p, d)| p.offset == 6
            && matches!(d, Decoded::Bad { kind, .. } if kind == "incomplete_split_record"))
    );
}

/// In follow mode, what waited longer than [`MAX_HELD_AGE`] is given up at a
/// flush: the call written with what it has, the split record quarantined.
#[test]
fn held_records_expire_by_age_in_follow_mode() {
    let mut decoder = EventDecoder::new(1 << 20, 1 << 22);
    let mut out = Vec::new();
    let [_, request, _] = call(Form::LogAnalytics, "old", "Hello", "", (1, 1));
    decoder.decode(&export(&[request]), &position(1), &mut out);
    decoder.decode(&split_event("r", &[1u8; 3000], 1000)[0], &position(2), &mut out);
    decoder.release(Some(Instant::now() - Duration::from_secs(3600)), &mut out);
    assert!(out.is_empty(), "nothing is that old: {out:?}");
    decoder.release(Some(Instant::now()), &mut out);
    assert_eq!(decoder.held_bytes(), 0);
    let rows = rows(&out);
    assert!(
        rows[0].partial
            && rows[0]
                .notes
                .as_deref()
                .is_some_and(|n| n.contains("within 600 s")),
        "{rows:?}"
    );
    assert!(
        out.iter()
            .any(|(_, d)| matches!(d, Decoded::Bad { kind, reason, .. }
        if kind == "incomplete_split_record" && reason.contains("within 600 s")))
    );
}
