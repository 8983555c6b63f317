//! Store behaviour: lifecycle, visibility, dedupe, resume, import duplicates,
//! atomic batches, migrations from a v1 database, history and cache.

use cambrian_store::*;
use cambrian_types::ModelRecord;
use chrono::{DateTime, TimeZone, Utc};
use rusqlite::Connection;

fn t(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 8, day, hour, 0, 0).unwrap()
}

fn rec(id: &str, likes: u64, pipeline: Option<&str>) -> ModelRecord {
    ModelRecord {
        id: id.into(),
        author: id.split('/').next().map(String::from),
        likes: Some(likes),
        downloads_30d: Some(likes * 10),
        pipeline_tag: pipeline.map(String::from),
        library_name: Some("transformers".into()),
        tags: vec!["a".into(), "b".into()],
        base_models: vec!["Qwen/Qwen2.5-7B".into()],
        ..Default::default()
    }
}

/// The ids of a snapshot's models, in rank order.
fn model_ids(s: &Store, id: SnapshotId) -> Vec<String> {
    s.snapshot_models(id)
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect()
}

fn snap(day: u32) -> NewSnapshot {
    NewSnapshot {
        taken_at: t(day, 12),
        source: "test".into(),
        query: "q".into(),
    }
}

#[test]
fn snapshot_is_invisible_until_complete_and_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    assert_eq!(s.schema_version(), SCHEMA_VERSION);
    let id = s.begin_snapshot(&snap(7)).unwrap();
    let batch = vec![rec("a/x", 5, Some("text-generation")), rec("b/y", 3, None)];
    let st = s.append_batch(id, &batch, Some("page-2")).unwrap();
    assert_eq!((st.inserted, st.duplicates, st.total_rows), (2, 0, 2));
    assert!(
        s.snapshots().unwrap().is_empty(),
        "in-progress snapshot must be invisible"
    );
    assert!(s.latest_model("a/x").unwrap().is_none());
    let info = s.complete_snapshot(id).unwrap();
    assert_eq!(info.status, SnapshotStatus::Complete);
    assert_eq!(info.models, 2);
    assert_eq!(s.snapshots().unwrap().len(), 1);
    assert_eq!(s.snapshot_models(id).unwrap(), batch);
    let (si, m) = s.latest_model("b/y").unwrap().unwrap();
    assert_eq!(si.id, id);
    assert_eq!(m, batch[1]);
    // Reopen: everything persists.
    drop(s);
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.snapshot_models(id).unwrap(), batch);
}

#[test]
fn duplicates_within_a_snapshot_keep_the_first_occurrence_and_rank() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    let id = s.begin_snapshot(&snap(7)).unwrap();
    s.append_batch(
        id,
        &[
            rec("a/x", 5, None),
            rec("b/y", 3, None),
            rec("a/x", 99, None),
        ],
        Some("p2"),
    )
    .unwrap();
    // The repeated item arrives again on the next page (Hub paging overlap).
    let st = s
        .append_batch(id, &[rec("b/y", 42, None), rec("c/z", 1, None)], Some("p3"))
        .unwrap();
    assert_eq!((st.inserted, st.duplicates, st.total_rows), (1, 1, 3));
    s.complete_snapshot(id).unwrap();
    let got = s.snapshot_models(id).unwrap();
    let ids: Vec<_> = got.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["a/x", "b/y", "c/z"]);
    assert_eq!(got[0].likes, Some(5));
    assert_eq!(got[1].likes, Some(3));
    let h = s.model_history("c/z").unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].rank, Some(3));
}

#[test]
fn resume_continues_ranks_and_dedupes_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let mut s = Store::open(dir.path()).unwrap();
        let id = s.begin_snapshot(&snap(7)).unwrap();
        s.append_batch(
            id,
            &[rec("a/x", 5, None), rec("b/y", 3, None)],
            Some("cursor-2"),
        )
        .unwrap();
        id
    }; // "crash": the process goes away without completing
    let mut s = Store::open(dir.path()).unwrap();
    assert!(s.resumable_snapshot("test", "other").unwrap().is_none());
    let r = s.resumable_snapshot("test", "q").unwrap().unwrap();
    assert_eq!(
        r,
        Resumable {
            id,
            checkpoint: Some("cursor-2".into()),
            rows: 2
        }
    );
    // The page is refetched: its first item overlaps.
    let st = s
        .append_batch(id, &[rec("b/y", 3, None), rec("c/z", 1, None)], None)
        .unwrap();
    assert_eq!((st.inserted, st.total_rows), (1, 3));
    s.complete_snapshot(id).unwrap();
    assert!(s.resumable_snapshot("test", "q").unwrap().is_none());
    let ranks: Vec<_> = ["a/x", "b/y", "c/z"]
        .iter()
        .map(|m| s.model_history(m).unwrap()[0].rank)
        .collect();
    assert_eq!(ranks, [Some(1), Some(2), Some(3)]);
    // Several histories at once (one pass over the names) = one at a time.
    let names = ["c/z", "absent/m", "a/x", "c/z", "a/"];
    let one_by_one: Vec<_> = names.iter().map(|m| s.model_history(m).unwrap()).collect();
    assert_eq!(s.model_histories(&names).unwrap(), one_by_one);
    assert_eq!(
        one_by_one.iter().map(Vec::len).collect::<Vec<_>>(),
        [1, 0, 1, 1, 0]
    );
    assert!(s.model_histories(&[]).unwrap().is_empty());
}

#[test]
fn a_failing_batch_writes_nothing_and_keeps_the_old_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    let id = s.begin_snapshot(&snap(7)).unwrap();
    s.append_batch(id, &[rec("a/x", 5, Some("new-task"))], Some("cp1"))
        .unwrap();
    let mut bad = rec("d/w", 1, Some("another-task"));
    bad.likes = Some(u64::MAX); // cannot be stored: the whole batch must roll back
    let err = s
        .append_batch(id, &[rec("b/y", 3, Some("third-task")), bad], Some("cp2"))
        .unwrap_err();
    assert_eq!(err.kind(), cambrian_types::ErrorKind::BadInput);
    assert!(err.to_string().contains("d/w"), "{err}");
    let r = s.resumable_snapshot("test", "q").unwrap().unwrap();
    assert_eq!((r.checkpoint.as_deref(), r.rows), (Some("cp1"), 1));
    // The store still works after the failure (caches were dropped and reloaded).
    s.append_batch(id, &[rec("b/y", 3, Some("third-task"))], Some("cp2"))
        .unwrap();
    s.complete_snapshot(id).unwrap();
    assert_eq!(model_ids(&s, id), ["a/x", "b/y"]);
    assert!(s.model_history("d/w").unwrap().is_empty());
}

#[test]
fn abandon_and_state_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    let id = s.begin_snapshot(&snap(7)).unwrap();
    s.append_batch(id, &[rec("a/x", 5, None)], None).unwrap();
    s.abandon_snapshot(id).unwrap();
    assert!(s.snapshots().unwrap().is_empty());
    assert_eq!(s.snapshot(id).unwrap().status, SnapshotStatus::Abandoned);
    assert_eq!(
        s.append_batch(id, &[rec("a/x", 5, None)], None)
            .unwrap_err()
            .kind(),
        cambrian_types::ErrorKind::Store
    );
    assert_eq!(
        s.snapshot_models(SnapshotId(999)).unwrap_err().kind(),
        cambrian_types::ErrorKind::NotFound
    );
}

#[test]
fn import_detects_same_day_same_content_duplicates_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    let models = vec![rec("a/x", 5, None), rec("b/y", 3, None)];
    let first = match s.import_snapshot(&snap(7), &models).unwrap() {
        ImportOutcome::Imported(i) => i,
        other => panic!("{other:?}"),
    };
    // Same day, different hour, same content: duplicate.
    let again = NewSnapshot {
        taken_at: t(7, 20),
        ..snap(7)
    };
    assert_eq!(
        s.import_snapshot(&again, &models).unwrap(),
        ImportOutcome::Duplicate {
            existing: first.clone()
        }
    );
    // Same day, different content: a second snapshot on that day.
    let changed = vec![rec("a/x", 6, None), rec("b/y", 3, None)];
    assert!(matches!(
        s.import_snapshot(&again, &changed).unwrap(),
        ImportOutcome::Imported(_)
    ));
    // Same content, another day: imported.
    assert!(matches!(
        s.import_snapshot(&snap(8), &models).unwrap(),
        ImportOutcome::Imported(_)
    ));
    assert_eq!(s.snapshots().unwrap().len(), 3);
}

#[test]
fn snapshots_are_ordered_by_taken_at_not_import_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    for d in [9, 7, 8] {
        s.import_snapshot(&snap(d), &[rec("a/x", d as u64, None)])
            .unwrap();
    }
    let days: Vec<_> = s.snapshots().unwrap().iter().map(|i| i.taken_at).collect();
    assert_eq!(days, [t(7, 12), t(8, 12), t(9, 12)]);
    let likes: Vec<_> = s
        .model_history("a/x")
        .unwrap()
        .iter()
        .map(|h| h.likes)
        .collect();
    assert_eq!(likes, [Some(7), Some(8), Some(9)]);
    assert_eq!(s.latest_model("a/x").unwrap().unwrap().1.likes, Some(9));
}

#[test]
fn aggregates_per_dimension() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    let mut m3 = rec("c/z", 7, Some("text-generation"));
    m3.base_models.clear();
    m3.library_name = None;
    s.import_snapshot(
        &snap(7),
        &[
            rec("a/x", 5, Some("text-generation")),
            rec("b/y", 3, None),
            m3,
        ],
    )
    .unwrap();
    let p = s.category_points(Dimension::PipelineTag).unwrap();
    let tg = p
        .iter()
        .find(|c| c.category.as_deref() == Some("text-generation"))
        .unwrap();
    assert_eq!(
        (tg.models, tg.likes, tg.downloads_30d, tg.with_all_time),
        (2, 12, 120, 0)
    );
    let none = p.iter().find(|c| c.category.is_none()).unwrap();
    assert_eq!((none.models, none.likes), (1, 3));
    let f = s.category_points(Dimension::BaseFamily).unwrap();
    assert_eq!(
        f.iter()
            .find(|c| c.category.as_deref() == Some("Qwen/Qwen2.5"))
            .unwrap()
            .models,
        2
    );
    assert_eq!(f.iter().find(|c| c.category.is_none()).unwrap().models, 1);
    let l = s.category_points(Dimension::Library).unwrap();
    assert_eq!(l.iter().map(|c| c.models).sum::<u64>(), 3);
}

#[test]
fn detail_is_stored_once_per_change() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    for d in 1..=5 {
        let mut a = rec("a/x", d, None);
        if d >= 4 {
            a.tags.push("new".into());
        }
        s.import_snapshot(&snap(d as u32), &[a]).unwrap();
    }
    drop(s);
    let c = Connection::open(dir.path().join(DB_FILE)).unwrap();
    let n: i64 = c
        .query_row("SELECT sum(n) FROM detail_blk", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 2);
    let s = Store::open(dir.path()).unwrap();
    let snaps = s.snapshots().unwrap();
    assert_eq!(s.snapshot_models(snaps[2].id).unwrap()[0].tags, ["a", "b"]);
    assert_eq!(
        s.snapshot_models(snaps[4].id).unwrap()[0].tags,
        ["a", "b", "new"]
    );
}

#[test]
fn compare_snapshots_pairs_models() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    let a = match s
        .import_snapshot(&snap(7), &[rec("a/x", 5, None), rec("b/y", 3, None)])
        .unwrap()
    {
        ImportOutcome::Imported(i) => i.id,
        o => panic!("{o:?}"),
    };
    let b = match s
        .import_snapshot(&snap(8), &[rec("c/z", 1, None), rec("a/x", 9, None)])
        .unwrap()
    {
        ImportOutcome::Imported(i) => i.id,
        o => panic!("{o:?}"),
    };
    let mut pairs = s.compare_snapshots(a, b).unwrap();
    pairs.sort_by(|x, y| x.model.cmp(&y.model));
    assert_eq!(pairs.len(), 3);
    assert_eq!(pairs[0].model, "a/x");
    assert_eq!(
        (
            pairs[0].from.as_ref().unwrap().rank,
            pairs[0].to.as_ref().unwrap().rank
        ),
        (1, 2)
    );
    assert!(pairs[1].to.is_none() && pairs[2].from.is_none());
}

#[test]
fn cache_put_get_replace() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    assert!(s.cache_get("model_info", "a/x").unwrap().is_none());
    s.cache_put("model_info", "a/x", &serde_json::json!({"v": 1}), t(7, 1))
        .unwrap();
    s.cache_put("model_info", "a/x", &serde_json::json!({"v": 2}), t(8, 1))
        .unwrap();
    let e = s.cache_get("model_info", "a/x").unwrap().unwrap();
    assert_eq!(
        (e.fetched_at, e.value),
        (t(8, 1), serde_json::json!({"v": 2}))
    );
}

/// A database as the first released schema (v1) wrote it, built by SQL.
#[test]
fn migrates_a_v1_database_and_backfills_aggregates() {
    let dir = tempfile::tempdir().unwrap();
    {
        let c = Connection::open(dir.path().join(DB_FILE)).unwrap();
        c.execute_batch(schema::MIGRATIONS[0]).unwrap();
        c.execute_batch(
            "PRAGMA user_version = 1;
             INSERT INTO model VALUES (1, 'a/x'), (2, 'b/y');
             INSERT INTO term VALUES (1, 'text-generation');
             INSERT INTO snapshot VALUES (1, 1786104000000000, 'old', 'q', 1, 2, NULL, NULL, 1786104000000000, 1786104000000000);
             INSERT INTO snapshot VALUES (2, 1786190400000000, 'old', 'q', 0, 1, 'cp', NULL, 1786190400000000, NULL);
             INSERT INTO detail VALUES (1, 1, '{\"pipeline_tag\":\"text-generation\"}'), (2, 2, '{}');
             INSERT INTO row VALUES (1, 1, 1, 10, 100, NULL, NULL, 1, 0, 0, 1);
             INSERT INTO row VALUES (1, 2, 2, 4, 40, NULL, 1.5, 0, 0, 0, 2);
             INSERT INTO row VALUES (2, 1, 1, 11, 101, NULL, NULL, 1, 0, 0, 1);",
        )
        .unwrap();
    }
    let mut s = Store::open(dir.path()).unwrap();
    assert_eq!(s.schema_version(), SCHEMA_VERSION);
    let p = s.category_points(Dimension::PipelineTag).unwrap();
    assert_eq!(p.len(), 2, "{p:?}");
    assert_eq!(
        p.iter()
            .find(|c| c.category.as_deref() == Some("text-generation"))
            .unwrap()
            .likes,
        10
    );
    let m = s.snapshot_models(SnapshotId(1)).unwrap();
    assert_eq!(m[1].trending_score, Some(1.5));
    // The in-progress v1 snapshot resumes and completes under v2.
    let r = s.resumable_snapshot("old", "q").unwrap().unwrap();
    assert_eq!((r.id, r.rows), (SnapshotId(2), 1));
    s.append_batch(r.id, &[rec("a/x", 1, None), rec("c/z", 1, None)], None)
        .unwrap();
    assert_eq!(s.complete_snapshot(r.id).unwrap().models, 2);
    assert_eq!(s.category_points(Dimension::PipelineTag).unwrap().len(), 4);
    // Opening again is a no-op.
    drop(s);
    assert_eq!(
        Store::open(dir.path()).unwrap().schema_version(),
        SCHEMA_VERSION
    );
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    Connection::open(dir.path().join(DB_FILE))
        .unwrap()
        .execute_batch("PRAGMA user_version = 99;")
        .unwrap();
    let err = Store::open(dir.path()).err().unwrap();
    assert!(matches!(err, StoreError::SchemaTooNew { found: 99, .. }));
    assert_eq!(err.kind(), cambrian_types::ErrorKind::Store);
}

#[test]
fn keyed_compare_and_top_k_resolve_ties_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    let day1: Vec<_> = ["e/e", "d/d", "c/c", "b/b", "a/a"]
        .iter()
        .map(|m| rec(m, 10, Some("text-generation")))
        .collect();
    let mut day2 = day1.clone();
    // gains: e +5, d +3, c +3, b +3, a +1; "z/z" is new, nothing dropped.
    for (m, g) in day2.iter_mut().zip([5, 3, 3, 3, 1]) {
        m.likes = m.likes.map(|x| x + g);
    }
    day2.push(rec("z/z", 1, None));
    let ids: Vec<_> = [(7, &day1), (8, &day2)]
        .into_iter()
        .map(|(d, m)| match s.import_snapshot(&snap(d), m).unwrap() {
            ImportOutcome::Imported(i) => i.id,
            o => panic!("{o:?}"),
        })
        .collect();
    let pairs = s.compare_snapshot_keys(ids[0], ids[1]).unwrap();
    assert_eq!(pairs.len(), 6);
    assert!(pairs.windows(2).all(|w| w[0].key < w[1].key), "key order");
    let gains: Vec<(f64, ModelKey, ())> = pairs
        .iter()
        .filter_map(|p| Some(((p.to?.likes? - p.from?.likes?) as f64, p.key, ())))
        .collect();
    assert_eq!(gains.len(), 5);
    // k = 2 cuts inside the three-way tie at +3: the tie is broken by name.
    let top: Vec<(String, f64)> = s
        .top_k_by_name(gains.clone(), 2)
        .unwrap()
        .into_iter()
        .map(|(n, v, _)| (n, v))
        .collect();
    assert_eq!(top, [("e/e".to_string(), 5.0), ("b/b".to_string(), 3.0)]);
    let all: Vec<String> = s
        .top_k_by_name(gains.clone(), 10)
        .unwrap()
        .into_iter()
        .map(|x| x.0)
        .collect();
    assert_eq!(all, ["e/e", "b/b", "c/c", "d/d", "a/a"]);
    assert!(s.top_k_by_name(gains, 0).unwrap().is_empty());
    // The named contract agrees with the keyed one.
    let named = s.compare_snapshots(ids[0], ids[1]).unwrap();
    let z = named.iter().find(|p| p.model == "z/z").unwrap();
    assert!(z.from.is_none() && z.to.as_ref().unwrap().rank == 6);
    let e = named.iter().find(|p| p.model == "e/e").unwrap();
    assert_eq!(
        e.to.as_ref().unwrap().pipeline_tag.as_deref(),
        Some("text-generation")
    );
    let tg = pairs
        .iter()
        .find(|p| p.to.is_some_and(|t| t.rank == 1))
        .unwrap();
    assert_eq!(
        s.term_value(tg.to.unwrap().pipeline).unwrap().as_deref(),
        Some("text-generation")
    );
    assert_eq!(s.term_value(0).unwrap(), None);
}

/// Batches with repeats inside the batch (new models seen twice) and across
/// batches; the import of 10,500 records is large enough for the two-thread
/// first pass (repeats across its halves).
#[test]
fn large_batches_dedupe_and_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    let mk = |i: usize| {
        rec(
            &format!("org{}/m{i}", i % 7),
            i as u64,
            Some(["text-generation", "fill-mask"][i % 2]),
        )
    };
    let mut batch: Vec<ModelRecord> = (0..1500).map(mk).collect();
    // Repeats of first-half models in the second half (with other counters: must be skipped).
    for i in (0..700).step_by(7) {
        let mut m = mk(i);
        m.likes = Some(999_999);
        batch.insert(1000 + i / 7, m);
    }
    let id = s.begin_snapshot(&snap(7)).unwrap();
    let st = s.append_batch(id, &batch, Some("p2")).unwrap();
    assert_eq!((st.received, st.inserted, st.duplicates), (1600, 1500, 100));
    let more: Vec<ModelRecord> = (1400..2100).map(mk).collect();
    let st = s.append_batch(id, &more, Some("p3")).unwrap();
    assert_eq!(
        (st.inserted, st.duplicates, st.total_rows),
        (600, 100, 2100)
    );
    s.complete_snapshot(id).unwrap();
    let expected: Vec<ModelRecord> = (0..2100).map(mk).collect();
    assert_eq!(s.snapshot_models(id).unwrap(), expected);
    // Next day in a new process: same records, one detail changed, all in one big batch.
    drop(s);
    let mut s = Store::open(dir.path()).unwrap();
    let mut next = expected.clone();
    next[1234].tags.push("changed".into());
    // Grow it past the two-thread threshold, with new models repeated across the halves.
    let extra: Vec<ModelRecord> = (2100..6300).map(mk).collect();
    next.extend(extra.iter().cloned());
    let with_repeats: Vec<ModelRecord> = next
        .iter()
        .cloned()
        .chain(extra.iter().map(|m| ModelRecord {
            likes: Some(7),
            ..m.clone()
        }))
        .collect();
    assert!(with_repeats.len() >= 10_000);
    let ImportOutcome::Imported(info) = s.import_snapshot(&snap(8), &with_repeats).unwrap() else {
        panic!()
    };
    assert_eq!(info.models, 6300);
    assert_eq!(
        s.snapshot_models(info.id).unwrap(),
        next,
        "first occurrences, in order"
    );
    // Its content hash (computed beside the writes for an import this large)
    // is the one of `content_hash`, so the same content is a duplicate...
    let stored: String = Connection::open(dir.path().join(DB_FILE))
        .unwrap()
        .query_row(
            "SELECT content_hash FROM snapshot WHERE id = ?1",
            [info.id.0],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored, cambrian_store::content_hash(&with_repeats));
    let again = s.import_snapshot(&snap(8), &with_repeats).unwrap();
    assert!(
        matches!(again, ImportOutcome::Duplicate { ref existing } if existing.id == info.id),
        "{again:?}"
    );
    drop(s);
    let c = Connection::open(dir.path().join(DB_FILE)).unwrap();
    let n: i64 = c
        .query_row("SELECT sum(n) FROM detail_blk", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 6301, "one detail per model plus the one change");
    // 6301 details of ≈ 100 bytes: blocks of up to 64, not one row each.
    let blocks: i64 = c
        .query_row("SELECT count(*) FROM detail_blk", [], |r| r.get(0))
        .unwrap();
    assert!((6301 / 64..=6301 / 16).contains(&blocks), "{blocks}");
}

/// A sync's new models are stored by name with their batch (usable while
/// in progress, also after a reopen); their recorded latest details are
/// written when the snapshot completes.
#[test]
fn new_models_of_a_sync_are_known_by_name_before_completion() {
    let dir = tempfile::tempdir().unwrap();
    let states = |s: &Store| -> Vec<(String, i64, i64)> {
        s.model_states()
            .unwrap()
            .into_iter()
            .map(|m| (m.name, m.recorded_detail, m.latest_detail))
            .collect()
    };
    let id = {
        let mut s = Store::open(dir.path()).unwrap();
        let id = s.begin_snapshot(&snap(7)).unwrap();
        s.append_batch(id, &[rec("a/x", 5, None), rec("b/y", 3, None)], Some("p2"))
            .unwrap();
        id
    };
    let mut s = Store::open(dir.path()).unwrap();
    // Names and details stored, latest details not recorded yet.
    assert_eq!(states(&s), [("a/x".into(), 0, 1), ("b/y".into(), 0, 2)]);
    // Readable while in progress ...
    assert_eq!(model_ids(&s, id), ["a/x", "b/y"]);
    // ... known to the reopened writer (no duplicate key for b/y), and a detail change is kept.
    let mut y = rec("b/y", 3, None);
    y.tags.push("changed".into());
    let mut z = rec("c/z", 1, None);
    z.tags.push("z".into());
    let st = s
        .append_batch(id, &[y.clone(), z.clone()], Some("p3"))
        .unwrap();
    assert_eq!((st.inserted, st.duplicates), (1, 1));
    s.complete_snapshot(id).unwrap();
    assert_eq!(
        states(&s),
        [
            ("a/x".into(), 1, 1),
            ("b/y".into(), 2, 2),
            ("c/z".into(), 3, 3)
        ]
    );
    // Next day: b/y with the changed detail (not seen, it was a duplicate) is one new detail; c/z none.
    let before = s.detail_count().unwrap();
    s.import_snapshot(&snap(8), &[rec("a/x", 6, None), y, z.clone()])
        .unwrap();
    assert_eq!(s.detail_count().unwrap(), before + 1);
    assert_eq!(s.latest_model("c/z").unwrap().unwrap().1, z);
    assert_eq!(s.model_history("a/x").unwrap().len(), 2);
    assert!(
        s.model_states()
            .unwrap()
            .iter()
            .all(|m| m.recorded_detail == m.latest_detail && m.fingerprint_known)
    );
}

/// `snapshot_listing` = `snapshot_models` with only the listing fields kept.
#[test]
fn snapshot_listing_is_the_listing_part_of_snapshot_models() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    let mut full = rec("a/x", 5, Some("text-generation"));
    full.license = Some("other".into());
    full.license_name = Some("qwen-research".into());
    full.gated = Some("manual".into());
    full.siblings = vec!["config.json".into()];
    full.architectures = vec!["Qwen2ForCausalLM".into()];
    full.downloads_all_time = Some(1234);
    full.trending_score = Some(2.5);
    let batch = vec![
        full,
        rec("b/y", 3, None),
        rec("c/z", 9, Some("text-to-image")),
    ];
    let id = s.import_snapshot(&snap(9), &batch).unwrap();
    let id = match id {
        ImportOutcome::Imported(info) => info.id,
        other => panic!("{other:?}"),
    };
    let models = s.snapshot_models(id).unwrap();
    let listing = s.snapshot_listing(id).unwrap();
    assert_eq!(listing.snapshot, id);
    assert_eq!(models.len(), listing.records.len());
    for (m, l) in models.iter().zip(&listing.records) {
        let expect = ModelRecord {
            id: m.id.clone(),
            author: m.author.clone(),
            downloads_30d: m.downloads_30d,
            downloads_all_time: m.downloads_all_time,
            likes: m.likes,
            trending_score: m.trending_score,
            pipeline_tag: m.pipeline_tag.clone(),
            library_name: m.library_name.clone(),
            license: m.license.clone(),
            license_name: m.license_name.clone(),
            gated: m.gated.clone(),
            ..Default::default()
        };
        assert_eq!(l, &expect);
    }
    assert_eq!(
        listing.records[0].license_name.as_deref(),
        Some("qwen-research")
    );
    // Full records by position, in the order asked.
    let some = s.listing_full_records(&listing, &[2, 0]).unwrap();
    assert_eq!(some, vec![models[2].clone(), models[0].clone()]);
    assert!(listing.records[0].tags.is_empty() && listing.records[0].siblings.is_empty());
    // A position past the listing is an error, not a panic.
    let err = s.listing_full_records(&listing, &[3]).unwrap_err();
    assert_eq!(err.kind(), cambrian_types::ErrorKind::BadInput, "{err}");
}

/// `append_pages` stores exactly what `append_batch` of the pages'
/// concatenation stores: ranks, first-occurrence dedup across pages, counts,
/// details — also past the two-thread threshold, where the pages are split
/// between threads at a page boundary.
#[test]
fn append_pages_equals_append_batch_of_the_concatenation() {
    let mk = |i: usize| {
        let mut m = rec(
            &format!("org{}/m{i}", i % 5),
            i as u64,
            Some(["text-generation", "fill-mask"][i % 2]),
        );
        m.tags.push(format!("t{}", i % 3));
        m
    };
    // 12 pages of 1000 (12,000 records: two-thread pass), with repeats of
    // earlier models on later pages and inside a page.
    let mut pages: Vec<Vec<ModelRecord>> = (0..12)
        .map(|p| (p * 1000..(p + 1) * 1000).map(mk).collect())
        .collect();
    for (p, page) in pages.iter_mut().enumerate().skip(1) {
        for j in 0..40 {
            let mut m = mk((p - 1) * 1000 + j * 13);
            m.likes = Some(424_242);
            page.insert(j * 20, m);
        }
    }
    pages[3].insert(500, mk(3001));
    let concat: Vec<ModelRecord> = pages.iter().flatten().cloned().collect();

    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut sa = Store::open(a.path()).unwrap();
    let mut sb = Store::open(b.path()).unwrap();
    let ia = sa.begin_snapshot(&snap(9)).unwrap();
    let ib = sb.begin_snapshot(&snap(9)).unwrap();
    // Two transactions each: pages 0..5 and 5..12.
    for (lo, hi, cp) in [(0, 5, "c1"), (5, 12, "c2")] {
        let slices: Vec<&[ModelRecord]> = pages[lo..hi].iter().map(Vec::as_slice).collect();
        let flat: Vec<ModelRecord> = pages[lo..hi].iter().flatten().cloned().collect();
        let x = sa.append_pages(ia, &slices, Some(cp)).unwrap();
        let y = sb.append_batch(ib, &flat, Some(cp)).unwrap();
        assert_eq!(
            (x.received, x.inserted, x.duplicates, x.total_rows),
            (y.received, y.inserted, y.duplicates, y.total_rows)
        );
    }
    assert_eq!(concat.len(), 12_000 + 11 * 40 + 1);
    let ra = sa.complete_snapshot(ia).unwrap();
    let rb = sb.complete_snapshot(ib).unwrap();
    assert_eq!(ra.models, 12_000);
    assert_eq!(ra.models, rb.models);
    let ma = sa.snapshot_models(ia).unwrap();
    assert_eq!(ma, sb.snapshot_models(ib).unwrap());
    assert_eq!(
        ma,
        (0..12_000).map(mk).collect::<Vec<_>>(),
        "first occurrences, in order"
    );
}

/// A model whose fingerprint is unknown (a v2-era store) is compared by
/// fingerprinting its stored detail; an unreadable stored detail counts as
/// changed — the new detail is written and the sync goes on.
#[test]
fn unknown_fingerprint_with_a_corrupt_stored_detail_writes_a_new_detail() {
    let dir = tempfile::tempdir().unwrap();
    let a = rec("org/a", 1, Some("text-generation"));
    let b = rec("org/b", 2, Some("fill-mask"));
    {
        let mut s = Store::open(dir.path()).unwrap();
        let ImportOutcome::Imported(_) = s
            .import_snapshot(&snap(1), &[a.clone(), b.clone()])
            .unwrap()
        else {
            panic!()
        };
    }
    {
        let c = Connection::open(dir.path().join(DB_FILE)).unwrap();
        forget_fingerprints(&c);
        // a (detail 1): its detail cut short; b: intact.
        set_detail(&c, 1, &[0xB1, 0xFF]);
    }
    let mut s = Store::open(dir.path()).unwrap();
    let ImportOutcome::Imported(info) = s
        .import_snapshot(&snap(2), &[a.clone(), b.clone()])
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(s.snapshot_models(info.id).unwrap(), vec![a, b]);
    drop(s);
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(
        s.detail_count().unwrap(),
        3,
        "a new detail for org/a only; org/b's intact detail matched its fingerprint"
    );
    let states = s.model_states().unwrap();
    assert!(
        states.iter().all(|m| m.fingerprint_known),
        "both fingerprints recorded: {states:?}"
    );
    assert_eq!(
        states.iter().map(|m| m.recorded_detail).collect::<Vec<_>>(),
        [3, 2]
    );
}

/// Clear the "fingerprint known" bit of every recorded model state (as a
/// store migrated from v2 has them): bit 63 of each 16-byte entry's first
/// little-endian word (blocks.rs).
fn forget_fingerprints(c: &Connection) {
    let blocks: Vec<(i64, Vec<u8>)> = c
        .prepare("SELECT block, data FROM state")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for (b, mut data) in blocks {
        for e in data.chunks_exact_mut(16) {
            e[7] &= 0x7F;
        }
        c.execute(
            "UPDATE state SET data = ?1 WHERE block = ?2",
            rusqlite::params![data, b],
        )
        .unwrap();
    }
}

/// Replace the stored bytes of detail `id` (its block is rebuilt, stored
/// uncompressed: entries are LEB128 model key + LEB128 length + bytes; blocks.rs).
fn set_detail(c: &Connection, id: i64, bytes: &[u8]) {
    fn varint(b: &[u8], pos: &mut usize) -> u64 {
        let (mut v, mut shift) = (0u64, 0);
        loop {
            let x = b[*pos];
            *pos += 1;
            v |= u64::from(x & 0x7f) << shift;
            if x < 0x80 {
                return v;
            }
            shift += 7;
        }
    }
    fn put(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push(v as u8 | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    let (first, n, data): (i64, i64, Vec<u8>) = c
        .query_row(
            "SELECT first_id, n, data FROM detail_blk WHERE first_id <= ?1 ORDER BY first_id DESC LIMIT 1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    // A blob is a codec byte (0 raw, 1 LZ4 with the u32 LE length first) and the entries.
    let data = match data[0] {
        0 => data[1..].to_vec(),
        1 => lz4_flex::block::decompress_size_prepended(&data[1..]).unwrap(),
        c => panic!("codec {c}"),
    };
    let (mut pos, mut out) = (0, vec![0u8]);
    for i in first..first + n {
        let key = varint(&data, &mut pos);
        let len = varint(&data, &mut pos) as usize;
        let old = &data[pos..pos + len];
        pos += len;
        let new = if i == id { bytes } else { old };
        put(&mut out, key);
        put(&mut out, new.len() as u64);
        out.extend_from_slice(new);
    }
    assert_eq!(pos, data.len());
    c.execute(
        "UPDATE detail_blk SET data = ?1 WHERE first_id = ?2",
        rusqlite::params![out, first],
    )
    .unwrap();
}

/// A sync's changes to models' recorded latest details are written to
/// `state` when the snapshot completes or is abandoned, not per batch. However the
/// sync ends — in the same process, after a reopen with more batches, after
/// a reopen straight into completion, or abandoned — the next day's same
/// records write no new detail, and the rows read back are the records.
#[test]
fn deferred_detail_changes_survive_every_way_a_sync_ends() {
    fn changed(r: &ModelRecord) -> ModelRecord {
        let mut r = r.clone();
        r.tags.push("v2".into());
        r
    }
    for ending in [
        "same process",
        "reopen + batch",
        "reopen + complete",
        "abandon",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let details = || Store::open(dir.path()).unwrap().detail_count().unwrap();
        // Models whose recorded latest detail is the newest stored one.
        let up_to_date = || {
            let s = Store::open(dir.path()).unwrap();
            let st = s.model_states().unwrap();
            st.iter()
                .filter(|m| m.recorded_detail == m.latest_detail)
                .count()
        };
        let unknown_fps = || {
            let s = Store::open(dir.path()).unwrap();
            let st = s.model_states().unwrap();
            st.iter().filter(|m| !m.fingerprint_known).count()
        };
        let day1: Vec<ModelRecord> = (0..6).map(|i| rec(&format!("o/m{i}"), i, None)).collect();
        // Day 2: m1 and m4 change, in a batch listed out of key order.
        let day2 = vec![
            changed(&day1[4]),
            day1[0].clone(),
            changed(&day1[1]),
            day1[5].clone(),
            day1[2].clone(),
            day1[3].clone(),
        ];
        {
            let mut s = Store::open(dir.path()).unwrap();
            let id = s.begin_snapshot(&snap(1)).unwrap();
            s.append_batch(id, &day1, Some("end")).unwrap();
            s.complete_snapshot(id).unwrap();
        }
        let details_day1 = details();
        let day2_id = {
            let mut s = Store::open(dir.path()).unwrap();
            let id = s.begin_snapshot(&snap(2)).unwrap();
            s.append_batch(id, &day2[..3], Some("p2")).unwrap();
            if ending == "same process" {
                s.append_batch(id, &day2[3..], Some("end")).unwrap();
                s.complete_snapshot(id).unwrap();
            }
            id // other endings: the process stops here (store dropped, no completion)
        };
        assert_eq!(details(), details_day1 + 2, "{ending}");
        if ending != "same process" {
            // Interrupted: the recorded states do not point at the new details yet.
            assert_eq!(up_to_date(), 4, "{ending}");
            let mut s = Store::open(dir.path()).unwrap();
            match ending {
                "reopen + batch" => {
                    s.append_batch(day2_id, &day2[3..], Some("end")).unwrap();
                    s.complete_snapshot(day2_id).unwrap();
                }
                "reopen + complete" => {
                    s.complete_snapshot(day2_id).unwrap();
                }
                _ => s.abandon_snapshot(day2_id).unwrap(),
            }
        }
        // Every model points at its latest detail.
        assert_eq!(up_to_date(), 6, "{ending}");
        if ending == "same process" {
            assert_eq!(unknown_fps(), 0, "fingerprints known");
        }
        let mut s = Store::open(dir.path()).unwrap();
        if ending != "abandon" {
            let rows = s.snapshot_models(day2_id).unwrap();
            let expect: Vec<ModelRecord> = if ending == "reopen + complete" {
                day2[..3].to_vec()
            } else {
                day2.clone()
            };
            assert_eq!(rows, expect, "{ending}");
        }
        // Day 3: the same records as day 2 — no detail is new.
        let id = s.begin_snapshot(&snap(3)).unwrap();
        s.append_batch(id, &day2, Some("end")).unwrap();
        s.complete_snapshot(id).unwrap();
        assert_eq!(s.snapshot_models(id).unwrap(), day2, "{ending}");
        drop(s);
        assert_eq!(details(), details_day1 + 2, "{ending}");
        assert_eq!(unknown_fps(), 0, "{ending}");
    }
}
