//! The v5 -> v6 migration (per-model rows into blocks) on a real v5 store
//! (`testdata/store/v5.sqlite3`, written by the v5 code: imports, syncs with
//! changed details, and an interrupted sync holding new models in
//! `model_new` and deferred detail changes): every read after migrating must
//! equal what the v5 code read (`testdata/store/v5-expected.json`), and the
//! interrupted sync resumes, completes, and leaves nothing to rewrite.

mod common;

use cambrian_store::*;
use cambrian_types::ModelRecord;
use common::{assert_reads_match, migrated, tables, v};

#[test]
fn a_v5_store_reads_back_identically_after_migration() {
    let (dir, s, exp) = migrated("v5");
    assert_eq!(s.schema_version(), 6);
    // Four listed models (two of the five picked coincide) and one unknown.
    assert_eq!(exp["models"].as_object().unwrap().len(), 5);
    assert_reads_match(&s, &exp, (5, 1092), &[("compare_first_last", 0, 4)]);
    assert_eq!(
        v(s.snapshot_models(SnapshotId(6)).unwrap()),
        exp["in_progress_models"]
    );
    // The per-model tables are gone, the blocks hold their content.
    let t = tables(dir.path());
    for gone in ["model", "model_new", "detail"] {
        assert!(!t.contains(&gone.to_string()), "{t:?}");
    }
    for new in ["name_blk", "detail_blk", "state"] {
        assert!(t.contains(&new.to_string()), "{t:?}");
    }
    let states = s.model_states().unwrap();
    assert_eq!(states.len(), 545, "535 models + 10 of the interrupted sync");
    assert_eq!(s.detail_count().unwrap(), 657);
    // Opening again is a no-op.
    drop(s);
    assert_eq!(Store::open(dir.path()).unwrap().schema_version(), 6);
}

#[test]
fn the_interrupted_v5_sync_resumes_and_completes_after_migration() {
    let (_dir, mut s, exp) = migrated("v5");
    let recs: Vec<ModelRecord> =
        serde_json::from_value(exp["in_progress_records"].clone()).unwrap();
    assert_eq!(recs.len(), 70);
    let r = s
        .resumable_snapshot("hub:test", "sort=likes")
        .unwrap()
        .unwrap();
    assert_eq!(
        (r.id, r.rows, r.checkpoint.as_deref()),
        (SnapshotId(6), 70, Some("page-3"))
    );
    // The last page again (a refetch after the interruption): all duplicates.
    let st = s.append_batch(r.id, &recs[60..], Some("end")).unwrap();
    assert_eq!((st.inserted, st.duplicates), (0, 10));
    let before = s.detail_count().unwrap();
    let info = s.complete_snapshot(r.id).unwrap();
    assert_eq!(info.models, 70);
    assert_eq!(s.snapshot_models(r.id).unwrap(), recs);
    // Every model's recorded latest detail is its newest stored one,
    // including the v5 sync's deferred changes and new models.
    let states = s.model_states().unwrap();
    let stale: Vec<_> = states
        .iter()
        .filter(|m| m.recorded_detail != m.latest_detail)
        .collect();
    assert!(stale.is_empty(), "{stale:?}");
    for m in [&recs[0], &recs[5], &recs[20]] {
        assert_eq!(&s.latest_model(&m.id).unwrap().unwrap().1, m);
    }
    // The same records the next day: no detail is new.
    let next = NewSnapshot {
        taken_at: info.taken_at + chrono::Duration::days(1),
        source: "hub:test".into(),
        query: "sort=likes".into(),
    };
    let id = s.begin_snapshot(&next).unwrap();
    s.append_batch(id, &recs, Some("end")).unwrap();
    s.complete_snapshot(id).unwrap();
    assert_eq!(s.detail_count().unwrap(), before);
    assert_eq!(s.snapshot_models(id).unwrap(), recs);
    // A changed and a new model: one detail each, and their names resolve.
    let mut changed = recs[1].clone();
    changed.tags.push("v6".into());
    let mut new = recs[2].clone();
    new.id = "fixture-new/after-v6".into();
    let day = NewSnapshot {
        taken_at: next.taken_at + chrono::Duration::days(1),
        ..next
    };
    let ImportOutcome::Imported(i) = s
        .import_snapshot(&day, &[changed.clone(), new.clone()])
        .unwrap()
    else {
        panic!("not imported")
    };
    assert_eq!(s.detail_count().unwrap(), before + 2);
    assert_eq!(s.snapshot_models(i.id).unwrap(), [changed, new]);
}
