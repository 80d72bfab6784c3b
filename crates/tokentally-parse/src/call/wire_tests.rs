//! Streams as AOAI puts them on the wire, byte for byte: raw `text/event-stream`
//! text rather than chunks built with `json!`, so key order, `null`s, escapes and
//! the events that carry no output are the real ones.

use super::*;

fn src() -> SourcePosition {
    SourcePosition {
        source: "wire.jsonl".into(),
        partition: None,
        offset: 1,
    }
}

/// A gateway record around `sse`, as the capture proxy logs it.
fn row_for(operation: &str, model: &str, request: Value, sse: &str) -> UsageRecord {
    let record = serde_json::json!({"schema": 1, "request_id": "wire-1",
        "request_time": "2026-10-14T09:21:07.412Z", "caller": {"subscription_id": "sub-1"},
        "deployment": model, "operation": operation, "request": request,
        "response": {"status": 200, "sse": sse}});
    parse_record(record.to_string().as_bytes(), src()).expect("row")
}

fn chat(sse: &str) -> UsageRecord {
    let request = serde_json::json!({"messages": [{"role": "user", "content": "Hello!"}], "stream": true});
    row_for("chat/completions", "gpt-4o", request, sse)
}

const PROMPT_FILTER: &str = r#"data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"},"jailbreak":{"filtered":false,"detected":false},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}}}]}

"#;

#[test]
fn prompt_filter_chunk_then_content_with_async_filter_annotations() {
    let sse = [
        PROMPT_FILTER,
        r#"data: {"choices":[{"delta":{"content":"","refusal":null,"role":"assistant"},"finish_reason":null,"index":0,"logprobs":null}],"created":1760433667,"id":"chatcmpl-AZ1","model":"gpt-4o-2024-11-20","object":"chat.completion.chunk","system_fingerprint":"fp_b705f0c291"}

data: {"choices":[{"delta":{"content":"Hello"},"finish_reason":null,"index":0,"logprobs":null}],"created":1760433667,"id":"chatcmpl-AZ1","model":"gpt-4o-2024-11-20","object":"chat.completion.chunk","system_fingerprint":"fp_b705f0c291"}

data: {"choices":[{"content_filter_offsets":{"check_offset":0,"start_offset":0,"end_offset":5},"content_filter_results":{"hate":{"filtered":false,"severity":"safe"},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}},"finish_reason":null,"index":0}],"created":0,"id":"","model":"","object":""}

data: {"choices":[{"delta":{"content":" there, \"friend\"\n"},"finish_reason":null,"index":0,"logprobs":null}],"created":1760433667,"id":"chatcmpl-AZ1","model":"gpt-4o-2024-11-20","object":"chat.completion.chunk","system_fingerprint":"fp_b705f0c291"}

data: {"choices":[{"delta":{},"finish_reason":"stop","index":0,"logprobs":null}],"created":1760433667,"id":"chatcmpl-AZ1","model":"gpt-4o-2024-11-20","object":"chat.completion.chunk","system_fingerprint":"fp_b705f0c291"}

data: {"choices":[{"content_filter_offsets":{"check_offset":5,"start_offset":5,"end_offset":22},"content_filter_results":{"hate":{"filtered":false,"severity":"safe"},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}},"finish_reason":null,"index":0}],"created":0,"id":"","model":"","object":""}

data: [DONE]

"#,
    ]
    .concat();
    let row = chat(&sse);
    // The filter events (empty id and model) set neither the model nor text, and
    // their `finish_reason: null` does not undo the choice's `stop`.
    assert_eq!(row.model.as_deref(), Some("gpt-4o-2024-11-20"));
    assert_eq!(row.model_family.as_deref(), Some("gpt-4o"));
    assert_eq!(row.finish_reason.as_deref(), Some("stop"));
    assert_eq!(row.choice_count, 1);
    assert_eq!(
        row.completion_tokens,
        count_tokens(Encoding::O200kBase, "Hello there, \"friend\"\n")
    );
    assert!(!row.partial && row.notes.is_none(), "{:?}", row.notes);
}

#[test]
fn legacy_function_call_deltas() {
    let sse = [
        PROMPT_FILTER,
        r#"data: {"choices":[{"delta":{"content":null,"function_call":{"arguments":"","name":"get_weather"},"role":"assistant"},"finish_reason":null,"index":0,"logprobs":null}],"created":1760433667,"id":"chatcmpl-FC1","model":"gpt-35-turbo","object":"chat.completion.chunk","system_fingerprint":null}

data: {"choices":[{"delta":{"function_call":{"arguments":"{\"location\":"}},"finish_reason":null,"index":0,"logprobs":null}],"created":1760433667,"id":"chatcmpl-FC1","model":"gpt-35-turbo","object":"chat.completion.chunk","system_fingerprint":null}

data: {"choices":[{"delta":{"function_call":{"arguments":"\"Oslo\"}"}},"finish_reason":null,"index":0,"logprobs":null}],"created":1760433667,"id":"chatcmpl-FC1","model":"gpt-35-turbo","object":"chat.completion.chunk","system_fingerprint":null}

data: {"choices":[{"delta":{},"finish_reason":"function_call","index":0,"logprobs":null}],"created":1760433667,"id":"chatcmpl-FC1","model":"gpt-35-turbo","object":"chat.completion.chunk","system_fingerprint":null}

data: [DONE]

"#,
    ]
    .concat();
    let row = chat(&sse);
    assert_eq!(row.finish_reason.as_deref(), Some("function_call"));
    assert_eq!(row.encoding.as_deref(), Some("cl100k_base"));
    let e = Encoding::Cl100kBase;
    assert_eq!(
        row.completion_tokens,
        count_tokens(e, "get_weather") + count_tokens(e, "{\"location\":\"Oslo\"}")
    );
}

/// A chat chunk of choice `index`; `delta` and `finish` are raw JSON.
fn chunk(index: u32, delta: &str, finish: &str) -> String {
    format!(
        "data: {{\"choices\":[{{\"delta\":{delta},\"finish_reason\":{finish},\"index\":{index},\"logprobs\":null}}],\"created\":1760433667,\"id\":\"chatcmpl-N3\",\"model\":\"gpt-4o-mini-2024-07-18\",\"object\":\"chat.completion.chunk\",\"system_fingerprint\":\"fp_1\"}}\n\n"
    )
}

#[test]
fn n_greater_than_one_interleaved_with_every_finish_reason() {
    let tool = r#"{"tool_calls":[{"function":{"arguments":"","name":"lookup_order"},"id":"call_1","index":0,"type":"function"}]}"#;
    let tool_args = r#"{"tool_calls":[{"function":{"arguments":"{\"order_id\":\"ORD-1\"}"},"index":0}]}"#;
    let sse = [
        PROMPT_FILTER.to_owned(),
        chunk(0, r#"{"content":"","role":"assistant"}"#, "null"),
        chunk(2, r#"{"content":"","role":"assistant"}"#, "null"),
        chunk(1, r#"{"content":"","role":"assistant"}"#, "null"),
        chunk(1, r#"{"content":"Once upon"}"#, "null"),
        chunk(3, tool, "null"),
        chunk(0, r#"{"content":"Yes."}"#, "null"),
        chunk(2, r#"{"content":"I can"}"#, "null"),
        chunk(3, tool_args, "null"),
        chunk(1, r#"{"content":" a time"}"#, "null"),
        chunk(2, r#"{"refusal":"'t help with that."}"#, "null"),
        chunk(4, r#"{"content":""}"#, "null"),
        chunk(0, "{}", "\"stop\""),
        chunk(3, "{}", "\"tool_calls\""),
        chunk(1, "{}", "\"length\""),
        chunk(4, "{}", "\"content_filter\""),
        chunk(2, "{}", "\"stop\""),
        "data: [DONE]\n\n".to_owned(),
    ]
    .concat();
    let row = chat(&sse);
    assert_eq!(row.choice_count, 5);
    // In choice order, whatever order the chunks came in.
    assert_eq!(
        row.finish_reason.as_deref(),
        Some("stop,length,stop,tool_calls,content_filter")
    );
    let e = Encoding::O200kBase;
    let expected = count_tokens(e, "Yes.")
        + count_tokens(e, "Once upon a time")
        + count_tokens(e, "I can't help with that.")
        + count_tokens(e, "lookup_order")
        + count_tokens(e, "{\"order_id\":\"ORD-1\"}");
    assert_eq!(row.completion_tokens, expected);
}

#[test]
fn include_usage_chunk_with_cached_and_reasoning_details() {
    let sse = [
        PROMPT_FILTER.to_owned(),
        chunk(0, r#"{"content":"","role":"assistant"}"#, "null")
            .replace("gpt-4o-mini-2024-07-18", "o4-mini-2025-04-16"),
        chunk(0, r#"{"content":"42"}"#, "null").replace("gpt-4o-mini-2024-07-18", "o4-mini-2025-04-16"),
        chunk(0, "{}", "\"stop\"").replace("gpt-4o-mini-2024-07-18", "o4-mini-2025-04-16"),
        r#"data: {"choices":[],"created":1760433667,"id":"chatcmpl-N3","model":"o4-mini-2025-04-16","object":"chat.completion.chunk","system_fingerprint":"fp_1","usage":{"completion_tokens":210,"completion_tokens_details":{"accepted_prediction_tokens":0,"audio_tokens":0,"reasoning_tokens":192,"rejected_prediction_tokens":0},"prompt_tokens":1536,"prompt_tokens_details":{"audio_tokens":0,"cached_tokens":1280},"total_tokens":1746}}

data: [DONE]

"#
        .to_owned(),
    ]
    .concat();
    let row = chat(&sse);
    assert_eq!(row.usage_source, UsageSource::Reported);
    assert_eq!(
        (
            row.prompt_tokens,
            row.cached_prompt_tokens,
            row.completion_tokens,
            row.reasoning_tokens,
            row.total_tokens
        ),
        (1536, 1280, 210, 192, 1746)
    );
    // Reported usage includes the reasoning the stream never showed.
    assert_eq!(row.estimated_completion_tokens, Some(1));
    assert_eq!(row.model_family.as_deref(), Some("o4-mini"));
}

#[test]
fn responses_stream_ends_with_response_completed_and_no_done() {
    let sse = r#"event: response.created
data: {"type":"response.created","sequence_number":0,"response":{"id":"resp_1","object":"response","created_at":1760433667,"status":"in_progress","model":"gpt-4.1-2025-04-14","output":[],"usage":null}}

event: response.in_progress
data: {"type":"response.in_progress","sequence_number":1,"response":{"id":"resp_1","object":"response","status":"in_progress","model":"gpt-4.1-2025-04-14","output":[],"usage":null}}

event: response.output_item.added
data: {"type":"response.output_item.added","sequence_number":2,"output_index":0,"item":{"id":"msg_1","type":"message","status":"in_progress","content":[],"role":"assistant"}}

event: response.content_part.added
data: {"type":"response.content_part.added","sequence_number":3,"item_id":"msg_1","output_index":0,"content_index":0,"part":{"type":"output_text","annotations":[],"text":""}}

event: response.output_text.delta
data: {"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Bonjour"}

event: response.output_text.delta
data: {"type":"response.output_text.delta","sequence_number":5,"item_id":"msg_1","output_index":0,"content_index":0,"delta":" à tous !"}

event: response.output_text.done
data: {"type":"response.output_text.done","sequence_number":6,"item_id":"msg_1","output_index":0,"content_index":0,"text":"Bonjour à tous !"}

event: response.output_item.done
data: {"type":"response.output_item.done","sequence_number":7,"output_index":0,"item":{"id":"msg_1","type":"message","status":"completed","content":[{"type":"output_text","annotations":[],"text":"Bonjour à tous !"}],"role":"assistant"}}

event: response.completed
data: {"type":"response.completed","sequence_number":8,"response":{"id":"resp_1","object":"response","created_at":1760433667,"status":"completed","model":"gpt-4.1-2025-04-14","output":[{"id":"msg_1","type":"message","status":"completed","content":[{"type":"output_text","annotations":[],"text":"Bonjour à tous !"}],"role":"assistant"}],"usage":{"input_tokens":12,"input_tokens_details":{"cached_tokens":0},"output_tokens":6,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":18}}}

"#;
    let request = serde_json::json!({"model": "gpt-4.1", "input": "Say hello in French", "stream": true});
    let row = row_for("responses", "gpt-4.1", request, sse);
    assert!(!row.partial, "{:?}", row.notes);
    assert_eq!(row.usage_source, UsageSource::Reported);
    assert_eq!(
        (row.prompt_tokens, row.completion_tokens, row.total_tokens),
        (12, 6, 18)
    );
    assert_eq!(row.finish_reason.as_deref(), Some("completed"));
    assert_eq!(row.model.as_deref(), Some("gpt-4.1-2025-04-14"));
    // The text counts once: the deltas, not again from the `done` events.
    assert_eq!(
        row.estimated_completion_tokens,
        Some(count_tokens(Encoding::O200kBase, "Bonjour à tous !"))
    );
}
