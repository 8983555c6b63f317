//! Helpers of the migration tests: a real old store from `testdata/store/`,
//! opened (migrated) in a temporary directory, with what the old code read.

use cambrian_store::{DB_FILE, Dimension, PairRow, SnapshotId, Store};
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

/// The reads both old codes recorded in their expected file, compared with
/// the migrated store's: `snapshots`, every snapshot's models (`counts` =
/// (snapshots, models in all)), `category_points` of each dimension,
/// `compare_snapshots` of each pair of snapshot positions under its key
/// (sorted by model), history and latest record of every model listed, and
/// the resumable snapshot of `hub:test` / `sort=likes`. Returns the ids of
/// the complete snapshots.
pub fn assert_reads_match(
    s: &Store,
    exp: &Value,
    counts: (usize, usize),
    compares: &[(&str, usize, usize)],
) -> Vec<SnapshotId> {
    let snaps = s.snapshots().unwrap();
    assert_eq!(v(&snaps), exp["snapshots"]);
    let models: Vec<_> = snaps
        .iter()
        .map(|sn| s.snapshot_models(sn.id).unwrap())
        .collect();
    assert_eq!(v(&models), exp["snapshot_models"]);
    let total = models.iter().map(Vec::len).sum::<usize>();
    assert_eq!((snaps.len(), total), counts);
    for d in [
        Dimension::PipelineTag,
        Dimension::Library,
        Dimension::BaseFamily,
    ] {
        assert_eq!(
            v(s.category_points(d).unwrap()),
            exp[format!("category_points_{}", d.name())],
            "{d:?}"
        );
    }
    for &(key, a, b) in compares {
        let mut p: Vec<PairRow> = s.compare_snapshots(snaps[a].id, snaps[b].id).unwrap();
        p.sort_by(|x, y| x.model.cmp(&y.model));
        assert_eq!(v(p), exp[key], "{key}");
    }
    for (name, e) in exp["models"].as_object().unwrap() {
        assert_eq!(v(s.model_history(name).unwrap()), e["history"], "{name}");
        assert_eq!(v(s.latest_model(name).unwrap()), e["latest"], "{name}");
    }
    assert_eq!(
        v(s.resumable_snapshot("hub:test", "sort=likes").unwrap()),
        exp["resumable"]
    );
    snaps.iter().map(|i| i.id).collect()
}
