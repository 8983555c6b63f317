#![no_main]
//! cambrian-formats' safetensors header parser (used by the scanner).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = cambrian_formats::safetensors::parse(data, Some(data.len() as u64));
    let _ = cambrian_formats::safetensors::parse(data, None);
});
