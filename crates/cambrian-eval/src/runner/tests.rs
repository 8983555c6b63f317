//! Runner tests against the in-process `cambrian-llmsim` stub (127.0.0.1).

use super::*;
use crate::item::{CallErrorKind, GenParams, PreparedItem};
use cambrian_llm::{ChatMessage, Role};
use cambrian_llmsim::{SimConfig, spawn};
use std::collections::HashSet;
use std::sync::Mutex;

fn items(n: usize) -> Vec<PreparedItem> {
    (0..n)
        .map(|i| PreparedItem {
            id: format!("q{i}"),
            messages: vec![
                ChatMessage {
                    role: Role::System,
                    content: "Answer briefly.".into(),
                },
                ChatMessage {
                    role: Role::User,
                    content: format!("question {i}\n#answer:a{i}"),
                },
            ],
            prompt: None,
        })
        .collect()
}

fn target(label: &str, url: &str, api: Api, stream: bool) -> Target {
    Target {
        label: label.into(),
        model: format!("m-{label}"),
        base_url: url.into(),
        api_key: None,
        api,
        stream,
    }
}

fn config(dir: &std::path::Path, targets: Vec<Target>) -> RunConfig {
    RunConfig {
        targets,
        concurrency: 8,
        params: GenParams {
            temperature: 0.0,
            max_tokens: 16,
            seed: Some(1),
        },
        cache_dir: None,
        journal: dir.join("journal.jsonl"),
        timeouts: Timeouts::default(),
        warmup: true,
        retries: 3,
    }
}

fn quiet() -> impl Fn(RunEvent) + Sync {
    |_| {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_target_item_pair_once_in_item_order_with_timings() {
    let sim = spawn(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = sim.base_url();
    let cfg = config(
        dir.path(),
        vec![
            target("chat", &url, Api::Chat, false),
            target("chat-sse", &url, Api::Chat, true),
            target("compl-sse", &url, Api::Completions, true),
        ],
    );
    let its = items(40);
    let events = Mutex::new(Vec::new());
    let out = run(&cfg, &its, &|e| events.lock().unwrap().push(e))
        .await
        .unwrap();
    assert_eq!(out.runs.len(), 120);
    assert_eq!((out.resumed, out.cached), (0, 0));
    assert_eq!(out.warmup_ms.len(), 3);
    for (k, r) in out.runs.iter().enumerate() {
        let (i, t) = (k / 3, k % 3);
        assert_eq!(r.item_id, format!("q{i}"));
        assert_eq!(r.model, ["chat", "chat-sse", "compl-sse"][t]);
        assert_eq!(r.error, None, "{r:?}");
        assert_eq!(r.text.as_deref(), Some(format!("a{i}").as_str()));
        assert_eq!(r.finish_reason.as_deref(), Some("stop"));
        assert_eq!(r.completion_tokens, Some(1));
        assert!(r.prompt_tokens.unwrap() >= 3);
        assert!(r.latency_ms.unwrap() > 0.0);
        assert_eq!(r.ttft_ms.is_some(), t > 0, "TTFT only on streams: {r:?}");
        assert!(!r.cached);
    }
    // 120 items + 3 warm-ups reached the server.
    assert_eq!(sim.stats.completed(), 123);
    assert!(
        sim.stats.peak_in_flight() <= 8,
        "per-endpoint bound: {}",
        sim.stats.peak_in_flight()
    );
    let ev = events.lock().unwrap();
    assert!(ev.contains(&RunEvent::Started {
        total: 120,
        resumed: 0,
        cached: 0,
        to_send: 120
    }));
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, RunEvent::ItemDone { .. }))
            .count(),
        120
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rerun_is_served_from_the_cache_without_a_server() {
    let sim = spawn(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = sim.base_url();
    let mut cfg = config(dir.path(), vec![target("a", &url, Api::Chat, true)]);
    cfg.cache_dir = Some(dir.path().join("cache"));
    let its = items(25);
    let first = run(&cfg, &its, &quiet()).await.unwrap();
    assert_eq!(first.cached, 0);
    drop(sim); // the server is gone
    tokio::task::yield_now().await;
    cfg.journal = dir.path().join("second.jsonl");
    let second = run(&cfg, &its, &quiet()).await.unwrap();
    assert_eq!(second.cached, 25);
    assert!(
        second.warmup_ms.is_empty(),
        "no warm-up when nothing is sent"
    );
    for (a, b) in first.runs.iter().zip(&second.runs) {
        assert!(b.cached);
        assert_eq!(a.text, b.text);
        // Equal up to JSON float parsing (serde_json parses the last digit lossily).
        let close = |x: Option<f64>, y: Option<f64>| match (x, y) {
            (Some(x), Some(y)) => (x - y).abs() < 1e-9,
            (None, None) => true,
            _ => false,
        };
        assert!(
            close(a.latency_ms, b.latency_ms),
            "cache hits keep the original latency"
        );
        assert!(close(a.ttft_ms, b.ttft_ms));
    }
    // A different parameter is a different request: not served from the cache.
    cfg.params.max_tokens = 17;
    cfg.journal = dir.path().join("third.jsonl");
    cfg.warmup = false;
    cfg.retries = 0;
    let third = run(&cfg, &its, &quiet()).await.unwrap();
    assert_eq!(third.cached, 0);
    assert!(third.runs.iter().all(|r| {
        r.error
            .as_ref()
            .is_some_and(|e| e.kind == CallErrorKind::Transport)
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn back_pressure_is_retried_and_every_item_completes() {
    let sim = spawn(SimConfig {
        fail_429_every: Some(3),
        fail_503_every: Some(7),
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(
        dir.path(),
        vec![target("a", &sim.base_url(), Api::Chat, false)],
    );
    cfg.retries = 10;
    let retries = Mutex::new(0usize);
    let out = run(&cfg, &items(60), &|e| {
        if matches!(e, RunEvent::Retrying { .. }) {
            *retries.lock().unwrap() += 1;
        }
    })
    .await
    .unwrap();
    assert!(out.runs.iter().all(|r| r.error.is_none()), "all recovered");
    let errors = sim.stats.errors.load(std::sync::atomic::Ordering::SeqCst) as usize;
    assert!(errors > 0);
    assert_eq!(
        *retries.lock().unwrap(),
        errors,
        "one retry per injected 429/503"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejections_are_final_and_reasoning_and_length_are_kept() {
    let sim = spawn(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(
        dir.path(),
        vec![target("a", &sim.base_url(), Api::Chat, true)],
    );
    cfg.warmup = false;
    let mk = |id: &str, content: &str| PreparedItem {
        id: id.into(),
        messages: vec![ChatMessage {
            role: Role::User,
            content: content.into(),
        }],
        prompt: None,
    };
    cfg.params.max_tokens = 3;
    let its = vec![
        mk("bad", "#status:400"),
        mk("think", "#think:two plus two\n#answer:4"),
        mk("long", "#answer:one two three four five"),
    ];
    let out = run(&cfg, &its, &quiet()).await.unwrap();
    let e = out.runs[0].error.as_ref().unwrap();
    assert_eq!(
        (e.kind, e.http_status),
        (CallErrorKind::Rejected, Some(400))
    );
    assert!(e.message.contains("#status marker"), "{}", e.message);
    assert_eq!(out.runs[1].text.as_deref(), Some("4"));
    assert_eq!(out.runs[1].reasoning.as_deref(), Some("two plus two"));
    assert_eq!(out.runs[2].text.as_deref(), Some("one two three"));
    assert_eq!(out.runs[2].finish_reason.as_deref(), Some("length"));
    assert_eq!(sim.stats.requests(), 3, "a 400 is not retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_byte_timeout_and_unreachable_server() {
    let sim = spawn(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(
        dir.path(),
        vec![target("a", &sim.base_url(), Api::Chat, false)],
    );
    cfg.warmup = false;
    cfg.retries = 0;
    cfg.timeouts.first_byte = Duration::from_millis(200);
    let its = vec![PreparedItem {
        id: "slow".into(),
        messages: vec![ChatMessage {
            role: Role::User,
            content: "#sleep:30000".into(),
        }],
        prompt: None,
    }];
    let out = run(&cfg, &its, &quiet()).await.unwrap();
    let e = out.runs[0].error.as_ref().unwrap();
    assert_eq!(e.kind, CallErrorKind::Timeout, "{e:?}");
    assert!(e.message.contains("first-byte"), "{}", e.message);

    // Nothing listens on the port of a dropped server: the warm-up says so.
    let url = sim.base_url();
    drop(sim);
    tokio::task::yield_now().await;
    let mut cfg = config(dir.path(), vec![target("gone", &url, Api::Chat, false)]);
    cfg.journal = dir.path().join("gone.jsonl");
    cfg.retries = 0;
    let err = run(&cfg, &items(2), &quiet()).await.unwrap_err();
    assert!(matches!(err, RunError::Warmup { .. }), "{err}");
    assert!(err.hint().unwrap().contains("/v1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journal_mismatch_and_duplicate_ids_are_errors() {
    let sim = spawn(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(
        dir.path(),
        vec![target("a", &sim.base_url(), Api::Chat, false)],
    );
    run(&cfg, &items(3), &quiet()).await.unwrap();
    cfg.params.temperature = 0.7;
    let err = run(&cfg, &items(3), &quiet()).await.unwrap_err();
    assert!(matches!(err, RunError::JournalMismatch { .. }), "{err}");
    let mut dup = items(2);
    dup[1].id = "q0".into();
    cfg.journal = dir.path().join("j2.jsonl");
    let err = run(&cfg, &dup, &quiet()).await.unwrap_err();
    assert!(matches!(err, RunError::DuplicateItem { .. }));
    // A key in Debug output? Never.
    let mut t = target("k", "http://127.0.0.1:1/v1", Api::Chat, false);
    t.api_key = Some("sk-secret-123".into());
    assert!(!format!("{t:?}").contains("sk-secret"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn determinism_audit_counts_flips() {
    let steady = spawn(SimConfig::default()).await.unwrap();
    let flaky = spawn(SimConfig {
        vary_every: Some(2),
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(
        dir.path(),
        vec![
            target("steady", &steady.base_url(), Api::Chat, false),
            target("flaky", &flaky.base_url(), Api::Chat, false),
        ],
    );
    cfg.concurrency = 1; // every second request to `flaky` differs: with one in flight, exactly one of each pair
    let rep = determinism_audit(&cfg, &items(50), 10, 42).await.unwrap();
    assert_eq!(rep.sample.len(), 10);
    assert_eq!(rep.targets[0].flipped, 0);
    assert_eq!(rep.targets[0].compared, 10);
    assert_eq!(rep.targets[0].flip_rate, 0.0);
    assert!(rep.targets[1].flipped > 0);
    assert_eq!(
        rep.targets[1].flip_rate,
        rep.targets[1].flipped as f64 / 10.0
    );
    // Same seed, same sample.
    let again = determinism_audit(&cfg, &items(50), 10, 42).await.unwrap();
    assert_eq!(again.sample, rep.sample);
}

#[test]
fn torn_last_line_is_dropped_and_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("j.jsonl");
    let run_line = |id: &str| {
        serde_json::to_string(&journal::JournalLine::Run(ItemRun {
            model: "a".into(),
            item_id: id.into(),
            text: Some("x".into()),
            reasoning: None,
            finish_reason: Some("stop".into()),
            prompt_tokens: None,
            completion_tokens: None,
            ttft_ms: None,
            latency_ms: Some(1.0),
            error: None,
            cached: false,
        }))
        .unwrap()
    };
    let good = format!("{}\n{}\n", run_line("q0"), run_line("q1"));
    std::fs::write(
        &p,
        format!("{good}{{\"type\":\"run\",\"model\":\"a\",\"ite"),
    )
    .unwrap();
    let st = journal::load(&p).unwrap();
    assert!(st.torn_tail);
    assert_eq!(st.runs.len(), 2);
    assert_eq!(std::fs::read_to_string(&p).unwrap(), good);
    // A broken line in the middle is an error naming the line.
    std::fs::write(
        &p,
        format!("{}\nnot json\n{}\n", run_line("q0"), run_line("q1")),
    )
    .unwrap();
    let err = journal::load(&p).unwrap_err();
    assert!(err.to_string().contains("line 2"), "{err}");
}

// ---- kill -9 mid-run, then resume -------------------------------------------

const CHILD_ENV: &str = "CAMBRIAN_RUNNER_KILL_CHILD";

fn kill_items() -> Vec<PreparedItem> {
    items(200)
}

fn kill_config(url: &str, journal: &std::path::Path) -> RunConfig {
    let mut cfg = config(
        std::path::Path::new("."),
        vec![target("a", url, Api::Chat, false)],
    );
    cfg.journal = journal.to_path_buf();
    cfg.concurrency = 4;
    cfg.warmup = false;
    cfg
}

/// The child side: runs only when the parent test sets the environment.
#[test]
#[ignore = "child process of kill_9_mid_run_then_resume_every_item_once"]
fn kill_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (url, journal) = spec.split_once('|').unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        // Never finishes: the stub holds every request after the 60th.
        let _ = run(
            &kill_config(url, std::path::Path::new(journal)),
            &kill_items(),
            &|_| {},
        )
        .await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_run_then_resume_every_item_once() {
    const HELD_AFTER: u64 = 60;
    let sim = spawn(SimConfig {
        hold_after: Some(HELD_AFTER),
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let journal_path = dir.path().join("kill.jsonl");
    let exe = std::env::current_exe().unwrap();
    let mut child = std::process::Command::new(exe)
        .args([
            "--exact",
            "runner::tests::kill_child",
            "--ignored",
            "--test-threads=1",
        ])
        .env(
            CHILD_ENV,
            format!("{}|{}", sim.base_url(), journal_path.display()),
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the 60 answered items are in the journal (the writer syncs
    // within 200 ms); the child is then stuck on held requests: kill it.
    let count_runs = |p: &std::path::Path| {
        std::fs::read_to_string(p)
            .map(|s| s.lines().filter(|l| l.contains("\"type\":\"run\"")).count())
            .unwrap_or(0)
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while count_runs(&journal_path) < HELD_AFTER as usize {
        assert!(
            std::time::Instant::now() < deadline,
            "child never journaled {HELD_AFTER} items"
        );
        assert!(child.try_wait().unwrap().is_none(), "child exited early");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert_eq!(sim.stats.completed(), HELD_AFTER);
    assert_eq!(count_runs(&journal_path), HELD_AFTER as usize);

    // Resuming with a changed URL for the same label is refused.
    let other = spawn(SimConfig::default()).await.unwrap();
    let err = run(
        &kill_config(&other.base_url(), &journal_path),
        &kill_items(),
        &quiet(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, RunError::JournalMismatch { .. }), "{err}");
    assert_eq!(other.stats.requests(), 0);

    // Simulate a write torn by the kill.
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&journal_path)
            .unwrap();
        f.write_all(b"{\"type\":\"run\",\"model\":\"a\",\"item_id\":\"q19")
            .unwrap();
    }
    // The proper resume: same target and URL; the holding server is replaced
    // by one that answers, on the same port.
    let addr = sim.addr;
    drop(sim);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let listener = loop {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => break l,
            Err(e) => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "cannot rebind {addr}: {e}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await
            }
        }
    };
    let stats = std::sync::Arc::new(cambrian_llmsim::Stats::default());
    let s = stats.clone();
    let server =
        tokio::spawn(
            async move { cambrian_llmsim::serve(listener, SimConfig::default(), s).await },
        );
    let cfg = kill_config(&format!("http://{addr}/v1"), &journal_path);
    let events = Mutex::new(Vec::new());
    let out = run(&cfg, &kill_items(), &|e| events.lock().unwrap().push(e))
        .await
        .unwrap();
    server.abort();
    assert!(events.lock().unwrap().contains(&RunEvent::JournalTornTail));
    assert_eq!(out.resumed, HELD_AFTER as usize);
    assert_eq!(
        stats.completed(),
        200 - HELD_AFTER,
        "journaled items are not sent again"
    );
    assert_eq!(out.runs.len(), 200);
    let ids: HashSet<&str> = out.runs.iter().map(|r| r.item_id.as_str()).collect();
    assert_eq!(ids.len(), 200);
    assert!(out.runs.iter().all(|r| r.error.is_none()));
    // The journal itself holds every item exactly once.
    let st = journal::load(&journal_path).unwrap();
    assert!(!st.torn_tail);
    let mut seen = HashSet::new();
    for r in &st.runs {
        assert!(
            seen.insert(r.item_id.clone()),
            "duplicate {} in the journal",
            r.item_id
        );
    }
    assert_eq!(seen.len(), 200);
}
