//! Reading the small CSV tables finance maintains (prices, cost centers): every
//! error names the file's line, so a typo in a 200-line table is found at once.

use crate::Error;
use serde::de::DeserializeOwned;

/// Deserializes every non-blank row of `text` into `T`, with its 1-based line.
/// `err` builds the table's own error from a line number and a message.
pub(crate) fn read_rows<T: DeserializeOwned>(
    text: &str,
    err: &impl Fn(u64, String) -> Error,
) -> Result<Vec<(u64, T)>, Error> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| err(1, e.to_string()))?.clone();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| err(e.position().map_or(0, csv::Position::line), e.to_string()))?;
        let line = record.position().map_or(0, csv::Position::line);
        if record.iter().all(str::is_empty) {
            continue;
        }
        let row = record
            .deserialize(Some(&headers))
            .map_err(|e| err(line, e.to_string()))?;
        rows.push((line, row));
    }
    Ok(rows)
}
