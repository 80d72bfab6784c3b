//! One gateway record per planned call: caller, request, response, timings.
//!
//! Calls arrive in time order; open sessions keep their conversation so that
//! multi-turn history, tool round trips, retries after 429 and prompt-cache hits
//! follow from what happened before, as they do in production.

use crate::apps::{APPS, App, Flow};
use crate::chat;
use crate::deployments::{DEPLOYMENTS, Deployment, Kind};
use crate::identity::{Identities, user_count};
use crate::ids::{alnum, uuid};
use crate::schedule::{Month, Planned, weighted};
use crate::sse::{self, Choice, Meta, ToolCall};
use crate::text::{self, Style, pick, pick_any};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, SecondsFormat};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::io;
use tokentally_core::{Encoding, lookup_model};
use tokentally_parse::{count_tokens, estimate_chat_prompt, estimate_text_input};

/// AOAI keeps a cached prompt prefix for a few minutes of inactivity.
const CACHE_TTL_MS: i64 = 8 * 60 * 1000;
/// Share of streams the capture sees end early.
const TRUNCATED: f64 = 0.012;
/// `max_tokens` values apps use.
const LIMITS: &[i64] = &[32, 64, 100, 128, 150, 200, 256, 300, 500, 800, 1000, 1500, 2000, 4096, 8192, 16384];

/// What one call amounted to, for [`crate::SampleStats`].
#[derive(Debug, Default, Clone)]
pub(crate) struct Outcome {
    pub app: usize,
    pub deployment: usize,
    pub status: u16,
    pub streamed: bool,
    pub stream_usage: bool,
    pub truncated: bool,
    pub tool_calls: bool,
    pub choices: usize,
    pub length: bool,
    /// Tokens a correct reader derives: reported where reported, else estimated.
    pub prompt: i64,
    pub cached: i64,
    pub completion: i64,
    pub reasoning: i64,
}

#[derive(Debug)]
struct Conversation {
    deployment: usize,
    user: usize,
    history: Vec<Value>,
    /// Messages of a failed call, sent again.
    retry: Option<Vec<Value>>,
    /// Tool calls the app answers on its next call.
    pending_tools: Vec<ToolCall>,
    prompt_tokens: i64,
    last_ms: i64,
}

#[derive(Debug)]
struct AppText {
    system: Option<String>,
    /// Tokens of the system message, the prefix every call of the app shares.
    system_tokens: i64,
    tools: Option<Value>,
}

#[derive(Debug)]
pub(crate) struct Generator {
    month: Month,
    texts: Vec<AppText>,
    encodings: Vec<Encoding>,
    identities: Identities,
    sessions: HashMap<u32, Conversation>,
    /// Last successful call per (app, deployment): a warm prompt cache.
    warm: HashMap<(usize, usize), i64>,
}

impl Generator {
    pub(crate) fn new(month: Month) -> io::Result<Self> {
        let encodings = DEPLOYMENTS
            .iter()
            .map(|d| {
                lookup_model(d.model).map(|m| m.encoding).ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidData, format!("model not in catalog: {}", d.model))
                })
            })
            .collect::<io::Result<Vec<_>>>()?;
        let texts = APPS
            .iter()
            .map(|a| {
                let system = (a.system_tokens > 0).then(|| text::system_prompt(a.name, a.style, a.system_tokens));
                let system_tokens = system.as_deref().map_or(0, |s| 4 + count_tokens(Encoding::O200kBase, s));
                AppText { system, system_tokens, tools: chat::tool_definitions(a.style) }
            })
            .collect();
        Ok(Self {
            month,
            texts,
            encodings,
            identities: Identities::default(),
            sessions: HashMap::new(),
            warm: HashMap::new(),
        })
    }

    /// The record of one call and what it amounted to.
    pub(crate) fn call(&mut self, rng: &mut ChaCha8Rng, planned: &Planned, app_index: usize) -> (Value, Outcome) {
        let app = &APPS[app_index];
        let mut conversation = self.sessions.remove(&planned.session).unwrap_or_else(|| Conversation {
            deployment: pick_deployment(rng, app),
            user: rng.random_range(0..user_count()),
            history: Vec::new(),
            retry: None,
            pending_tools: Vec::new(),
            prompt_tokens: 0,
            last_ms: 0,
        });
        let embed = match app.flow {
            Flow::Embed => true,
            Flow::Rag => planned.turn % 2 == 0,
            Flow::Chat { .. } => false,
        };
        let deployment = if embed {
            crate::deployments::index("text-embedding-3-small").unwrap_or(0)
        } else {
            conversation.deployment
        };
        let dep = &DEPLOYMENTS[deployment];
        let now_s = planned.time_ms.div_euclid(1000);
        let caller = self.identities.caller(rng, app_index, app, conversation.user, now_s);
        let api_version = pick(rng, app.api_versions);
        let &(region, backend) = pick_any(rng, dep.backends);
        let mut outcome = Outcome { app: app_index, deployment, choices: 1, ..Outcome::default() };
        let call = Call { app, app_index, dep, deployment, api_version, planned };
        let (request, response, latency) = if embed {
            self.embeddings(rng, &call, &mut outcome)
        } else {
            self.chat(rng, &call, &mut conversation, &mut outcome)
        };

        let mut record = Map::new();
        record.insert("schema".into(), json!(1));
        record.insert("request_id".into(), Value::String(uuid(rng)));
        let time = DateTime::from_timestamp_millis(planned.time_ms).unwrap_or_default();
        record.insert("request_time".into(), json!(time.to_rfc3339_opts(SecondsFormat::Millis, true)));
        if let Some(caller) = caller {
            record.insert("caller".into(), caller);
        }
        record.insert("deployment".into(), json!(dep.name));
        record.insert("api_version".into(), json!(api_version));
        let operation = if embed { "embeddings" } else { "chat/completions" };
        if app.logs_path {
            record.insert("operation".into(), json!(format!("/openai/deployments/{}/{operation}", dep.name)));
        } else if !app.omits_operation || embed {
            record.insert("operation".into(), json!(operation));
        }
        record.insert("request".into(), request);
        record.insert("response".into(), response);
        record.insert("region".into(), json!(region));
        record.insert("backend".into(), json!(backend));
        record.insert("latency_ms".into(), json!(latency));

        if !planned.last {
            self.sessions.insert(planned.session, conversation);
        }
        (Value::Object(record), outcome)
    }

    fn embeddings(&mut self, rng: &mut ChaCha8Rng, call: &Call<'_>, outcome: &mut Outcome) -> (Value, Value, i64) {
        let query = call.app.flow == Flow::Rag;
        let inputs: Vec<String> = (0..if query { 1 } else { rng.random_range(1..=4) })
            .map(|_| text::embedding_input(rng, query))
            .collect();
        let input = if inputs.len() == 1 && rng.random_bool(0.5) {
            json!(inputs[0])
        } else {
            json!(inputs)
        };
        let dimensions = 256;
        let request = json!({"input": input, "encoding_format": "base64", "dimensions": dimensions});
        if let Some((response, latency)) = self.failure(rng, call, "Embeddings_Create", outcome) {
            return (request, response, latency);
        }
        let encoding = self.encodings[call.deployment];
        let tokens = estimate_text_input(encoding, &request["input"]);
        let data: Vec<Value> = (0..inputs.len())
            .map(|index| json!({"embedding": vector(rng, dimensions), "index": index, "object": "embedding"}))
            .collect();
        let body = json!({
            "data": data, "model": call.dep.model, "object": "list",
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        });
        outcome.status = 200;
        outcome.prompt = tokens;
        let latency = 40 + tokens / 40 + rng.random_range(0..60);
        (request, response(call.app, 200, body), latency)
    }

    /// A 429 or a prompt refused by the content filter, or `None` when the call goes through.
    fn failure(
        &self,
        rng: &mut ChaCha8Rng,
        call: &Call<'_>,
        operation: &str,
        outcome: &mut Outcome,
    ) -> Option<(Value, i64)> {
        let peak = self.month.is_peak(call.planned.time_ms);
        let throttle = call.dep.throttle * if peak { 1.6 } else { 0.3 };
        if rng.random_bool(throttle) {
            outcome.status = 429;
            let limit = if call.dep.kind == Kind::Embeddings { "call" } else { "token" };
            let message = format!(
                "Requests to the {operation} Operation under Azure OpenAI API version {} have exceeded {limit} rate \
                 limit of your current OpenAI S0 pricing tier. Please retry after {} seconds. Please go here: \
                 https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit.",
                call.api_version,
                rng.random_range(1..60)
            );
            let body = json!({"error": {"code": "429", "message": message}});
            return Some((response(call.app, 429, body), rng.random_range(12..120)));
        }
        if call.app.filtered > 0.0 && rng.random_bool(call.app.filtered) {
            outcome.status = 400;
            let body = content_filter_error(rng);
            return Some((response(call.app, 400, body), rng.random_range(120..700)));
        }
        None
    }

    fn chat(
        &mut self,
        rng: &mut ChaCha8Rng,
        call: &Call<'_>,
        conversation: &mut Conversation,
        outcome: &mut Outcome,
    ) -> (Value, Value, i64) {
        let app = call.app;
        let reasoning = call.dep.kind == Kind::Reasoning;
        let stateful = matches!(app.flow, Flow::Chat { stateful: true });
        let mut foreign = false;
        let answering_tools = !conversation.pending_tools.is_empty();
        let new_messages = if let Some(retry) = conversation.retry.take() {
            retry
        } else if answering_tools {
            let calls = std::mem::take(&mut conversation.pending_tools);
            calls.iter().map(|c| chat::tool_result(rng, c)).collect()
        } else {
            let (message, is_foreign) = user_message(rng, app, call.dep, conversation.user);
            foreign = is_foreign;
            vec![message]
        };
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
        let n = if !reasoning && rng.random_bool(app.multi_choice) { rng.random_range(2..=4) } else { 1 };
        if n > 1 {
            request.insert("n".into(), json!(n));
        }
        if reasoning {
            request.insert("reasoning_effort".into(), json!(pick(rng, &["low", "medium", "medium", "high"])));
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
        let limit_key = if reasoning { "max_completion_tokens" } else { "max_tokens" };
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
            choices.push(Choice { content: None, tool_calls: calls, finish: "tool_calls" });
        } else {
            for _ in 0..n {
                let content = text::reply(rng, app.style, foreign);
                choices.push(Choice { content: Some(content), tool_calls: Vec::new(), finish: "stop" });
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
        let meta = Meta { id: &id, created: call.planned.time_ms.div_euclid(1000), model: call.dep.model, fingerprint };
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
                    .map(|(content, args)| {
                        let args: Vec<&str> = args.iter().map(String::as_str).collect();
                        chat::choice_tokens(encoding, Some(content), &args)
                    })
                    .sum();
                latency = latency * i64::try_from(whole).unwrap_or(1) / i64::try_from(events.len()).unwrap_or(1);
                conversation.retry = Some(new_messages);
                return (request, json!({"status": 200, "body": null, "sse": text, "complete": false}), latency);
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
        self.warm.insert((call.app_index, call.deployment), call.planned.time_ms);
        conversation.prompt_tokens = prompt;
        conversation.last_ms = call.planned.time_ms;
        if stateful {
            conversation.history.extend(new_messages);
            let first = &choices[0];
            if first.tool_calls.is_empty() {
                conversation.history.push(json!({"role": "assistant", "content": first.content}));
            } else {
                conversation.history.push(json!({"role": "assistant", "content": null,
                    "tool_calls": chat::tool_calls_json(&first.tool_calls)}));
                conversation.pending_tools = first.tool_calls.clone();
            }
            trim(&mut conversation.history);
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
        if self.warm.get(&(call.app_index, call.deployment)).is_some_and(|t| now - t < CACHE_TTL_MS) {
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

/// What every part of one call's generation needs to know.
struct Call<'a> {
    app: &'a App,
    app_index: usize,
    dep: &'a Deployment,
    deployment: usize,
    api_version: &'a str,
    planned: &'a Planned,
}

/// Apps send only the last few turns; a cut never orphans a tool result.
fn trim(history: &mut Vec<Value>) {
    const KEEP: usize = 8;
    while history.len() > KEEP {
        let next_user = history.iter().skip(1).position(|m| m["role"] == "user");
        match next_user {
            Some(i) => {
                history.drain(..=i);
            }
            None => break,
        }
    }
}

fn pick_deployment(rng: &mut ChaCha8Rng, app: &App) -> usize {
    let weights: Vec<u32> = app.deployments.iter().map(|(_, w)| *w).collect();
    let name = app.deployments[weighted(rng, &weights)].0;
    crate::deployments::index(name).unwrap_or(0)
}

fn tokens_of(encoding: Encoding, choice: &Choice) -> i64 {
    let args: Vec<&str> = choice.tool_calls.iter().map(|t| t.arguments.as_str()).collect();
    chat::choice_tokens(encoding, choice.content.as_deref(), &args)
}

/// Shortens a choice to at most `limit` tokens, cutting at a word.
fn truncate(encoding: Encoding, choice: &mut Choice, limit: i64) {
    let Some(content) = choice.content.take() else { return };
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

fn user_message(rng: &mut ChaCha8Rng, app: &App, dep: &Deployment, user: usize) -> (Value, bool) {
    let (text, foreign) = text::user_message(rng, app.style);
    let mut message = json!({"role": "user", "content": text});
    if app.style == Style::Assistant {
        message["name"] = json!(crate::vocab::PEOPLE[user % crate::vocab::PEOPLE.len()].1.replace('.', "_"));
        if rng.random_bool(0.25) {
            let mut parts = vec![json!({"type": "text", "text": text})];
            if dep.name != "gpt-35-turbo" && rng.random_bool(0.3) {
                let url = format!("https://contoso.sharepoint.com/sites/pmo/whiteboard-{}.png", rng.random_range(1..500));
                parts.push(json!({"type": "image_url", "image_url": {"url": url, "detail": "low"}}));
            }
            message["content"] = Value::Array(parts);
        }
    }
    (message, foreign)
}

/// `response` of a non-streamed call. The APIM policy (apps whose claims it logs)
/// writes the body as a string, as `context.Response.Body.As<string>()` gives it.
fn response(app: &App, status: u16, body: Value) -> Value {
    let body = match app.auth {
        crate::apps::Auth::ClaimsV1 | crate::apps::Auth::ClaimsV2 => Value::String(body.to_string()),
        _ => body,
    };
    json!({"status": status, "body": body, "complete": true})
}

fn content_filter_error(rng: &mut ChaCha8Rng) -> Value {
    let safe = json!({"filtered": false, "severity": "safe"});
    let mut result = json!({
        "hate": safe, "jailbreak": {"filtered": false, "detected": false}, "self_harm": safe,
        "sexual": safe, "violence": safe,
    });
    match rng.random_range(0..3) {
        0 => result["jailbreak"] = json!({"filtered": true, "detected": true}),
        1 => result["violence"] = json!({"filtered": true, "severity": "medium"}),
        _ => result["hate"] = json!({"filtered": true, "severity": "medium"}),
    }
    json!({"error": {
        "code": "content_filter",
        "message": "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. \
                    Please modify your prompt and retry. To learn more about our content filtering policies please read \
                    our documentation: https://go.microsoft.com/fwlink/?linkid=2198766",
        "param": "prompt",
        "status": 400,
        "innererror": {"code": "ResponsibleAIPolicyViolation", "content_filter_result": result},
    }})
}

/// A base64 embedding vector, as the SDKs request them by default.
fn vector(rng: &mut ChaCha8Rng, dimensions: usize) -> String {
    let mut bytes = Vec::with_capacity(dimensions * 4);
    for _ in 0..dimensions {
        let x = (rng.random::<f32>() - 0.5) * 0.12;
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    STANDARD.encode(bytes)
}
