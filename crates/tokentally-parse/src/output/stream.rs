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
    let mut rebuilt = Rebuilt::default();
    let mut on_event = |event: SseEvent<'_>| {
        let data = event.data.trim_ascii();
        if data == b"[DONE]" {
            rebuilt.output.done = true;
        } else if rebuilt.output.absorb_event(data).is_err() {
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
