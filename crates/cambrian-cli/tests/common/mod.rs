//! Helpers shared by the `cambrian` CLI tests: run the binary, check its exit
//! code (showing stderr when it is not the expected one), read JSON Lines.
//! Each test file sets its own arguments and environment.

use serde_json::Value;
use std::process::{Command, Output};

/// A `Command` for the `cambrian` binary under test, with nothing added:
/// callers set the arguments and the environment.
pub fn cambrian_cmd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cambrian"))
}

/// Runs `c` to completion and collects its output.
pub fn run_cmd(c: &mut Command) -> Output {
    c.output().expect("run cambrian")
}

/// Lossy UTF-8 text of a captured stream.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Asserts the process exited with `code`, showing its stderr if not.
#[track_caller]
pub fn assert_exit(o: &Output, code: i32) {
    assert_eq!(o.status.code(), Some(code), "stderr: {}", text(&o.stderr));
}

/// Every stdout line parsed as JSON (panics naming the line that is not).
#[allow(dead_code)]
#[track_caller]
pub fn json_lines(o: &Output) -> Vec<Value> {
    text(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

/// The first record of type `ty`.
#[allow(dead_code)]
#[track_caller]
pub fn record<'a>(recs: &'a [Value], ty: &str) -> &'a Value {
    recs.iter()
        .find(|r| r["type"] == ty)
        .unwrap_or_else(|| panic!("no `{ty}` record in {recs:?}"))
}

/// The first record of type `ty` whose `key` is `value`.
#[allow(dead_code)]
#[track_caller]
pub fn record_with<'a>(recs: &'a [Value], ty: &str, key: &str, value: &str) -> &'a Value {
    recs.iter()
        .find(|r| r["type"] == ty && r[key] == value)
        .unwrap_or_else(|| panic!("no `{ty}` record with {key} = {value:?} in {recs:?}"))
}
