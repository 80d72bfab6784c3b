//! Any bytes as an SSE stream, fed whole and split at a fuzzer-chosen byte: never
//! a panic, and the split must not change the events.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tokentally_parse::sse::SseDecoder;

fn events(pieces: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut on_event = |event: tokentally_parse::sse::SseEvent<'_>| out.push(event.data.to_vec());
    let mut decoder = SseDecoder::new();
    for piece in pieces {
        decoder.feed(piece, &mut on_event);
    }
    let _ = decoder.finish(&mut on_event);
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, stream)) = data.split_first() else {
        return;
    };
    let at = usize::from(split) % (stream.len() + 1);
    let (a, b) = stream.split_at(at);
    assert_eq!(events(&[stream]), events(&[a, b]));
});
