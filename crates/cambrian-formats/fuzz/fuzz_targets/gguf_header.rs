//! Any bytes: parse as a GGUF prefix (unknown length) and as a whole file;
//! must never panic, and memory stays bounded (run with -malloc_limit_mb).
#![no_main]
use cambrian_formats::{Parse, gguf};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let opts = gguf::ParseOptions { max_header_bytes: 64 << 20, max_array_values: 16 };
    let _ = gguf::parse(data, None, &opts);
    if let Ok(Parse::Complete(h)) = gguf::parse(data, Some(data.len() as u64), &opts) {
        let _ = (h.param_count(), h.data_bytes(), h.by_type(), h.file_type(), h.architecture());
    }
});
