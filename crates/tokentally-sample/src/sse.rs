//! Streamed chat completions, byte for byte in AOAI's `text/event-stream` shape.
//!
//! Written by hand rather than through `serde_json::Value` because AOAI's key order
//! is not sorted everywhere (`prompt_index` precedes `content_filter_results`) and
//! the sample should be the wire format, not an approximation of it.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

/// Annotations of a content chunk that passed the default content filter.
pub(crate) const CONTENT_FILTER_SAFE: &str = r#"{"hate":{"filtered":false,"severity":"safe"},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}}"#;

/// `prompt_filter_results` of a prompt that passed.
pub(crate) const PROMPT_FILTER_SAFE: &str = r#"[{"prompt_index":0,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"},"jailbreak":{"filtered":false,"detected":false},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}}}]"#;

#[derive(Debug, Clone)]
pub(crate) struct ToolCall {
    pub id: String,
    pub name: &'static str,
    pub arguments: String,
}

/// One choice of a completion.
#[derive(Debug, Clone)]
pub(crate) struct Choice {
    pub content: Option<String>,
    pub tool_calls: Vec<ToolCall>,
    pub finish: &'static str,
}

/// The fields every chunk of one completion repeats.
#[derive(Debug)]
pub(crate) struct Meta<'a> {
    pub id: &'a str,
    pub created: i64,
    pub model: &'a str,
    pub fingerprint: &'a str,
    /// The deployment uses the asynchronous content filter.
    pub async_filter: bool,
}

/// What an event delivers, so a cut-off stream can be accounted for.
#[derive(Debug)]
pub(crate) enum Piece {
    None,
    Content(usize, String),
    /// Choice, tool-call index, function name.
    ToolName(usize, usize, &'static str),
    Arguments(usize, usize, String),
}

#[derive(Debug)]
pub(crate) struct Event {
    pub text: String,
    pub piece: Piece,
}

fn quoted(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

/// One chunk; `filter` is `None` on deployments with the asynchronous content
/// filter, whose chunks carry no annotations (those come in separate events).
fn chunk(meta: &Meta<'_>, index: usize, delta: &str, finish: Option<&str>, filter: Option<&str>) -> String {
    let finish = finish.map_or_else(|| "null".to_owned(), quoted);
    let filter = match (meta.async_filter, filter) {
        (false, Some(filter)) => format!("\"content_filter_results\":{filter},"),
        _ => String::new(),
    };
    format!(
        "data: {{\"choices\":[{{{filter}\"delta\":{delta},\"finish_reason\":{finish},\
         \"index\":{index},\"logprobs\":null}}],\"created\":{},\"id\":\"{}\",\"model\":\"{}\",\
         \"object\":\"chat.completion.chunk\",\"system_fingerprint\":\"{}\"}}\n\n",
        meta.created, meta.id, meta.model, meta.fingerprint
    )
}

/// The asynchronous filter's verdict on the text between two character offsets.
fn annotation(index: usize, start: usize, end: usize) -> Event {
    let text = format!(
        "data: {{\"choices\":[{{\"content_filter_offsets\":{{\"check_offset\":{start},\"start_offset\":{start},\
         \"end_offset\":{end}}},\"content_filter_results\":{CONTENT_FILTER_SAFE},\"finish_reason\":null,\
         \"index\":{index}}}],\"created\":0,\"id\":\"\",\"model\":\"\",\"object\":\"\"}}\n\n"
    );
    Event {
        text,
        piece: Piece::None,
    }
}

/// The events of a complete stream, `data: [DONE]` included.
pub(crate) fn render(
    rng: &mut ChaCha8Rng,
    meta: &Meta<'_>,
    choices: &[Choice],
    usage: Option<&Value>,
) -> Vec<Event> {
    let mut events = vec![Event {
        text: format!(
            "data: {{\"choices\":[],\"created\":0,\"id\":\"\",\"model\":\"\",\"object\":\"\",\"prompt_filter_results\":{PROMPT_FILTER_SAFE}}}\n\n"
        ),
        piece: Piece::None,
    }];
    let mut queues: Vec<std::collections::VecDeque<Event>> = choices
        .iter()
        .enumerate()
        .map(|(i, c)| choice_events(rng, meta, i, c).into())
        .collect();
    // n > 1: AOAI interleaves the choices' chunks as they are produced.
    while !queues.is_empty() {
        let q = rng.random_range(0..queues.len());
        match queues[q].pop_front() {
            Some(event) => events.push(event),
            None => {
                queues.remove(q);
            }
        }
    }
    if let Some(usage) = usage {
        events.push(Event {
            text: format!(
                "data: {{\"choices\":[],\"created\":{},\"id\":\"{}\",\"model\":\"{}\",\"object\":\"chat.completion.chunk\",\
                 \"system_fingerprint\":\"{}\",\"usage\":{usage}}}\n\n",
                meta.created, meta.id, meta.model, meta.fingerprint
            ),
            piece: Piece::None,
        });
    }
    events.push(Event {
        text: "data: [DONE]\n\n".to_owned(),
        piece: Piece::None,
    });
    events
}

fn choice_events(rng: &mut ChaCha8Rng, meta: &Meta<'_>, index: usize, choice: &Choice) -> Vec<Event> {
    let mut events = Vec::new();
    let mut push = |text: String, piece: Piece| events.push(Event { text, piece });
    if choice.tool_calls.is_empty() {
        push(
            chunk(
                meta,
                index,
                r#"{"content":"","refusal":null,"role":"assistant"}"#,
                None,
                Some("{}"),
            ),
            Piece::None,
        );
    }
    // Characters checked by the asynchronous filter so far, and delivered so far.
    let (mut checked, mut sent) = (0, 0);
    if let Some(content) = &choice.content {
        for piece in split_words(rng, content) {
            let delta = format!("{{\"content\":{}}}", quoted(piece));
            push(
                chunk(meta, index, &delta, None, Some(CONTENT_FILTER_SAFE)),
                Piece::Content(index, piece.to_owned()),
            );
            sent += piece.chars().count();
            if meta.async_filter && sent - checked >= 160 {
                let event = annotation(index, checked, sent);
                push(event.text, event.piece);
                checked = sent;
            }
        }
    }
    for (t, call) in choice.tool_calls.iter().enumerate() {
        let start = format!(
            "[{{\"function\":{{\"arguments\":\"\",\"name\":\"{}\"}},\"id\":\"{}\",\"index\":{t},\"type\":\"function\"}}]",
            call.name, call.id
        );
        let delta = if t == 0 {
            format!("{{\"content\":null,\"refusal\":null,\"role\":\"assistant\",\"tool_calls\":{start}}}")
        } else {
            format!("{{\"tool_calls\":{start}}}")
        };
        push(
            chunk(meta, index, &delta, None, Some("{}")),
            Piece::ToolName(index, t, call.name),
        );
        for fragment in split_chars(rng, &call.arguments) {
            let delta = format!(
                "{{\"tool_calls\":[{{\"function\":{{\"arguments\":{}}},\"index\":{t}}}]}}",
                quoted(fragment)
            );
            push(
                chunk(meta, index, &delta, None, Some("{}")),
                Piece::Arguments(index, t, fragment.to_owned()),
            );
        }
    }
    push(
        chunk(meta, index, "{}", Some(choice.finish), Some("{}")),
        Piece::None,
    );
    if meta.async_filter && sent > checked {
        let event = annotation(index, checked, sent);
        push(event.text, event.piece);
    }
    events
}

/// Words per delta, mostly three or four: a stream's size is its chunk count, and
/// AOAI's chunks are ~300 bytes whatever they carry.
const WORDS_PER_DELTA: [usize; 10] = [1, 2, 2, 3, 3, 3, 4, 4, 4, 4];

/// Deltas of one to four words; scripts without spaces go a few characters at a time.
fn split_words<'t>(rng: &mut ChaCha8Rng, text: &'t str) -> Vec<&'t str> {
    let mut cuts = Vec::new();
    let mut in_word = false;
    let mut run = 0;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            if in_word {
                cuts.push(i);
            }
            in_word = false;
            run = 0;
        } else {
            if in_word && !c.is_ascii() && run >= 3 {
                cuts.push(i);
                run = 0;
            }
            in_word = true;
            run += 1;
        }
    }
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut next = 0;
    while next < cuts.len() {
        next += WORDS_PER_DELTA[rng.random_range(0..WORDS_PER_DELTA.len())];
        let end = cuts.get(next - 1).copied().unwrap_or(text.len());
        if end > start {
            pieces.push(&text[start..end]);
            start = end;
        }
    }
    if start < text.len() {
        pieces.push(&text[start..]);
    }
    pieces
}

/// Argument fragments of a few characters, as tool-call streams deliver them.
fn split_chars<'t>(rng: &mut ChaCha8Rng, text: &'t str) -> Vec<&'t str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let mut end = (start + rng.random_range(2..12)).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        pieces.push(&text[start..end]);
        start = end;
    }
    pieces
}

pub(crate) fn join(events: &[Event]) -> String {
    events.iter().map(|e| e.text.as_str()).collect()
}

/// A stream the capture saw end early: some events, then one cut mid-JSON.
///
/// Returns the text and how many events arrived whole.
pub(crate) fn cut(rng: &mut ChaCha8Rng, events: &[Event]) -> (String, usize) {
    // Keep the prompt filter and at least one chunk; never reach `[DONE]`.
    let whole = rng
        .random_range(2..events.len().saturating_sub(1).max(3))
        .min(events.len() - 2);
    let mut text = join(&events[..whole]);
    let last = &events[whole].text;
    let mut at = rng.random_range(8..last.len().saturating_sub(3).max(9));
    while !last.is_char_boundary(at) {
        at -= 1;
    }
    text.push_str(&last[..at]);
    (text, whole)
}

/// Texts delivered by `events`: per choice its content and its tool calls'
/// `(name, arguments)`.
pub(crate) fn delivered(events: &[Event], choices: usize) -> Vec<(String, Vec<(String, String)>)> {
    let mut out = vec![(String::new(), Vec::new()); choices];
    for event in events {
        let (choice, tool) = match &event.piece {
            Piece::None => continue,
            Piece::Content(c, text) => {
                out[*c].0.push_str(text);
                continue;
            }
            Piece::ToolName(c, t, _) | Piece::Arguments(c, t, _) => (*c, *t),
        };
        let calls: &mut Vec<(String, String)> = &mut out[choice].1;
        if calls.len() <= tool {
            calls.resize(tool + 1, (String::new(), String::new()));
        }
        match &event.piece {
            Piece::ToolName(_, _, name) => calls[tool].0.push_str(name),
            Piece::Arguments(_, _, text) => calls[tool].1.push_str(text),
            _ => {}
        }
    }
    out
}

/// The content of each choice of a stream, and whether it ended with `[DONE]`.
#[cfg(test)]
pub(crate) fn reassemble(sse: &str) -> (Vec<String>, bool) {
    let mut contents = Vec::new();
    let mut done = false;
    for line in sse.split("\n\n") {
        let Some(data) = line.strip_prefix("data: ") else {
            continue;
        };
        if data == "[DONE]" {
            done = true;
            continue;
        }
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            continue;
        };
        for c in v["choices"].as_array().into_iter().flatten() {
            let i = c["index"].as_u64().unwrap_or(0) as usize;
            if contents.len() <= i {
                contents.resize(i + 1, String::new());
            }
            if let Some(s) = c["delta"]["content"].as_str() {
                contents[i].push_str(s);
            }
        }
    }
    (contents, done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn meta(async_filter: bool) -> Meta<'static> {
        Meta {
            id: "chatcmpl-x",
            created: 1_790_000_000,
            model: "gpt-4o-2024-08-06",
            fingerprint: "fp_1",
            async_filter,
        }
    }

    #[test]
    fn stream_round_trips_and_chunks_are_json() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let choices = vec![
            Choice {
                content: Some("Hello there, how are you today? 注文した商品がまだ届いていません。".into()),
                tool_calls: vec![],
                finish: "stop",
            },
            Choice {
                content: Some("Second answer with \"quotes\"\nand lines.".into()),
                tool_calls: vec![],
                finish: "length",
            },
        ];
        for async_filter in [false, true] {
            let usage = serde_json::json!({"total_tokens": 3});
            let events = render(&mut rng, &meta(async_filter), &choices, Some(&usage));
            let sse = join(&events);
            for line in sse.split("\n\n").filter(|l| !l.is_empty()) {
                let data = line.strip_prefix("data: ").expect("data");
                if data != "[DONE]" {
                    serde_json::from_str::<Value>(data).expect("chunk is JSON");
                }
            }
            let (contents, done) = reassemble(&sse);
            assert!(done);
            let expected: Vec<String> = choices.iter().filter_map(|c| c.content.clone()).collect();
            assert_eq!(contents, expected);
            assert!(sse.starts_with("data: {\"choices\":[],\"created\":0,\"id\":\"\""));
            assert_eq!(sse.contains("content_filter_offsets"), async_filter);
            assert_eq!(sse.contains("[{\"delta\":{\"content\":"), async_filter);
        }
    }

    #[test]
    fn cut_streams_end_mid_json() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let choices = vec![Choice {
            content: Some("one two three four five six seven".into()),
            tool_calls: vec![],
            finish: "stop",
        }];
        let events = render(&mut rng, &meta(false), &choices, None);
        for _ in 0..50 {
            let (text, whole) = cut(&mut rng, &events);
            assert!(!text.contains("[DONE]"));
            assert!(!text.ends_with("\n\n"));
            let last = text.rsplit("\n\n").next().expect("last");
            assert!(serde_json::from_str::<Value>(last.trim_start_matches("data: ")).is_err());
            let got = delivered(&events[..whole], 1);
            assert!(choices[0].content.as_deref().expect("c").starts_with(&got[0].0));
        }
    }

    #[test]
    fn tool_call_arguments_are_streamed_in_fragments() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let call = ToolCall {
            id: "call_1".into(),
            name: "lookup_order",
            arguments: r#"{"order_id":"ORD-12345"}"#.into(),
        };
        let choices = vec![Choice {
            content: None,
            tool_calls: vec![call.clone()],
            finish: "tool_calls",
        }];
        let events = render(&mut rng, &meta(false), &choices, None);
        let got = delivered(&events, 1);
        assert_eq!(got[0].1, [(call.name.to_owned(), call.arguments)]);
        assert!(join(&events).contains(r#""finish_reason":"tool_calls""#));
    }
}
