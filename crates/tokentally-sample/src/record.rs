//! One gateway record per planned call: caller, request, response, timings.
//!
//! Calls arrive in time order; open sessions keep their conversation so that
//! multi-turn history, tool round trips, retries after 429 and prompt-cache hits
//! follow from what happened before, as they do in production.

use crate::apps::{APPS, App, Flow};
use crate::chat;
use crate::deployments::{DEPLOYMENTS, Deployment, Kind};
use crate::identity::Identities;
use crate::ids::uuid;
use crate::schedule::{Month, Planned};
use crate::text::{self, pick, pick_any};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, SecondsFormat};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::io;
use tokentally_core::{Encoding, lookup_model};
use tokentally_parse::{count_tokens, estimate_text_input};
use turn::Conversation;

pub(crate) mod multimodal;
mod turn;

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
    /// The request carried a predicted output.
    pub predicted: bool,
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
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("model not in catalog: {}", d.model),
                    )
                })
            })
            .collect::<io::Result<Vec<_>>>()?;
        let texts = APPS
            .iter()
            .map(|a| {
                let system =
                    (a.system_tokens > 0).then(|| text::system_prompt(a.name, a.style, a.system_tokens));
                let system_tokens = system
                    .as_deref()
                    .map_or(0, |s| 4 + count_tokens(Encoding::O200kBase, s));
                AppText {
                    system,
                    system_tokens,
                    tools: chat::tool_definitions(a.style),
                }
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
    pub(crate) fn call(
        &mut self,
        rng: &mut ChaCha8Rng,
        planned: &Planned,
        app_index: usize,
    ) -> (Value, Outcome) {
        let app = &APPS[app_index];
        let mut conversation = self
            .sessions
            .remove(&planned.session)
            .unwrap_or_else(|| Conversation::new(rng, app));
        let embed = match app.flow {
            Flow::Embed => true,
            Flow::Rag => planned.turn.is_multiple_of(2),
            Flow::Chat { .. } => false,
        };
        let deployment = if embed {
            crate::deployments::index("text-embedding-3-small").unwrap_or(0)
        } else {
            conversation.deployment
        };
        let dep = &DEPLOYMENTS[deployment];
        let now_s = planned.time_ms.div_euclid(1000);
        let caller = self
            .identities
            .caller(rng, app_index, app, conversation.user, now_s);
        let api_version = pick(rng, app.api_versions);
        let &(region, backend) = pick_any(rng, dep.backends);
        let mut outcome = Outcome {
            app: app_index,
            deployment,
            choices: 1,
            ..Outcome::default()
        };
        let call = Call {
            app,
            app_index,
            dep,
            deployment,
            api_version,
            planned,
        };
        let exchange = if embed {
            self.embeddings(rng, &call, &mut outcome)
        } else {
            self.chat(rng, &call, &mut conversation, &mut outcome)
        };

        let mut record = Map::new();
        record.insert("schema".into(), json!(1));
        record.insert("request_id".into(), Value::String(uuid(rng)));
        let time = DateTime::from_timestamp_millis(planned.time_ms).unwrap_or_default();
        record.insert(
            "request_time".into(),
            json!(time.to_rfc3339_opts(SecondsFormat::Millis, true)),
        );
        if let Some(caller) = caller {
            record.insert("caller".into(), caller);
        }
        record.insert("deployment".into(), json!(dep.name));
        record.insert("api_version".into(), json!(api_version));
        let operation = if embed { "embeddings" } else { "chat/completions" };
        if app.logs_path {
            record.insert(
                "operation".into(),
                json!(format!("/openai/deployments/{}/{operation}", dep.name)),
            );
        } else if !app.omits_operation || embed {
            record.insert("operation".into(), json!(operation));
        }
        record.insert("request".into(), exchange.request);
        record.insert("response".into(), exchange.response);
        record.insert("region".into(), json!(region));
        record.insert("backend".into(), json!(backend));
        record.insert("latency_ms".into(), json!(exchange.latency_ms));

        if !planned.last {
            self.sessions.insert(planned.session, conversation);
        }
        (Value::Object(record), outcome)
    }

    fn embeddings(&mut self, rng: &mut ChaCha8Rng, call: &Call<'_>, outcome: &mut Outcome) -> Exchange {
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
        if let Some(failed) = self.failure(rng, call, "Embeddings_Create", outcome) {
            return Exchange {
                request,
                response: failed.response,
                latency_ms: failed.latency_ms,
            };
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
        Exchange {
            request,
            response: response(call.app, 200, body),
            latency_ms: 40 + tokens / 40 + rng.random_range(0..60),
        }
    }

    /// A 429 or a prompt refused by the content filter, or `None` when the call goes through.
    fn failure(
        &self,
        rng: &mut ChaCha8Rng,
        call: &Call<'_>,
        operation: &str,
        outcome: &mut Outcome,
    ) -> Option<Failed> {
        let peak = self.month.is_peak(call.planned.time_ms);
        let throttle = call.dep.throttle * if peak { 1.6 } else { 0.3 };
        if rng.random_bool(throttle) {
            outcome.status = 429;
            let limit = if call.dep.kind == Kind::Embeddings {
                "call"
            } else {
                "token"
            };
            let message = format!(
                "Requests to the {operation} Operation under Azure OpenAI API version {} have exceeded {limit} rate \
                 limit of your current OpenAI S0 pricing tier. Please retry after {} seconds. Please go here: \
                 https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit.",
                call.api_version,
                rng.random_range(1..60)
            );
            let body = json!({"error": {"code": "429", "message": message}});
            return Some(Failed {
                response: response(call.app, 429, body),
                latency_ms: rng.random_range(12..120),
            });
        }
        if call.app.filtered > 0.0 && rng.random_bool(call.app.filtered) {
            outcome.status = 400;
            let body = content_filter_error(rng);
            return Some(Failed {
                response: response(call.app, 400, body),
                latency_ms: rng.random_range(120..700),
            });
        }
        None
    }
}

/// One call as the gateway records it.
struct Exchange {
    request: Value,
    response: Value,
    latency_ms: i64,
}

/// A call that failed (throttled or filtered): its response and latency.
struct Failed {
    response: Value,
    latency_ms: i64,
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
