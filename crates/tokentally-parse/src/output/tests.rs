use super::reference::Reference;
use super::*;
use proptest::prelude::*;
use serde_json::json;
use std::sync::LazyLock;

fn absorb(out: &mut Output, chunk: &Value) {
    out.absorb_event(chunk.to_string().as_bytes()).expect("JSON");
}

#[test]
fn chat_chunks_with_tool_calls_and_two_choices() {
    let mut out = Output::default();
    for chunk in [
        json!({"choices": [], "model": "", "prompt_filter_results": []}),
        json!({"model": "gpt-4o-2024-08-06", "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}}]}),
        json!({"choices": [{"index": 1, "delta": {"content": "Bon"}}]}),
        json!({"choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"}]}),
        json!({"choices": [{"index": 1, "delta": {"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "get", "arguments": "{\"a\""}}]}}]}),
        json!({"choices": [{"index": 1, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": ":1}"}}]}, "finish_reason": "tool_calls"}]}),
        json!({"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}}),
    ] {
        absorb(&mut out, &chunk);
    }
    assert_eq!(out.model.as_deref(), Some("gpt-4o-2024-08-06"));
    assert_eq!(out.choices[&0].text, "Hello");
    assert_eq!(out.choices[&1].text, "Bon");
    assert_eq!(
        out.choices[&1].tool_calls[&0],
        ToolCall {
            name: "get".into(),
            arguments: "{\"a\":1}".into()
        }
    );
    assert_eq!(out.choices[&1].finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(out.usage.map(|u| u["total_tokens"].clone()), Some(json!(12)));
}

#[test]
fn chat_body_and_error_body() {
    let mut out = Output::default();
    out.absorb_body(&json!({"model": "gpt-4o-mini", "choices": [{"index": 0, "finish_reason": "stop",
        "message": {"role": "assistant", "content": "Hi", "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]}}]}));
    assert_eq!(out.choices[&0].text, "Hi");
    assert_eq!(out.choices[&0].tool_calls[&0].name, "f");
    let mut err = Output::default();
    err.absorb_body(&json!({"error": {"code": "429", "message": "Too many requests"}}));
    assert_eq!(err.error.as_deref(), Some("Too many requests"));
    assert!(err.choices.is_empty());
}

#[test]
fn responses_stream_events() {
    let mut out = Output::default();
    absorb(
        &mut out,
        &json!({"type": "response.created", "response": {"model": "gpt-4.1"}}),
    );
    absorb(
        &mut out,
        &json!({"type": "response.output_text.delta", "delta": "Hi "}),
    );
    absorb(
        &mut out,
        &json!({"type": "response.output_text.delta", "delta": "there"}),
    );
    absorb(
        &mut out,
        &json!({"type": "response.completed", "response": {"status": "completed",
        "usage": {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5}}}),
    );
    assert_eq!(out.choices[&0].text, "Hi there");
    assert!(out.done);
    assert_eq!(out.usage.map(|u| u["output_tokens"].clone()), Some(json!(2)));
}

#[test]
fn repeated_members_resolve_to_the_last_like_value_did() {
    let mut out = Output::default();
    let text = r#"{"model":"a","choices":[{"index":0,"delta":{"content":"x","content":"y"}}],"model":"b"}"#;
    out.absorb_event(text.as_bytes()).expect("JSON");
    assert_eq!(
        (out.model.as_deref(), out.choices[&0].text.as_str()),
        (Some("b"), "y")
    );
    assert_eq!(out.absorb_event(b"{\"choices\":[").map_err(|_| ()), Err(()));
    // Valid JSON that is no object absorbs nothing and is no error.
    assert_eq!(out.absorb_event(b"[1,2]"), Ok(()));
}

/// Streams from the sample generator: the wire format as AOAI sends it.
static SAMPLE_STREAMS: LazyLock<Vec<String>> = LazyLock::new(|| {
    let config = tokentally_sample::SampleConfig {
        calls: 150,
        ..tokentally_sample::SampleConfig::default()
    };
    let mut lines = Vec::new();
    tokentally_sample::generate(&config, &mut lines).expect("generate");
    lines
        .split(|&b| b == b'\n')
        .filter_map(|l| serde_json::from_slice::<Value>(l).ok())
        .filter_map(|r| r["response"]["sse"].as_str().map(str::to_owned))
        .collect()
});

/// A JSON value of any kind, for members that should have been something else.
fn stray() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        prop_oneof![Just(-1i64), Just(0), Just(2), Just(1 << 40), Just(i64::MIN)].prop_map(Value::from),
        Just(json!(u64::MAX)),
        Just(json!(1.5)),
        prop_oneof![Just(""), Just("x"), Just("a\"\nb")].prop_map(Value::from),
        Just(json!([1, null, {}])),
        Just(json!({"unknown": [1]})),
    ]
    .boxed()
}

/// Usually the expected shape, sometimes a stray value.
fn member(expected: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    prop_oneof![4 => expected, 1 => stray()].boxed()
}

fn text() -> BoxedStrategy<Value> {
    member(
        prop_oneof![
            Just(""),
            Just("Hel"),
            Just("lo \"q\"\n"),
            Just("é😀"),
            Just("stop")
        ]
        .prop_map(Value::from)
        .boxed(),
    )
}

fn int() -> BoxedStrategy<Value> {
    member((0u64..4).prop_map(Value::from).boxed())
}

/// An object holding each member with probability 0.7.
fn object(members: Vec<(&'static str, BoxedStrategy<Value>)>) -> BoxedStrategy<Value> {
    let members: Vec<_> = members
        .into_iter()
        .map(|(k, s)| proptest::option::weighted(0.7, s).prop_map(move |v| (k, v)))
        .collect();
    members
        .prop_map(|ms| {
            Value::Object(
                ms.into_iter()
                    .filter_map(|(k, v)| Some((k.to_owned(), v?)))
                    .collect(),
            )
        })
        .boxed()
}

fn list(element: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    member(
        proptest::collection::vec(member(element), 0..3)
            .prop_map(Value::from)
            .boxed(),
    )
}

fn function() -> BoxedStrategy<Value> {
    member(object(vec![("name", text()), ("arguments", text())]))
}

fn message() -> BoxedStrategy<Value> {
    let call = object(vec![("index", int()), ("id", text()), ("function", function())]);
    member(object(vec![
        ("role", text()),
        ("content", text()),
        ("refusal", text()),
        ("tool_calls", list(call)),
        ("function_call", function()),
    ]))
}

fn usage() -> BoxedStrategy<Value> {
    let details = |key: &'static str| member(object(vec![(key, int())]));
    member(object(vec![
        ("prompt_tokens", int()),
        ("input_tokens", int()),
        ("completion_tokens", int()),
        ("output_tokens", int()),
        ("total_tokens", int()),
        ("prompt_tokens_details", details("cached_tokens")),
        ("input_tokens_details", details("cached_tokens")),
        ("completion_tokens_details", details("reasoning_tokens")),
        ("output_tokens_details", details("reasoning_tokens")),
    ]))
}

/// Chat chunks, completion chunks, Responses events and bodies, members mixed.
fn event() -> BoxedStrategy<Value> {
    let kind = prop_oneof![
        Just("response.output_text.delta"),
        Just("response.refusal.delta"),
        Just("response.function_call_arguments.delta"),
        Just("response.output_item.added"),
        Just("response.completed"),
        Just("response.incomplete"),
        Just("response.failed"),
        Just("response.created"),
        Just("response.in_progress"),
        Just("response.other"),
        Just("message"),
    ]
    .prop_map(Value::from)
    .boxed();
    let error = member(object(vec![("message", text()), ("code", text())]));
    let choice = object(vec![
        ("index", int()),
        ("text", text()),
        ("delta", message()),
        ("message", message()),
        ("finish_reason", text()),
    ]);
    let part = object(vec![("type", text()), ("text", text()), ("refusal", text())]);
    let item_kind = member(
        prop_oneof![Just("message"), Just("function_call")]
            .prop_map(Value::from)
            .boxed(),
    );
    let item = object(vec![
        ("type", item_kind),
        ("name", text()),
        ("arguments", text()),
        ("content", list(part)),
    ]);
    let response = member(object(vec![
        ("model", text()),
        ("usage", usage()),
        ("error", error.clone()),
        ("status", text()),
    ]));
    object(vec![
        ("type", member(kind)),
        ("model", text()),
        ("usage", usage()),
        ("error", error),
        ("choices", list(choice)),
        ("delta", text()),
        ("output_index", int()),
        ("item", member(item.clone())),
        ("response", response),
        ("output", list(item)),
        ("status", text()),
    ])
}

proptest! {
    #[test]
    fn typed_chunks_rebuild_what_value_lookups_did(
        events in proptest::collection::vec(prop_oneof![6 => event(), 1 => stray()], 1..4),
        repeat in proptest::option::of(("(model|choices|type|delta|usage)", stray())),
    ) {
        let mut typed = Output::default();
        let mut old = Reference::default();
        for event in &events {
            let mut text = event.to_string();
            // A repeated member: serde rejects it, Value keeps the last one.
            if let Some((key, value)) = repeat.as_ref().filter(|_| event.is_object()) {
                let rest = if text == "{}" { "}" } else { &text[1..] };
                let sep = if rest == "}" { "" } else { "," };
                text = format!("{{{}:{value}{sep}{rest}", json!(key));
            }
            prop_assert_eq!(typed.absorb_event(text.as_bytes()), Ok(()));
            old.absorb_chunk(&serde_json::from_str(&text).expect("JSON"));
        }
        prop_assert_eq!(&typed, &old.0);
    }

    #[test]
    fn typed_bodies_rebuild_what_value_lookups_did(body in prop_oneof![4 => event(), 1 => stray()]) {
        let mut typed = Output::default();
        let mut old = Reference::default();
        typed.absorb_body(&body);
        old.absorb_body(&body);
        prop_assert_eq!(typed, old.0);
    }

    #[test]
    fn splitting_a_sample_stream_anywhere_changes_nothing(
        pick in any::<prop::sample::Index>(),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let stream = SAMPLE_STREAMS[pick.index(SAMPLE_STREAMS.len())].as_bytes();
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
        points.sort_unstable();
        let mut pieces = Vec::new();
        let mut start = 0;
        for p in points {
            pieces.push(&stream[start..p]);
            start = p;
        }
        pieces.push(&stream[start..]);
        let whole = rebuild_stream([stream]);
        prop_assert!(!whole.output.choices.is_empty() || whole.output.error.is_some());
        prop_assert_eq!(rebuild_stream(pieces), whole);
    }

    #[test]
    fn a_str_stream_rebuilds_what_its_bytes_do(
        text in "((data|event|: c)(: ?(\\[DONE\\]|\\{\"choices\":\\[\\{\"text\":\"[a-zé😀]{0,3}\"\\}\\]\\}|[a-z{}\"]{0,4}))?(\n|\r\n|\r){1,2}){0,8}",
    ) {
        prop_assert_eq!(rebuild_stream_str(&text), rebuild_stream([text.as_bytes()]));
    }
}

#[test]
fn a_stream_that_lost_an_event_is_partial_even_with_its_end() {
    let whole = rebuild_stream([b"data: {\"choices\":[]}\n\ndata: [DONE]\n\n".as_slice()]);
    assert!(!whole.partial(), "{whole:?}");
    let lost = rebuild_stream([b"data: {\"choices\":[]}\n\ndata: {\"choi\n\ndata: [DONE]\n\n".as_slice()]);
    assert_eq!(
        (lost.bad_events, lost.output.done, lost.truncated),
        (1, true, false)
    );
    assert!(lost.partial());
}
