//! One chat turn of a session: the request the app sends given what came before,
//! and the answer (text, tool calls, cut at `max_tokens`, reasoning, cached prefix).

use super::{Call, Exchange, Generator, Outcome, response};
use crate::apps::{App, Flow};
use crate::chat;
use crate::deployments::{Deployment, Kind};
use crate::identity::user_count;
use crate::ids::alnum;
use crate::schedule::weighted;
use crate::sse::{self, Choice, Meta, ToolCall};
use crate::text::{self, Style, pick, pick_any};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};
use tokentally_core::Encoding;
use tokentally_parse::{count_tokens, estimate_chat_prompt};

/// AOAI keeps a cached prompt prefix for a few minutes of inactivity.
const CACHE_TTL_MS: i64 = 8 * 60 * 1000;
/// Share of streams the capture sees end early.
const TRUNCATED: f64 = 0.012;
/// `max_tokens` values apps use.
const LIMITS: &[i64] = &[
    32, 64, 100, 128, 150, 200, 256, 300, 500, 800, 1000, 1500, 2000, 4096, 8192, 16384,
];

/// What an open session remembers between its calls.
#[derive(Debug)]
pub(super) struct Conversation {
    pub(super) deployment: usize,
    pub(super) user: usize,
    /// Language of the user's last message (`None`: English).
    language: Option<usize>,
    history: Vec<Value>,
    /// Messages of a failed call, sent again.
    retry: Option<Vec<Value>>,
    /// Tool calls the app answers on its next call.
    pending_tools: Vec<ToolCall>,
    /// Prompt of the last call, a prefix of the next one (0: none).
    prompt_tokens: i64,
    last_ms: i64,
}

impl Conversation {
    pub(super) fn new(rng: &mut ChaCha8Rng, app: &App) -> Self {
        Self {
            deployment: pick_deployment(rng, app),
            user: rng.random_range(0..user_count()),
            language: None,
            history: Vec::new(),
            retry: None,
            pending_tools: Vec::new(),
            prompt_tokens: 0,
            last_ms: 0,
        }
    }

    /// The messages new in this turn: a failed call's again, the answers to the
    /// tools the model called, or the user's next message.
    fn next_messages(&mut self, rng: &mut ChaCha8Rng, app: &App, dep: &Deployment) -> Vec<Value> {
        if let Some(retry) = self.retry.take() {
            retry
        } else if !self.pending_tools.is_empty() {
            let calls = std::mem::take(&mut self.pending_tools);
            calls.iter().map(|c| chat::tool_result(rng, c)).collect()
        } else {
            let (message, language) = user_message(rng, app, dep, self.user);
            self.language = language;
            vec![message]
        }
    }

    /// After an answered call: its prompt (a prefix of the next one) and, for a
    /// stateful app, the turn in the history.
    fn remember(&mut self, call: &Call<'_>, prompt: i64, new_messages: Vec<Value>, choices: &[Choice]) {
        self.prompt_tokens = prompt;
        self.last_ms = call.planned.time_ms;
        if !matches!(call.app.flow, Flow::Chat { stateful: true }) {
            return;
        }
        self.history.extend(new_messages);
        let Some(first) = choices.first() else {
            return;
        };
        if first.tool_calls.is_empty() {
            self.history
                .push(json!({"role": "assistant", "content": first.content}));
        } else {
            self.history.push(json!({"role": "assistant", "content": null,
                "tool_calls": chat::tool_calls_json(&first.tool_calls)}));
            self.pending_tools = first.tool_calls.clone();
        }
        if trim(&mut self.history) {
            // The next prompt no longer starts with this one.
            self.prompt_tokens = 0;
        }
    }
}

/// What an answered call amounted to, whatever the capture later sees of it.
fn answered(outcome: &mut Outcome, request: &Request, answer: &Answer, prompt: i64) {
    outcome.status = 200;
    outcome.choices = answer.choices.len();
    outcome.tool_calls = answer.calls_tool;
    outcome.streamed = request.streamed;
    outcome.stream_usage = request.stream_usage;
    outcome.prompt = prompt;
}

/// The model's answer: tool calls, or `n` replies; reasoning tokens by effort.
fn answer(
    rng: &mut ChaCha8Rng,
    app: &App,
    encoding: Encoding,
    request: &Request,
    language: Option<usize>,
) -> Answer {
    let answering_tools = request.new_messages.first().is_some_and(|m| m["role"] == "tool");
    let mut choices: Vec<Choice> = Vec::with_capacity(request.n);
    let calls_tool = request.offer_tools && !answering_tools && (request.forced || rng.random_bool(0.6));
    if calls_tool {
        let mut calls = vec![chat::tool_call(rng, app.style, false)];
        if !request.forced && rng.random_bool(0.2) {
            calls.push(chat::tool_call(rng, app.style, true));
        }
        choices.push(Choice {
            content: None,
            tool_calls: calls,
            finish: "tool_calls",
        });
    } else {
        for _ in 0..request.n {
            choices.push(Choice {
                content: Some(text::reply(rng, app.style, language)),
                tool_calls: Vec::new(),
                finish: "stop",
            });
        }
    }
    let visible = choices.iter().map(|c| tokens_of(encoding, c)).collect();
    let mut reasoning_tokens = 0;
    if request.reasoning {
        let effort = request.body["reasoning_effort"].as_str().unwrap_or("medium");
        let (lo, hi) = match effort {
            "low" => (1, 8),
            "high" => (16, 96),
            _ => (3, 32),
        };
        reasoning_tokens = 64 * rng.random_range(lo..=hi);
    }
    Answer {
        choices,
        visible,
        reasoning_tokens,
        calls_tool,
    }
}

/// The `max_tokens` an app that sets one sends: above the longest answer, or
/// (some apps, some calls) below it, which cuts the answer there.
fn apply_limit(
    rng: &mut ChaCha8Rng,
    app: &App,
    encoding: Encoding,
    request: &Request,
    answer: &mut Answer,
    outcome: &mut Outcome,
) -> i64 {
    let longest = answer.visible.iter().copied().max().unwrap_or(0) + answer.reasoning_tokens;
    let cut = !request.reasoning && !answer.calls_tool && rng.random_bool(app.length_cut);
    let below = LIMITS.iter().copied().filter(|l| *l < longest).max();
    match below {
        Some(limit) if cut => {
            for (choice, tokens) in answer.choices.iter_mut().zip(answer.visible.iter_mut()) {
                if *tokens > limit {
                    truncate(encoding, choice, limit);
                    *tokens = tokens_of(encoding, choice);
                    outcome.length = true;
                }
            }
            limit
        }
        _ => LIMITS.iter().copied().find(|l| *l >= longest).unwrap_or(longest),
    }
}

/// A stream the capture saw end early.
struct CutStream<'a> {
    encoding: Encoding,
    events: &'a [sse::Event],
    choices: usize,
    latency_ms: i64,
}

impl CutStream<'_> {
    /// The call as recorded (`complete: false`); the app sends it again.
    fn exchange(
        &self,
        rng: &mut ChaCha8Rng,
        request: Request,
        conversation: &mut Conversation,
        outcome: &mut Outcome,
    ) -> Exchange {
        let (text, whole) = sse::cut(rng, self.events);
        outcome.truncated = true;
        outcome.completion = sse::delivered(&self.events[..whole], self.choices)
            .iter()
            .map(|(content, calls)| {
                let calls: Vec<(&str, &str)> = calls.iter().map(|(n, a)| (n.as_str(), a.as_str())).collect();
                chat::choice_tokens(self.encoding, Some(content), &calls)
            })
            .sum();
        let latency_ms = self.latency_ms * i64::try_from(whole).unwrap_or(1)
            / i64::try_from(self.events.len()).unwrap_or(1);
        conversation.retry = Some(request.new_messages);
        Exchange {
            request: request.body,
            response: json!({"status": 200, "body": null, "sse": text, "complete": false}),
            latency_ms,
        }
    }
}

/// The request an app builds for a turn, and the choices it made that shape
/// the answer.
struct Request {
    body: Value,
    /// The messages new in this turn (the history is what came before).
    new_messages: Vec<Value>,
    /// Choices asked for (`n`).
    n: usize,
    reasoning: bool,
    streamed: bool,
    stream_usage: bool,
    offer_tools: bool,
    /// Extraction: a tool or JSON output is required.
    forced: bool,
    /// Whether the app sets `max_tokens` (or `max_completion_tokens`).
    limited: bool,
}

/// What the model answered, before it is rendered.
struct Answer {
    choices: Vec<Choice>,
    /// Visible tokens of each choice.
    visible: Vec<i64>,
    reasoning_tokens: i64,
    calls_tool: bool,
}

impl Generator {
    /// A chat completions call of the session's next turn. Each step draws from
    /// `rng` in a fixed order: the sample month depends on it.
    pub(super) fn chat(
        &mut self,
        rng: &mut ChaCha8Rng,
        call: &Call<'_>,
        conversation: &mut Conversation,
        outcome: &mut Outcome,
    ) -> Exchange {
        let new_messages = conversation.next_messages(rng, call.app, call.dep);
        let mut request = self.request(rng, call, conversation, new_messages);
        if let Some(failed) = self.failure(rng, call, "ChatCompletions_Create", outcome) {
            conversation.retry = (outcome.status == 429).then_some(request.new_messages);
            return Exchange {
                request: request.body,
                response: failed.response,
                latency_ms: failed.latency_ms,
            };
        }
        let encoding = self.encodings[call.deployment];
        let prompt = estimate_chat_prompt(encoding, &request.body);
        let mut answer = answer(rng, call.app, encoding, &request, conversation.language);
        if request.limited {
            let limit = apply_limit(rng, call.app, encoding, &request, &mut answer, outcome);
            let key = if request.reasoning {
                "max_completion_tokens"
            } else {
                "max_tokens"
            };
            request.body[key] = json!(limit);
        }
        let completion = answer.visible.iter().sum::<i64>() + answer.reasoning_tokens;
        let stateful = matches!(call.app.flow, Flow::Chat { stateful: true });
        let cached = self.cached_tokens(rng, call, conversation, prompt, stateful);

        let id = format!("chatcmpl-{}", alnum(rng, 29));
        let meta = self.meta(call, &id);
        let usage = chat::usage(call.dep, prompt, cached, completion, answer.reasoning_tokens);
        answered(outcome, &request, &answer, prompt);
        let per_token = i64::from(call.dep.ms_per_token);
        let latency_ms =
            180 + prompt / 25 + (completion / request.n as i64) * per_token + rng.random_range(0..250);

        let response = if request.streamed {
            let events = sse::render(
                rng,
                &meta,
                &answer.choices,
                request.stream_usage.then_some(&usage),
            );
            if rng.random_bool(TRUNCATED) {
                let cut = CutStream {
                    encoding,
                    events: &events,
                    choices: answer.choices.len(),
                    latency_ms,
                };
                return cut.exchange(rng, request, conversation, outcome);
            }
            json!({"status": 200, "body": null, "sse": sse::join(&events), "complete": true})
        } else {
            response(
                call.app,
                200,
                chat::completion_body(&meta, &answer.choices, usage),
            )
        };

        if !request.streamed || request.stream_usage {
            outcome.cached = cached;
            outcome.reasoning = answer.reasoning_tokens;
            outcome.completion = completion;
        } else {
            // Nothing reported: a reader can only count the text it sees.
            outcome.completion = completion - answer.reasoning_tokens;
        }
        self.warm
            .insert((call.app_index, call.deployment), call.planned.time_ms);
        conversation.remember(call, prompt, request.new_messages, &answer.choices);
        Exchange {
            request: request.body,
            response,
            latency_ms,
        }
    }

    /// The answer's id, time, model and fingerprint (which changes mid-month,
    /// as AOAI's do on a model update).
    fn meta<'a>(&self, call: &Call<'a>, id: &'a str) -> Meta<'a> {
        Meta {
            id,
            created: call.planned.time_ms.div_euclid(1000),
            model: call.dep.model,
            fingerprint: call.dep.fingerprints[usize::from(self.month.day(call.planned.time_ms) >= 14)],
            async_filter: call.dep.async_filter,
        }
    }

    /// The request of this turn, as the app builds it.
    fn request(
        &self,
        rng: &mut ChaCha8Rng,
        call: &Call<'_>,
        conversation: &Conversation,
        new_messages: Vec<Value>,
    ) -> Request {
        let app = call.app;
        let reasoning = call.dep.kind == Kind::Reasoning;
        let texts = &self.texts[call.app_index];
        let mut messages = Vec::with_capacity(conversation.history.len() + 2);
        if let Some(system) = &texts.system {
            let role = if reasoning { "developer" } else { "system" };
            messages.push(json!({"role": role, "content": system}));
        }
        messages.extend(conversation.history.iter().cloned());
        messages.extend(new_messages.iter().cloned());

        let mut body = Map::new();
        body.insert("messages".into(), Value::Array(messages));
        if app.sends_model {
            body.insert("model".into(), json!(call.dep.name));
        }
        let n = if !reasoning && rng.random_bool(app.multi_choice) {
            rng.random_range(2..=3)
        } else {
            1
        };
        if n > 1 {
            body.insert("n".into(), json!(n));
        }
        if reasoning {
            body.insert(
                "reasoning_effort".into(),
                json!(pick(rng, &["low", "medium", "medium", "high"])),
            );
        } else if app.style != Style::Smoke {
            body.insert("temperature".into(), json!(pick_any(rng, &[0.0, 0.2, 0.7, 1.0])));
        }
        let streamed = rng.random_bool(app.stream);
        let stream_usage = streamed && call.api_version != "2024-02-01" && rng.random_bool(app.include_usage);
        if streamed {
            body.insert("stream".into(), json!(true));
        }
        if stream_usage {
            body.insert("stream_options".into(), json!({"include_usage": true}));
        }
        let forced = app.style == Style::Extraction;
        let offer_tools = n == 1 && texts.tools.is_some() && rng.random_bool(app.tools);
        if let (true, Some(tools)) = (offer_tools, &texts.tools) {
            body.insert("tools".into(), tools.clone());
            let choice = if forced {
                json!({"type": "function", "function": {"name": "record_invoice"}})
            } else {
                json!("auto")
            };
            body.insert("tool_choice".into(), choice);
        } else if forced {
            body.insert("response_format".into(), json!({"type": "json_object"}));
        }
        let limited = rng.random_bool(app.max_tokens);
        Request {
            body: Value::Object(body),
            new_messages,
            n,
            reasoning,
            streamed,
            stream_usage,
            offer_tools,
            forced,
            limited,
        }
    }

    /// Prompt tokens served from AOAI's prompt cache (prefixes of ≥ 1024 tokens, in
    /// steps of 128), when the same prefix was sent minutes ago.
    fn cached_tokens(
        &self,
        rng: &mut ChaCha8Rng,
        call: &Call<'_>,
        conversation: &Conversation,
        prompt: i64,
        stateful: bool,
    ) -> i64 {
        if !call.dep.caches_prompts || prompt < 1024 {
            return 0;
        }
        let now = call.planned.time_ms;
        let mut prefix = 0;
        if self
            .warm
            .get(&(call.app_index, call.deployment))
            .is_some_and(|t| now - t < CACHE_TTL_MS)
        {
            prefix = self.texts[call.app_index].system_tokens;
        }
        if stateful && conversation.prompt_tokens > 0 && now - conversation.last_ms < CACHE_TTL_MS {
            prefix = prefix.max(conversation.prompt_tokens - 3);
        }
        if prefix < 1024 || !rng.random_bool(0.9) {
            return 0;
        }
        prefix.min(prompt) / 128 * 128
    }
}

/// Apps send only the last few turns; a cut never orphans a tool result.
/// Returns whether anything was cut.
fn trim(history: &mut Vec<Value>) -> bool {
    const KEEP: usize = 6;
    let before = history.len();
    while history.len() > KEEP {
        // Drop whole turns: up to the next user message.
        let Some(next_user) = history.iter().skip(1).position(|m| m["role"] == "user") else {
            break;
        };
        history.drain(..=next_user);
    }
    history.len() < before
}

fn pick_deployment(rng: &mut ChaCha8Rng, app: &App) -> usize {
    let weights: Vec<u32> = app.deployments.iter().map(|(_, w)| *w).collect();
    let name = app.deployments[weighted(rng, &weights)].0;
    crate::deployments::index(name).unwrap_or(0)
}

fn tokens_of(encoding: Encoding, choice: &Choice) -> i64 {
    let calls: Vec<(&str, &str)> = choice
        .tool_calls
        .iter()
        .map(|t| (t.name, t.arguments.as_str()))
        .collect();
    chat::choice_tokens(encoding, choice.content.as_deref(), &calls)
}

/// Shortens a choice to at most `limit` tokens, cutting at a word.
fn truncate(encoding: Encoding, choice: &mut Choice, limit: i64) {
    let Some(content) = choice.content.take() else {
        return;
    };
    let (mut lo, mut hi) = (0, content.split_whitespace().count());
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if count_tokens(encoding, text::cut_words(&content, mid)) <= limit {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    choice.content = Some(text::cut_words(&content, lo).to_owned());
    choice.finish = "length";
}

fn user_message(rng: &mut ChaCha8Rng, app: &App, dep: &Deployment, user: usize) -> (Value, Option<usize>) {
    let (text, language) = text::user_message(rng, app.style);
    let mut message = json!({"role": "user", "content": text});
    if app.style == Style::Assistant {
        message["name"] = json!(
            crate::vocab::PEOPLE[user % crate::vocab::PEOPLE.len()]
                .1
                .replace('.', "_")
        );
        if rng.random_bool(0.25) {
            let mut parts = vec![json!({"type": "text", "text": text})];
            if dep.name != "gpt-35-turbo" && rng.random_bool(0.3) {
                let url = format!(
                    "https://contoso.sharepoint.com/sites/pmo/whiteboard-{}.png",
                    rng.random_range(1..500)
                );
                parts.push(json!({"type": "image_url", "image_url": {"url": url, "detail": "low"}}));
            }
            message["content"] = Value::Array(parts);
        }
    }
    (message, language)
}
