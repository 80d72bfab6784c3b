//! Token usage as AOAI reports it, in the shapes of chat/completions/embeddings
//! (`prompt_tokens`…) and of the Responses API (`input_tokens`…).

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

fn int(v: &Value, path: &[&str]) -> Option<i64> {
    path.iter().try_fold(v, |v, key| v.get(key))?.as_i64()
}

impl Usage {
    /// Reads a `usage` object; `None` when it is absent, null or has no counts.
    pub fn from_json(usage: &Value) -> Option<Self> {
        if !usage.is_object() {
            return None;
        }
        let prompt = int(usage, &["prompt_tokens"]).or_else(|| int(usage, &["input_tokens"]));
        let completion = int(usage, &["completion_tokens"]).or_else(|| int(usage, &["output_tokens"]));
        let total = int(usage, &["total_tokens"]);
        if prompt.is_none() && completion.is_none() && total.is_none() {
            return None;
        }
        let prompt = prompt.unwrap_or(0).max(0);
        let completion = completion.unwrap_or(0).max(0);
        let cached = int(usage, &["prompt_tokens_details", "cached_tokens"])
            .or_else(|| int(usage, &["input_tokens_details", "cached_tokens"]))
            .unwrap_or(0)
            .clamp(0, prompt);
        let reasoning = int(usage, &["completion_tokens_details", "reasoning_tokens"])
            .or_else(|| int(usage, &["output_tokens_details", "reasoning_tokens"]))
            .unwrap_or(0)
            .clamp(0, completion);
        let total = total.unwrap_or(prompt + completion);
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
