#![no_main]
//! The pickle walker on arbitrary bytes: no panic, bounded memory.
use cambrian_scan::pickle::{analyze, analyze_n, PickleLimits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let lim = PickleLimits::default();
    let r = analyze(data, &lim, true);
    assert!(r.end as usize <= data.len());
    let _ = analyze_n(data, &lim, 5);
    let mut f = Vec::new();
    cambrian_scan::engine::pickle_findings(&r, Some("m"), 0, &mut f);
});
