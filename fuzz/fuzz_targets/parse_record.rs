//! Any bytes as a gateway record: `parse_record` must return a row or an error,
//! never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tokentally_core::SourcePosition;

fuzz_target!(|data: &[u8]| {
    let source = SourcePosition {
        source: "fuzz".to_owned(),
        partition: None,
        offset: 1,
    };
    let _ = tokentally_parse::parse_record(data, source);
});
