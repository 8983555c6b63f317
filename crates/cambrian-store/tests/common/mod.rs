//! Helpers of the migration tests: a real old store from `testdata/store/`,
//! opened (migrated) in a temporary directory, with what the old code read.

use cambrian_store::{DB_FILE, Store};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/store")
}

/// `testdata/store/{version}.sqlite3` copied to a temporary directory and
/// opened with the current code, and `{version}-expected.json`.
pub fn migrated(version: &str) -> (tempfile::TempDir, Store, Value) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        testdata().join(format!("{version}.sqlite3")),
        dir.path().join(DB_FILE),
    )
    .unwrap();
    let expected: Value = serde_json::from_slice(
        &std::fs::read(testdata().join(format!("{version}-expected.json"))).unwrap(),
    )
    .unwrap();
    let s = Store::open(dir.path()).unwrap();
    (dir, s, expected)
}

pub fn v<T: serde::Serialize>(x: T) -> Value {
    serde_json::to_value(x).unwrap()
}

/// The tables of the store in `dir`, by name.
pub fn tables(dir: &Path) -> Vec<String> {
    let c = rusqlite::Connection::open(dir.join(DB_FILE)).unwrap();
    let mut st = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap();
    st.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}
