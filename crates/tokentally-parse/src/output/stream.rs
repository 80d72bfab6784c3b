//! A whole `text/event-stream` response in, the rebuilt [`Output`] out.

use super::Output;
use crate::sse::{SseDecoder, SseEvent, StreamEnd};

/// What a stream rebuilt to, and how sound the stream was.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rebuilt {
    pub output: Output,
    /// Events whose data was not JSON (their content is lost).
    pub bad_events: usize,
    /// The decoder saw bytes after the last complete event.
    pub truncated: bool,
}

impl Rebuilt {
    /// The stream lacks its end (`[DONE]` or a terminal Responses event), was cut
    /// mid-event, or lost events: its counts are a lower bound.
    pub fn partial(&self) -> bool {
        self.truncated || !self.output.done || self.bad_events > 0
    }
}

/// Decodes and absorbs a stream given in `pieces` (one piece for a logged
/// response; a live capture may hand over the bytes as they came). Where the
/// pieces are cut never changes the result.
pub fn rebuild_stream<'p>(pieces: impl IntoIterator<Item = &'p [u8]>) -> Rebuilt {
    rebuild(pieces, |_| None)
}

/// [`rebuild_stream`] of a stream held as one `str` (a gateway record's `sse`).
/// The same result; event data that is a slice of `sse` is known to be UTF-8, so
/// it is not validated again before it is parsed.
pub fn rebuild_stream_str(sse: &str) -> Rebuilt {
    rebuild([sse.as_bytes()], |data| {
        // `data` is either a slice of `sse` or a copy in the decoder; only the
        // first is found at an offset inside `sse`.
        let start = data.as_ptr().addr().checked_sub(sse.as_ptr().addr())?;
        sse.get(start..start.checked_add(data.len())?)
            .filter(|text| text.as_ptr() == data.as_ptr())
    })
}

/// `as_str` finds event data in the stream's `str`, if it has one.
fn rebuild<'p, 's>(
    pieces: impl IntoIterator<Item = &'p [u8]>,
    as_str: impl Fn(&[u8]) -> Option<&'s str>,
) -> Rebuilt {
    let mut rebuilt = Rebuilt::default();
    let mut on_event = |event: SseEvent<'_>| {
        let data = event.data.trim_ascii();
        let absorbed = match as_str(data) {
            _ if data == b"[DONE]" => {
                rebuilt.output.done = true;
                Ok(())
            }
            Some(text) => rebuilt.output.absorb_event_str(text),
            None => rebuilt.output.absorb_event(data),
        };
        if absorbed.is_err() {
            rebuilt.bad_events += 1;
        }
    };
    let mut decoder = SseDecoder::new();
    for piece in pieces {
        decoder.feed(piece, &mut on_event);
    }
    let end = decoder.finish(&mut on_event);
    rebuilt.truncated = end == StreamEnd::Truncated;
    rebuilt
}
