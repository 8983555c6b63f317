//! End-to-end: a small eval against a real llama.cpp server (llama-cpp-python
//! serving testdata/llm/llama-2-tiny-random.gguf; start it with
//! `.ci/llamacpp.sh start`, which prints `CAMBRIAN_LLAMACPP_URL`).
//!
//! The model has random weights, so the text is gibberish; the test asserts
//! the protocol: every response parses, usage is present, latency and TTFT
//! are measured, finish reasons are sane, errors are classified, the cache
//! replays.
//!
//! Without `CAMBRIAN_LLAMACPP_URL` the test fails when `CI` is set and is
//! skipped (loudly) otherwise.

use cambrian_eval::item::{GenParams, PreparedItem};
use cambrian_eval::runner::{Api, RunConfig, Target, Timeouts, determinism_audit, run};
use cambrian_llm::{ChatMessage, Role};
use std::time::Duration;

fn base_url() -> Option<String> {
    match std::env::var("CAMBRIAN_LLAMACPP_URL") {
        Ok(u) if !u.trim().is_empty() => Some(u),
        _ => {
            if std::env::var_os("CI").is_some() {
                panic!(
                    "CAMBRIAN_LLAMACPP_URL is not set but CI is: run `eval \"$(.ci/llamacpp.sh start)\"` first"
                );
            }
            // Written to the stderr handle directly: libtest captures
            // `eprintln!` of passing tests, and this must be seen.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "\n==================================================================\n\
                 SKIPPED llamacpp_e2e: CAMBRIAN_LLAMACPP_URL is not set.\n\
                 Run: eval \"$(.ci/llamacpp.sh start)\" && cargo test -p cambrian-eval --test llamacpp_e2e\n\
                 ==================================================================="
            );
            None
        }
    }
}

fn items() -> Vec<PreparedItem> {
    [
        "What is 2 + 2?",
        "Name a colour.",
        "Say hello.",
        "Count to three.",
    ]
    .iter()
    .enumerate()
    .map(|(i, q)| PreparedItem {
        id: format!("item-{i}"),
        messages: vec![
            ChatMessage {
                role: Role::System,
                content: "Answer in one word.".into(),
            },
            ChatMessage {
                role: Role::User,
                content: (*q).into(),
            },
        ],
        prompt: Some(format!("Question: {q}\nAnswer:")),
    })
    .collect()
}

fn config(url: &str, dir: &std::path::Path) -> RunConfig {
    let t = |label: &str, api: Api, stream: bool| Target {
        label: label.into(),
        model: "llama-2-tiny-random".into(),
        base_url: url.into(),
        api_key: None,
        api,
        stream,
    };
    RunConfig {
        targets: vec![
            t("chat", Api::Chat, false),
            t("chat-stream", Api::Chat, true),
            t("completions", Api::Completions, false),
            t("completions-stream", Api::Completions, true),
        ],
        concurrency: 2,
        params: GenParams {
            temperature: 0.0,
            max_tokens: 8,
            seed: Some(7),
        },
        cache_dir: Some(dir.join("cache")),
        journal: dir.join("journal.jsonl"),
        timeouts: Timeouts {
            connect: Duration::from_secs(10),
            first_byte: Duration::from_secs(120),
            total: Duration::from_secs(300),
        },
        warmup: true,
        retries: 1,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_eval_against_real_llamacpp_server() {
    let Some(url) = base_url() else { return };
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&url, dir.path());
    let its = items();
    let out = run(&cfg, &its, &|_| {}).await.unwrap();
    assert_eq!(out.runs.len(), 16);
    assert_eq!(out.warmup_ms.len(), 4, "one warm-up per target");
    assert!(out.warmup_ms.iter().all(|(_, ms)| *ms > 0.0));
    for r in &out.runs {
        assert_eq!(r.error, None, "{r:?}");
        let text = r.text.as_deref().expect("an answer");
        let finish = r
            .finish_reason
            .as_deref()
            .unwrap_or_else(|| panic!("a finish reason: {r:?}"));
        assert!(matches!(finish, "stop" | "length"), "{r:?}");
        // max_tokens = 8: anything that stopped for length used all 8.
        let streamed = r.model.ends_with("-stream");
        if !streamed {
            // llama-cpp-python reports usage on non-streamed responses.
            let c = r.completion_tokens.expect("usage.completion_tokens");
            assert!(c <= 8, "{r:?}");
            if finish == "length" {
                assert_eq!(c, 8, "{r:?}");
            }
            assert!(r.prompt_tokens.expect("usage.prompt_tokens") > 0);
        }
        let latency = r.latency_ms.expect("latency");
        assert!(latency > 0.0);
        if streamed && !text.is_empty() {
            let ttft = r.ttft_ms.expect("TTFT on a stream with text");
            assert!(ttft > 0.0 && ttft <= latency, "{r:?}");
        }
        if !streamed {
            assert_eq!(r.ttft_ms, None);
        }
        assert!(!r.cached);
    }
    // Same request, streamed or not, at temperature 0 with a seed: same text.
    for (i, _) in its.iter().enumerate() {
        let row = &out.runs[i * 4..i * 4 + 4];
        assert_eq!(row[0].text, row[1].text, "chat stream vs not: {row:?}");
        assert_eq!(
            row[2].text, row[3].text,
            "completions stream vs not: {row:?}"
        );
    }

    // Re-run with a fresh journal: everything comes from the cache.
    let mut again = cfg.clone();
    again.journal = dir.path().join("journal2.jsonl");
    let out2 = run(&again, &its, &|_| {}).await.unwrap();
    assert_eq!(out2.cached, 16);
    assert!(out2.warmup_ms.is_empty());

    // Determinism audit at temperature 0.
    let audit = determinism_audit(&cfg, &its, 4, 1).await.unwrap();
    assert_eq!(audit.targets.len(), 4);
    for t in &audit.targets {
        assert_eq!(t.compared + t.errors, 4, "{t:?}");
        assert!((0.0..=1.0).contains(&t.flip_rate));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn context_overflow_is_a_classified_error() {
    let Some(url) = base_url() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&url, dir.path());
    cfg.targets.truncate(1);
    cfg.warmup = false;
    cfg.retries = 0;
    cfg.cache_dir = None;
    let long = "word ".repeat(5000);
    let its = vec![PreparedItem {
        id: "too-long".into(),
        messages: vec![ChatMessage {
            role: Role::User,
            content: long,
        }],
        prompt: None,
    }];
    let out = run(&cfg, &its, &|_| {}).await.unwrap();
    let e = out.runs[0]
        .error
        .as_ref()
        .expect("a context overflow error");
    assert!(e.http_status.is_some_and(|s| s >= 400), "{e:?}");
    assert!(!e.message.is_empty());
    assert_eq!(out.runs[0].text, None);
}
