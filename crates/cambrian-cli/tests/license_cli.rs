//! `cambrian license ID` through the binary: exit codes, table and JSON record.

use serde_json::Value;
use std::process::Command;

fn run(args: &[&str]) -> (i32, String, String) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_cambrian"))
        .arg("--store")
        .arg(tmp.path())
        .args(args)
        .output()
        .expect("run");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn llama2_json_record() {
    let (code, out, err) = run(&["--json", "license", "llama2"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(out.trim()).expect("one JSON record");
    assert_eq!(v["type"], "license");
    assert_eq!(v["id"], "llama2");
    assert_eq!(v["verdict"], "yes-with-conditions");
    assert!(v["obligations"].as_array().is_some_and(|o| {
        o.iter()
            .any(|x| x["kind"] == "mau-threshold" && x["max_mau"] == 700000000u64)
    }));
    assert!(v["citations"].as_array().is_some_and(|c| {
        c.iter()
            .any(|x| x["quote"].as_str().unwrap_or("").contains("700 million"))
    }));
}

#[test]
fn verdicts_and_exit_codes() {
    assert_eq!(run(&["license", "apache-2.0"]).0, 0);
    let (code, out, _) = run(&["license", "cc-by-nc-sa-4.0"]);
    assert_eq!(code, 1, "a `no` is a finding");
    assert!(out.contains("verdict: no"));
    let (code, out, _) = run(&["license", "other", "--license-name", "LLaMA License"]);
    assert_eq!(code, 1);
    assert!(out.contains("llama1"), "{out}");
    assert_eq!(run(&["license", "cc-by-nc-4.0", "--use", "research"]).0, 0);
    assert_eq!(run(&["license", "llama2", "--mau", "800000000"]).0, 1);
    let (code, _, err) = run(&["license", "no-such-license"]);
    assert_eq!(code, 3);
    assert!(err.contains("hint:"), "{err}");
    let (code, out, _) = run(&["license", "--all"]);
    assert_eq!(code, 0);
    assert!(out.contains("llama3.2") && out.contains("needs-review"));
}
