//! Token usage as AOAI reports it: chat, completions and embeddings name the
//! counts `prompt_tokens`…, the Responses API and image generation
//! `input_tokens`…, the Realtime and audio APIs `input_token_details` (no
//! plural). Every count tokentally stores is read here, by the paths below, the
//! first of a count's paths that is present winning.
//!
//! A count must be a whole number from 0 to [`MAX_TOKENS_PER_CALL`], and the
//! parts must fit their whole ([`TokenCounts::check_call`]); anything else makes
//! the record invalid (quarantined as `invalid_field`), never a guessed or summed
//! number.

use serde_json::Value;
use std::fmt;
use tokentally_core::{MAX_TOKENS_PER_CALL, Operation, TokenCounts};

const PROMPT: &[&str] = &["prompt_tokens", "input_tokens"];
const COMPLETION: &[&str] = &["completion_tokens", "output_tokens"];
const TOTAL: &[&str] = &["total_tokens"];
const CACHED: &[&str] = &[
    "prompt_tokens_details.cached_tokens",
    "input_tokens_details.cached_tokens",
    "input_token_details.cached_tokens",
];
const AUDIO_PROMPT: &[&str] = &[
    "prompt_tokens_details.audio_tokens",
    "input_tokens_details.audio_tokens",
    "input_token_details.audio_tokens",
];
const IMAGE_PROMPT: &[&str] = &[
    "prompt_tokens_details.image_tokens",
    "input_tokens_details.image_tokens",
    "input_token_details.image_tokens",
];
const CACHED_AUDIO: &[&str] = &[
    "prompt_tokens_details.cached_tokens_details.audio_tokens",
    "input_tokens_details.cached_tokens_details.audio_tokens",
    "input_token_details.cached_tokens_details.audio_tokens",
];
const CACHED_IMAGE: &[&str] = &[
    "prompt_tokens_details.cached_tokens_details.image_tokens",
    "input_tokens_details.cached_tokens_details.image_tokens",
    "input_token_details.cached_tokens_details.image_tokens",
];
const REASONING: &[&str] = &[
    "completion_tokens_details.reasoning_tokens",
    "output_tokens_details.reasoning_tokens",
    "output_token_details.reasoning_tokens",
];
const AUDIO_COMPLETION: &[&str] = &[
    "completion_tokens_details.audio_tokens",
    "output_tokens_details.audio_tokens",
    "output_token_details.audio_tokens",
];
const IMAGE_COMPLETION: &[&str] = &[
    "completion_tokens_details.image_tokens",
    "output_tokens_details.image_tokens",
    "output_token_details.image_tokens",
];
/// Read only to split an image generation's output when it reports text tokens
/// but no image tokens.
const TEXT_COMPLETION: &[&str] = &[
    "completion_tokens_details.text_tokens",
    "output_tokens_details.text_tokens",
    "output_token_details.text_tokens",
];
const ACCEPTED_PREDICTION: &[&str] = &[
    "completion_tokens_details.accepted_prediction_tokens",
    "output_tokens_details.accepted_prediction_tokens",
];
const REJECTED_PREDICTION: &[&str] = &[
    "completion_tokens_details.rejected_prediction_tokens",
    "output_tokens_details.rejected_prediction_tokens",
];

/// Why a reported usage cannot be stored; the text names the member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidUsage(pub String);

impl fmt::Display for InvalidUsage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The member at a dotted `path`; `None` when absent or `null`.
fn member<'a>(usage: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(usage, |v, key| v.get(key))
        .filter(|v| !v.is_null())
}

/// Whether `usage` is an object reporting any of the three main counts: a
/// stream's earlier `usage` is replaced only by one that does.
pub fn has_counts(usage: &Value) -> bool {
    usage.is_object()
        && [PROMPT, COMPLETION, TOTAL]
            .iter()
            .flat_map(|paths| paths.iter())
            .any(|path| member(usage, path).is_some())
}

/// The count at the first of `paths` present in `usage`; `Ok(None)` when none is.
fn count(usage: &Value, paths: &[&str]) -> Result<Option<i64>, InvalidUsage> {
    let Some((path, value)) = paths.iter().find_map(|p| member(usage, p).map(|v| (*p, v))) else {
        return Ok(None);
    };
    whole_count(value)
        .map(Some)
        .map_err(|what| InvalidUsage(format!("usage.{path}: {what}")))
}

/// A reported token count: a whole number (`12`, `12.0`, `9e2`) from 0 to
/// [`MAX_TOKENS_PER_CALL`]; otherwise why not.
///
/// # Errors
/// A value that is not such a number, described for the message that names it.
pub fn whole_count(value: &Value) -> Result<i64, String> {
    let n = match value {
        Value::Number(n) => {
            if let Some(n) = n.as_u64() {
                i64::try_from(n).ok()
            } else if let Some(n) = n.as_i64() {
                return Err(format!("{n} is negative"));
            } else {
                // A float that is a whole number (`12.0`, `9e18`) is a count.
                let x = n.as_f64().unwrap_or(f64::NAN);
                if x < 0.0 {
                    return Err(format!("{n} is negative"));
                }
                if x.fract() != 0.0 || !x.is_finite() {
                    return Err(format!("{n} is not a whole number"));
                }
                // Above i64's range: over the bound below all the same.
                Some(if x < 9.2e18 { x as i64 } else { i64::MAX })
            }
        }
        other => return Err(format!("{other} is not a number")),
    };
    match n {
        Some(n) if n <= MAX_TOKENS_PER_CALL => Ok(n),
        _ => Err(format!(
            "{value} is above the sanity bound of {MAX_TOKENS_PER_CALL} tokens per call"
        )),
    }
}

/// The counts of a `usage` object that [`has_counts`], checked.
///
/// Cached, audio and image tokens are parts of the prompt tokens; reasoning,
/// audio, image and prediction tokens parts of the completion tokens, as the API
/// reports them. An image generation (`operation` [`Operation::Images`]) that
/// reports no image output tokens has only image output (the images API's
/// `output_tokens` are "image tokens in the output image"), less any text tokens
/// it reports.
///
/// # Errors
/// A count that is not a whole number from 0 to [`MAX_TOKENS_PER_CALL`], or
/// parts that exceed their whole.
pub fn read_usage(usage: &Value, operation: Operation) -> Result<TokenCounts, InvalidUsage> {
    let get = |paths| count(usage, paths).map(Option::unwrap_or_default);
    let prompt = get(PROMPT)?;
    let completion = get(COMPLETION)?;
    let total = count(usage, TOTAL)?;
    let reported_image_output = count(usage, IMAGE_COMPLETION)?;
    let text_output = get(TEXT_COMPLETION)?;
    let image_completion = match reported_image_output {
        Some(n) => n,
        None if operation == Operation::Images => completion
            .checked_sub(text_output)
            .filter(|n| *n >= 0)
            .ok_or_else(|| {
                InvalidUsage(format!(
                    "usage: text output tokens ({text_output}) exceed output tokens ({completion})"
                ))
            })?,
        None => 0,
    };
    let tokens = TokenCounts {
        prompt,
        cached_prompt: get(CACHED)?,
        audio_prompt: get(AUDIO_PROMPT)?,
        cached_audio_prompt: get(CACHED_AUDIO)?,
        image_prompt: get(IMAGE_PROMPT)?,
        cached_image_prompt: get(CACHED_IMAGE)?,
        completion,
        reasoning: get(REASONING)?,
        audio_completion: get(AUDIO_COMPLETION)?,
        image_completion,
        accepted_prediction: get(ACCEPTED_PREDICTION)?,
        rejected_prediction: get(REJECTED_PREDICTION)?,
        // Both are within the bound, so their sum fits.
        total: total.unwrap_or(prompt + completion),
    };
    tokens
        .check_call()
        .map_err(|e| InvalidUsage(format!("usage: {e}")))?;
    Ok(tokens)
}

#[cfg(test)]
mod tests;
