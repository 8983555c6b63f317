//! `kill -9` in the middle of `cambrian eval`, then `--resume`: every
//! (model, item) appears exactly once in the results, and the answers
//! recorded before the kill are not asked again.

mod eval_stub;

use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const N: usize = 200;

fn journal_lines(path: &std::path::Path) -> usize {
    std::fs::read_to_string(path)
        .map(|s| s.lines().filter(|l| l.contains("\"item_id\"")).count())
        .unwrap_or(0)
}

#[test]
fn kill_9_then_resume_runs_every_item_exactly_once() {
    // 25 ms per request, 2 in flight: the run takes ≥ 2.5 s, so there is time to kill it.
    let stub = eval_stub::start(Duration::from_millis(25));
    let dir = tempfile::tempdir().unwrap();
    let tests = eval_stub::write_tests(dir.path(), N);
    let journal = dir.path().join("run.journal.jsonl");
    let csv = dir.path().join("items.csv");
    let store = dir.path().join("store");
    let model = format!("oracle={}", stub.base_url);
    let args = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "--store",
            store.to_str().unwrap(),
            "eval",
            "--json",
            "--tests",
            tests.to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend([
            "--model".into(),
            model.clone(),
            "--concurrency".into(),
            "2".into(),
            "--no-cache".into(),
        ]);
        v.extend([
            "--journal".into(),
            journal.to_str().unwrap().to_string(),
            "--scorer".into(),
            "exact".into(),
        ]);
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_cambrian"))
        .args(args(&[]))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait (bounded by a generous deadline, not by timing assumptions) until some answers are journaled.
    let deadline = Instant::now() + Duration::from_secs(120);
    while journal_lines(&journal) < 20 {
        assert!(Instant::now() < deadline, "no progress in the journal");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // SIGKILL: no chance to flush or clean up.
    let pid = child.id().to_string();
    let status = Command::new("kill").args(["-9", &pid]).status().unwrap();
    assert!(status.success());
    let _ = child.wait();
    let before_resume = journal_lines(&journal);
    assert!(
        (20..N).contains(&before_resume),
        "journal has {before_resume} answers"
    );
    let sent_before = stub.requests.load(Ordering::SeqCst);

    let out = Command::new(env!("CARGO_BIN_EXE_cambrian"))
        .args(args(&[
            "--resume",
            "--csv",
            csv.to_str().unwrap(),
            "--no-warmup",
        ]))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recs: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let run = recs.iter().find(|r| r["type"] == "run").unwrap();
    let resumed = run["resumed"].as_u64().unwrap() as usize;
    assert!(
        resumed + 1 >= before_resume && resumed <= N,
        "resumed {resumed}, journal had {before_resume}"
    );
    let m = recs.iter().find(|r| r["type"] == "model").unwrap();
    assert_eq!(m["n"].as_u64(), Some(N as u64));
    assert_eq!(m["correct"].as_u64(), Some(N as u64));

    // Every item exactly once in the per-item results.
    let mut rdr = csv::Reader::from_path(&csv).unwrap();
    let mut ids: Vec<String> = rdr.records().map(|r| r.unwrap()[1].to_string()).collect();
    assert_eq!(ids.len(), N);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), N, "duplicate items in the results");

    // The resumed run asked only for what the journal did not have. (Up to
    // `concurrency` = 2 requests of the killed process may reach the stub after
    // `sent_before` was read, so the count is bounded, not exact.)
    let sent_after = (stub.requests.load(Ordering::SeqCst) - sent_before) as usize;
    assert!(
        sent_after >= N - resumed && sent_after <= N - resumed + 2,
        "{sent_after} requests after resume, {resumed} resumed"
    );
}
