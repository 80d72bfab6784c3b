//! The calling applications: who they are, how they authenticate, and how they use
//! AOAI.
//!
//! Each app stands for a pattern the parser and the chargeback must get right
//! (token versions, claims written by APIM, key-only callers, callers with no
//! identity), and each has its own traffic habits so the monthly report has a
//! believable shape.

use crate::text::Style;

/// How an app proves who it is, which decides what the gateway logs as `caller`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Auth {
    /// Entra ID v1 app-only token in `authorization` (capture proxy); `signed`
    /// keeps the signature, which the proxy drops by default.
    BearerV1 {
        signed: bool,
    },
    /// Entra ID v2 tokens obtained on behalf of signed-in users.
    BearerV2User,
    /// Claims of a v1 / v2 app-only token, as APIM's `validate-jwt` writes them.
    ClaimsV1,
    ClaimsV2,
    /// APIM subscription key only.
    Key,
    /// Nothing at all: charged to `unattributed`.
    Anonymous,
}

#[derive(Debug)]
pub(crate) struct Subscription {
    /// Absent for subscriptions the policy logs by name only.
    pub id: Option<&'static str>,
    pub name: &'static str,
    pub product: &'static str,
}

/// What a session of the app does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Chat calls; `stateful` ones carry the conversation forward.
    Chat {
        stateful: bool,
    },
    Embed,
    /// Embed the question, then answer it from retrieved passages.
    Rag,
}

/// When the app is busy (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hours {
    /// European office hours, quiet weekends.
    Office,
    /// Customer-facing, long days, busy weekends too.
    Extended,
    /// Batch jobs after midnight.
    Nightly,
    Always,
}

#[derive(Debug)]
pub(crate) struct App {
    pub name: &'static str,
    pub auth: Auth,
    pub tenant: &'static str,
    pub subscription: Option<Subscription>,
    /// Relative share of calls.
    pub share: u32,
    /// Calls per session and seconds between them.
    pub turns: (u32, u32),
    pub gap_s: (u32, u32),
    pub flow: Flow,
    pub hours: Hours,
    /// Preferred deployments with weights (per session).
    pub deployments: &'static [(&'static str, u32)],
    pub style: Style,
    /// Approximate tokens of the system prompt (0: none). ≥ 1024 makes caching apply.
    pub system_tokens: i64,
    pub stream: f64,
    pub include_usage: f64,
    pub tools: f64,
    pub multi_choice: f64,
    pub max_tokens: f64,
    /// Share of `max_tokens` calls whose answer hits the limit.
    pub length_cut: f64,
    /// Share of calls refused by the prompt filter.
    pub filtered: f64,
    pub api_versions: &'static [&'static str],
    /// Producer logs the request path rather than the operation name.
    pub logs_path: bool,
    /// Producer does not log the operation at all (it defaults to chat).
    pub omits_operation: bool,
    /// The SDK sends `model` (the deployment name) in the body.
    pub sends_model: bool,
}

pub(crate) const CONTOSO: &str = "contoso";
const FABRIKAM: &str = "fabrikam";

pub(crate) const APPS: &[App] = &[
    App {
        name: "payroll-bot",
        auth: Auth::BearerV1 { signed: false },
        tenant: CONTOSO,
        subscription: Some(Subscription {
            id: Some("8c2e51d0a7f94b3c6e1d2f40"),
            name: "hr-payroll",
            product: "aoai-premium",
        }),
        share: 3,
        turns: (1, 5),
        gap_s: (20, 150),
        flow: Flow::Chat { stateful: true },
        hours: Hours::Office,
        deployments: &[("gpt-4o", 6), ("gpt-4o-mini", 4)],
        style: Style::Hr,
        system_tokens: 1100,
        stream: 0.5,
        include_usage: 1.0,
        tools: 0.0,
        multi_choice: 0.0,
        max_tokens: 0.2,
        length_cut: 0.1,
        filtered: 0.001,
        api_versions: &["2024-10-21"],
        logs_path: true,
        omits_operation: false,
        sends_model: false,
    },
    App {
        name: "support-copilot",
        auth: Auth::BearerV2User,
        tenant: CONTOSO,
        subscription: None,
        share: 14,
        turns: (1, 6),
        gap_s: (15, 120),
        flow: Flow::Chat { stateful: true },
        hours: Hours::Extended,
        deployments: &[("chat-prod", 8), ("gpt-4o", 2)],
        style: Style::Support,
        system_tokens: 150,
        stream: 0.45,
        include_usage: 0.5,
        tools: 0.35,
        multi_choice: 0.0,
        max_tokens: 0.1,
        length_cut: 0.2,
        filtered: 0.015,
        api_versions: &["2025-01-01-preview", "2024-10-21"],
        logs_path: false,
        omits_operation: false,
        sends_model: true,
    },
    App {
        name: "contract-analyzer",
        auth: Auth::ClaimsV2,
        tenant: FABRIKAM,
        subscription: None,
        share: 3,
        turns: (2, 12),
        gap_s: (2, 30),
        flow: Flow::Chat { stateful: false },
        hours: Hours::Office,
        deployments: &[("gpt-4.1", 6), ("o3-mini", 4)],
        style: Style::Legal,
        system_tokens: 300,
        stream: 0.0,
        include_usage: 0.0,
        tools: 0.0,
        multi_choice: 0.0,
        max_tokens: 0.3,
        length_cut: 0.05,
        filtered: 0.002,
        api_versions: &["2025-01-01-preview"],
        logs_path: false,
        omits_operation: false,
        sends_model: false,
    },
    App {
        name: "code-reviewer",
        auth: Auth::BearerV1 { signed: true },
        tenant: CONTOSO,
        subscription: None,
        share: 4,
        turns: (1, 8),
        gap_s: (1, 20),
        flow: Flow::Chat { stateful: false },
        hours: Hours::Office,
        deployments: &[("gpt-4.1", 5), ("o3-mini", 3), ("gpt-4o", 2)],
        style: Style::Code,
        system_tokens: 250,
        stream: 0.2,
        include_usage: 1.0,
        tools: 0.0,
        multi_choice: 0.0,
        max_tokens: 0.0,
        length_cut: 0.0,
        filtered: 0.001,
        api_versions: &["2025-01-01-preview"],
        logs_path: true,
        omits_operation: false,
        sends_model: false,
    },
    App {
        name: "search-indexer",
        auth: Auth::Key,
        tenant: CONTOSO,
        subscription: Some(Subscription {
            id: Some("5f3a9c1e2b7d4e60a8c1f2d3"),
            name: "search-indexer",
            product: "aoai-batch",
        }),
        share: 3,
        turns: (5, 40),
        gap_s: (1, 4),
        flow: Flow::Embed,
        hours: Hours::Nightly,
        deployments: &[("text-embedding-3-small", 1)],
        style: Style::Kb,
        system_tokens: 0,
        stream: 0.0,
        include_usage: 0.0,
        tools: 0.0,
        multi_choice: 0.0,
        max_tokens: 0.0,
        length_cut: 0.0,
        filtered: 0.0,
        api_versions: &["2024-10-21"],
        logs_path: true,
        omits_operation: false,
        sends_model: false,
    },
    App {
        name: "kb-search",
        auth: Auth::ClaimsV1,
        tenant: CONTOSO,
        subscription: None,
        share: 16,
        turns: (2, 6),
        gap_s: (1, 40),
        flow: Flow::Rag,
        hours: Hours::Office,
        deployments: &[("gpt-4o-mini", 1)],
        style: Style::Kb,
        system_tokens: 120,
        stream: 0.4,
        include_usage: 1.0,
        tools: 0.0,
        multi_choice: 0.0,
        max_tokens: 0.0,
        length_cut: 0.0,
        filtered: 0.001,
        api_versions: &["2024-10-21"],
        logs_path: false,
        omits_operation: false,
        sends_model: false,
    },
    App {
        name: "marketing-writer",
        auth: Auth::Key,
        tenant: CONTOSO,
        subscription: Some(Subscription {
            id: None,
            name: "marketing-genai",
            product: "aoai-standard",
        }),
        share: 6,
        turns: (1, 4),
        gap_s: (30, 300),
        flow: Flow::Chat { stateful: true },
        hours: Hours::Office,
        deployments: &[("gpt-35-turbo", 6), ("gpt-4o", 4)],
        style: Style::Marketing,
        system_tokens: 80,
        stream: 0.2,
        include_usage: 0.6,
        tools: 0.0,
        multi_choice: 0.45,
        max_tokens: 0.5,
        length_cut: 0.25,
        filtered: 0.005,
        api_versions: &["2024-10-21", "2024-06-01"],
        logs_path: false,
        omits_operation: false,
        sends_model: false,
    },
    App {
        name: "legacy-faq-bot",
        auth: Auth::Key,
        tenant: CONTOSO,
        subscription: Some(Subscription {
            id: Some("64b0e7c2d91a4f3b8e2c5a17"),
            name: "citizen-faq",
            product: "aoai-legacy",
        }),
        share: 14,
        turns: (1, 3),
        gap_s: (10, 90),
        flow: Flow::Chat { stateful: true },
        hours: Hours::Extended,
        deployments: &[("gpt-35-turbo", 1)],
        style: Style::Faq,
        system_tokens: 60,
        stream: 0.4,
        include_usage: 0.0,
        tools: 0.0,
        multi_choice: 0.0,
        max_tokens: 0.8,
        length_cut: 0.05,
        filtered: 0.003,
        api_versions: &["2024-02-01"],
        logs_path: false,
        omits_operation: true,
        sends_model: false,
    },
    App {
        name: "data-extractor",
        auth: Auth::ClaimsV1,
        tenant: CONTOSO,
        subscription: None,
        share: 3,
        turns: (8, 40),
        gap_s: (1, 6),
        flow: Flow::Chat { stateful: false },
        hours: Hours::Nightly,
        deployments: &[("gpt-4o-mini", 7), ("gpt-4.1", 3)],
        style: Style::Extraction,
        system_tokens: 1060,
        stream: 0.0,
        include_usage: 0.0,
        tools: 0.5,
        multi_choice: 0.0,
        max_tokens: 0.0,
        length_cut: 0.0,
        filtered: 0.0,
        api_versions: &["2024-10-21"],
        logs_path: false,
        omits_operation: false,
        sends_model: false,
    },
    App {
        name: "teams-assistant",
        auth: Auth::BearerV2User,
        tenant: CONTOSO,
        subscription: None,
        share: 7,
        turns: (1, 5),
        gap_s: (10, 120),
        flow: Flow::Chat { stateful: true },
        hours: Hours::Office,
        deployments: &[("gpt-4o", 7), ("gpt-4.1", 3)],
        style: Style::Assistant,
        system_tokens: 200,
        stream: 0.6,
        include_usage: 0.9,
        tools: 0.3,
        multi_choice: 0.0,
        max_tokens: 0.0,
        length_cut: 0.0,
        filtered: 0.002,
        api_versions: &["2025-01-01-preview"],
        logs_path: true,
        omits_operation: false,
        sends_model: false,
    },
    App {
        name: "smoke-test",
        auth: Auth::Anonymous,
        tenant: CONTOSO,
        subscription: None,
        share: 2,
        turns: (1, 2),
        gap_s: (1, 5),
        flow: Flow::Chat { stateful: false },
        hours: Hours::Always,
        deployments: &[("gpt-4o-mini", 2), ("gpt-35-turbo", 1), ("chat-prod", 1)],
        style: Style::Smoke,
        system_tokens: 0,
        stream: 0.3,
        include_usage: 0.5,
        tools: 0.0,
        multi_choice: 0.0,
        max_tokens: 0.5,
        length_cut: 0.0,
        filtered: 0.0,
        api_versions: &["2024-10-21"],
        logs_path: false,
        omits_operation: false,
        sends_model: false,
    },
];

impl App {
    /// The id the chargeback should key this app on, and which rule yields it.
    pub(crate) fn chargeback_key(&self) -> (String, &'static str) {
        match (self.auth, &self.subscription) {
            (Auth::Anonymous, _) => ("unattributed".to_owned(), "none"),
            (Auth::Key, Some(sub)) => (sub.id.unwrap_or(sub.name).to_owned(), "subscription"),
            (Auth::Key, None) => ("unattributed".to_owned(), "none"),
            _ => (self.app_id(), "claim"),
        }
    }

    /// The Entra application (client) id; stable whatever the seed.
    pub(crate) fn app_id(&self) -> String {
        crate::ids::stable_uuid(&format!("tokentally-sample/app/{}", self.name))
    }
}

pub(crate) fn tenant_id(tenant: &str) -> String {
    crate::ids::stable_uuid(&format!("tokentally-sample/tenant/{tenant}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deployments;

    #[test]
    fn apps_name_existing_deployments() {
        for app in APPS {
            assert!(!app.deployments.is_empty(), "{}", app.name);
            for (name, _) in app.deployments {
                assert!(deployments::index(name).is_some(), "{}: {name}", app.name);
            }
        }
    }

    #[test]
    fn chargeback_keys_are_distinct() {
        let mut keys: Vec<String> = APPS.iter().map(|a| a.chargeback_key().0).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), APPS.len());
    }
}
