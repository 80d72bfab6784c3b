//! Splitting typed or piped SQL into statements for the interactive prompt: a
//! statement ends with a line whose last character (outside a `--` comment) is
//! `;`, as in psql and DuckDB, so a query can span lines.

/// Accumulates lines until they form a statement.
#[derive(Debug, Default)]
pub struct StatementBuffer {
    text: String,
}

impl StatementBuffer {
    /// Adds one line; returns the statement when the line completes one. Blank
    /// input between statements is skipped.
    pub fn push_line(&mut self, line: &str) -> Option<String> {
        if self.text.is_empty() && line.trim().is_empty() {
            return None;
        }
        self.text.push_str(line);
        self.text.push('\n');
        let code = line.split_once("--").map_or(line, |(code, _)| code);
        if !code.trim_end().ends_with(';') {
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
    fn statements_end_at_a_semicolon_at_line_end() {
        let (statements, rest) = split("\nSELECT 1;\nSELECT a,\n  b FROM t; -- done\n\nSELECT 'x;' AS y\n");
        assert_eq!(statements, ["SELECT 1;", "SELECT a,\n  b FROM t; -- done"]);
        assert_eq!(rest.as_deref(), Some("SELECT 'x;' AS y"));
        let (statements, rest) = split("SELECT 1 -- not yet;\n;\n");
        assert_eq!(statements, ["SELECT 1 -- not yet;\n;"]);
        assert_eq!(rest, None);
    }
}
