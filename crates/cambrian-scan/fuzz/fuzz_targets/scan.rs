#![no_main]
//! The whole scan entry point (format detection and every format), with
//! the file name chosen by the first byte so that name-driven paths run.
use cambrian_scan::{scan_bytes, Limits};
use libfuzzer_sys::fuzz_target;

const NAMES: &[&str] = &[
    "model.pkl", "pytorch_model.bin", "model.pt", "arr.npy", "arr.npz", "model.safetensors", "model.gguf",
    "tokenizer_config.json", "model.onnx", "model.keras", "model.h5", "x.7z", "x.gz", "blob", "README.md", "t.jinja",
];

fuzz_target!(|data: &[u8]| {
    let Some((&k, rest)) = data.split_first() else { return };
    let name = NAMES[k as usize % NAMES.len()];
    let mut lim = Limits::default();
    lim.max_member_bytes = 8 << 20;
    let r = scan_bytes(rest, name, &lim);
    let _ = cambrian_scan::verdict_of(&r.findings);
    let _ = cambrian_scan::card::score_card(name, &String::from_utf8_lossy(rest));
});
