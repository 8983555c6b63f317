//! Bench driver: run the cambrian eval runner over a JSONL test set
//! (`{"id","input","expected"}` per line) against one OpenAI-compatible
//! target, score exact match, and print one JSON summary line.
//!
//! Used by `bench/eval/run.py` while `cambrian eval` is not wired; it goes
//! through the same runner (`cambrian_eval::runner::run`) the command uses:
//! bounded AIMD concurrency, response cache, fsync'd journal.
//!
//! usage: evalrun TESTS.jsonl BASE_URL MODEL CONCURRENCY WORKDIR [--no-cache] [--stream]

use cambrian_eval::item::{GenParams, PreparedItem};
use cambrian_eval::runner::{Api, RunConfig, Target, Timeouts, run};
use cambrian_llm::{ChatMessage, Role};
use std::time::Instant;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 6 {
        eprintln!(
            "usage: evalrun TESTS.jsonl BASE_URL MODEL CONCURRENCY WORKDIR [--no-cache] [--stream]"
        );
        return std::process::ExitCode::from(2);
    }
    let start = Instant::now();
    let text = match std::fs::read_to_string(&args[1]) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {}: {e}", args[1]);
            return std::process::ExitCode::from(2);
        }
    };
    let mut items = Vec::new();
    let mut expected = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let v: serde_json::Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("error: {} line {}: {e}", args[1], n + 1);
                return std::process::ExitCode::from(2);
            }
        };
        let s = |k: &str| {
            v.get(k)
                .and_then(|x| x.as_str())
                .unwrap_or_default()
                .to_string()
        };
        items.push(PreparedItem {
            id: s("id"),
            messages: vec![ChatMessage {
                role: Role::User,
                content: s("input"),
            }],
            prompt: None,
        });
        expected.push(s("expected"));
    }
    let concurrency: usize = args[4].parse().unwrap_or(32);
    let work = std::path::PathBuf::from(&args[5]);
    let no_cache = args.iter().any(|a| a == "--no-cache");
    let stream = args.iter().any(|a| a == "--stream");
    let cfg = RunConfig {
        targets: vec![Target {
            label: "sim".into(),
            model: args[3].clone(),
            base_url: args[2].clone(),
            api_key: None,
            api: Api::Chat,
            stream,
        }],
        concurrency,
        params: GenParams {
            temperature: 0.0,
            max_tokens: 64,
            seed: None,
        },
        cache_dir: (!no_cache).then(|| work.join("cache")),
        journal: work.join("journal.jsonl"),
        timeouts: Timeouts::default(),
        warmup: true,
        retries: 2,
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(101);
        }
    };
    let out = match rt.block_on(run(&cfg, &items, &|_| {})) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(4);
        }
    };
    let correct = out
        .runs
        .iter()
        .zip(&expected)
        .filter(|(r, e)| r.text.as_deref().map(str::trim) == Some(e.as_str()))
        .count();
    let errors = out.runs.iter().filter(|r| r.error.is_some()).count();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({"type":"evalrun","items":out.runs.len(),"correct":correct,"errors":errors,
            "cached":out.cached,"resumed":out.resumed,"seconds":secs,
            "items_per_s": out.runs.len() as f64 / secs})
    );
    std::process::ExitCode::SUCCESS
}
