//! Which tokenizer a model uses, by its OpenAI or Azure name.
//!
//! AOAI names models differently from OpenAI (`gpt-35-turbo`), appends versions
//! (`gpt-4o-2024-08-06`), and customers name deployments freely, so lookup works on
//! prefixes of the normalized model name, longest family first.

use std::fmt;

/// A tiktoken encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    O200kBase,
    Cl100kBase,
}

impl Encoding {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::O200kBase => "o200k_base",
            Self::Cl100kBase => "cl100k_base",
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the catalog knows about a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelInfo {
    /// Canonical family name (`gpt-4o-mini`, `gpt-3.5-turbo`).
    pub family: &'static str,
    pub encoding: Encoding,
    /// Spends hidden reasoning tokens (o-series, gpt-5): an estimate from the
    /// visible output undercounts such a call.
    pub reasoning: bool,
}

/// Families by prefix; more specific prefixes come first.
/// Audio, Realtime and image-generation variants are families of their own: they
/// bill audio and image tokens, and their text prices differ from the base model's.
const FAMILIES: &[(&str, &str, Encoding)] = &[
    (
        "gpt-4o-mini-audio-preview",
        "gpt-4o-mini-audio-preview",
        Encoding::O200kBase,
    ),
    (
        "gpt-4o-mini-realtime-preview",
        "gpt-4o-mini-realtime-preview",
        Encoding::O200kBase,
    ),
    ("gpt-4o-mini", "gpt-4o-mini", Encoding::O200kBase),
    (
        "gpt-4o-audio-preview",
        "gpt-4o-audio-preview",
        Encoding::O200kBase,
    ),
    (
        "gpt-4o-realtime-preview",
        "gpt-4o-realtime-preview",
        Encoding::O200kBase,
    ),
    ("gpt-4o", "gpt-4o", Encoding::O200kBase),
    ("gpt-realtime-mini", "gpt-realtime-mini", Encoding::O200kBase),
    ("gpt-realtime", "gpt-realtime", Encoding::O200kBase),
    ("gpt-audio-mini", "gpt-audio-mini", Encoding::O200kBase),
    ("gpt-audio", "gpt-audio", Encoding::O200kBase),
    ("gpt-image-1-mini", "gpt-image-1-mini", Encoding::O200kBase),
    ("gpt-image-1.5", "gpt-image-1.5", Encoding::O200kBase),
    ("gpt-image-1", "gpt-image-1", Encoding::O200kBase),
    ("chatgpt-4o", "gpt-4o", Encoding::O200kBase),
    ("gpt-4.1-nano", "gpt-4.1-nano", Encoding::O200kBase),
    ("gpt-4.1-mini", "gpt-4.1-mini", Encoding::O200kBase),
    ("gpt-4.1", "gpt-4.1", Encoding::O200kBase),
    ("gpt-4.5", "gpt-4.5", Encoding::O200kBase),
    ("gpt-5-nano", "gpt-5-nano", Encoding::O200kBase),
    ("gpt-5-mini", "gpt-5-mini", Encoding::O200kBase),
    ("gpt-5-pro", "gpt-5-pro", Encoding::O200kBase),
    ("gpt-5", "gpt-5", Encoding::O200kBase),
    // The two open-weight sizes are priced apart; another size is `gpt-oss`.
    ("gpt-oss-120b", "gpt-oss-120b", Encoding::O200kBase),
    ("gpt-oss-20b", "gpt-oss-20b", Encoding::O200kBase),
    ("gpt-oss", "gpt-oss", Encoding::O200kBase),
    ("o1-mini", "o1-mini", Encoding::O200kBase),
    ("o1", "o1", Encoding::O200kBase),
    ("o3-mini", "o3-mini", Encoding::O200kBase),
    ("o3", "o3", Encoding::O200kBase),
    ("o4-mini", "o4-mini", Encoding::O200kBase),
    ("codex-mini", "codex-mini", Encoding::O200kBase),
    ("gpt-4-turbo", "gpt-4-turbo", Encoding::Cl100kBase),
    ("gpt-4-32k", "gpt-4", Encoding::Cl100kBase),
    ("gpt-4", "gpt-4", Encoding::Cl100kBase),
    (
        "gpt-35-turbo-instruct",
        "gpt-3.5-turbo-instruct",
        Encoding::Cl100kBase,
    ),
    (
        "gpt-3.5-turbo-instruct",
        "gpt-3.5-turbo-instruct",
        Encoding::Cl100kBase,
    ),
    ("gpt-35-turbo", "gpt-3.5-turbo", Encoding::Cl100kBase),
    ("gpt-3.5-turbo", "gpt-3.5-turbo", Encoding::Cl100kBase),
    (
        "text-embedding-3-small",
        "text-embedding-3-small",
        Encoding::Cl100kBase,
    ),
    (
        "text-embedding-3-large",
        "text-embedding-3-large",
        Encoding::Cl100kBase,
    ),
    (
        "text-embedding-ada-002",
        "text-embedding-ada-002",
        Encoding::Cl100kBase,
    ),
    ("davinci-002", "davinci-002", Encoding::Cl100kBase),
    ("babbage-002", "babbage-002", Encoding::Cl100kBase),
];

/// Every family of the catalog, once each, in catalog order.
pub fn families() -> impl Iterator<Item = &'static str> {
    FAMILIES
        .iter()
        .enumerate()
        .filter(|&(i, &(_, family, _))| FAMILIES[..i].iter().all(|&(_, f, _)| f != family))
        .map(|(_, &(_, family, _))| family)
}

/// Looks a model up by name; `None` for a model the catalog does not know.
///
/// A prefix only matches at a name boundary (`o1` matches `o1-2024-12-17` but not
/// `o100`), so an unknown model is reported as unknown rather than guessed.
pub fn lookup_model(name: &str) -> Option<ModelInfo> {
    let name = name.trim().to_ascii_lowercase();
    // Azure Foundry sometimes prefixes the publisher: `azureml://…/gpt-4o` or `openai/gpt-4o`.
    let name = name.rsplit('/').next().unwrap_or(&name);
    FAMILIES.iter().find_map(|&(prefix, family, encoding)| {
        let rest = name.strip_prefix(prefix)?;
        let at_boundary = rest.is_empty() || rest.starts_with(['-', '_', ':', '.']);
        let reasoning = family.starts_with('o') || family.starts_with("gpt-5") || family == "codex-mini";
        at_boundary.then_some(ModelInfo {
            family,
            encoding,
            reasoning,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(name: &str) -> Option<Encoding> {
        lookup_model(name).map(|m| m.encoding)
    }

    #[test]
    fn o200k_families() {
        for m in [
            "gpt-4o",
            "gpt-4o-2024-08-06",
            "gpt-4o-mini-2024-07-18",
            "gpt-4.1",
            "gpt-4.1-mini-2025-04-14",
            "gpt-4.5-preview",
            "gpt-5",
            "gpt-5-mini",
            "o1",
            "o1-2024-12-17",
            "o3-mini",
            "o4-mini",
        ] {
            assert_eq!(enc(m), Some(Encoding::O200kBase), "{m}");
        }
    }

    #[test]
    fn cl100k_families() {
        for m in [
            "gpt-4",
            "gpt-4-0613",
            "gpt-4-turbo-2024-04-09",
            "gpt-35-turbo",
            "gpt-35-turbo-16k",
            "gpt-3.5-turbo-0125",
            "text-embedding-3-small",
            "text-embedding-ada-002",
        ] {
            assert_eq!(enc(m), Some(Encoding::Cl100kBase), "{m}");
        }
    }

    #[test]
    fn families_and_unknowns() {
        assert_eq!(
            lookup_model("GPT-35-Turbo").map(|m| m.family),
            Some("gpt-3.5-turbo")
        );
        assert_eq!(lookup_model("gpt-4o-mini").map(|m| m.family), Some("gpt-4o-mini"));
        assert_eq!(lookup_model("openai/gpt-4o").map(|m| m.family), Some("gpt-4o"));
        assert_eq!(lookup_model("o100"), None);
        assert!(lookup_model("o3-mini-2025-01-31").is_some_and(|m| m.reasoning));
        assert!(lookup_model("gpt-4o").is_some_and(|m| !m.reasoning));
        assert_eq!(lookup_model("llama-3-70b"), None);
        for (name, family) in [
            ("gpt-4o-audio-preview-2024-12-17", "gpt-4o-audio-preview"),
            (
                "gpt-4o-mini-audio-preview-2024-12-17",
                "gpt-4o-mini-audio-preview",
            ),
            ("gpt-4o-realtime-preview-2024-12-17", "gpt-4o-realtime-preview"),
            ("gpt-4o-mini-realtime-preview", "gpt-4o-mini-realtime-preview"),
            ("gpt-realtime-2025-08-28", "gpt-realtime"),
            ("gpt-audio-mini-2025-10-06", "gpt-audio-mini"),
            ("gpt-image-1", "gpt-image-1"),
            ("gpt-image-1-mini", "gpt-image-1-mini"),
            ("gpt-image-1.5-2025-12-16", "gpt-image-1.5"),
            ("gpt-5-pro", "gpt-5-pro"),
            ("gpt-4o-2024-11-20", "gpt-4o"),
        ] {
            assert_eq!(lookup_model(name).map(|m| m.family), Some(family), "{name}");
        }
        assert_eq!(lookup_model(""), None);
    }
}
