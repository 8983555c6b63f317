//! `cambrian import` / `snapshots` / `show` over the real archived snapshot files
//! (testdata/snapshots, provenance in its ATTRIBUTION.md), driving the real binary.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/snapshots")
}

fn cambrian(store: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cambrian"))
        .arg("--store")
        .arg(store)
        .args(args)
        .env_remove("CAMBRIAN_STORE")
        .env_remove("HF_TOKEN")
        .env("NO_COLOR", "1")
        .output()
        .expect("run cambrian")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn json_lines(o: &Output) -> Vec<Value> {
    text(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

/// `n_models` per file from an INDEX.json (independent metadata written by the archiver).
fn index_counts(dir: &str) -> Vec<(String, u64)> {
    let v: Value =
        serde_json::from_slice(&std::fs::read(testdata().join(dir).join("INDEX.json")).unwrap())
            .unwrap();
    v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["file"].as_str().unwrap()[..10].to_string(),
                f["n_models"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn import_real_archives_counts_per_snapshot_then_duplicates_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let o = cambrian(&store, &["--json", "import", testdata().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", text(&o.stderr));
    let lines = json_lines(&o);
    let items: Vec<&Value> = lines.iter().filter(|l| l["type"] == "import").collect();
    let summary = lines
        .iter()
        .find(|l| l["type"] == "import_summary")
        .expect("summary line");
    // 16 daily-top files, 143 /api/trending files, 42 rank-feed commits over 39 UTC days.
    assert_eq!(items.len(), 16 + 143 + 39);
    assert_eq!(summary["imported"], 198);
    assert_eq!(summary["duplicates"], 0);
    assert!(items.iter().all(|i| i["status"] == "imported"));

    let per = |format: &str| -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = items
            .iter()
            .filter(|i| i["format"] == format)
            .map(|i| {
                (
                    i["day"].as_str().unwrap().to_string(),
                    i["models"].as_u64().unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        per("daily-top"),
        index_counts("daily_top_by_likes_and_downloads")
    );
    assert_eq!(per("api-trending"), index_counts("api_trending_daily"));
    let rank = per("trending-rank-feed");
    assert_eq!(rank.len(), 39);
    assert!(rank.iter().all(|(_, n)| *n == 30));
    // The last commit of a UTC day wins: 2025-01-20 had commits at 07:03, 07:25, 07:48, 07:52 UTC.
    let d20 = items
        .iter()
        .find(|i| i["format"] == "trending-rank-feed" && i["day"] == "2025-01-20")
        .unwrap();
    assert_eq!(d20["taken_at"], "2025-01-20T07:52:04Z");
    // /api/trending dates come from INDEX.json's commit_time_utc.
    let t = items
        .iter()
        .find(|i| i["format"] == "api-trending" && i["day"] == "2026-03-02")
        .unwrap();
    assert_eq!(t["taken_at"], "2026-03-02T12:17:14Z");

    // snapshots lists them all, oldest first.
    let o = cambrian(&store, &["--json", "snapshots"]);
    assert_eq!(o.status.code(), Some(0));
    let snaps = json_lines(&o);
    assert_eq!(snaps.len(), 198);
    assert!(snaps.iter().all(|s| s["type"] == "snapshot"));
    assert_eq!(snaps[0]["taken_at"].as_str().unwrap()[..10], *"2025-01-20");
    let total: u64 = snaps.iter().map(|s| s["models"].as_u64().unwrap()).sum();
    let expect_total: u64 = index_counts("daily_top_by_likes_and_downloads")
        .iter()
        .map(|x| x.1)
        .sum::<u64>()
        + index_counts("api_trending_daily")
            .iter()
            .map(|x| x.1)
            .sum::<u64>()
        + 39 * 30;
    assert_eq!(total, expect_total);

    // Re-import: every snapshot is a duplicate and nothing is added.
    let o = cambrian(&store, &["import", testdata().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", text(&o.stderr));
    let out = text(&o.stdout);
    assert_eq!(out.matches("duplicate of snapshot").count(), 198, "{out}");
    assert!(
        out.contains("198 snapshots: 0 imported (0 model rows), 198 duplicates skipped"),
        "{out}"
    );
    let o = cambrian(&store, &["--json", "snapshots"]);
    assert_eq!(json_lines(&o).len(), 198);
}

#[test]
fn out_of_order_import_gives_the_same_snapshots() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    let dir = testdata().join("daily_top_by_likes_and_downloads");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap() != "INDEX.json")
        .collect();
    files.sort();
    let o = cambrian(&a, &["import", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    // Newest first, one file per invocation, with one file imported twice.
    for f in files.iter().rev().chain(files.iter().take(1)) {
        let o = cambrian(&b, &["import", f.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    }
    let strip = |store: &Path| -> Vec<(String, u64)> {
        json_lines(&cambrian(store, &["--json", "snapshots"]))
            .iter()
            .map(|s| {
                (
                    s["taken_at"].as_str().unwrap().to_string(),
                    s["models"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let sa = strip(&a);
    assert_eq!(sa.len(), 16);
    assert_eq!(sa, strip(&b));
    // Values of one model match the raw file: FLUX.1-dev on 2026-08-07 (first item of the file).
    let raw: Value = serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();
    let first = &raw["models"][0];
    let id = first["id"].as_str().unwrap();
    let o = cambrian(&b, &["--json", "show", id]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let lines = json_lines(&o);
    assert_eq!(lines[0]["type"], "model");
    let hist: Vec<&Value> = lines.iter().filter(|l| l["type"] == "history").collect();
    assert_eq!(hist.len(), 16);
    assert_eq!(hist[0]["taken_at"].as_str().unwrap()[..10], *"2026-08-07");
    assert_eq!(hist[0]["likes"], first["likes"]);
    assert_eq!(hist[0]["downloads_30d"], first["downloads"]);
    assert_eq!(hist[0]["rank"], 1);
    // The JSON contract: the snapshot id is a bare integer, the fields in this order.
    assert!(hist[0]["snapshot"].is_u64(), "{}", hist[0]);
    let keys: Vec<&str> = hist[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "type",
            "id",
            "snapshot",
            "taken_at",
            "source",
            "rank",
            "likes",
            "downloads_30d",
            "downloads_all_time",
            "trending_score"
        ]
    );
    // The latest record is the 2026-08-22 one.
    let last: Value =
        serde_json::from_slice(&std::fs::read(files.last().unwrap()).unwrap()).unwrap();
    let latest = last["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == id)
        .unwrap();
    assert_eq!(lines[0]["record"]["likes"], latest["likes"]);
    assert_eq!(lines[0]["record"]["pipeline_tag"], latest["pipeline_tag"]);
}

#[test]
fn show_table_and_unknown_model() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("s");
    let dir = testdata().join("daily_top_by_likes_and_downloads");
    assert_eq!(
        cambrian(&store, &["import", dir.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    let o = cambrian(&store, &["show", "deepseek-ai/DeepSeek-R1"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.starts_with("deepseek-ai/DeepSeek-R1\n"), "{out}");
    assert!(out.contains("history: 16 snapshots"), "{out}");
    assert!(out.contains("text-generation"), "{out}");
    let o = cambrian(&store, &["show", "no-such/model"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(o.stdout.is_empty());
    let err = text(&o.stderr);
    assert!(
        err.contains("\"no-such/model\" is in no stored snapshot") && err.contains("hint:"),
        "{err}"
    );
}

#[test]
fn empty_store_snapshots_is_nothing_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let o = cambrian(&tmp.path().join("s"), &["snapshots"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(o.stdout.is_empty());
    assert!(text(&o.stderr).contains("hint: run `cambrian sync`"));
}

#[test]
fn bundled_dataset_imports_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("s");
    let o = cambrian(&store, &["--json", "import", "--bundled"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let lines = json_lines(&o);
    let summary = lines.last().unwrap();
    assert_eq!(summary["type"], "import_summary");
    assert_eq!(summary["imported"], 198);
    // Same content as the files: importing the directory afterwards is all duplicates.
    let o = cambrian(&store, &["--json", "import", testdata().to_str().unwrap()]);
    let lines = json_lines(&o);
    assert_eq!(
        lines.last().unwrap()["duplicates"],
        198,
        "{}",
        text(&o.stdout)
    );
}

#[test]
fn malformed_file_is_rejected_with_location_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("s");
    let dir = tmp.path().join("in");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        testdata().join("daily_top_by_likes_and_downloads/2026-08-07.json"),
        dir.join("2026-08-07.json"),
    )
    .unwrap();
    std::fs::write(
        dir.join("2026-08-08.json"),
        b"{\"date\": \"2026-08-08\",\n \"models\": [ {\"id\": \"a/b\",, } ]}",
    )
    .unwrap();
    std::fs::write(dir.join("notes.txt"), b"ignored").unwrap();
    let o = cambrian(&store, &["import", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty(), "{}", text(&o.stdout));
    let err = text(&o.stderr);
    assert!(
        err.contains("2026-08-08.json: invalid JSON at line 2, column"),
        "{err}"
    );
    assert!(err.contains("hint:"), "{err}");
    // The good file in the same directory was not imported either.
    assert_eq!(cambrian(&store, &["snapshots"]).status.code(), Some(3));

    // An unrecognised JSON document.
    std::fs::write(dir.join("2026-08-08.json"), b"[1, 2, 3]").unwrap();
    let o = cambrian(
        &store,
        &["import", dir.join("2026-08-08.json").to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("expected a JSON object at the top level"),
        "{}",
        text(&o.stderr)
    );
    // A missing path.
    let o = cambrian(
        &store,
        &["import", tmp.path().join("nope").to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(3));
    assert!(text(&o.stderr).contains("hint:"));
}

#[test]
fn tolerated_field_problems_are_reported_per_item() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("s");
    let f = tmp.path().join("2026-09-01.json");
    std::fs::write(
        &f,
        br#"{"date":"2026-09-01","fetched_at":"2026-09-01T10:00:00+09:00","models":[
        {"id":"a/one","likes":"12","downloads":5,"unknown_field":[1]},
        {"likes":3},
        {"id":"a/two","likes":7,"createdAt":12}]}"#,
    )
    .unwrap();
    let o = cambrian(&store, &["--json", "import", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let lines = json_lines(&o);
    assert_eq!(lines[0]["models"], 2);
    assert_eq!(lines[0]["warning_count"], 3);
    let w = lines[0]["warnings"].to_string();
    assert!(
        w.contains("field likes is a string") && w.contains("no id") && w.contains("createdAt"),
        "{w}"
    );
    let o = cambrian(&store, &["--json", "show", "a/one"]);
    let lines = json_lines(&o);
    assert_eq!(lines[0]["record"]["likes"], Value::Null);
    assert_eq!(lines[0]["record"]["downloads_30d"], 5);
}
