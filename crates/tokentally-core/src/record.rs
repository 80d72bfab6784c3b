use crate::TokenCounts;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// One billable call to Azure OpenAI, as stored in the usage dataset.
///
/// Every call the gateway saw becomes exactly one record, including failed and
/// unattributable calls: finance reconciles against the gateway's call count, so a
/// missing row is worse than a row with zero tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageRecord {
    /// Deterministic id (hash of the request id, or of the raw event when it has
    /// none) so that replaying the same input never counts a call twice.
    pub event_id: String,
    pub request_id: Option<String>,
    pub request_time: DateTime<Utc>,
    /// The chargeback key: Entra `appid`/`azp`, the APIM subscription, or
    /// [`UsageRecord::UNATTRIBUTED`].
    pub app_id: String,
    pub app_id_source: AppIdSource,
    pub tenant_id: Option<String>,
    pub object_id: Option<String>,
    pub subscription: Option<String>,
    pub product: Option<String>,
    pub deployment: Option<String>,
    /// The model as the response names it (`gpt-4o-2024-08-06`), else as the
    /// request names it, else the deployment.
    pub model: Option<String>,
    /// The catalog's family of `model` (`gpt-4o`, `gpt-3.5-turbo`); `None` when
    /// the catalog does not know it. That is the typed "unknown model" flag: such
    /// a row's estimate used the fallback encoding (see
    /// [`UsageRecord::estimated_unknown_model`]), and reports can group versions
    /// and Azure spellings of one model without parsing names.
    pub model_family: Option<String>,
    pub api_version: Option<String>,
    pub operation: Operation,
    pub streamed: bool,
    /// HTTP status of the response; 0 when the gateway saw none (connection lost).
    pub status: u16,
    /// The token columns mirror [`TokenCounts`] (see it for what each counts):
    /// every count but `total_tokens` is the prompt or the completion, or a part
    /// of one of them, never added on top.
    pub prompt_tokens: i64,
    pub cached_prompt_tokens: i64,
    pub audio_prompt_tokens: i64,
    pub cached_audio_prompt_tokens: i64,
    pub image_prompt_tokens: i64,
    pub cached_image_prompt_tokens: i64,
    pub completion_tokens: i64,
    pub reasoning_tokens: i64,
    pub audio_completion_tokens: i64,
    pub image_completion_tokens: i64,
    pub accepted_prediction_tokens: i64,
    pub rejected_prediction_tokens: i64,
    pub total_tokens: i64,
    /// tokentally's own tokenizer estimate of the prompt, kept beside the reported
    /// count (even when usage was reported) so a drift report can show how far
    /// estimates are from AOAI's figures per model. `None` when nothing was
    /// estimated (failed calls).
    pub estimated_prompt_tokens: Option<i64>,
    /// As `estimated_prompt_tokens`, for the completion: the rebuilt text and
    /// tool-call arguments of every choice (hidden reasoning tokens are invisible).
    pub estimated_completion_tokens: Option<i64>,
    pub usage_source: UsageSource,
    /// The tokenizer encoding used when tokens were estimated.
    pub encoding: Option<String>,
    /// Finish reasons of the choices, comma-separated in choice order.
    pub finish_reason: Option<String>,
    pub choice_count: i32,
    /// The response was cut off (stream without its end); tokens count what arrived.
    pub partial: bool,
    pub region: Option<String>,
    pub backend: Option<String>,
    pub latency_ms: Option<i64>,
    /// Human-readable remarks on how the row was derived (unknown model, …).
    pub notes: Option<String>,
    pub source: SourcePosition,
}

impl UsageRecord {
    /// App id of calls that carry neither a token nor a subscription.
    pub const UNATTRIBUTED: &'static str = "unattributed";

    /// Tokens were estimated for a model the catalog does not know, so with a
    /// fallback encoding that may not be the model's: the run summary counts
    /// these, since their estimates deserve a look (or a catalog entry).
    pub fn estimated_unknown_model(&self) -> bool {
        self.model_family.is_none() && self.encoding.is_some()
    }

    /// The row's token columns as one value, to check, sum or bill.
    pub const fn token_counts(&self) -> TokenCounts {
        TokenCounts {
            prompt: self.prompt_tokens,
            cached_prompt: self.cached_prompt_tokens,
            audio_prompt: self.audio_prompt_tokens,
            cached_audio_prompt: self.cached_audio_prompt_tokens,
            image_prompt: self.image_prompt_tokens,
            cached_image_prompt: self.cached_image_prompt_tokens,
            completion: self.completion_tokens,
            reasoning: self.reasoning_tokens,
            audio_completion: self.audio_completion_tokens,
            image_completion: self.image_completion_tokens,
            accepted_prediction: self.accepted_prediction_tokens,
            rejected_prediction: self.rejected_prediction_tokens,
            total: self.total_tokens,
        }
    }

    /// Sets every token column from `t`.
    pub const fn set_token_counts(&mut self, t: TokenCounts) {
        self.prompt_tokens = t.prompt;
        self.cached_prompt_tokens = t.cached_prompt;
        self.audio_prompt_tokens = t.audio_prompt;
        self.cached_audio_prompt_tokens = t.cached_audio_prompt;
        self.image_prompt_tokens = t.image_prompt;
        self.cached_image_prompt_tokens = t.cached_image_prompt;
        self.completion_tokens = t.completion;
        self.reasoning_tokens = t.reasoning;
        self.audio_completion_tokens = t.audio_completion;
        self.image_completion_tokens = t.image_completion;
        self.accepted_prediction_tokens = t.accepted_prediction;
        self.rejected_prediction_tokens = t.rejected_prediction;
        self.total_tokens = t.total;
    }
}

/// Where a record came from, so every row can be traced back to its raw event.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SourcePosition {
    /// A file path, `stdin`, or a Kafka topic.
    pub source: String,
    /// Kafka partition; `None` for files.
    pub partition: Option<i32>,
    /// Line number (1-based) for files, offset for Kafka.
    pub offset: i64,
}

impl fmt::Display for SourcePosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.partition {
            Some(p) => write!(f, "{}[{}]@{}", self.source, p, self.offset),
            None => write!(f, "{}:{}", self.source, self.offset),
        }
    }
}

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }
        impl $name {
            /// The name stored in the dataset.
            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum! {
    /// Which evidence named the calling application.
    AppIdSource {
        /// `appid` (v1) or `azp` (v2) claim of the Entra ID token.
        Claim => "claim",
        /// The APIM subscription (key-based callers).
        Subscription => "subscription",
        /// A salted fingerprint of the `api-key` header, written by the capture proxy
        /// for key-based callers that came without an APIM subscription.
        ApiKey => "api_key",
        /// Nothing: charged to [`UsageRecord::UNATTRIBUTED`].
        None => "none",
    }
}

string_enum! {
    /// Whether token counts were reported by AOAI or estimated with the tokenizer.
    UsageSource {
        Reported => "reported",
        Estimated => "estimated",
        /// No billable tokens: failed call without usage in its body.
        None => "none",
    }
}

string_enum! {
    /// The AOAI operation, from the request path.
    Operation {
        ChatCompletions => "chat/completions",
        Completions => "completions",
        Responses => "responses",
        Embeddings => "embeddings",
        /// `images/generations` and `images/edits` (gpt-image-1).
        Images => "images",
        Other => "other",
    }
}

impl Operation {
    /// Maps an operation name or request path (`/openai/deployments/x/chat/completions`).
    pub fn from_path(path: &str) -> Self {
        let p = path.split('?').next().unwrap_or(path).trim_end_matches('/');
        if p.ends_with("chat/completions") {
            Self::ChatCompletions
        } else if p.ends_with("completions") {
            Self::Completions
        } else if p.ends_with("embeddings") {
            Self::Embeddings
        } else if p.ends_with("responses") {
            Self::Responses
        } else if p.ends_with("images/generations") || p.ends_with("images/edits") {
            Self::Images
        } else {
            Self::Other
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_from_path_and_name() {
        assert_eq!(
            Operation::from_path("chat/completions"),
            Operation::ChatCompletions
        );
        assert_eq!(
            Operation::from_path("/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21"),
            Operation::ChatCompletions
        );
        assert_eq!(Operation::from_path("completions"), Operation::Completions);
        assert_eq!(Operation::from_path("/openai/v1/responses"), Operation::Responses);
        assert_eq!(Operation::from_path("embeddings"), Operation::Embeddings);
        assert_eq!(Operation::from_path("images/generations"), Operation::Images);
        assert_eq!(
            Operation::from_path("/openai/deployments/img/images/edits?api-version=2025-04-01-preview"),
            Operation::Images
        );
        assert_eq!(Operation::from_path("audio/transcriptions"), Operation::Other);
    }

    #[test]
    fn source_position_display() {
        let file = SourcePosition {
            source: "a.jsonl".into(),
            partition: None,
            offset: 7,
        };
        assert_eq!(file.to_string(), "a.jsonl:7");
        let kafka = SourcePosition {
            source: "aoai".into(),
            partition: Some(2),
            offset: 40,
        };
        assert_eq!(kafka.to_string(), "aoai[2]@40");
    }
}
