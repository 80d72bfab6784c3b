//! Prompts and answers, built from the word lists in [`crate::vocab`].
//!
//! The text only has to be plausible to a human skimming the sample and varied
//! enough for the tokenizer (English, other scripts, emoji, code, JSON, tables).

use crate::ids::stable_rng;
use crate::vocab::{self, Topic};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tokentally_core::Encoding;
use tokentally_parse::count_tokens;

/// The kind of work an app does, which decides its prompts and answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    Hr,
    Support,
    Legal,
    Code,
    Kb,
    Marketing,
    Faq,
    Extraction,
    Assistant,
    Smoke,
}

impl Style {
    fn topic(self) -> &'static Topic {
        match self {
            Self::Hr => &vocab::HR,
            Self::Support => &vocab::SUPPORT,
            Self::Legal => &vocab::LEGAL,
            Self::Code => &vocab::CODE,
            Self::Kb => &vocab::KB,
            Self::Marketing => &vocab::MARKETING,
            Self::Faq => &vocab::FAQ,
            Self::Extraction => &vocab::EXTRACTION,
            Self::Assistant => &vocab::ASSISTANT,
            Self::Smoke => &vocab::SMOKE,
        }
    }
}

pub(crate) fn pick<'a>(rng: &mut ChaCha8Rng, items: &[&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

pub(crate) fn pick_any<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// [`fill`] of a template picked from `templates`.
pub(crate) fn pick_fill(rng: &mut ChaCha8Rng, templates: &[&str], topic: &Topic) -> String {
    let template = pick(rng, templates);
    fill(rng, template, topic)
}

/// Replaces the `{…}` slots of a template with words of the topic.
pub(crate) fn fill(rng: &mut ChaCha8Rng, template: &str, topic: &Topic) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find('}') else { break };
        let slot = &rest[start + 1..start + len];
        match slot {
            "n" | "m" => out.push_str(pick(rng, topic.nouns)),
            "v" => out.push_str(pick(rng, topic.verbs)),
            "a" => out.push_str(pick(rng, topic.adjectives)),
            "d" => out.push_str(&rng.random_range(2..30).to_string()),
            "p" | "q" => out.push_str(pick_any(rng, vocab::PEOPLE).0),
            "w" => out.push_str(pick(rng, vocab::WHEN)),
            "c" => {
                let code = format!("{}-{}", topic.code, rng.random_range(10_000..99_999));
                out.push_str(&code);
            }
            "P" => out.push_str(pick(rng, vocab::CONTRACT_PARTIES)),
            "L" => out.push_str(pick(rng, vocab::JURISDICTIONS)),
            other => out.push_str(other),
        }
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    capitalize(out)
}

fn capitalize(mut s: String) -> String {
    if let Some(first) = s.chars().next().filter(char::is_ascii_lowercase) {
        s.replace_range(..1, &first.to_ascii_uppercase().to_string());
    }
    s
}

fn sentences(rng: &mut ChaCha8Rng, topic: &Topic, count: usize) -> String {
    let mut out = String::new();
    for i in 0..count {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&pick_fill(rng, vocab::REPLY_TEMPLATES, topic));
    }
    out
}

/// A system prompt of about `tokens` tokens; the same for every call of the app.
pub(crate) fn system_prompt(app: &str, style: Style, tokens: i64) -> String {
    let mut rng = stable_rng(&format!("system/{app}"));
    let topic = style.topic();
    let mut out = format!(
        "You are the {app} assistant of Contoso. Answer precisely and politely, in the user's language. \
         Today is provided by the caller; never invent dates, amounts or reference numbers."
    );
    // Counting piece by piece keeps this linear; merges across pieces make the sum
    // a slight overestimate, which only matters for the "about".
    let mut counted = count_tokens(Encoding::O200kBase, &out);
    let mut rule = 1;
    while counted < tokens {
        let mut piece = String::new();
        if rule % 8 == 1 {
            piece.push_str(&format!("\n\n## Section {}\n", rule / 8 + 1));
        }
        if rule % 11 == 0 {
            piece.push_str("\n| item | limit | status |\n|---|---|---|\n");
            for _ in 0..4 {
                piece.push_str(&fill(&mut rng, "| {n} | {d} days | {a} |\n", topic));
            }
        }
        let text = pick_fill(&mut rng, vocab::RULE_TEMPLATES, topic);
        piece.push_str(&format!("\n{rule}. {text}"));
        counted += count_tokens(Encoding::O200kBase, &piece);
        out.push_str(&piece);
        rule += 1;
    }
    out
}

/// What the user types, and the index in [`vocab::LANGUAGES`] of the language the
/// answer should be in (`None`: English).
pub(crate) fn user_message(rng: &mut ChaCha8Rng, style: Style) -> (String, Option<usize>) {
    let topic = style.topic();
    let text = match style {
        Style::Support if rng.random_bool(0.3) => {
            let language = rng.random_range(0..vocab::LANGUAGES.len());
            let mut text = pick(rng, vocab::LANGUAGES[language].questions).to_owned();
            if rng.random_bool(0.4) {
                text.push(' ');
                text.push_str(pick(rng, vocab::EMOJI));
            }
            return (text, Some(language));
        }
        Style::Support if rng.random_bool(0.15) => {
            let q = pick_fill(rng, topic.questions, topic);
            format!("{q} {}{}", pick(rng, vocab::EMOJI), pick(rng, vocab::EMOJI))
        }
        Style::Legal => {
            let clauses = rng.random_range(5..18);
            format!("{}\n\n{}", topic.questions[0], contract(rng, clauses))
        }
        Style::Code => format!("{}\n\n```{}\n```", topic.questions[0], code_snippet(rng)),
        Style::Extraction => format!("{}\n\n{}", topic.questions[0], invoice(rng)),
        Style::Kb => {
            let question = pick_fill(rng, topic.questions, topic);
            let mut text = format!("Question: {question}\n\nSources:");
            for i in 1..=rng.random_range(2..5) {
                text.push_str(&format!("\n[{i}] {}", pick(rng, vocab::KB_PASSAGES)));
            }
            text
        }
        Style::Marketing if rng.random_bool(0.3) => {
            let language = rng.random_range(0..vocab::CAMPAIGN_LANGUAGES);
            let name = vocab::LANGUAGES[language].name;
            let text = format!(
                "Translate and adapt for the {name} market: {}",
                sentences(rng, topic, 2)
            );
            return (text, Some(language));
        }
        _ => pick_fill(rng, topic.questions, topic),
    };
    (text, None)
}

/// Text an embeddings call indexes or looks up.
pub(crate) fn embedding_input(rng: &mut ChaCha8Rng, query: bool) -> String {
    if query {
        pick_fill(rng, vocab::KB.questions, &vocab::KB)
    } else {
        let mut chunk = String::new();
        for _ in 0..rng.random_range(2..6) {
            chunk.push_str(pick(rng, vocab::KB_PASSAGES));
            chunk.push(' ');
        }
        chunk.push_str(&sentences(rng, &vocab::KB, 2));
        chunk
    }
}

/// The assistant's answer: mostly a few sentences, sometimes a list or code, as
/// chat answers are; `language` as returned by [`user_message`].
pub(crate) fn reply(rng: &mut ChaCha8Rng, style: Style, language: Option<usize>) -> String {
    let topic = style.topic();
    let long = style != Style::Faq && rng.random_bool(0.06);
    match style {
        Style::Smoke => pick(rng, &["pong", "Hello! How can I help you today?", "4", "OK"]).to_owned(),
        Style::Support | Style::Marketing if language.is_some() => {
            let language = &vocab::LANGUAGES[language.unwrap_or(0) % vocab::LANGUAGES.len()];
            let pool = if style == Style::Support {
                language.replies
            } else {
                language.copy
            };
            let mut text = pick(rng, pool).to_owned();
            if rng.random_bool(0.5) {
                text.push(' ');
                text.push_str(pick(rng, pool));
            }
            if rng.random_bool(0.3) {
                text.push(' ');
                text.push_str(pick(rng, vocab::EMOJI));
            }
            text
        }
        Style::Code => {
            let mut text = {
                let count = rng.random_range(1..4);
                sentences(rng, topic, count)
            };
            text.push_str("\n\n```");
            text.push_str(&code_snippet(rng));
            text.push_str("\n```\n\n");
            text.push_str(&{
                let count = rng.random_range(1..3);
                sentences(rng, topic, count)
            });
            text
        }
        Style::Extraction => extracted_json(rng),
        Style::Legal | Style::Assistant | Style::Hr | Style::Kb if long || style == Style::Legal => {
            let mut text = sentences(rng, topic, 1);
            text.push_str("\n\n");
            for i in 1..=rng.random_range(3..6) {
                let item = fill(rng, "**{n}**: {a}; {v} before {w}.", topic);
                text.push_str(&format!("{i}. {item}\n"));
            }
            text.push('\n');
            text.push_str(&{
                let count = rng.random_range(1..3);
                sentences(rng, topic, count)
            });
            text
        }
        _ => {
            let count = if long {
                rng.random_range(4..8)
            } else {
                *pick_any(rng, &[1, 1, 1, 2, 2, 3])
            };
            sentences(rng, topic, count)
        }
    }
}

/// Cuts an answer after `words` words, mid-sentence, as `max_tokens` does.
pub(crate) fn cut_words(text: &str, words: usize) -> &str {
    let mut seen = 0;
    let mut in_word = false;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            if in_word {
                seen += 1;
                if seen == words {
                    return &text[..i];
                }
            }
            in_word = false;
        } else {
            in_word = true;
        }
    }
    text
}

fn contract(rng: &mut ChaCha8Rng, clauses: usize) -> String {
    let a = pick(rng, vocab::CONTRACT_PARTIES);
    let b = pick(rng, vocab::CONTRACT_PARTIES);
    let mut text = format!("MASTER SERVICES AGREEMENT between {a} and {b}\n");
    for i in 1..=clauses {
        let clause = pick_fill(rng, vocab::CLAUSE_TEMPLATES, &vocab::LEGAL);
        text.push_str(&format!("\n{}.{} {clause}", i / 4 + 1, i % 4 + 1));
    }
    text
}

fn invoice(rng: &mut ChaCha8Rng) -> String {
    let supplier = pick(rng, vocab::CONTRACT_PARTIES);
    let mut text = format!(
        "INVOICE INV-{}\nSupplier: {supplier}\nVAT: SE{}01\nDate: 2026-{:02}-{:02}\nDue: net 30\n\nItem | Qty | Price\n",
        rng.random_range(100_000..999_999),
        rng.random_range(1_000_000_000u64..9_999_999_999),
        rng.random_range(1..13),
        rng.random_range(1..29),
    );
    for _ in 0..rng.random_range(1..7) {
        let item = pick(
            rng,
            &[
                "Consulting hours",
                "Laptop stand",
                "Cloud storage (TB)",
                "Support plan",
                "Licence",
            ],
        );
        let line = format!(
            "{item} | {} | {}.{:02}\n",
            rng.random_range(1..40),
            rng.random_range(9..2000),
            0
        );
        text.push_str(&line);
    }
    text.push_str(&format!("Total: {}.00 EUR", rng.random_range(100..40_000)));
    text
}

fn extracted_json(rng: &mut ChaCha8Rng) -> String {
    format!(
        r#"{{"invoice_number":"INV-{}","supplier":"{}","currency":"EUR","total":{}.00,"due_days":30,"line_items":{}}}"#,
        rng.random_range(100_000..999_999),
        pick(rng, vocab::CONTRACT_PARTIES),
        rng.random_range(100..40_000),
        rng.random_range(1..7)
    )
}

const IDENTS: &[&str] = &[
    "order", "client", "user_id", "payload", "cache", "retries", "batch", "config",
];

fn code_snippet(rng: &mut ChaCha8Rng) -> String {
    let a = pick(rng, IDENTS);
    let b = pick(rng, IDENTS);
    let n = rng.random_range(2..9);
    match rng.random_range(0..4) {
        0 => format!(
            "python\ndef fetch_{a}({b}, retries={n}):\n    for attempt in range(retries):\n        try:\n            \
             return client.get({b})\n        except TimeoutError:\n            time.sleep(2 ** attempt)\n    \
             raise RuntimeError(\"fetch_{a} failed after {n} attempts\")"
        ),
        1 => format!(
            "rust\npub fn load_{a}(path: &Path) -> Result<Vec<String>, Error> {{\n    let text = fs::read_to_string(path)?;\n    \
             let {b}: Vec<_> = text.lines().map(str::trim).collect();\n    Ok({b}.into_iter().take({n}).map(String::from).collect())\n}}"
        ),
        2 => format!(
            "sql\nSELECT {a}, COUNT(*) AS n\nFROM events\nWHERE {b} IS NOT NULL\n  AND created_at >= DATEADD(day, -{n}, GETDATE())\nGROUP BY {a}\nORDER BY n DESC;"
        ),
        _ => format!(
            "typescript\nexport async function sync{n}({a}: string[]): Promise<void> {{\n  for (const {b} of {a}) {{\n    \
             await api.post(`/sync/${{{b}}}`);\n  }}\n}}"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn slots_are_filled() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..50 {
            let s = pick_fill(&mut rng, vocab::REPLY_TEMPLATES, &vocab::HR);
            assert!(!s.contains('{') && !s.contains('}'), "{s}");
        }
    }

    #[test]
    fn long_system_prompts_are_long_enough_to_be_cached() {
        let long: Vec<_> = crate::apps::APPS
            .iter()
            .filter(|a| a.system_tokens >= 1024)
            .collect();
        assert!(long.len() >= 2);
        for app in long {
            let p = system_prompt(app.name, app.style, app.system_tokens);
            let n = count_tokens(Encoding::O200kBase, &p);
            assert!((1024..app.system_tokens + 100).contains(&n), "{}: {n}", app.name);
            assert_eq!(p, system_prompt(app.name, app.style, app.system_tokens));
        }
    }

    #[test]
    fn cut_words_stops_mid_sentence() {
        assert_eq!(cut_words("one two  three four", 2), "one two");
        assert_eq!(cut_words("one two", 5), "one two");
    }
}
