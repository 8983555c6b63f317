//! `cambrian fit` end to end: local files, config, JSON contract, exit codes,
//! hostile inputs, --docs, and a sharded 7B repo on the in-process Hub
//! simulator (≤ 1 MB and ≤ 2 requests per shard, counted by the simulator).

mod common;

use common::{assert_exit, cambrian_cmd, json_lines, run_cmd};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tempfile::TempDir;

fn bin() -> Command {
    let mut c = cambrian_cmd();
    c.env_remove("HF_TOKEN")
        .env_remove("HF_ENDPOINT")
        .env("NO_COLOR", "1");
    c
}

fn td(p: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/fit")).join(p)
}

fn run(args: &[&str]) -> Output {
    run_cmd(bin().args(args))
}

/// Writes the MLC-LLM preset `name` as `dir/config.json` and returns its path.
fn preset_config(dir: &Path, name: &str) -> PathBuf {
    let presets: Value = serde_json::from_str(
        &std::fs::read_to_string(td("configs/mlc_llm_model_presets.json")).unwrap(),
    )
    .unwrap();
    let cfg = dir.join("config.json");
    std::fs::write(&cfg, presets["presets"][name].to_string()).unwrap();
    cfg
}

/// A temporary directory with the MiniLM `config.json` and `tokenizer.json`.
fn minilm_dir() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(td("minilm.config.json"), dir.path().join("config.json")).unwrap();
    std::fs::copy(
        td("minilm.tokenizer.json"),
        dir.path().join("tokenizer.json"),
    )
    .unwrap();
    dir
}

#[test]
fn config_json_record_has_the_contract_fields() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = preset_config(dir.path(), "llama3_1_8b");
    let o = run(&[
        "fit",
        "--config",
        cfg.to_str().unwrap(),
        "--gpu",
        "h100",
        "--context",
        "8192",
        "--json",
    ]);
    assert_exit(&o, 0);
    let recs = json_lines(&o);
    assert_eq!(recs.len(), 1);
    let r = &recs[0];
    assert_eq!(r["type"], "fit");
    for k in [
        "params",
        "weights_bytes",
        "kv_cache_bytes",
        "activation_peak_bytes",
        "overhead_bytes",
        "total_bytes",
        "verdict",
        "reasons",
    ] {
        assert!(r.get(k).is_some(), "missing {k}");
    }
    assert_eq!(r["params"], 8_030_261_248u64);
    assert_eq!(r["kv_cache_bytes"], 1u64 << 30);
    assert_eq!(r["verdict"], "fits");
}

#[test]
fn does_not_fit_exits_1_with_nearest_change_and_explain() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = preset_config(dir.path(), "llama3_1_70b");
    let o = run(&[
        "fit",
        "--config",
        cfg.to_str().unwrap(),
        "--gpu",
        "RTX 4090",
        "--explain",
    ]);
    assert_exit(&o, 1);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("DOES NOT FIT"), "{text}");
    assert!(text.contains("nearest change"), "{text}");
    assert!(
        text.contains("explain:") && text.contains("KV cache ="),
        "{text}"
    );
}

#[test]
fn local_gguf_and_safetensors_directory() {
    let o = run(&[
        "fit",
        td("llama-2-tiny-random.gguf").to_str().unwrap(),
        "--gpu",
        "t4",
        "--engine",
        "llamacpp",
        "--json",
    ]);
    assert_exit(&o, 0);
    let r = &json_lines(&o)[0];
    assert_eq!(r["params"], 513_048);
    assert_eq!(r["max_context"], 4096);

    // A directory with the MiniLM config and its real safetensors header (data cut off).
    let dir = minilm_dir();
    // The header-only file is a truncated safetensors file: the header still gives exact
    // counts, and the report says the data is missing.
    std::fs::copy(
        td("minilm.safetensors.header-only"),
        dir.path().join("model.safetensors"),
    )
    .unwrap();
    let o = run(&["fit", dir.path().to_str().unwrap(), "--gpu", "t4", "--json"]);
    assert_exit(&o, 0);
    let r = &json_lines(&o)[0];
    assert_eq!(r["params"], 22_713_728);
    assert_eq!(r["weights_bytes"], 22_713_216 * 4 + 512 * 8);
    assert!(
        r["notes"].to_string().contains("truncated"),
        "{}",
        r["notes"]
    );
}

#[test]
fn hostile_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated.safetensors", vec![1, 2, 3]),
        ("beyond.safetensors", {
            let mut v = 1000u64.to_le_bytes().to_vec();
            v.extend_from_slice(b"{}");
            v
        }),
        ("notobject.safetensors", {
            let mut v = 5u64.to_le_bytes().to_vec();
            v.extend_from_slice(b"[1,2]");
            v
        }),
        ("negative.safetensors", {
            let j = br#"{"a":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}}"#;
            let mut v = (j.len() as u64).to_le_bytes().to_vec();
            v.extend_from_slice(j);
            v.extend_from_slice(&[0u8; 16]);
            v
        }),
        ("many.gguf", {
            let mut v = b"GGUF".to_vec();
            v.extend(3u32.to_le_bytes());
            v.extend((1u64 << 60).to_le_bytes());
            v.extend(0u64.to_le_bytes());
            v
        }),
        ("bigstring.gguf", {
            let mut v = b"GGUF".to_vec();
            v.extend(3u32.to_le_bytes());
            v.extend(0u64.to_le_bytes());
            v.extend(1u64.to_le_bytes());
            v.extend((1u64 << 40).to_le_bytes());
            v
        }),
    ];
    for (name, bytes) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        let o = run(&["fit", p.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name}: {err}");
        assert!(
            err.contains("error:") && err.contains(name),
            "{name}: {err}"
        );
        assert!(!err.contains("panicked"), "{name}: {err}");
    }
}

#[test]
fn usage_errors() {
    let o = run(&[
        "fit",
        "--config",
        "/nonexistent/config.json",
        "--gpu",
        "banana",
    ]);
    assert_exit(&o, 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("hint:"));
    let o = run(&[
        "fit",
        "--config",
        td("minilm.config.json").to_str().unwrap(),
        "--workload",
        "lots",
    ]);
    assert_exit(&o, 2);
    let o = run(&["fit"]);
    assert_exit(&o, 2);
    let o = run(&["fit", "--list-gpus", "--json"]);
    assert_exit(&o, 0);
    assert!(json_lines(&o).len() >= 12);
}

#[test]
fn docs_tokens_with_the_models_tokenizer() {
    let dir = minilm_dir();
    let docs = tempfile::tempdir().unwrap();
    std::fs::write(docs.path().join("a.txt"), "hello world").unwrap();
    std::fs::write(
        docs.path().join("b.txt"),
        "the quick brown fox jumps over the lazy dog",
    )
    .unwrap();
    let o = run(&[
        "fit",
        dir.path().to_str().unwrap(),
        "--gpu",
        "t4",
        "--docs",
        docs.path().to_str().unwrap(),
        "--workload",
        "1000 docs x 100 in / 10 out",
        "--json",
    ]);
    assert_exit(&o, 0);
    let r = &json_lines(&o)[0];
    // BERT WordPiece with [CLS] … [SEP]: "hello world" → 4 tokens, the fox sentence → 11.
    assert_eq!(r["docs"]["sampled"], 2);
    assert_eq!(r["docs"]["max_tokens"], 11);
    // Percentiles are nearest-rank on the rounded index: p50 of [4, 11] is index round(0.5) = 1.
    assert_eq!(r["docs"]["p50_tokens"], 11);
    assert_eq!(r["workload"]["workload"]["input_tokens"], 8); // mean 7.5 rounded
}

#[test]
fn sharded_7b_repo_on_the_hub_simulator_reads_headers_only() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let sim = rt
        .block_on(cambrian_hubsim::start(cambrian_hubsim::SimConfig {
            models: 10,
            ..Default::default()
        }))
        .unwrap();
    let base = sim.base_url();
    let o = run_cmd(bin().env("HF_ENDPOINT", &base).args([
        "fit",
        "cambrian-sim/Llama-2-7b-hf-sim",
        "--gpu",
        "a100-80gb",
        "--json",
    ]));
    assert_exit(&o, 0);
    let r = &json_lines(&o)[0];
    assert_eq!(r["params"], 6_738_415_616u64);
    assert_eq!(r["weights_bytes"], 2 * 6_738_415_616u64);
    assert_eq!(r["verdict"], "fits");
    let stats = sim.stats();
    let shard_paths: Vec<_> = stats
        .paths
        .iter()
        .filter(|(p, _)| p.ends_with(".safetensors"))
        .collect();
    assert_eq!(
        shard_paths.len(),
        2,
        "{:?}",
        stats.paths.keys().collect::<Vec<_>>()
    );
    for (p, s) in &shard_paths {
        assert!(s.requests <= 2, "{p}: {} requests", s.requests);
    }
    assert!(stats.bytes <= 1_000_000, "moved {} bytes", stats.bytes);
    // The client's own count agrees.
    assert!(r["transfer"]["bytes"].as_u64().unwrap() <= 1_000_000);
    drop(sim);
}
