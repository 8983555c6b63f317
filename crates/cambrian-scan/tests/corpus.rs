//! Regression corpus: every file picklescan ships as a test sample gets the
//! verdict its origin project expects (`picklescan_expected.json`), mapped
//! to cambrian's verdicts as documented in docs/scan.md:
//!
//! | picklescan expectation                          | cambrian verdict |
//! |-------------------------------------------------|------------------|
//! | any global `Dangerous` (with or without scan_err) | `dangerous`      |
//! | only `Innocuous` globals                        | `innocuous`      |
//! | clean / no findings (incl. non-pickle bytes)    | `clean`          |
//! | password-protected zip ("warning, no findings") | `unreadable` (stricter: the member cannot be read, so it is not known to be safe) |
//!
//! The files are only ever read as bytes.

use cambrian_scan::{Level, Limits, Verdict, scan_file};
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/scan/picklescan")
}

fn expected_verdict(file: &str, text: &str) -> Verdict {
    if file.ends_with("benign_password_protected.zip") {
        return Verdict::Unreadable;
    }
    if text.contains("Dangerous") {
        Verdict::Dangerous
    } else if text.contains("Innocuous") {
        Verdict::Innocuous
    } else {
        Verdict::Clean
    }
}

#[test]
fn every_picklescan_sample_gets_the_expected_verdict() {
    let idx: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root().join("picklescan_expected.json")).expect("expected.json"),
    )
    .expect("json");
    let entries = idx.as_array().expect("array");
    assert_eq!(entries.len(), 109);
    let limits = Limits::default();
    let mut failures = Vec::new();
    for e in entries {
        let file = e["file"].as_str().expect("file");
        let rel = file.strip_prefix("picklescan/").expect("prefix");
        let want = expected_verdict(file, e["expected"].as_str().expect("expected"));
        let r = scan_file(&root().join(rel), rel, &limits).expect("readable");
        assert_eq!(
            r.bytes,
            e["bytes"].as_u64().expect("bytes"),
            "{rel}: size differs from the index"
        );
        if r.verdict != want {
            failures.push(format!(
                "{rel}: got {} want {want} ({})\n    findings: {:?}",
                r.verdict,
                e["expected"],
                r.findings
                    .iter()
                    .map(|f| format!(
                        "{}:{}:{}",
                        f.level.as_str(),
                        f.rule,
                        f.symbol.clone().unwrap_or_default()
                    ))
                    .collect::<Vec<_>>()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} differ:\n{}",
        failures.len(),
        entries.len(),
        failures.join("\n")
    );
}

/// Specific evidence the origin project names must be present, with offsets.
#[test]
fn named_globals_are_reported_with_evidence() {
    let limits = Limits::default();
    let cases: &[(&str, &str, Level)] = &[
        ("data/malicious1_v4.pkl", "builtins.eval", Level::Dangerous),
        ("data/malicious2_v0.pkl", "posix.system", Level::Dangerous),
        ("data/malicious11.pkl", "os.system", Level::Dangerous),
        ("data/malicious10.pkl", "__builtin__.exec", Level::Dangerous),
        ("data2/malicious23.pkl", "os.system", Level::Dangerous),
        (
            "data/malicious1_wrong_ext.zip",
            "builtins.eval",
            Level::Dangerous,
        ),
        (
            "data/malicious1_central_directory.zip",
            "builtins.eval",
            Level::Dangerous,
        ),
        (
            "data/pytorch_magic_bypass.pt",
            "__builtin__.eval",
            Level::Dangerous,
        ),
        (
            "data/new_pytorch_model.bin",
            "torch._utils._rebuild_tensor_v2",
            Level::Innocuous,
        ),
        (
            "data/pytorch_model.bin",
            "collections.OrderedDict",
            Level::Innocuous,
        ),
        (
            "data2/dns_exfiltration.npy",
            "ssl.get_server_certificate",
            Level::Dangerous,
        ),
        (
            "data2/object_arrays_compressed.npz",
            "numpy.core.multiarray._reconstruct",
            Level::Innocuous,
        ),
        ("data/malicious1.7z", "builtins.eval", Level::Dangerous),
        (
            "data2/GHSA-84r2-jw7c-4r5q.pkl",
            "pydoc.locate",
            Level::Dangerous,
        ),
        (
            "data2/cloudpickle_codeinjection.pkl",
            "cloudpickle.cloudpickle._make_function",
            Level::Dangerous,
        ),
    ];
    for (rel, sym, level) in cases {
        let r = scan_file(&root().join(rel), rel, &limits).expect("readable");
        let f = r
            .findings
            .iter()
            .find(|f| f.symbol.as_deref() == Some(sym))
            .unwrap_or_else(|| panic!("{rel}: no finding for {sym}: {:?}", r.findings));
        assert_eq!(f.level, *level, "{rel} {sym}");
        assert!(
            f.offset.is_some() && f.opcode.is_some() && f.evidence.is_some(),
            "{rel}: evidence missing: {f:?}"
        );
    }
    // Member paths inside archives.
    let r = scan_file(
        &root().join("data/new_pytorch_model.bin"),
        "new_pytorch_model.bin",
        &limits,
    )
    .expect("ok");
    assert_eq!(r.format, "pytorch-zip");
    assert!(
        r.findings
            .iter()
            .any(|f| f.member.as_deref() == Some("archive/data.pkl")),
        "{:?}",
        r.findings
    );
    let r = scan_file(
        &root().join("data/pytorch_model.bin"),
        "pytorch_model.bin",
        &limits,
    )
    .expect("ok");
    assert_eq!(r.format, "pytorch-legacy");
    // Truncated pickle: dangerous import before the break, and the break itself.
    let r = scan_file(
        &root().join("data/broken_model.pkl"),
        "broken_model.pkl",
        &limits,
    )
    .expect("ok");
    assert!(
        r.findings.iter().any(|f| f.rule == "pickle.unreadable"),
        "{:?}",
        r.findings
    );
}
