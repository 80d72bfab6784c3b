//! The AOAI deployments of the sample organisation.
//!
//! One deployment is named unlike its model (`chat-prod`) and one is load-balanced
//! over two regions, because chargebacks must key on what the response names, not
//! on what the URL says.

/// What a deployment serves, which decides request and response shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Chat,
    /// o-series: `developer` messages, `max_completion_tokens`, reasoning tokens.
    Reasoning,
    Embeddings,
    /// gpt-4o-audio-preview: audio in and out through chat completions.
    Audio,
    /// gpt-image-1: `images/generations`, billed in image tokens.
    Images,
}

#[derive(Debug)]
pub(crate) struct Deployment {
    pub name: &'static str,
    /// The model as responses name it.
    pub model: &'static str,
    pub kind: Kind,
    /// `(region, backend URL)`; APIM spreads calls over them.
    pub backends: &'static [(&'static str, &'static str)],
    /// `system_fingerprint` before and after the mid-month model update.
    pub fingerprints: [&'static str; 2],
    /// AOAI caches prompt prefixes of ≥ 1024 tokens for these models only.
    pub caches_prompts: bool,
    /// Usage carries `*_tokens_details` (older models report the three totals only).
    pub detailed_usage: bool,
    /// Output speed, for plausible latencies.
    pub ms_per_token: u32,
    /// Share of calls rejected with 429 at peak hours.
    pub throttle: f64,
    /// Content filter in asynchronous mode: stream chunks carry no annotations,
    /// separate annotation events (without `delta`) do.
    pub async_filter: bool,
}

const SWC: (&str, &str) = ("swedencentral", "https://aoai-contoso-swc.openai.azure.com");
const EUS2: (&str, &str) = ("eastus2", "https://aoai-contoso-eus2.openai.azure.com");
const FRC: (&str, &str) = ("francecentral", "https://aoai-contoso-frc.openai.azure.com");

pub(crate) const DEPLOYMENTS: &[Deployment] = &[
    Deployment {
        name: "gpt-4o",
        model: "gpt-4o-2024-08-06",
        kind: Kind::Chat,
        backends: &[SWC],
        fingerprints: ["fp_b705f0c291", "fp_ee1d74bde0"],
        caches_prompts: true,
        detailed_usage: true,
        ms_per_token: 14,
        async_filter: false,
        throttle: 0.06,
    },
    Deployment {
        name: "gpt-4o-mini",
        model: "gpt-4o-mini-2024-07-18",
        kind: Kind::Chat,
        backends: &[EUS2],
        fingerprints: ["fp_f3927aa00d", "fp_f3927aa00d"],
        caches_prompts: true,
        detailed_usage: true,
        ms_per_token: 8,
        async_filter: true,
        throttle: 0.015,
    },
    Deployment {
        name: "gpt-4.1",
        model: "gpt-4.1-2025-04-14",
        kind: Kind::Chat,
        backends: &[SWC],
        fingerprints: ["fp_07e970ab25", "fp_07e970ab25"],
        caches_prompts: true,
        detailed_usage: true,
        ms_per_token: 16,
        async_filter: false,
        throttle: 0.04,
    },
    Deployment {
        name: "o3-mini",
        model: "o3-mini-2025-01-31",
        kind: Kind::Reasoning,
        backends: &[EUS2],
        fingerprints: ["fp_42bfad963b", "fp_42bfad963b"],
        caches_prompts: true,
        detailed_usage: true,
        ms_per_token: 9,
        async_filter: false,
        throttle: 0.03,
    },
    Deployment {
        name: "gpt-35-turbo",
        model: "gpt-35-turbo-0125",
        kind: Kind::Chat,
        backends: &[FRC],
        fingerprints: ["fp_0165350fbb", "fp_0165350fbb"],
        caches_prompts: false,
        detailed_usage: false,
        ms_per_token: 7,
        async_filter: true,
        throttle: 0.01,
    },
    Deployment {
        name: "text-embedding-3-small",
        model: "text-embedding-3-small",
        kind: Kind::Embeddings,
        backends: &[SWC],
        fingerprints: ["", ""],
        caches_prompts: false,
        detailed_usage: false,
        ms_per_token: 0,
        async_filter: false,
        throttle: 0.01,
    },
    Deployment {
        name: "chat-prod",
        model: "gpt-4o-mini-2024-07-18",
        kind: Kind::Chat,
        backends: &[SWC, EUS2],
        fingerprints: ["fp_b045b4af17", "fp_b045b4af17"],
        caches_prompts: true,
        detailed_usage: true,
        ms_per_token: 8,
        async_filter: true,
        throttle: 0.02,
    },
    // The two below serve only the few multimodal calls (`record/multimodal.rs`).
    Deployment {
        name: "gpt-4o-audio",
        model: "gpt-4o-audio-preview-2024-12-17",
        kind: Kind::Audio,
        backends: &[SWC],
        fingerprints: ["fp_5ecdca8ca8", "fp_5ecdca8ca8"],
        caches_prompts: false,
        detailed_usage: true,
        ms_per_token: 20,
        async_filter: false,
        throttle: 0.0,
    },
    Deployment {
        name: "gpt-image-1",
        model: "gpt-image-1",
        kind: Kind::Images,
        backends: &[SWC],
        fingerprints: ["", ""],
        caches_prompts: false,
        detailed_usage: true,
        ms_per_token: 0,
        async_filter: false,
        throttle: 0.0,
    },
];

/// Index of a deployment by name; names in the app table are checked by a test.
pub(crate) fn index(name: &str) -> Option<usize> {
    DEPLOYMENTS.iter().position(|d| d.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_model_is_in_the_catalog() {
        for d in DEPLOYMENTS {
            assert!(tokentally_core::lookup_model(d.model).is_some(), "{}", d.model);
            assert_eq!(index(d.name).map(|i| DEPLOYMENTS[i].name), Some(d.name));
        }
    }
}
