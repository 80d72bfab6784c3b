use super::*;
use proptest::prelude::*;
use serde_json::json;
use tokentally_core::AppIdSource;

fn src() -> SourcePosition {
    SourcePosition {
        source: "t.jsonl".into(),
        partition: None,
        offset: 1,
    }
}

fn parse(v: &Value) -> Result<UsageRecord, ParseError> {
    parse_record(v.to_string().as_bytes(), src())
}

/// The row's notes, empty when it has none.
fn notes(row: &UsageRecord) -> &str {
    row.notes.as_deref().unwrap_or_default()
}

fn sse(chunks: &[Value], done: bool) -> String {
    let mut s: String = chunks.iter().map(|c| format!("data: {c}\n\n")).collect();
    if done {
        s.push_str("data: [DONE]\n\n");
    }
    s
}

fn chunk(model: &str, index: u32, delta: Value, finish: Option<&str>) -> Value {
    json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": model, "created": 1,
        "choices": [{"index": index, "delta": delta, "finish_reason": finish, "logprobs": null,
            "content_filter_results": {}}]})
}

fn record(response: Value) -> Value {
    json!({
        "schema": 1, "request_id": "req-1", "request_time": "2026-10-05T10:00:00+02:00",
        "caller": {"subscription_id": "sub-1"},
        "deployment": "gpt-4o", "api_version": "2024-10-21", "operation": "chat/completions",
        "request": {"messages": [{"role": "user", "content": "Hello!"}], "stream": true},
        "response": response,
    })
}

fn hello_stream(done: bool) -> String {
    let m = "gpt-4o-2024-08-06";
    sse(
        &[
            json!({"choices": [], "created": 0, "id": "", "model": "", "object": "", "prompt_filter_results": []}),
            chunk(m, 0, json!({"role": "assistant", "content": ""}), None),
            chunk(m, 0, json!({"content": "Hello"}), None),
            chunk(m, 0, json!({"content": " world"}), None),
            chunk(m, 0, json!({}), Some("stop")),
        ],
        done,
    )
}

#[test]
fn stream_without_usage_is_estimated() {
    let row = parse(&record(json!({"status": 200, "sse": hello_stream(true)}))).expect("row");
    assert_eq!(row.usage_source, UsageSource::Estimated);
    assert_eq!(row.estimated_prompt_tokens, Some(row.prompt_tokens));
    assert_eq!(row.estimated_completion_tokens, Some(row.completion_tokens));
    assert_eq!(row.model.as_deref(), Some("gpt-4o-2024-08-06"));
    assert_eq!(row.model_family.as_deref(), Some("gpt-4o"));
    assert!(!row.estimated_unknown_model());
    assert_eq!(row.encoding.as_deref(), Some("o200k_base"));
    // 3 per message + "user" 1 + "Hello!" 2 + priming 3
    assert_eq!(row.prompt_tokens, 9);
    assert_eq!(row.completion_tokens, 2);
    assert_eq!(row.total_tokens, 11);
    assert_eq!(row.finish_reason.as_deref(), Some("stop"));
    assert!(row.streamed && !row.partial);
    assert_eq!(row.request_time.to_rfc3339(), "2026-10-05T08:00:00+00:00");
    assert_eq!(
        (row.app_id.as_str(), row.app_id_source),
        ("sub-1", AppIdSource::Subscription)
    );
    assert_eq!(row.event_id, event_id("req-1"));
}

#[test]
fn stream_with_include_usage_is_reported() {
    let mut text = hello_stream(false);
    text.push_str(&sse(
        &[
            json!({"choices": [], "model": "gpt-4o-2024-08-06", "usage": {"prompt_tokens": 9,
            "completion_tokens": 2, "total_tokens": 11, "prompt_tokens_details": {"cached_tokens": 0}}}),
        ],
        true,
    ));
    let row = parse(&record(json!({"status": 200, "sse": text}))).expect("row");
    assert_eq!(row.usage_source, UsageSource::Reported);
    assert_eq!(
        (row.prompt_tokens, row.completion_tokens, row.total_tokens),
        (9, 2, 11)
    );
    // The estimate is kept beside the reported counts for the drift report.
    assert_eq!(row.encoding.as_deref(), Some("o200k_base"));
    assert!(row.estimated_prompt_tokens.is_some_and(|n| n > 0));
    assert!(row.estimated_completion_tokens.is_some_and(|n| n > 0));
}

#[test]
fn cut_off_stream_is_partial_and_counts_what_arrived() {
    let mut text = hello_stream(false);
    text.push_str("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\" and mo");
    let row = parse(&record(json!({"status": 200, "sse": text, "complete": false}))).expect("row");
    assert!(row.partial);
    assert_eq!(row.completion_tokens, 2);
    assert!(notes(&row).contains("final event"), "{:?}", row.notes);
}

/// A stream that stopped cleanly between events but never sent `data: [DONE]`,
/// with no `complete` flag (a capture that did not know), or even `complete: true`
/// (a producer that believed it): its end is missing, so it is a lower bound.
#[test]
fn stream_without_done_is_partial_whatever_the_record_claims() {
    for complete in [None, Some(true)] {
        let mut response = json!({"status": 200, "sse": hello_stream(false)});
        if let Some(flag) = complete {
            response["complete"] = json!(flag);
        }
        let row = parse(&record(response)).expect("row");
        assert!(
            row.partial,
            "complete = {complete:?}: a stream without [DONE] is partial"
        );
        assert_eq!(row.completion_tokens, 2, "counted from what arrived");
        assert_eq!(row.finish_reason.as_deref(), Some("stop"));
        assert!(
            notes(&row).contains("stream ended without its final event"),
            "{:?}",
            row.notes
        );
    }
    let whole = parse(&record(json!({"status": 200, "sse": hello_stream(true)}))).expect("row");
    assert!(!whole.partial, "the same stream with [DONE] is whole");
}

/// An event that is not JSON lost its content: the counts are a lower bound
/// even though the stream ended with `[DONE]`.
#[test]
fn stream_with_an_event_that_is_not_json_is_partial() {
    let text = hello_stream(true).replacen("data: [DONE]", "data: {\"choices\": [\n\ndata: [DONE]", 1);
    let row = parse(&record(json!({"status": 200, "sse": text}))).expect("row");
    assert!(row.partial);
    assert_eq!(row.completion_tokens, 2);
    assert!(
        notes(&row).contains("1 stream event(s) were not JSON"),
        "{:?}",
        row.notes
    );
    assert!(!notes(&row).contains("final event"), "{:?}", row.notes);
}

#[test]
fn non_streamed_body_with_usage() {
    let mut r = record(
        json!({"status": 200, "body": {"model": "gpt-4o-mini-2024-07-18", "object": "chat.completion",
        "choices": [{"index": 0, "finish_reason": "length", "message": {"role": "assistant", "content": "x"}}],
        "usage": {"prompt_tokens": 1500, "completion_tokens": 10, "total_tokens": 1510,
            "prompt_tokens_details": {"cached_tokens": 1280}}}}),
    );
    r["request"]["stream"] = json!(false);
    let row = parse(&r).expect("row");
    assert!(!row.streamed);
    assert_eq!((row.prompt_tokens, row.cached_prompt_tokens), (1500, 1280));
    assert_eq!(row.finish_reason.as_deref(), Some("length"));
}

#[test]
fn failed_call_is_kept_with_zero_tokens() {
    let row = parse(&record(
        json!({"status": 429, "body": {"error": {"code": "429", "message": "Rate limit"}}}),
    ))
    .expect("row");
    assert_eq!(row.status, 429);
    assert_eq!(row.usage_source, UsageSource::None);
    assert_eq!(row.total_tokens, 0);
    assert_eq!(row.estimated_prompt_tokens, None);
    assert!(notes(&row).contains("Rate limit"));
}

/// Sent upstream, and the caller hung up before any answer (the proxy's record:
/// status 0, incomplete, no body): upstream may have run it, so the prompt is
/// estimated and the row is partial. Without the incomplete flag, a missing
/// status is just a failed call.
#[test]
fn a_call_the_caller_left_unanswered_is_partial_with_its_prompt_estimated() {
    let row = parse(&record(json!({"status": 0, "complete": false}))).expect("row");
    assert!(row.partial);
    assert_eq!(row.usage_source, UsageSource::Estimated);
    assert!(row.prompt_tokens > 0, "{row:?}");
    assert_eq!(row.completion_tokens, 0);
    assert!(
        notes(&row).contains("left before upstream answered"),
        "{:?}",
        row.notes
    );

    let unflagged = parse(&record(json!({"status": 0}))).expect("row");
    assert_eq!(
        (unflagged.usage_source, unflagged.total_tokens),
        (UsageSource::None, 0)
    );
}

#[test]
fn unknown_model_is_flagged() {
    let mut r = record(json!({"status": 200, "body": {"model": "mystery-1",
        "choices": [{"index": 0, "message": {"content": "hi"}}]}}));
    r["deployment"] = json!("custom");
    let row = parse(&r).expect("row");
    assert_eq!(row.usage_source, UsageSource::Estimated);
    assert_eq!(
        (row.model_family.as_deref(), row.encoding.as_deref()),
        (None, Some("o200k_base"))
    );
    assert!(row.estimated_unknown_model());
    assert!(notes(&row).contains("unknown model \"mystery-1\""));
}

#[test]
fn bad_records_are_typed_errors() {
    let kind = |raw: &[u8]| parse_record(raw, src()).map(|_| ()).map_err(|e| e.kind());
    assert_eq!(kind(b"{not json"), Err("invalid_json"));
    assert_eq!(kind(b"[1,2]"), Err("invalid_json"));
    assert_eq!(kind(b"\xff\xfe"), Err("invalid_utf8"));
    assert_eq!(
        kind(br#"{"schema": 2, "request_id": "a", "request_time": "2026-10-01T00:00:00Z"}"#),
        Err("unknown_schema")
    );
    assert_eq!(kind(br#"{"request_id": "a"}"#), Err("missing_field"));
    assert_eq!(
        kind(br#"{"schema": 1, "request_time": "2026-10-01T00:00:00Z"}"#),
        Err("missing_field")
    );
    assert_eq!(
        kind(br#"{"schema": 1, "request_id": "a", "request_time": "yesterday"}"#),
        Err("invalid_field")
    );
    assert_eq!(
        kind(br#"{"schema": 1, "request_id": "a", "request_time": "2026-10-01T00:00:00Z", "caller": 5}"#),
        Err("invalid_field")
    );
    assert_eq!(
        kind(br#"{"schema": 1, "request_id": "a", "request_time": "2026-10-01T00:00:00Z"}"#),
        Ok(())
    );
}

proptest! {
    #[test]
    fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_record(&bytes, src());
    }

    #[test]
    fn never_panics_on_arbitrary_sse(text in "(data: [{}\\[\\]\":a-z0-9 ,]{0,40}\n{1,2}){0,8}") {
        let _ = parse(&record(json!({"status": 200, "sse": text})));
    }
}

#[test]
fn missing_operation_is_inferred_from_the_request() {
    let embed = json!({"schema": 1, "request_id": "e", "request_time": "2026-10-01T00:00:00Z",
        "deployment": "text-embedding-3-small", "request": {"input": ["a b c"]},
        "response": {"status": 200, "body": {"object": "list", "model": "text-embedding-3-small",
            "usage": {"prompt_tokens": 3, "total_tokens": 3}}}});
    assert_eq!(parse(&embed).expect("row").operation, Operation::Embeddings);
    let mut chat = record(json!({"status": 200, "sse": hello_stream(true)}));
    chat.as_object_mut().map(|o| o.remove("operation"));
    assert_eq!(parse(&chat).expect("row").operation, Operation::ChatCompletions);
    let responses = json!({"schema": 1, "request_id": "r", "request_time": "2026-10-01T00:00:00Z",
        "deployment": "gpt-4.1", "request": {"input": "hi"}, "response": {"status": 200}});
    assert_eq!(parse(&responses).expect("row").operation, Operation::Responses);
}

#[test]
fn reasoning_model_stream_without_usage_says_what_is_missing() {
    let mut r = record(
        json!({"status": 200, "sse": hello_stream(true).replace("gpt-4o-2024-08-06", "o3-mini-2025-01-31")}),
    );
    r["deployment"] = json!("o3-mini");
    let row = parse(&r).expect("row");
    assert_eq!(row.usage_source, UsageSource::Estimated);
    assert!(notes(&row).contains("hidden reasoning tokens"), "{:?}", row.notes);
}

#[test]
fn responses_input_image_is_priced_by_the_tile_formula() {
    let image = |url: &str| json!({"type": "input_image", "image_url": url, "detail": "high"});
    let request = |content: Value| {
        json!({"schema": 1, "request_id": "r", "request_time": "2026-10-01T00:00:00Z",
            "deployment": "gpt-4.1", "operation": "responses",
            "request": {"model": "gpt-4.1", "input": [{"role": "user", "content": content}]},
            "response": {"status": 200, "body": {"model": "gpt-4.1", "status": "completed",
                "output": [{"type": "message", "content": [{"type": "output_text", "text": "A cat."}]}]}}})
    };
    let text = json!([{"type": "input_text", "text": "Describe"}]);
    let big_data_url = format!("data:image/png;base64,{}", "iVBORw0KGgo".repeat(5000));
    let with_images = json!([{"type": "input_text", "text": "Describe"},
        image("https://x/a.png"), image(&big_data_url)]);
    let base = parse(&request(text)).expect("row").estimated_prompt_tokens;
    let row = parse(&request(with_images)).expect("row");
    // Two high-detail images of unknown size: 765 each, whatever the URL's length.
    assert_eq!(row.estimated_prompt_tokens, base.map(|n| n + 2 * 765));
}

#[test]
fn audio_prediction_and_image_usage_reach_their_columns() {
    let mut audio = record(
        json!({"status": 200, "body": {"model": "gpt-4o-audio-preview-2024-12-17",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": null,
            "audio": {"id": "a1", "transcript": "Hi there"}}}],
        "usage": {"prompt_tokens": 900, "completion_tokens": 620, "total_tokens": 1520,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 700},
            "completion_tokens_details": {"audio_tokens": 500, "reasoning_tokens": 0,
                "accepted_prediction_tokens": 30, "rejected_prediction_tokens": 40}}}}),
    );
    audio["deployment"] = json!("gpt-4o-audio");
    let row = parse(&audio).expect("row");
    assert_eq!(row.model_family.as_deref(), Some("gpt-4o-audio-preview"));
    assert_eq!((row.audio_prompt_tokens, row.audio_completion_tokens), (700, 500));
    assert_eq!(
        (row.accepted_prediction_tokens, row.rejected_prediction_tokens),
        (30, 40)
    );
    let image = json!({"schema": 1, "request_id": "img-1", "request_time": "2026-10-05T10:00:00Z",
        "deployment": "gpt-image-1", "operation": "/openai/deployments/gpt-image-1/images/generations",
        "request": {"prompt": "A lighthouse at dawn", "size": "1024x1024", "quality": "high"},
        "response": {"status": 200, "body": {"created": 1, "data": [{"b64_json": "iVBO"}],
            "usage": {"input_tokens": 14, "output_tokens": 4160, "total_tokens": 4174,
                "input_tokens_details": {"text_tokens": 14, "image_tokens": 0}}}}});
    let row = parse(&image).expect("row");
    assert_eq!(row.operation, Operation::Images);
    assert_eq!(row.usage_source, UsageSource::Reported);
    assert_eq!(
        (
            row.prompt_tokens,
            row.image_completion_tokens,
            row.completion_tokens
        ),
        (14, 4160, 4160)
    );
    assert!(row.estimated_prompt_tokens.is_some_and(|n| n > 0));
}

/// Issue 15: counts that cannot be true are quarantined, never summed.
#[test]
fn impossible_counts_are_invalid_fields() {
    for (usage, want) in [
        (
            json!({"prompt_tokens": 9_000_000_000_000_000_000u64, "completion_tokens": 1}),
            "above the sanity bound",
        ),
        (
            json!({"prompt_tokens": -5, "completion_tokens": 1}),
            "-5 is negative",
        ),
        (
            json!({"prompt_tokens": 10, "completion_tokens": 2.5}),
            "2.5 is not a whole number",
        ),
        (
            json!({"prompt_tokens": 10, "completion_tokens": 2,
            "prompt_tokens_details": {"cached_tokens": 11}}),
            "exceed prompt_tokens",
        ),
    ] {
        let body = json!({"model": "gpt-4o", "choices": [{"index": 0, "message": {"content": "x"}}],
            "usage": usage});
        let err = parse(&record(json!({"status": 200, "body": body}))).expect_err("invalid");
        assert_eq!(err.kind(), "invalid_field", "{err}");
        assert!(err.to_string().contains(want), "{err}");
        // The same usage in a stream's final chunk.
        let sse = format!(
            "data: {}\n\ndata: [DONE]\n\n",
            json!({"choices": [], "usage": body["usage"]})
        );
        let err = parse(&record(json!({"status": 200, "sse": sse}))).expect_err("invalid");
        assert!(err.to_string().starts_with("invalid `usage`: usage"), "{err}");
    }
}

/// A stream the caller left mid-answer (status 0, incomplete) is estimated from
/// what arrived; a stream that failed before any choice counts nothing.
#[test]
fn a_streamed_call_is_estimated_only_when_an_answer_arrived() {
    let left = parse(&record(
        json!({"status": 0, "complete": false, "sse": hello_stream(false)}),
    ))
    .expect("row");
    assert_eq!(
        (left.usage_source, left.completion_tokens),
        (UsageSource::Estimated, 2)
    );
    let error = json!({"error": {"code": "429", "message": "Rate limit"}});
    let failed = parse(&record(json!({"status": 429, "sse": sse(&[error], true)}))).expect("row");
    assert_eq!((failed.usage_source, failed.total_tokens), (UsageSource::None, 0));
}

/// A failed call's error body names no model: the request's is stored (prices
/// look it up), and an empty one is none.
#[test]
fn the_request_names_the_model_when_the_response_does_not() {
    let mut r = record(json!({"status": 400, "body": {"error": {"code": "400", "message": "bad"}}}));
    r["request"]["model"] = json!("gpt-4o-mini");
    assert_eq!(parse(&r).expect("row").model.as_deref(), Some("gpt-4o-mini"));
    r["request"]["model"] = json!("");
    assert_eq!(parse(&r).expect("row").model, None);
}

#[test]
fn a_body_that_is_not_json_is_noted_and_an_empty_one_is_not() {
    let html = parse(&record(
        json!({"status": 502, "body": "<html>Bad gateway</html>"}),
    ))
    .expect("row");
    assert!(
        notes(&html).contains("response body is not JSON"),
        "{:?}",
        html.notes
    );
    let empty = parse(&record(json!({"status": 502, "body": " "}))).expect("row");
    assert_eq!(empty.notes, None);
}

/// The id dedup keys on: one per request id, as the report reads it (32
/// lowercase hex digits, its fast path), and different for different requests.
#[test]
fn event_ids_are_32_hex_digits_one_per_request_id() {
    let id = event_id("req-1");
    assert_eq!(id, event_id("req-1"));
    assert!(
        id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
        "{id}"
    );
    assert_ne!(id, event_id("req-2"));
}

/// A request nested past serde_json's 128 levels (a tool schema of nested
/// objects) does not make the record unreadable: with reported usage the call
/// is billed exactly; estimated, it is partial. Either way a note says so.
#[test]
fn a_request_nested_too_deep_is_still_billed() {
    let mut schema = json!({"type": "string"});
    for _ in 0..200 {
        schema = json!({"type": "object", "properties": {"inner": schema}});
    }
    let tools = json!([{"type": "function", "function": {"name": "f", "parameters": schema}}]);
    let mut reported = record(
        json!({"status": 200, "body": {"model": "gpt-4o-2024-08-06", "object": "chat.completion",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "x"}}],
        "usage": {"prompt_tokens": 1550, "completion_tokens": 1, "total_tokens": 1551}}}),
    );
    reported["request"]["stream"] = json!(false);
    reported["request"]["tools"] = tools.clone();
    assert!(
        serde_json::from_str::<Value>(&reported.to_string()).is_err(),
        "past serde_json's limit"
    );
    let row = parse(&reported).expect("row");
    assert_eq!(
        (row.prompt_tokens, row.usage_source),
        (1550, UsageSource::Reported)
    );
    assert!(!row.partial && notes(&row).contains("nested deeper"), "{row:?}");

    let mut estimated = record(json!({"status": 200, "streamed": true, "sse": hello_stream(true)}));
    estimated["request"]["tools"] = tools;
    let row = parse(&estimated).expect("row");
    assert_eq!(row.usage_source, UsageSource::Estimated);
    assert!(row.partial && notes(&row).contains("nested deeper"), "{row:?}");
    assert!(row.prompt_tokens > 0, "{row:?}");
}

/// The shipped APIM policy's record of an oversized stream it did not recognise:
/// bodies dropped, `streamed` kept. Not a silent zero: nothing is left to count
/// from, so its usage is unknown (`none`), partial, with a note naming what went
/// and why. With the stream kept and only the request dropped, the estimate
/// counts the answer and says the rest went. A refused call whose bodies were
/// dropped stays a failed call with no tokens, not a partial one.
#[test]
fn a_record_with_dropped_bodies_is_partial_and_says_so() {
    let mut r = record(json!({"status": 200, "body": null, "streamed": true}));
    r["request"] = json!({"model": "gpt-4o", "stream": true, "max_tokens": 16000});
    r["dropped"] = json!({"reason": "record of 412345 bytes exceeds the 204800-byte log-to-eventhub budget",
        "fields": ["request", "response.body", "response.sse"]});
    let row = parse(&r).expect("row");
    assert_eq!((row.usage_source, row.total_tokens), (UsageSource::None, 0));
    assert!(row.partial, "{row:?}");
    assert!(
        notes(&row).contains(
            "dropped request, response.body, response.sse (record of 412345 bytes exceeds the 204800-byte \
             log-to-eventhub budget): the call's tokens are not in this record"
        ),
        "{row:?}"
    );

    let mut kept_stream = record(json!({"status": 200, "streamed": true, "sse": hello_stream(true)}));
    kept_stream["request"] = json!({"model": "gpt-4o", "stream": true});
    kept_stream["dropped"] = json!({"reason": "too large", "fields": ["request", "response.body"]});
    let row = parse(&kept_stream).expect("row");
    assert_eq!(row.usage_source, UsageSource::Estimated);
    assert!(row.partial && row.completion_tokens > 0, "{row:?}");
    assert!(
        notes(&row).contains("the estimate counts only what it kept"),
        "{row:?}"
    );

    let mut refused = record(json!({"status": 401, "body": null}));
    refused["request"] = Value::Null;
    refused["dropped"] = json!({"reason": "AOAI refused the call", "fields": ["request", "response.body"]});
    let row = parse(&refused).expect("row");
    assert_eq!((row.status, row.total_tokens), (401, 0));
    assert!(!row.partial, "{row:?}");
}
