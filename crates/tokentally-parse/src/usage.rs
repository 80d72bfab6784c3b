//! Token usage as AOAI reports it, in the shapes of chat/completions/embeddings
//! (`prompt_tokens`…) and of the Responses API (`input_tokens`…).

use crate::output::loose::Obj;
use crate::output::wire::UsageWire;
use serde::Deserialize;
use serde_json::Value;

/// Reported token counts. Cached tokens are part of `prompt`, reasoning tokens
/// part of `completion`, as in the API.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt: i64,
    pub cached: i64,
    pub completion: i64,
    pub reasoning: i64,
    pub total: i64,
}

impl Usage {
    /// Reads a `usage` object; `None` when it is absent, null or has no counts.
    pub fn from_json(usage: &Value) -> Option<Self> {
        // Any JSON object deserializes: every member type is loose.
        match Obj::<UsageWire>::deserialize(usage) {
            Ok(Obj::Object(wire)) => Self::from_wire(&wire),
            _ => None,
        }
    }

    /// The counts of a deserialized `usage` object; `None` when it has none.
    pub(crate) fn from_wire(usage: &UsageWire) -> Option<Self> {
        let prompt = usage.prompt_tokens.0.or(usage.input_tokens.0);
        let completion = usage.completion_tokens.0.or(usage.output_tokens.0);
        let total = usage.total_tokens.0;
        if prompt.is_none() && completion.is_none() && total.is_none() {
            return None;
        }
        let prompt = prompt.unwrap_or(0).max(0);
        let completion = completion.unwrap_or(0).max(0);
        let detail = |a: Option<i64>, b: Option<i64>| a.or(b).unwrap_or(0);
        let cached = detail(
            usage
                .prompt_tokens_details
                .object()
                .and_then(|d| d.cached_tokens.0),
            usage
                .input_tokens_details
                .object()
                .and_then(|d| d.cached_tokens.0),
        )
        .clamp(0, prompt);
        let reasoning = detail(
            usage
                .completion_tokens_details
                .object()
                .and_then(|d| d.reasoning_tokens.0),
            usage
                .output_tokens_details
                .object()
                .and_then(|d| d.reasoning_tokens.0),
        )
        .clamp(0, completion);
        // Saturating: a hostile count must not overflow (and panic in debug builds).
        let total = total.unwrap_or(prompt.saturating_add(completion));
        Some(Self {
            prompt,
            cached,
            completion,
            reasoning,
            total,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn chat_usage_with_details() {
        let u = Usage::from_json(&json!({
            "prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500,
            "prompt_tokens_details": {"cached_tokens": 1024},
            "completion_tokens_details": {"reasoning_tokens": 192}
        }));
        assert_eq!(
            u,
            Some(Usage {
                prompt: 1200,
                cached: 1024,
                completion: 300,
                reasoning: 192,
                total: 1500
            })
        );
    }

    #[test]
    fn responses_and_embeddings_usage() {
        let u = Usage::from_json(&json!({"input_tokens": 10, "output_tokens": 4,
            "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 2}}));
        assert_eq!(
            u,
            Some(Usage {
                prompt: 10,
                cached: 0,
                completion: 4,
                reasoning: 2,
                total: 14
            })
        );
        let e = Usage::from_json(&json!({"prompt_tokens": 8, "total_tokens": 8}));
        assert_eq!(
            e,
            Some(Usage {
                prompt: 8,
                cached: 0,
                completion: 0,
                reasoning: 0,
                total: 8
            })
        );
    }

    #[test]
    fn absent_usage() {
        assert_eq!(Usage::from_json(&Value::Null), None);
        assert_eq!(Usage::from_json(&json!({})), None);
    }
}
