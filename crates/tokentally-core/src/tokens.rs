//! The token counts of a call (or of a sum of calls) and the classes Azure bills
//! them in.
//!
//! AOAI reports parts of a whole: cached, audio and image tokens are parts of the
//! prompt tokens; reasoning, audio, image and predicted-output tokens parts of the
//! completion tokens. Billing needs the opposite view, a partition in which every
//! token sits in exactly one priced class. [`TokenCounts::classes`] owns that
//! split (docs/formats.md "Token classes" has the formulas); everything that
//! prices, sums or checks tokens goes through it.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The most tokens one call may report in any count. Above it a count is not
/// believed: the largest context windows hold about a million tokens, and an
/// embeddings batch of 2048 inputs of 8191 tokens about 17 million; a hundred
/// million is far above any real call yet far enough below `i64::MAX` that sums
/// over any real month cannot overflow.
pub const MAX_TOKENS_PER_CALL: i64 = 100_000_000;

/// The usage dataset's token columns of one call (or the sum of several), all of
/// them parts of `prompt` or `completion` except `total`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TokenCounts {
    /// Input tokens, every part below included.
    pub prompt: i64,
    /// Part of `prompt` served from the prompt cache (text, audio and image).
    pub cached_prompt: i64,
    /// Part of `prompt` that is audio, cached or not.
    pub audio_prompt: i64,
    /// Part of `audio_prompt` (and of `cached_prompt`) served from the cache.
    pub cached_audio_prompt: i64,
    /// Part of `prompt` that is image tokens (image generation, Realtime), cached or not.
    pub image_prompt: i64,
    /// Part of `image_prompt` (and of `cached_prompt`) served from the cache.
    pub cached_image_prompt: i64,
    /// Output tokens, every part below included.
    pub completion: i64,
    /// Part of `completion` spent on hidden reasoning (billed as output).
    pub reasoning: i64,
    /// Part of `completion` that is audio.
    pub audio_completion: i64,
    /// Part of `completion` that is image tokens (image generation).
    pub image_completion: i64,
    /// Predicted-output tokens that appeared in the completion (part of it).
    pub accepted_prediction: i64,
    /// Predicted-output tokens that did not appear but are still billed as
    /// output (part of `completion`).
    pub rejected_prediction: i64,
    /// As reported, else `prompt + completion`.
    pub total: i64,
}

impl TokenCounts {
    /// The usage dataset's column of each count, in [`TokenCounts::values`] order.
    pub const COLUMNS: [&'static str; 13] = [
        "prompt_tokens",
        "cached_prompt_tokens",
        "audio_prompt_tokens",
        "cached_audio_prompt_tokens",
        "image_prompt_tokens",
        "cached_image_prompt_tokens",
        "completion_tokens",
        "reasoning_tokens",
        "audio_completion_tokens",
        "image_completion_tokens",
        "accepted_prediction_tokens",
        "rejected_prediction_tokens",
        "total_tokens",
    ];

    /// The columns usage schema version 3 added: files written before it lack
    /// them, and readers take them as zero.
    pub const ADDED_IN_V3: [&'static str; 8] = [
        "audio_prompt_tokens",
        "cached_audio_prompt_tokens",
        "image_prompt_tokens",
        "cached_image_prompt_tokens",
        "audio_completion_tokens",
        "image_completion_tokens",
        "accepted_prediction_tokens",
        "rejected_prediction_tokens",
    ];

    /// The counts in [`TokenCounts::COLUMNS`] order.
    pub const fn values(&self) -> [i64; 13] {
        [
            self.prompt,
            self.cached_prompt,
            self.audio_prompt,
            self.cached_audio_prompt,
            self.image_prompt,
            self.cached_image_prompt,
            self.completion,
            self.reasoning,
            self.audio_completion,
            self.image_completion,
            self.accepted_prediction,
            self.rejected_prediction,
            self.total,
        ]
    }

    /// Counts from values in [`TokenCounts::COLUMNS`] order.
    pub const fn from_values(v: [i64; 13]) -> Self {
        let [
            prompt,
            cached_prompt,
            audio_prompt,
            cached_audio_prompt,
            image_prompt,
            cached_image_prompt,
            completion,
            reasoning,
            audio_completion,
            image_completion,
            accepted_prediction,
            rejected_prediction,
            total,
        ] = v;
        Self {
            prompt,
            cached_prompt,
            audio_prompt,
            cached_audio_prompt,
            image_prompt,
            cached_image_prompt,
            completion,
            reasoning,
            audio_completion,
            image_completion,
            accepted_prediction,
            rejected_prediction,
            total,
        }
    }

    /// The column-wise sum; `None` when any column overflows `i64`.
    #[must_use]
    pub fn checked_add(&self, other: &Self) -> Option<Self> {
        let (a, b) = (self.values(), other.values());
        let mut sum = [0i64; 13];
        for (s, (x, y)) in sum.iter_mut().zip(a.into_iter().zip(b)) {
            *s = x.checked_add(y)?;
        }
        Some(Self::from_values(sum))
    }

    /// The tokens of each billed class: a partition of `prompt + completion`
    /// (docs/formats.md "Token classes"):
    ///
    /// - `input` = prompt − cached − (audio − cached audio) − (image − cached image)
    /// - `cached_input` = cached − cached audio − cached image
    /// - `audio_input` = audio − cached audio, `cached_audio_input` = cached audio
    /// - `image_input` = image − cached image, `cached_image_input` = cached image
    /// - `output` = completion − audio completion − image completion (reasoning
    ///   and accepted and rejected prediction tokens bill as output)
    /// - `audio_output`, `image_output` as reported
    ///
    /// # Errors
    /// A negative count, or parts that exceed their whole (the classes would be
    /// negative): no partition exists, so nothing can be billed exactly.
    pub fn classes(&self) -> Result<ClassTokens, TokenError> {
        for (column, value) in Self::COLUMNS.into_iter().zip(self.values()) {
            if value < 0 {
                return Err(TokenError::Negative { column, value });
            }
        }
        let part = |parts: &'static str, value: i64, whole: &'static str, of: i64| {
            if value <= of {
                Ok(of - value)
            } else {
                Err(TokenError::PartsExceedWhole {
                    parts,
                    value,
                    whole,
                    of,
                })
            }
        };
        let audio_input = part(
            "cached_audio_prompt_tokens",
            self.cached_audio_prompt,
            "audio_prompt_tokens",
            self.audio_prompt,
        )?;
        let image_input = part(
            "cached_image_prompt_tokens",
            self.cached_image_prompt,
            "image_prompt_tokens",
            self.image_prompt,
        )?;
        // The counts are not negative, so a sum of a few of them fits an
        // `i128`; one beyond `i64` exceeds any whole and is reported as `i64::MAX`.
        let wide = |xs: &[i64]| xs.iter().map(|&x| i128::from(x)).sum::<i128>();
        let narrow = |x: i128| i64::try_from(x).unwrap_or(i64::MAX);
        let cached_input = part(
            "cached_audio_prompt_tokens + cached_image_prompt_tokens",
            narrow(wide(&[self.cached_audio_prompt, self.cached_image_prompt])),
            "cached_prompt_tokens",
            self.cached_prompt,
        )?;
        let input = part(
            "cached_prompt_tokens + uncached audio and image prompt tokens",
            narrow(wide(&[self.cached_prompt, audio_input, image_input])),
            "prompt_tokens",
            self.prompt,
        )?;
        let output = part(
            "audio_completion_tokens + image_completion_tokens",
            narrow(wide(&[self.audio_completion, self.image_completion])),
            "completion_tokens",
            self.completion,
        )?;
        for (parts, value) in [
            ("reasoning_tokens", self.reasoning),
            ("accepted_prediction_tokens", self.accepted_prediction),
            ("rejected_prediction_tokens", self.rejected_prediction),
        ] {
            part(parts, value, "completion_tokens", self.completion)?;
        }
        let mut classes = ClassTokens::default();
        for (class, tokens) in [
            (TokenClass::Input, input),
            (TokenClass::CachedInput, cached_input),
            (TokenClass::Output, output),
            (TokenClass::AudioInput, audio_input),
            (TokenClass::CachedAudioInput, self.cached_audio_prompt),
            (TokenClass::AudioOutput, self.audio_completion),
            (TokenClass::ImageInput, image_input),
            (TokenClass::CachedImageInput, self.cached_image_prompt),
            (TokenClass::ImageOutput, self.image_completion),
        ] {
            classes.set(class, tokens);
        }
        Ok(classes)
    }

    /// The checks a reported usage of one call must pass before it is stored:
    /// every count at most [`MAX_TOKENS_PER_CALL`], and a partition into classes.
    ///
    /// # Errors
    /// The first count above the bound, or what [`TokenCounts::classes`] rejects.
    pub fn check_call(&self) -> Result<ClassTokens, TokenError> {
        for (column, value) in Self::COLUMNS.into_iter().zip(self.values()) {
            if value > MAX_TOKENS_PER_CALL {
                return Err(TokenError::AboveBound { column, value });
            }
        }
        self.classes()
    }
}

/// Why token counts cannot be billed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("{column} is negative ({value})")]
    Negative { column: &'static str, value: i64 },
    #[error("{column} is {value}, above the {MAX_TOKENS_PER_CALL} tokens one call can report")]
    AboveBound { column: &'static str, value: i64 },
    #[error("{parts} ({value}) exceed {whole} ({of})")]
    PartsExceedWhole {
        parts: &'static str,
        value: i64,
        whole: &'static str,
        of: i64,
    },
}

/// How tokens are billed: the `token_class` of the price table and the detail file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenClass {
    /// Text prompt tokens not served from the cache.
    Input,
    /// Text prompt tokens served from the cache.
    CachedInput,
    /// Text completion tokens: reasoning and predicted-output tokens included.
    Output,
    AudioInput,
    CachedAudioInput,
    AudioOutput,
    ImageInput,
    CachedImageInput,
    ImageOutput,
}

impl TokenClass {
    /// Every class, in the order of the detail file's rows.
    pub const ALL: [Self; 9] = [
        Self::Input,
        Self::CachedInput,
        Self::Output,
        Self::AudioInput,
        Self::CachedAudioInput,
        Self::AudioOutput,
        Self::ImageInput,
        Self::CachedImageInput,
        Self::ImageOutput,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Input => "input",
            Self::CachedInput => "cached_input",
            Self::Output => "output",
            Self::AudioInput => "audio_input",
            Self::CachedAudioInput => "cached_audio_input",
            Self::AudioOutput => "audio_output",
            Self::ImageInput => "image_input",
            Self::CachedImageInput => "cached_image_input",
            Self::ImageOutput => "image_output",
        }
    }

    /// The class named `name` (as in the price table).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }

    const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for TokenClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Tokens per [`TokenClass`], from [`TokenCounts::classes`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClassTokens([i64; 9]);

impl ClassTokens {
    pub const fn get(&self, class: TokenClass) -> i64 {
        self.0[class.index()]
    }

    fn set(&mut self, class: TokenClass, tokens: i64) {
        self.0[class.index()] = tokens;
    }

    /// Each class with its tokens, in [`TokenClass::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (TokenClass, i64)> + '_ {
        TokenClass::ALL.into_iter().map(|c| (c, self.get(c)))
    }
}

#[cfg(test)]
mod tests;
