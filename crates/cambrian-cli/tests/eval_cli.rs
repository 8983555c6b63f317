//! `cambrian eval` end to end against a local OpenAI-compatible stub:
//! exit codes, JSON Lines records, CSV/HTML files, gate, config, re-scoring.

mod common;
mod eval_stub;

use common::{assert_exit, cambrian_cmd, json_lines, record, record_with, run_cmd, text};
use std::path::Path;
use std::process::Output;
use std::time::Duration;

fn cambrian(store: &Path, args: &[&str]) -> Output {
    run_cmd(
        cambrian_cmd()
            .arg("--store")
            .arg(store)
            .args(args)
            .env_remove("CI")
            .env("NO_COLOR", "1"),
    )
}

/// A model at a URL where nothing listens: any request to it fails.
const DEAD_MODEL: &str = "m=http://127.0.0.1:9/v1";

/// `cambrian eval --tests <tests> --model <DEAD_MODEL> <extra>`.
fn eval_dead_model(store: &Path, tests: &str, extra: &[&str]) -> Output {
    let mut args = vec!["eval", "--tests", tests, "--model", DEAD_MODEL];
    args.extend_from_slice(extra);
    cambrian(store, &args)
}

#[test]
fn two_models_json_csv_html_and_gate() {
    let stub = eval_stub::start(Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    let tests = eval_stub::write_tests(dir.path(), 40);
    let csv = dir.path().join("items.csv");
    let html = dir.path().join("report.html");
    let store = dir.path().join("store");
    let oracle = format!("oracle={}", stub.base_url);
    let coin = format!("coin={}", stub.base_url);
    // The test set and both models, as every run below names them.
    let tests_and_models = [
        "--tests",
        tests.to_str().unwrap(),
        "--model",
        &oracle,
        "--model",
        &coin,
    ];
    let out = cambrian(
        &store,
        &[
            &["eval", "--json"][..],
            &tests_and_models,
            &[
                "--scorer",
                "exact",
                "--csv",
                csv.to_str().unwrap(),
                "--html",
                html.to_str().unwrap(),
                "--gate",
                "oracle:accuracy.lower >= 0.9",
                "--cost",
                "oracle=0.5,1.5/Mtok",
                "--concurrency",
                "4",
            ],
        ]
        .concat(),
    );
    assert_exit(&out, 0);
    let recs = json_lines(&out);
    assert!(recs.iter().all(|r| r["type"].is_string()));
    let model = |name: &str| record_with(&recs, "model", "model", name);
    let o = model("oracle");
    assert_eq!(
        (o["n"].as_u64(), o["correct"].as_u64()),
        (Some(40), Some(40))
    );
    let c = model("coin");
    assert_eq!(c["correct"].as_u64(), Some(20));
    assert_eq!(c["wrong"].as_u64(), Some(20));
    // Wilson 95 % for 20/40 (statsmodels): 0.35199526933465375 – 0.6480047306653463 (testdata/eval/expected_stats.py method)
    assert!(
        (c["accuracy"]["lower"].as_f64().unwrap() - 0.35199526933465375).abs() < 1e-9,
        "{c}"
    );
    // Cost: (40 × 12 × 0.5 + 40 × 3 × 1.5) / 1e6 / 40 × 1000 = 0.0105 $ per 1k items.
    assert!(
        (o["cost"]["per_1k_items"].as_f64().unwrap() - 0.0105).abs() < 1e-12,
        "{o}"
    );
    let pair = record(&recs, "pair");
    assert_eq!(
        (pair["a_only"].as_u64(), pair["b_only"].as_u64()),
        (Some(20), Some(0))
    );
    // Exact McNemar with b = 20, c = 0: 2 × 0.5^20.
    assert!((pair["p_value"].as_f64().unwrap() - 2.0 * 0.5f64.powi(20)).abs() < 1e-15);
    assert_eq!(pair["verdict"], "a-better");
    let gate = record(&recs, "gate");
    assert_eq!(gate["passed"], true);
    let run = record(&recs, "run");
    assert_eq!(run["written"].as_array().unwrap().len(), 2);
    // CSV: one row per (model, item).
    let mut rdr = csv::Reader::from_path(&csv).unwrap();
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 80);
    let html_text = std::fs::read_to_string(&html).unwrap();
    assert!(html_text.contains("<svg id=\"accuracy-chart\"") && html_text.contains("coin"));

    // The same run with a failing gate exits 1 (answers now come from the cache).
    let before = stub.requests.load(std::sync::atomic::Ordering::SeqCst);
    let out = cambrian(
        &store,
        &[
            &["eval"][..],
            &tests_and_models,
            &[
                "--scorer",
                "exact",
                "--gate",
                "accuracy.lower >= 0.8",
                "--no-warmup",
            ],
        ]
        .concat(),
    );
    assert_exit(&out, 1);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("gate `accuracy.lower >= 0.8`: FAILED"),
        "{stdout}"
    );
    assert!(stdout.contains("coin: accuracy.lower >= 0.8"), "{stdout}");
    assert!(stdout.contains("oracle vs coin"), "{stdout}");
    assert_eq!(
        stub.requests.load(std::sync::atomic::Ordering::SeqCst),
        before,
        "a re-run must be served from the response cache"
    );

    // Re-score the journal with another scorer: no server needed.
    drop(stub);
    let out = cambrian(
        &store,
        &[
            &["eval", "--json", "--rescore"][..],
            &tests_and_models,
            &["--scorer", "contains"],
        ]
        .concat(),
    );
    assert_exit(&out, 0);
    let recs = json_lines(&out);
    assert_eq!(record(&recs, "eval")["scorer"], "contains");
}

#[test]
fn bad_inputs_have_exit_codes_and_hints() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let tests = eval_stub::write_tests(dir.path(), 3);
    let t = tests.to_str().unwrap();
    // Bad gate: exit 2 with a hint, before any request (the URL is dead).
    let out = eval_dead_model(&store, t, &["--gate", "accuracy >> 0.8"]);
    assert_exit(&out, 2);
    assert!(text(&out.stderr).contains("hint:"), "{}", text(&out.stderr));
    let out = eval_dead_model(&store, t, &["--gate", "acc >= 0.8"]);
    assert_exit(&out, 2);
    assert!(text(&out.stderr).contains("unknown metric `acc`"));
    // Bad scorer.
    let out = eval_dead_model(&store, t, &["--scorer", "fuzzy"]);
    assert_exit(&out, 2);
    assert!(text(&out.stderr).contains("unknown scorer `fuzzy`"));
    // A test set error names the line and the field.
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"id\": \"a\", \"input\": \"x\", \"expected\": \"y\"}\n{\"id\": \"b\", \"input\": 3, \"expected\": \"y\"}\n").unwrap();
    let out = eval_dead_model(&store, bad.to_str().unwrap(), &[]);
    assert_exit(&out, 2);
    let err = text(&out.stderr);
    assert!(
        err.contains("bad.jsonl:2:") && err.contains("input"),
        "{err}"
    );
    // Missing test set: exit 3.
    let out = eval_dead_model(&store, "/nonexistent/t.jsonl", &[]);
    assert_exit(&out, 3);
    // No model: usage.
    let out = cambrian(&store, &["eval", "--tests", t]);
    assert_exit(&out, 2);
    // Unreachable server: remote failure (exit 4) with a hint.
    let out = eval_dead_model(&store, t, &["--retries", "0"]);
    assert_exit(&out, 4);
    assert!(text(&out.stderr).contains("hint:"));
    // An API key variable that is not set.
    let out = run_cmd(
        cambrian_cmd()
            .args([
                "--store",
                store.to_str().unwrap(),
                "eval",
                "--tests",
                t,
                "--model",
                DEAD_MODEL,
                "--api-key-env",
                "CAMBRIAN_TEST_UNSET_KEY",
            ])
            .env_remove("CAMBRIAN_TEST_UNSET_KEY"),
    );
    assert_exit(&out, 2);
    assert!(text(&out.stderr).contains("CAMBRIAN_TEST_UNSET_KEY"));
}

#[test]
fn config_file_completions_and_streaming() {
    let stub = eval_stub::start(Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    eval_stub::write_tests(dir.path(), 10);
    std::fs::write(
        dir.path().join("prompt.j2"),
        "Answer with the key only. {{ input }}",
    )
    .unwrap();
    let cfg = dir.path().join("eval.yaml");
    std::fs::write(
        &cfg,
        format!(
            "tests: tests.jsonl\ntemplate: prompt.j2\nscorer: normalized\nmodels:\n  - name: chat\n    model: oracle\n    base_url: {0}\n    stream: true\n  - name: legacy\n    model: refuser\n    base_url: {0}\n    api: completions\n    cost: 1/h\ngate: \"chat:accuracy >= 1\"\n",
            stub.base_url
        ),
    )
    .unwrap();
    let out = cambrian(
        &dir.path().join("store"),
        &["eval", "--json", "--config", cfg.to_str().unwrap()],
    );
    assert_exit(&out, 0);
    let recs = json_lines(&out);
    let chat = record_with(&recs, "model", "model", "chat");
    assert_eq!(chat["correct"].as_u64(), Some(10));
    assert!(
        chat["latency"]["ttft_p50_ms"].is_number(),
        "streaming measures TTFT: {chat}"
    );
    let legacy = record_with(&recs, "model", "model", "legacy");
    assert_eq!(legacy["failures"]["refusal"].as_u64(), Some(10), "{legacy}");
    assert_eq!(legacy["answered_accuracy"]["n"].as_u64(), Some(0));
    assert!(legacy["cost"]["per_1k_items"].is_number());
    // A typo in the config is a bad input naming the key.
    std::fs::write(&cfg, "tests: tests.jsonl\nconcurency: 3\n").unwrap();
    let out = cambrian(
        &dir.path().join("store"),
        &["eval", "--config", cfg.to_str().unwrap()],
    );
    assert_exit(&out, 2);
    assert!(text(&out.stderr).contains("concurency"));
}
