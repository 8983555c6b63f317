//! Minimal driver of the scan engine for benchmarking the library alone:
//! `scan [flags ignored] PATH...` prints one JSON line per file
//! (`{"type":"file","path","format","verdict"}`) and exits 1 when any file
//! is suspicious or worse. The real CLI is `cambrian scan`.

use cambrian_scan::{Limits, ScanTarget, Verdict, scan_path};
use std::io::Write;

fn main() -> std::process::ExitCode {
    let limits = Limits::default();
    let mut worst = Verdict::Clean;
    let out = std::io::stdout();
    let mut out = out.lock();
    let mut skip_value = false;
    for a in std::env::args().skip(1) {
        if skip_value {
            skip_value = false;
            continue;
        }
        if a == "--fail-on" || a == "--format" {
            skip_value = true;
            continue;
        }
        if a.starts_with('-') || a == "scan" {
            continue;
        }
        match scan_path(&ScanTarget::Path(a.clone().into()), &limits) {
            Ok(reports) => {
                for r in reports {
                    for f in r.files {
                        worst = worst.max(f.verdict);
                        let line = serde_json::json!({"type": "file", "path": f.path, "format": f.format, "verdict": f.verdict});
                        let _ = writeln!(out, "{line}");
                    }
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                return std::process::ExitCode::from(2);
            }
        }
    }
    std::process::ExitCode::from(u8::from(worst >= Verdict::Suspicious))
}
