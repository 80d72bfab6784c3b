//! Event Hubs Capture files: Avro container files Azure writes to Blob Storage or
//! Data Lake, one record per event (`SequenceNumber`, `Offset`, `EnqueuedTimeUtc`,
//! `SystemProperties`, `Properties`, `Body`). The `Body` is the event exactly as it
//! was sent, so it goes through the same envelope decoding as a Kafka message.

use super::Source;
use crate::envelope::Decoded;
use crate::{Error, Result};
use apache_avro::types::Value;
use std::io::Read;
use tokentally_core::SourcePosition;
use xxhash_rust::xxh3::Xxh3;

/// The first bytes of every Avro object container file.
pub(crate) const AVRO_MAGIC: &[u8] = b"Obj\x01";

/// Reads one Capture file; returns the content hash that names its output.
pub(crate) fn ingest_capture(reader: impl Read, source: &mut Source<'_, '_>) -> Result<u64> {
    let (input, name, options) = (source.input, source.name, source.options);
    let mut hashing = HashingReader {
        inner: reader,
        hasher: Xxh3::new(),
    };
    let avro_err = |index: usize, e: apache_avro::Error| Error::Capture {
        path: input.to_owned(),
        index,
        reason: e.to_string(),
    };
    let mut decoder = options.decoder();
    let mut decoded = Vec::new();
    let records = apache_avro::Reader::new(&mut hashing).map_err(|e| avro_err(0, e))?;
    for (index, value) in records.enumerate() {
        let value = value.map_err(|e| avro_err(index, e))?;
        source.summary.records += 1;
        let (sequence, body) = fields(&value);
        let position = SourcePosition {
            source: name.to_owned(),
            partition: None,
            offset: sequence.unwrap_or(i64::try_from(index).unwrap_or(i64::MAX)),
        };
        match body {
            Some(body) if !body.is_empty() => decoder.decode(body, &position, &mut decoded),
            _ => decoded.push((
                position.clone(),
                Decoded::Bad {
                    kind: "empty_event".into(),
                    reason: format!("Capture record {index} has no Body"),
                    raw: None,
                },
            )),
        }
        source.accept_event(&mut decoded, body.unwrap_or_default())?;
    }
    source.end_of_input(decoder)?;
    // The container's trailing bytes (after the last block) count too.
    std::io::copy(&mut hashing, &mut std::io::sink()).map_err(|source| Error::Io {
        path: input.to_owned(),
        source,
    })?;
    Ok(hashing.hasher.digest())
}

/// `SequenceNumber` and `Body` of a Capture record.
fn fields(value: &Value) -> (Option<i64>, Option<&[u8]>) {
    let Value::Record(fields) = value else {
        return (None, None);
    };
    let mut sequence = None;
    let mut body = None;
    for (name, value) in fields {
        let value = match value {
            Value::Union(_, inner) => inner.as_ref(),
            other => other,
        };
        match (name.as_str(), value) {
            ("SequenceNumber", Value::Long(n)) => sequence = Some(*n),
            ("Body", Value::Bytes(b)) => body = Some(b.as_slice()),
            _ => {}
        }
    }
    (sequence, body)
}

/// Hashes what the Avro reader reads, so output names follow the file's content.
struct HashingReader<R> {
    inner: R,
    hasher: Xxh3,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}
