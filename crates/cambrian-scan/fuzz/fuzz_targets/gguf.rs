#![no_main]
//! cambrian-formats' GGUF header parser (used by the scanner).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let opts = cambrian_formats::gguf::ParseOptions::default();
    let _ = cambrian_formats::gguf::parse(data, Some(data.len() as u64), &opts);
    let _ = cambrian_formats::gguf::parse(data, None, &opts);
});
