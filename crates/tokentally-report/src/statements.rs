//! Where a statement ends, by DataFusion's SQL tokenizer rather than by text: a
//! `;` inside a string, a quoted name or a comment never ends one, and a
//! statement may span lines (as in psql and DuckDB). The session splits the
//! finished text into statements with the SQL parser (`sql.rs`).

use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

/// Whether `text` ends with a complete statement: its last token, past
/// whitespace and comments, is `;`. Text the tokenizer cannot finish (an open
/// quote or block comment) does not.
pub fn ends_statement(text: &str) -> bool {
    let dialect = GenericDialect {};
    let Ok(tokens) = Tokenizer::new(&dialect, text).tokenize() else {
        return false;
    };
    tokens
        .iter()
        .rev()
        .find(|t| !matches!(t, Token::Whitespace(_)))
        .is_some_and(|t| matches!(t, Token::SemiColon))
}

/// Accumulates typed lines until they end a statement.
#[derive(Debug, Default)]
pub struct StatementBuffer {
    text: String,
}

impl StatementBuffer {
    /// Adds one line; returns the text so far when it ends a statement (it may
    /// hold several, which the session runs in order). Blank input between
    /// statements is skipped.
    pub fn push_line(&mut self, line: &str) -> Option<String> {
        if self.text.is_empty() && line.trim().is_empty() {
            return None;
        }
        self.text.push_str(line);
        self.text.push('\n');
        if !ends_statement(&self.text) {
            return None;
        }
        let statement = std::mem::take(&mut self.text);
        Some(statement.trim().to_owned())
    }

    /// Whether a statement has been started but not ended (the prompt shows it).
    pub fn is_pending(&self) -> bool {
        !self.text.is_empty()
    }

    /// What is left at end of input, if anything but whitespace.
    pub fn finish(self) -> Option<String> {
        let rest = self.text.trim();
        (!rest.is_empty()).then(|| rest.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(input: &str) -> (Vec<String>, Option<String>) {
        let mut buffer = StatementBuffer::default();
        let statements = input.lines().filter_map(|l| buffer.push_line(l)).collect();
        (statements, buffer.finish())
    }

    #[test]
    fn statements_end_at_a_semicolon_token() {
        let (statements, rest) = split("\nSELECT 1;\nSELECT a,\n  b FROM t; -- done\n\nSELECT 'x;' AS y\n");
        assert_eq!(statements, ["SELECT 1;", "SELECT a,\n  b FROM t; -- done"]);
        assert_eq!(rest.as_deref(), Some("SELECT 'x;' AS y"));
        let (statements, rest) = split("SELECT 1 -- not yet;\n;\n");
        assert_eq!(statements, ["SELECT 1 -- not yet;\n;"]);
        assert_eq!(rest, None);
    }

    #[test]
    fn a_semicolon_in_a_string_or_block_comment_ends_nothing() {
        let (statements, rest) = split("SELECT 'a;\nb;' AS x /* c;\n d; */\n;");
        assert_eq!(statements, ["SELECT 'a;\nb;' AS x /* c;\n d; */\n;"]);
        assert_eq!(rest, None);
        assert!(!ends_statement("SELECT \"odd;"));
        assert!(ends_statement("SELECT 1; SELECT 2;"));
    }

    #[test]
    fn comment_markers_inside_strings_are_text() {
        let (statements, rest) = split("SELECT '--';\nSELECT '/*' AS a;\nSELECT 'it''s; -- here' AS b;\n");
        assert_eq!(
            statements,
            [
                "SELECT '--';",
                "SELECT '/*' AS a;",
                "SELECT 'it''s; -- here' AS b;"
            ]
        );
        assert_eq!(rest, None);
    }
}
