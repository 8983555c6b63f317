//! Any bytes: parse as a prefix (unknown length) and as a whole file; must
//! never panic, and memory stays bounded (run with -malloc_limit_mb).
#![no_main]
use cambrian_formats::{Parse, safetensors};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = safetensors::parse(data, None);
    if let Ok(Parse::Complete(h)) = safetensors::parse(data, Some(data.len() as u64)) {
        let _ = (h.param_count(), h.params_by_dtype(), h.expected_file_len());
    }
    let _ = safetensors::read_header(data, Some(data.len() as u64));
    let _ = safetensors::parse_index(data);
});
