//! Incremental decoder for `text/event-stream` (the WHATWG server-sent events
//! format): bytes in, events out, fed in pieces of any size.
//!
//! Lines end in LF, CRLF or CR; a CRLF split across two pieces is still one line
//! end. Bytes are buffered until a line ends, so a piece may end inside a UTF-8
//! character. Data is handed out as bytes: the consumer's JSON parser validates
//! UTF-8 once, instead of the decoder doing it per line.

use memchr::memchr2;

/// One dispatched event. `data` joins the event's `data:` lines with `\n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SseEvent<'a> {
    /// The `event:` field, empty when absent (the spec's default type "message").
    pub event: &'a [u8],
    pub data: &'a [u8],
}

/// Streaming SSE decoder. Feed it with [`SseDecoder::feed`], then call
/// [`SseDecoder::finish`] to learn whether the stream ended cleanly.
#[derive(Debug, Default)]
pub struct SseDecoder {
    /// An unterminated line carried over from the previous piece.
    line: Vec<u8>,
    data: Vec<u8>,
    event: Vec<u8>,
    has_data: bool,
    /// The previous piece ended in CR: an LF starting this one belongs to it.
    skip_lf: bool,
}

/// How the stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEnd {
    /// Every event was terminated by a blank line.
    Clean,
    /// Bytes after the last complete event: an event without its blank line (it
    /// was still dispatched) or a line cut off mid-way.
    Truncated,
}

impl SseDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes `bytes`, calling `on_event` for every event completed by them.
    ///
    /// An event whose data is one `data:` line inside `bytes` is handed out as a
    /// slice of `bytes`, without copying it (the common case: one event per line
    /// pair). Data is copied into the decoder only when it spans lines or pieces.
    pub fn feed(&mut self, mut bytes: &[u8], on_event: &mut impl FnMut(SseEvent<'_>)) {
        if self.skip_lf && !bytes.is_empty() {
            self.skip_lf = false;
            if let Some(rest) = bytes.strip_prefix(b"\n") {
                bytes = rest;
            }
        }
        // The current event's data while it is one line of `bytes`; then
        // `self.data` is empty.
        let mut held: Option<&[u8]> = None;
        while let Some(end) = memchr2(b'\n', b'\r', bytes) {
            if self.line.is_empty() {
                self.process_line(&bytes[..end], &mut held, on_event);
            } else {
                // Only the first line of a piece continues a carried one, and
                // nothing is held before it.
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(&bytes[..end]);
                self.process_line_copied(&line, on_event);
                line.clear();
                self.line = line;
            }
            let crlf = bytes[end] == b'\r';
            bytes = &bytes[end + 1..];
            if crlf {
                match bytes.first() {
                    Some(b'\n') => bytes = &bytes[1..],
                    None => self.skip_lf = true,
                    Some(_) => {}
                }
            }
        }
        if let Some(data) = held {
            self.data.extend_from_slice(data);
        }
        self.line.extend_from_slice(bytes);
    }

    /// Ends the stream. A last event that lacks its terminating blank line is still
    /// dispatched (a cut-off stream's last event may be whole), and the end is
    /// reported as [`StreamEnd::Truncated`].
    pub fn finish(mut self, on_event: &mut impl FnMut(SseEvent<'_>)) -> StreamEnd {
        let mut truncated = false;
        if !self.line.is_empty() {
            truncated = true;
            let line = std::mem::take(&mut self.line);
            self.process_line_copied(&line, on_event);
        }
        if self.has_data || !self.event.is_empty() {
            truncated = true;
            self.dispatch(None, on_event);
        }
        if truncated {
            StreamEnd::Truncated
        } else {
            StreamEnd::Clean
        }
    }

    /// A line that does not outlive this call: data it holds is copied.
    fn process_line_copied(&mut self, line: &[u8], on_event: &mut impl FnMut(SseEvent<'_>)) {
        let mut held = None;
        self.process_line(line, &mut held, on_event);
        if let Some(data) = held {
            self.data.extend_from_slice(data);
        }
    }

    fn process_line<'b>(
        &mut self,
        line: &'b [u8],
        held: &mut Option<&'b [u8]>,
        on_event: &mut impl FnMut(SseEvent<'_>),
    ) {
        if line.is_empty() {
            self.dispatch(held.take(), on_event);
            return;
        }
        if line[0] == b':' {
            return; // comment
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" if !self.has_data => {
                *held = Some(value);
                self.has_data = true;
            }
            b"data" => {
                if let Some(first) = held.take() {
                    self.data.extend_from_slice(first);
                }
                self.data.push(b'\n');
                self.data.extend_from_slice(value);
            }
            b"event" => {
                self.event.clear();
                self.event.extend_from_slice(value);
            }
            _ => {} // id, retry and unknown fields carry nothing billable
        }
    }

    /// Dispatches the event; `held` is its data when not in `self.data`.
    fn dispatch(&mut self, held: Option<&[u8]>, on_event: &mut impl FnMut(SseEvent<'_>)) {
        if self.has_data {
            on_event(SseEvent {
                event: &self.event,
                data: held.unwrap_or(&self.data),
            });
        }
        self.data.clear();
        self.event.clear();
        self.has_data = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    type Owned = (Vec<u8>, Vec<u8>);

    fn decode(pieces: &[&[u8]]) -> (Vec<Owned>, StreamEnd) {
        let mut out = Vec::new();
        let mut push = |e: SseEvent<'_>| out.push((e.event.to_vec(), e.data.to_vec()));
        let mut d = SseDecoder::new();
        for p in pieces {
            d.feed(p, &mut push);
        }
        let end = d.finish(&mut push);
        (out, end)
    }

    fn data(events: &[Owned]) -> Vec<String> {
        events
            .iter()
            .map(|(_, d)| String::from_utf8_lossy(d).into_owned())
            .collect()
    }

    #[test]
    fn lf_crlf_and_cr_line_ends() {
        for text in [
            "data: a\n\ndata: b\n\n",
            "data: a\r\n\r\ndata: b\r\n\r\n",
            "data: a\r\rdata: b\r\r",
        ] {
            let (events, end) = decode(&[text.as_bytes()]);
            assert_eq!(data(&events), ["a", "b"], "{text:?}");
            assert_eq!(end, StreamEnd::Clean);
        }
    }

    #[test]
    fn comments_event_names_and_multiline_data() {
        let text = ": keep-alive\nevent: response.completed\ndata: {\"a\":\ndata: 1}\nid: 7\n\n";
        let (events, _) = decode(&[text.as_bytes()]);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].0, b"response.completed");
        assert_eq!(events[0].1, b"{\"a\":\n1}");
    }

    #[test]
    fn no_space_after_colon_and_blank_events() {
        let (events, _) = decode(&[b"data:x\n\n\n\nevent: ping\n\n"]);
        assert_eq!(data(&events), ["x"]);
    }

    #[test]
    fn truncated_streams_are_reported() {
        let (events, end) = decode(&[b"data: a\n\ndata: {\"b\""]);
        assert_eq!(data(&events), ["a", "{\"b\""]);
        assert_eq!(end, StreamEnd::Truncated);
        let (_, end) = decode(&[b"data: a\n"]);
        assert_eq!(end, StreamEnd::Truncated);
    }

    #[test]
    fn crlf_split_between_pieces() {
        let (events, end) = decode(&[b"data: a\r", b"\n\r", b"\ndata: b\r\n\r\n"]);
        assert_eq!(data(&events), ["a", "b"]);
        assert_eq!(end, StreamEnd::Clean);
    }

    proptest! {
        #[test]
        fn splitting_anywhere_changes_nothing(
            text in "((data|event|: c|id)(: ?[a-zé😀{}\"]{0,6})?(\n|\r\n|\r)){0,12}",
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
        ) {
            let bytes = text.as_bytes();
            let whole = decode(&[bytes]);
            let mut points: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
            points.sort_unstable();
            let mut pieces = Vec::new();
            let mut start = 0;
            for p in points {
                pieces.push(&bytes[start..p]);
                start = p;
            }
            pieces.push(&bytes[start..]);
            prop_assert_eq!(decode(&pieces), whole);
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode(&[&bytes]);
        }
    }
}
