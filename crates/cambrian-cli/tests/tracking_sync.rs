//! `cambrian sync` end to end over HTTP against an in-process Hub simulator on 127.0.0.1:
//! faults, kill -9 and resume, malformed pages, token secrecy, offline failure.
//! Nothing here depends on timing for its verdict: timeouts only decide how often the
//! client retries, never what ends up stored.

mod common;

use cambrian_hubsim::{FaultKind, RunningSim, SimConfig};
use cambrian_store::Store;
use cambrian_types::ModelRecord;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{assert_exit, cambrian_cmd, run_cmd, text};

const SENTINEL: &str = "hf_SENTINEL_do_not_print_1234";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn sim(
    rt: &tokio::runtime::Runtime,
    models: usize,
    fault_rate: f64,
    faults: &[FaultKind],
) -> RunningSim {
    rt.block_on(cambrian_hubsim::start(SimConfig {
        models,
        seed: 7,
        fault_rate,
        faults: faults.to_vec(),
        stall: Duration::from_secs(3),
        ratelimit_reset_secs: 1,
        ..SimConfig::default()
    }))
    .unwrap()
}

fn sync_cmd(store: &Path, endpoint: &str, extra: &[&str]) -> Command {
    let mut c = cambrian_cmd();
    c.arg("--store")
        .arg(store)
        .args([
            "sync",
            "--endpoint",
            endpoint,
            "--first-byte-timeout",
            "1",
            "--retry-base-ms",
            "5",
        ])
        .args(extra)
        .env_remove("CAMBRIAN_STORE")
        .env_remove("HF_ENDPOINT")
        .env_remove("HF_TOKEN")
        .env_remove("CAMBRIAN_LOG")
        .env("NO_COLOR", "1");
    if !extra.contains(&"--max-retries") {
        c.args(["--max-retries", "12"]);
    }
    c
}

fn run(mut c: Command) -> Output {
    run_cmd(&mut c)
}

/// Runs the sync and asserts it succeeded (exit 0).
fn sync_ok(store: &Path, endpoint: &str, extra: &[&str]) -> Output {
    let o = run(sync_cmd(store, endpoint, extra));
    assert_exit(&o, 0);
    o
}

/// The single JSON report a `--json` sync prints.
fn json_report(o: &Output) -> Value {
    serde_json::from_str(text(&o.stdout).trim()).unwrap()
}

/// A `http://127.0.0.1:PORT` endpoint on a port that was just free: nothing listens.
fn dead_endpoint() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}")
}

/// The only complete snapshot's rows, in rank order.
fn only_snapshot(store: &Path) -> Vec<ModelRecord> {
    let s = Store::open(store).unwrap();
    let snaps = s.snapshots().unwrap();
    assert_eq!(
        snaps.len(),
        1,
        "expected exactly one complete snapshot: {snaps:?}"
    );
    s.snapshot_models(snaps[0].id).unwrap()
}

fn complete_snapshots(store: &Path) -> usize {
    Store::open(store).unwrap().snapshots().unwrap().len()
}

#[test]
fn sync_with_ten_percent_faults_equals_fault_free_sync() {
    let rt = runtime();
    let clean = sim(&rt, 20_000, 0.0, FaultKind::TRANSIENT);
    let faulty = sim(&rt, 20_000, 0.10, FaultKind::TRANSIENT);
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));

    sync_ok(&a, &clean.base_url(), &["--page-size", "500", "--json"]);
    let o = sync_ok(&b, &faulty.base_url(), &["--page-size", "500", "--json"]);
    let report = json_report(&o);
    assert_eq!(report["type"], "sync");
    assert!(
        report["retries"].as_u64().unwrap() > 0,
        "no fault was injected: {report}"
    );
    let faults: u64 = faulty.stats().faults.values().sum();
    assert!(faults > 0);

    let ra = only_snapshot(&a);
    let rb = only_snapshot(&b);
    // 20,000 generated models + 1 declared one; every id once, every field equal, same order.
    assert_eq!(ra.len(), 20_001);
    assert_eq!(report["snapshot"]["models"], 20_001);
    assert_eq!(ra, rb);
    // Same ids as the simulator serves.
    let mut want: Vec<&str> = clean.models().iter().map(|m| m.id.as_str()).collect();
    let mut got: Vec<&str> = ra.iter().map(|m| m.id.as_str()).collect();
    want.sort_unstable();
    got.sort_unstable();
    assert_eq!(got, want);
    // Sorted by trendingScore descending.
    assert!(
        ra.windows(2)
            .all(|w| w[0].trending_score >= w[1].trending_score)
    );
    assert!(
        ra.iter()
            .all(|m| m.likes.is_some() && m.downloads_all_time.is_some())
    );
}

/// Deterministic pseudo-random kill points (seeded LCG).
fn kill_points(seed: u64, n: usize, max: u64) -> Vec<u64> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            1 + (x >> 33) % max
        })
        .collect()
}

#[test]
fn kill_dash_nine_at_random_points_then_rerun_gives_one_identical_snapshot() {
    let rt = runtime();
    let sim = sim(&rt, 5_000, 0.05, FaultKind::TRANSIENT);
    let tmp = tempfile::tempdir().unwrap();
    let reference = tmp.path().join("ref");
    sync_ok(&reference, &sim.base_url(), &["--page-size", "50"]);
    let want = only_snapshot(&reference);
    assert_eq!(want.len(), 5_001);

    // 5,001 models / 50 per page = 101 pages. Kill when the snapshot holds at least the
    // next target number of rows (cumulative over runs, read from the debug log).
    let store = tmp.path().join("killed");
    let mut targets: Vec<u64> = kill_points(0xC0FFEE, 4, 90)
        .into_iter()
        .map(|k| k * 50)
        .collect();
    targets.sort_unstable();
    targets.dedup();
    let mut kills = 0;
    for target in targets {
        let mut c = sync_cmd(&store, &sim.base_url(), &["--page-size", "50"]);
        c.env("CAMBRIAN_LOG", "warn,cambrian_app=debug,trackcheck=debug")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut killed = false;
        for line in BufReader::new(stderr).lines() {
            let line = line.unwrap();
            let rows = line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("rows="))
                .and_then(|v| v.parse::<u64>().ok());
            if line.contains("page stored") && rows.is_some_and(|r| r >= target) {
                child.kill().unwrap(); // SIGKILL
                killed = true;
                break;
            }
        }
        let status = child.wait().unwrap();
        assert!(killed, "the sync finished before reaching {target} rows");
        kills += 1;
        assert_eq!(status.code(), None, "killed by a signal");
        assert_eq!(
            complete_snapshots(&store),
            0,
            "an interrupted sync must stay invisible"
        );
    }
    assert!(kills >= 1);
    let o = sync_ok(&store, &sim.base_url(), &["--page-size", "50", "--json"]);
    let report = json_report(&o);
    assert_eq!(report["resumed"], true, "{report}");
    assert!(report["resumed_rows"].as_u64().unwrap() > 0);
    assert_eq!(only_snapshot(&store), want);
    // A further run starts a new snapshot rather than touching the complete one.
    assert_eq!(complete_snapshots(&store), 1);
}

#[test]
fn invalid_json_pages_fail_clearly_and_write_nothing_visible() {
    let rt = runtime();
    let sim = sim(&rt, 2_000, 1.0, &[FaultKind::InvalidJson]);
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("s");
    let o = run(sync_cmd(
        &store,
        &sim.base_url(),
        &["--page-size", "500", "--max-retries", "2"],
    ));
    assert_exit(&o, 2);
    assert!(o.stdout.is_empty());
    let err = text(&o.stderr);
    assert!(
        // The URL once (in "giving up on URL …"), then the last error without it.
        err.contains("giving up on http://127.0.0.1:") && err.contains("invalid JSON at byte"),
        "{err}"
    );
    assert!(err.contains("hint:"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(complete_snapshots(&store), 0);
    // Once the pages are good again the same command completes the snapshot.
    sim.set_fault_rate(0.0);
    sync_ok(&store, &sim.base_url(), &["--page-size", "500"]);
    assert_eq!(only_snapshot(&store).len(), 2_001);
}

#[test]
fn wrong_types_missing_and_unknown_fields_are_tolerated_per_field() {
    let rt = runtime();
    let clean = sim(&rt, 2_000, 0.0, FaultKind::TRANSIENT);
    let tmp = tempfile::tempdir().unwrap();
    let reference = tmp.path().join("ref");
    sync_ok(&reference, &clean.base_url(), &["--page-size", "200"]);
    let want = only_snapshot(&reference);

    // Unknown fields: ignored, identical rows.
    let s = sim(&rt, 2_000, 1.0, &[FaultKind::UnknownFields]);
    let store = tmp.path().join("unknown");
    sync_ok(&store, &s.base_url(), &["--page-size", "200", "--json"]);
    assert_eq!(only_snapshot(&store), want);

    // Wrong types: the field becomes None with a warning; the rest of the record is kept.
    let s = sim(&rt, 2_000, 1.0, &[FaultKind::WrongTypes]);
    let store = tmp.path().join("wrong");
    let o = sync_ok(&store, &s.base_url(), &["--page-size", "200", "--json"]);
    let r = json_report(&o);
    assert!(r["warning_count"].as_u64().unwrap() > 0, "{r}");
    assert!(r["warnings"][0]["field"].is_string(), "{r}");
    let got = only_snapshot(&store);
    assert_eq!(got.len(), want.len());
    let mut degraded = 0;
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g.id, w.id);
        assert!(g.likes == w.likes || g.likes.is_none(), "{g:?} vs {w:?}");
        assert!(g.downloads_30d == w.downloads_30d || g.downloads_30d.is_none());
        assert!(g.created_at == w.created_at || g.created_at.is_none());
        assert!(g.tags == w.tags || g.tags.is_empty());
        assert_eq!(g.pipeline_tag, w.pipeline_tag);
        if g != w {
            degraded += 1;
        }
    }
    assert!(degraded > 0);

    // Missing fields: an item without `id` is skipped (warned), others keep what they have.
    let s = sim(&rt, 2_000, 1.0, &[FaultKind::MissingFields]);
    let store = tmp.path().join("missing");
    let o = sync_ok(&store, &s.base_url(), &["--page-size", "200", "--json"]);
    let r = json_report(&o);
    let got = only_snapshot(&store);
    let skipped = r["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["field"].is_null())
        .count();
    assert!(skipped > 0, "{r}");
    assert_eq!(got.len() + skipped, want.len(), "{r}");
    let want_ids: std::collections::HashSet<&str> = want.iter().map(|m| m.id.as_str()).collect();
    assert!(got.iter().all(|m| want_ids.contains(m.id.as_str())));
}

fn assert_no_sentinel(o: &Output, what: &str) {
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert!(
        !out.contains(SENTINEL) && !err.contains(SENTINEL),
        "{what}: token leaked\nstdout: {out}\nstderr: {err}"
    );
    assert!(
        !out.contains("SENTINEL") && !err.contains("SENTINEL"),
        "{what}: part of the token leaked"
    );
}

#[test]
fn the_token_never_appears_in_output_logs_or_errors() {
    let rt = runtime();
    let tmp = tempfile::tempdir().unwrap();
    let with_token = |store: &Path, endpoint: &str, extra: &[&str]| {
        let mut c = sync_cmd(store, endpoint, extra);
        c.env("HF_TOKEN", SENTINEL).env("CAMBRIAN_LOG", "trace");
        run(c)
    };
    // Success, with faults and trace logging.
    let ok = sim(&rt, 1_000, 0.2, FaultKind::TRANSIENT);
    let o = with_token(
        &tmp.path().join("a"),
        &ok.base_url(),
        &["--page-size", "100"],
    );
    assert_exit(&o, 0);
    assert_no_sentinel(&o, "success");
    assert!(
        ok.stats().authorized_requests > 0,
        "the token was not sent at all"
    );
    let o = with_token(
        &tmp.path().join("a2"),
        &ok.base_url(),
        &["--page-size", "100", "--json"],
    );
    assert_no_sentinel(&o, "success --json");

    // Failure: every request 500 → gave up.
    let bad = sim(&rt, 100, 1.0, &[FaultKind::Status500]);
    let o = with_token(
        &tmp.path().join("b"),
        &bad.base_url(),
        &["--max-retries", "1"],
    );
    assert_exit(&o, 4);
    assert_no_sentinel(&o, "HTTP 500");

    // Failure: invalid JSON.
    let inv = sim(&rt, 100, 1.0, &[FaultKind::InvalidJson]);
    let o = with_token(
        &tmp.path().join("c"),
        &inv.base_url(),
        &["--max-retries", "1"],
    );
    assert_exit(&o, 2);
    assert_no_sentinel(&o, "invalid JSON");

    // Failure: nothing listening.
    let o = with_token(
        &tmp.path().join("d"),
        &dead_endpoint(),
        &["--max-retries", "1"],
    );
    assert_exit(&o, 4);
    assert_no_sentinel(&o, "connection refused");

    // Usage error path.
    let o = with_token(&tmp.path().join("e"), "not a url", &[]);
    assert_ne!(o.status.code(), Some(0));
    assert_no_sentinel(&o, "bad endpoint");
}

#[test]
fn unreachable_hub_gives_a_clear_message_and_exit_4() {
    let tmp = tempfile::tempdir().unwrap();
    let o = run(sync_cmd(
        &tmp.path().join("s"),
        &dead_endpoint(),
        &["--max-retries", "0"],
    ));
    assert_exit(&o, 4);
    assert!(o.stdout.is_empty());
    let err = text(&o.stderr);
    assert!(err.starts_with("error: Hub listing failed"), "{err}");
    assert!(
        err.contains("hint:") && err.contains("cambrian import"),
        "{err}"
    );
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
}
