#![no_main]
//! The lenient zip reader and member inflation on arbitrary bytes.
use cambrian_scan::zip::{member_head, read_archive, read_member, ZipLimits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let src: &[u8] = data;
    if let Ok(a) = read_archive(&src, &ZipLimits::default()) {
        for e in a.entries.iter().take(64) {
            let _ = member_head(&src, e, 16);
            let _ = read_member(&src, e, 1 << 20, 200);
        }
    }
});
