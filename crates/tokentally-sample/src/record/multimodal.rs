//! The few calls of the sample that bill more than text: a voice assistant's
//! audio chat (audio prompt and completion tokens), a code rewrite with a
//! predicted output (accepted and rejected prediction tokens) and image
//! generations (gpt-image-1, image output tokens). One in [`EVERY`] calls.
//!
//! They draw from an RNG of their own and a separate identity cache, and take the
//! place of the plan's last calls: every other call of a sample is byte for byte
//! what it was before they existed.

use super::{Outcome, response};
use crate::apps::{APPS, App};
use crate::deployments::{DEPLOYMENTS, index};
use crate::identity::Identities;
use crate::ids::uuid;
use crate::schedule::Month;
use crate::text::{self, Style, pick};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, SecondsFormat};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use tokentally_core::{Encoding, lookup_model};
use tokentally_parse::{count_tokens, estimate_chat_prompt, estimate_text_input};

/// One multimodal call per this many calls of a sample.
pub(crate) const EVERY: usize = 400;

/// Mixed into the sample's seed for the multimodal calls' own RNG.
const SALT: u64 = 0x6d75_6c74_696d_6f64;

/// A multimodal call, to be written in time order among the others.
#[derive(Debug)]
pub(crate) struct Extra {
    pub time_ms: i64,
    pub record: Value,
    pub outcome: Outcome,
}

/// `count` calls spread over `month`, audio, predicted output and image in turn,
/// sorted by time.
pub(crate) fn calls(seed: u64, month: &Month, count: usize) -> Vec<Extra> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ SALT);
    let mut identities = Identities::default();
    let mut extras: Vec<Extra> = (0..count)
        .map(|i| {
            let time_ms = rng.random_range(month.start_ms..month.end_ms());
            let (app_name, deployment) = match i % 3 {
                0 => ("support-copilot", "gpt-4o-audio"),
                1 => ("code-reviewer", "gpt-4o"),
                _ => ("marketing-writer", "gpt-image-1"),
            };
            let app_index = APPS.iter().position(|a| a.name == app_name).unwrap_or(0);
            let call = Call {
                app: &APPS[app_index],
                app_index,
                deployment: index(deployment).unwrap_or(0),
                time_ms,
            };
            let (operation, request, body, mut outcome) = match i % 3 {
                0 => audio(&mut rng, &call),
                1 => prediction(&mut rng, &call),
                _ => image(&mut rng, &call),
            };
            outcome.app = app_index;
            outcome.deployment = call.deployment;
            outcome.status = 200;
            outcome.choices = 1;
            let record = record(&mut rng, &mut identities, &call, operation, request, body);
            Extra {
                time_ms,
                record,
                outcome,
            }
        })
        .collect();
    extras.sort_by_key(|e| e.time_ms);
    extras
}

struct Call<'a> {
    app: &'a App,
    app_index: usize,
    deployment: usize,
    time_ms: i64,
}

impl Call<'_> {
    fn encoding(&self) -> Encoding {
        lookup_model(DEPLOYMENTS[self.deployment].model).map_or(Encoding::O200kBase, |m| m.encoding)
    }

    fn model(&self) -> &'static str {
        DEPLOYMENTS[self.deployment].model
    }
}

/// A little base64 in place of the audio or image bytes (the real ones are
/// kilobytes to megabytes and say nothing about billing).
fn payload(rng: &mut ChaCha8Rng) -> String {
    let mut bytes = [0u8; 48];
    rng.fill_bytes(&mut bytes);
    STANDARD.encode(bytes)
}

/// A chat completion body of `model` with one message and `usage`.
fn chat_body(rng: &mut ChaCha8Rng, call: &Call<'_>, message: Value, usage: Value) -> Value {
    json!({
        "id": format!("chatcmpl-{}", &uuid(rng)[..8]), "object": "chat.completion",
        "created": call.time_ms / 1000, "model": call.model(),
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": null, "message": message}],
        "usage": usage,
    })
}

/// A spoken question and a spoken answer: the audio tokens are on top of the
/// text of the request (an `input_audio` part counts no text tokens).
fn audio(rng: &mut ChaCha8Rng, call: &Call<'_>) -> (&'static str, Value, Value, Outcome) {
    let (question, _) = text::user_message(rng, Style::Support);
    let request = json!({
        "modalities": ["text", "audio"], "audio": {"voice": "alloy", "format": "wav"},
        "messages": [
            {"role": "system", "content": "You are the HR voice assistant. Answer briefly."},
            {"role": "user", "content": [
                {"type": "text", "text": question},
                {"type": "input_audio", "input_audio": {"data": payload(rng), "format": "wav"}},
            ]},
        ],
    });
    let audio_in = rng.random_range(150..1200);
    let prompt = estimate_chat_prompt(call.encoding(), &request) + audio_in;
    let transcript = text::reply(rng, Style::Support, None);
    // About 7 audio tokens per transcript token: speech takes longer than text.
    let audio_out = 7 * count_tokens(call.encoding(), &transcript).max(1);
    let message = json!({"role": "assistant", "content": null, "refusal": null,
        "audio": {"id": format!("audio_{}", &uuid(rng)[..8]), "data": payload(rng),
            "expires_at": call.time_ms / 1000 + 3600, "transcript": transcript}});
    let usage = json!({
        "prompt_tokens": prompt, "completion_tokens": audio_out, "total_tokens": prompt + audio_out,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": audio_in},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": audio_out,
            "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
    });
    let outcome = Outcome {
        prompt,
        completion: audio_out,
        ..Outcome::default()
    };
    (
        "chat/completions",
        request,
        chat_body(rng, call, message, usage),
        outcome,
    )
}

/// A rewrite of code the caller sends as the predicted output: most of it comes
/// back unchanged (accepted), the rest of the prediction is billed all the same
/// (rejected).
fn prediction(rng: &mut ChaCha8Rng, call: &Call<'_>) -> (&'static str, Value, Value, Outcome) {
    let code = text::reply(rng, Style::Code, None);
    let request = json!({
        "messages": [
            {"role": "system", "content": "Rewrite the code as asked. Change nothing else."},
            {"role": "user", "content": format!("Rename `path` to `source` in:\n{code}")},
        ],
        "prediction": {"type": "content", "content": code},
        "max_tokens": 4000,
    });
    let prompt = estimate_chat_prompt(call.encoding(), &request);
    let answer = code.replace("path", "source");
    let visible = count_tokens(call.encoding(), &answer);
    let accepted = visible * 9 / 10;
    let rejected = rng.random_range(5..60);
    let completion = visible + rejected;
    let message = json!({"role": "assistant", "content": answer, "refusal": null});
    let usage = json!({
        "prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
            "accepted_prediction_tokens": accepted, "rejected_prediction_tokens": rejected},
    });
    let outcome = Outcome {
        prompt,
        completion,
        predicted: true,
        ..Outcome::default()
    };
    (
        "chat/completions",
        request,
        chat_body(rng, call, message, usage),
        outcome,
    )
}

/// One generated image; its output tokens are image tokens, by quality (gpt-image-1
/// at 1024×1024: 272 low, 1056 medium, 4160 high).
fn image(rng: &mut ChaCha8Rng, call: &Call<'_>) -> (&'static str, Value, Value, Outcome) {
    let subject = pick(
        rng,
        &[
            "A watercolor of a lighthouse at dawn for the spring newsletter",
            "A flat illustration of a team planning around a whiteboard",
            "A product photo of a reusable coffee cup on a wooden desk",
        ],
    );
    let (quality, output) = *[("low", 272), ("medium", 1056), ("high", 4160)]
        .get(rng.random_range(0..3usize))
        .unwrap_or(&("medium", 1056));
    let request = json!({"prompt": subject, "size": "1024x1024", "quality": quality, "n": 1,
        "output_format": "png"});
    let input = estimate_text_input(call.encoding(), &request["prompt"]);
    let body = json!({
        "created": call.time_ms / 1000, "data": [{"b64_json": payload(rng)}],
        "usage": {"input_tokens": input, "output_tokens": output, "total_tokens": input + output,
            "input_tokens_details": {"text_tokens": input, "image_tokens": 0}},
    });
    let outcome = Outcome {
        prompt: input,
        completion: output,
        ..Outcome::default()
    };
    ("images/generations", request, body, outcome)
}

fn record(
    rng: &mut ChaCha8Rng,
    identities: &mut Identities,
    call: &Call<'_>,
    operation: &str,
    request: Value,
    body: Value,
) -> Value {
    let dep = &DEPLOYMENTS[call.deployment];
    let user = rng.random_range(0..40);
    let caller = identities.caller(rng, call.app_index, call.app, user, call.time_ms.div_euclid(1000));
    let time = DateTime::from_timestamp_millis(call.time_ms).unwrap_or_default();
    let &(region, backend) = dep.backends.first().unwrap_or(&("", ""));
    let api_version = if operation == "images/generations" {
        "2025-04-01-preview"
    } else {
        "2025-01-01-preview"
    };
    let mut record = json!({
        "schema": 1,
        "request_id": uuid(rng),
        "request_time": time.to_rfc3339_opts(SecondsFormat::Millis, true),
        "deployment": dep.name,
        "api_version": api_version,
        "operation": format!("/openai/deployments/{}/{operation}", dep.name),
        "request": request,
        "response": response(call.app, 200, body),
        "region": region,
        "backend": backend,
        "latency_ms": rng.random_range(900..9000),
    });
    if let (Some(caller), Some(map)) = (caller, record.as_object_mut()) {
        map.insert("caller".into(), caller);
    }
    record
}
