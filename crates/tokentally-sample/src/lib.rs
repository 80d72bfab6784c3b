//! A seeded month of Azure OpenAI gateway traffic, as gateway records (JSON Lines,
//! `docs/formats.md`).
//!
//! The sample is the first thing a user runs tokentally on, and tests and benchmarks
//! use bigger versions of it. So it has to look like production traffic (every
//! caller identity, stream shape and failure the parser must survive, with usage
//! that agrees with tokentally's own token counting) while being reproducible byte
//! for byte from its seed and cheap enough to generate in a debug build.

mod apps;
mod chat;
mod deployments;
mod identity;
mod ids;
mod record;
mod schedule;
mod sse;
mod text;
mod vocab;

#[cfg(test)]
mod tests;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use record::{Generator, Outcome, multimodal};
use schedule::Month;
use std::collections::BTreeMap;
use std::io::{self, Write};

/// What to generate. The same config always yields the same bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleConfig {
    pub seed: u64,
    /// Number of gateway records.
    pub calls: usize,
    /// The UTC month the calls fall in.
    pub year: i32,
    pub month: u32,
}

impl Default for SampleConfig {
    /// About 20 MB of JSON Lines (2.5 MB gzipped): enough calls for a believable
    /// monthly report, few enough to ship and to generate in seconds. AOAI's wire
    /// format is verbose (a streamed answer is a dozen chunks of 300–500 bytes), so
    /// calls average ~5 KB.
    fn default() -> Self {
        Self {
            seed: 42,
            calls: 4000,
            year: 2026,
            month: 10,
        }
    }
}

/// What was written, so callers can check a report against the truth.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SampleStats {
    pub calls: usize,
    /// Bytes written, newlines included.
    pub bytes: u64,
    /// Per chargeback key (Entra app id, APIM subscription, or `unattributed`);
    /// every app of the sample, also those a small sample has no call of.
    pub apps: BTreeMap<String, AppStats>,
    /// Calls per deployment name.
    pub deployments: BTreeMap<String, usize>,
    pub features: Features,
}

/// One chargeback key's traffic. Token counts are what a correct reader derives:
/// the reported usage where the response has one, else tokentally's estimate of
/// what arrived (prompt estimate plus the streamed text; reasoning and cached
/// tokens are unknowable then). Failed calls count no tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppStats {
    /// The app's name in the sample (`payroll-bot`).
    pub name: &'static str,
    /// `claim`, `subscription` or `none`, as in the usage dataset.
    pub app_id_source: &'static str,
    pub calls: usize,
    /// Status ≥ 400.
    pub failed_calls: usize,
    pub prompt_tokens: i64,
    pub cached_prompt_tokens: i64,
    pub completion_tokens: i64,
    pub reasoning_tokens: i64,
}

/// How often each situation the parser must handle occurs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Features {
    pub streamed: usize,
    /// Streams that ask for a usage chunk (`stream_options.include_usage`); a
    /// truncated one may not have received it.
    pub streamed_with_usage: usize,
    /// Streams cut off before `[DONE]` (`response.complete: false`).
    pub truncated_streams: usize,
    /// Successful answers that are tool calls.
    pub tool_calls: usize,
    /// Successful calls with `n` > 1.
    pub multi_choice: usize,
    /// Calls with a choice that hit `max_tokens` (`finish_reason: length`).
    pub length_finishes: usize,
    pub rate_limited: usize,
    pub content_filtered: usize,
    pub embeddings: usize,
    /// Calls reporting `cached_tokens` > 0.
    pub cached_prompts: usize,
    /// Calls reporting reasoning tokens.
    pub reasoning: usize,
    /// Chat calls with audio in and out (gpt-4o-audio-preview).
    pub audio: usize,
    /// Calls with a predicted output (accepted and rejected prediction tokens).
    pub predicted_outputs: usize,
    /// Image generations (gpt-image-1).
    pub image_generations: usize,
}

impl SampleStats {
    fn new() -> Self {
        let mut stats = Self::default();
        for app in apps::APPS {
            let (key, source) = app.chargeback_key();
            stats.apps.insert(
                key,
                AppStats {
                    name: app.name,
                    app_id_source: source,
                    ..AppStats::default()
                },
            );
        }
        stats
    }

    fn add(&mut self, outcome: &Outcome, bytes: usize) {
        self.calls += 1;
        self.bytes += bytes as u64;
        let app = &apps::APPS[outcome.app];
        let deployment = deployments::DEPLOYMENTS[outcome.deployment].name;
        *self.deployments.entry(deployment.to_owned()).or_default() += 1;
        if let Some(s) = self.apps.get_mut(&app.chargeback_key().0) {
            s.calls += 1;
            s.failed_calls += usize::from(outcome.status >= 400);
            s.prompt_tokens += outcome.prompt;
            s.cached_prompt_tokens += outcome.cached;
            s.completion_tokens += outcome.completion;
            s.reasoning_tokens += outcome.reasoning;
        }
        let f = &mut self.features;
        let ok = outcome.status == 200;
        f.streamed += usize::from(outcome.streamed);
        f.streamed_with_usage += usize::from(outcome.stream_usage);
        f.truncated_streams += usize::from(outcome.truncated);
        f.tool_calls += usize::from(ok && outcome.tool_calls);
        f.multi_choice += usize::from(ok && outcome.choices > 1);
        f.length_finishes += usize::from(outcome.length);
        f.rate_limited += usize::from(outcome.status == 429);
        f.content_filtered += usize::from(outcome.status == 400);
        f.embeddings +=
            usize::from(deployments::DEPLOYMENTS[outcome.deployment].kind == deployments::Kind::Embeddings);
        f.cached_prompts += usize::from(outcome.cached > 0);
        f.reasoning += usize::from(outcome.reasoning > 0);
        let kind = deployments::DEPLOYMENTS[outcome.deployment].kind;
        f.audio += usize::from(kind == deployments::Kind::Audio);
        f.image_generations += usize::from(kind == deployments::Kind::Images);
        f.predicted_outputs += usize::from(outcome.predicted);
    }
}

/// Writes `config.calls` gateway records, one per line, sorted by `request_time`.
///
/// `out` is written line by line; wrap files in a `BufWriter` (or a gzip encoder).
pub fn generate(config: &SampleConfig, out: &mut dyn Write) -> io::Result<SampleStats> {
    let month = Month::new(config.year, config.month)?;
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let plan = schedule::plan(&mut rng, config.calls, &month);
    // The multimodal calls take the place of the plan's last calls, so the others
    // stay what they were (`record/multimodal.rs`).
    let extras = multimodal::calls(config.seed, &month, plan.calls.len() / multimodal::EVERY);
    let mut generator = Generator::new(month)?;
    let mut stats = SampleStats::new();
    let mut line = Vec::with_capacity(64 * 1024);
    let planned_calls = plan.calls.len() - extras.len();
    let mut extras = extras.into_iter().peekable();
    let mut write = |record: &serde_json::Value, outcome: &Outcome| -> io::Result<()> {
        line.clear();
        serde_json::to_writer(&mut line, record).map_err(io::Error::other)?;
        line.push(b'\n');
        out.write_all(&line)?;
        stats.add(outcome, line.len());
        Ok(())
    };
    for planned in &plan.calls[..planned_calls] {
        while let Some(extra) = extras.next_if(|e| e.time_ms <= planned.time_ms) {
            write(&extra.record, &extra.outcome)?;
        }
        let app = plan.session_apps[planned.session as usize];
        let (record, outcome) = generator.call(&mut rng, planned, app);
        write(&record, &outcome)?;
    }
    for extra in extras {
        write(&extra.record, &extra.outcome)?;
    }
    Ok(stats)
}
