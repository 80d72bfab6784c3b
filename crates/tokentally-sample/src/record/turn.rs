//! One chat turn of a session: the request the app sends given what came before,
//! and the answer (text, tool calls, cut at `max_tokens`, reasoning, cached prefix).

use super::{Call, Generator, Outcome, response};
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
}

impl Generator {
    /// A chat completions call of the session's next turn.
    pub(super) fn chat(
        &mut self,
        rng: &mut ChaCha8Rng,
        call: &Call<'_>,
        conversation: &mut Conversation,
        outcome: &mut Outcome,
    ) -> (Value, Value, i64) {
        let app = call.app;
        let reasoning = call.dep.kind == Kind::Reasoning;
        let stateful = matches!(app.flow, Flow::Chat { stateful: true });
        let new_messages = if let Some(retry) = conversation.retry.take() {
            retry
        } else if !conversation.pending_tools.is_empty() {
            let calls = std::mem::take(&mut conversation.pending_tools);
            calls.iter().map(|c| chat::tool_result(rng, c)).collect()
        } else {
            let (message, language) = user_message(rng, app, call.dep, conversation.user);
            conversation.language = language;
            vec![message]
        };
        let answering_tools = new_messages.first().is_some_and(|m| m["role"] == "tool");
        let texts = &self.texts[call.app_index];
        let mut messages = Vec::with_capacity(conversation.history.len() + 2);
        if let Some(system) = &texts.system {
            let role = if reasoning { "developer" } else { "system" };
            messages.push(json!({"role": role, "content": system}));
        }
        messages.extend(conversation.history.iter().cloned());
        messages.extend(new_messages.iter().cloned());

        let mut request = Map::new();
        request.insert("messages".into(), Value::Array(messages));
        if app.sends_model {
            request.insert("model".into(), json!(call.dep.name));
        }
        let n = if !reasoning && rng.random_bool(app.multi_choice) {
            rng.random_range(2..=3)
        } else {
            1
        };
        if n > 1 {
            request.insert("n".into(), json!(n));
        }
        if reasoning {
            request.insert(
                "reasoning_effort".into(),
                json!(pick(rng, &["low", "medium", "medium", "high"])),
            );
        } else if app.style != Style::Smoke {
            request.insert("temperature".into(), json!(pick_any(rng, &[0.0, 0.2, 0.7, 1.0])));
        }
        let streamed = rng.random_bool(app.stream);
        let stream_usage = streamed && call.api_version != "2024-02-01" && rng.random_bool(app.include_usage);
        if streamed {
            request.insert("stream".into(), json!(true));
        }
        if stream_usage {
            request.insert("stream_options".into(), json!({"include_usage": true}));
        }
        let forced = app.style == Style::Extraction;
        let offer_tools = n == 1 && texts.tools.is_some() && rng.random_bool(app.tools);
        if let (true, Some(tools)) = (offer_tools, &texts.tools) {
            request.insert("tools".into(), tools.clone());
            let choice = if forced {
                json!({"type": "function", "function": {"name": "record_invoice"}})
            } else {
                json!("auto")
            };
            request.insert("tool_choice".into(), choice);
        } else if forced {
            request.insert("response_format".into(), json!({"type": "json_object"}));
        }
        let limit_key = if reasoning {
            "max_completion_tokens"
        } else {
            "max_tokens"
        };
        let limited = rng.random_bool(app.max_tokens);

        let mut request = Value::Object(request);
        if let Some((response, latency)) = self.failure(rng, call, "ChatCompletions_Create", outcome) {
            conversation.retry = (outcome.status == 429).then_some(new_messages);
            return (request, response, latency);
        }

        // The call goes through.
        let encoding = self.encodings[call.deployment];
        let prompt = estimate_chat_prompt(encoding, &request);
        let mut choices: Vec<Choice> = Vec::with_capacity(n);
        let calls_tool = offer_tools && !answering_tools && (forced || rng.random_bool(0.6));
        if calls_tool {
            let mut calls = vec![chat::tool_call(rng, app.style, false)];
            if !forced && rng.random_bool(0.2) {
                calls.push(chat::tool_call(rng, app.style, true));
            }
            choices.push(Choice {
                content: None,
                tool_calls: calls,
                finish: "tool_calls",
            });
        } else {
            for _ in 0..n {
                let content = text::reply(rng, app.style, conversation.language);
                choices.push(Choice {
                    content: Some(content),
                    tool_calls: Vec::new(),
                    finish: "stop",
                });
            }
        }
        let mut visible: Vec<i64> = choices.iter().map(|c| tokens_of(encoding, c)).collect();
        let mut reasoning_tokens = 0;
        if reasoning {
            let effort = request["reasoning_effort"].as_str().unwrap_or("medium");
            let (lo, hi) = match effort {
                "low" => (1, 8),
                "high" => (16, 96),
                _ => (3, 32),
            };
            reasoning_tokens = 64 * rng.random_range(lo..=hi);
        }
        if limited {
            let longest = visible.iter().copied().max().unwrap_or(0) + reasoning_tokens;
            let cut = !reasoning && !calls_tool && rng.random_bool(app.length_cut);
            let below = LIMITS.iter().copied().filter(|l| *l < longest).max();
            let limit = match below {
                Some(limit) if cut => {
                    for (choice, tokens) in choices.iter_mut().zip(visible.iter_mut()) {
                        if *tokens > limit {
                            truncate(encoding, choice, limit);
                            *tokens = tokens_of(encoding, choice);
                            outcome.length = true;
                        }
                    }
                    limit
                }
                _ => LIMITS.iter().copied().find(|l| *l >= longest).unwrap_or(longest),
            };
            request[limit_key] = json!(limit);
        }
        let completion = visible.iter().sum::<i64>() + reasoning_tokens;
        let cached = self.cached_tokens(rng, call, conversation, prompt, stateful);

        let id = format!("chatcmpl-{}", alnum(rng, 29));
        let fingerprint = call.dep.fingerprints[usize::from(self.month.day(call.planned.time_ms) >= 14)];
        let meta = Meta {
            id: &id,
            created: call.planned.time_ms.div_euclid(1000),
            model: call.dep.model,
            fingerprint,
            async_filter: call.dep.async_filter,
        };
        let usage = chat::usage(call.dep, prompt, cached, completion, reasoning_tokens);
        outcome.status = 200;
        outcome.choices = choices.len();
        outcome.tool_calls = calls_tool;
        outcome.streamed = streamed;
        outcome.stream_usage = stream_usage;
        outcome.prompt = prompt;
        let per_token = i64::from(call.dep.ms_per_token);
        let mut latency = 180 + prompt / 25 + (completion / n as i64) * per_token + rng.random_range(0..250);

        let response = if streamed {
            let events = sse::render(rng, &meta, &choices, stream_usage.then_some(&usage));
            if rng.random_bool(TRUNCATED) {
                let (text, whole) = sse::cut(rng, &events);
                outcome.truncated = true;
                outcome.completion = sse::delivered(&events[..whole], choices.len())
                    .iter()
                    .map(|(content, calls)| {
                        let calls: Vec<(&str, &str)> =
                            calls.iter().map(|(n, a)| (n.as_str(), a.as_str())).collect();
                        chat::choice_tokens(encoding, Some(content), &calls)
                    })
                    .sum();
                latency =
                    latency * i64::try_from(whole).unwrap_or(1) / i64::try_from(events.len()).unwrap_or(1);
                conversation.retry = Some(new_messages);
                return (
                    request,
                    json!({"status": 200, "body": null, "sse": text, "complete": false}),
                    latency,
                );
            }
            json!({"status": 200, "body": null, "sse": sse::join(&events), "complete": true})
        } else {
            response(app, 200, chat::completion_body(&meta, &choices, usage))
        };

        if !streamed || stream_usage {
            outcome.cached = cached;
            outcome.reasoning = reasoning_tokens;
            outcome.completion = completion;
        } else {
            // Nothing reported: a reader can only count the text it sees.
            outcome.completion = completion - reasoning_tokens;
        }
        self.warm
            .insert((call.app_index, call.deployment), call.planned.time_ms);
        conversation.prompt_tokens = prompt;
        conversation.last_ms = call.planned.time_ms;
        if stateful {
            conversation.history.extend(new_messages);
            let first = &choices[0];
            if first.tool_calls.is_empty() {
                conversation
                    .history
                    .push(json!({"role": "assistant", "content": first.content}));
            } else {
                conversation
                    .history
                    .push(json!({"role": "assistant", "content": null,
                    "tool_calls": chat::tool_calls_json(&first.tool_calls)}));
                conversation.pending_tools = first.tool_calls.clone();
            }
            if trim(&mut conversation.history) {
                // The next prompt no longer starts with this one.
                conversation.prompt_tokens = 0;
            }
        }
        (request, response, latency)
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
