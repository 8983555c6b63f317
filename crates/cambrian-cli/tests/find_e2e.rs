//! End to end: a real snapshot imported into a fresh store, model details
//! served by the local Hub simulator from real model-info responses, then
//! `cambrian find --use commercial --gpu 24GB --context 8192 --task text-generation`.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let p = e.path();
        let t = to.join(e.file_name());
        if p.is_dir() {
            copy_dir(&p, &t);
        } else {
            std::fs::copy(&p, &t).expect("copy");
        }
    }
}

fn cambrian(store: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cambrian"))
        .arg("--store")
        .arg(store)
        .args(args)
        .env_remove("HF_TOKEN")
        .output()
        .expect("run cambrian");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn records(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn find_commercial_24gb_8k_text_generation() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = tmp.path().join("store");
    let data = tmp.path().join("hub");
    copy_dir(&root().join("testdata/license/model_info"), &data);
    copy_dir(&root().join("testdata/find/repos"), &data.join("repos"));

    let snap = root().join("testdata/find/snapshot/2026-08-22.json");
    let (code, _o, e) = cambrian(&store, &["import", snap.to_str().expect("utf8")]);
    assert_eq!(code, 0, "import failed: {e}");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let sim = rt
        .block_on(cambrian_hubsim::start(cambrian_hubsim::SimConfig {
            data: Some(data.clone()),
            ..Default::default()
        }))
        .expect("hubsim");
    let url = sim.base_url();

    let args = [
        "--json",
        "find",
        "--use",
        "commercial",
        "--gpu",
        "24GB",
        "--context",
        "8192",
        "--task",
        "text-generation",
        "--endpoint",
        url.as_str(),
    ];
    let (code, out, err) = cambrian(&store, &args);
    assert_eq!(code, 0, "find failed ({code}): {err}\n{out}");
    let recs = records(&out);
    let summary = recs
        .iter()
        .find(|r| r["type"] == "find.summary")
        .expect("summary");
    let total = summary["snapshot"]["models"].as_u64().expect("models");
    let cands: Vec<&Value> = recs
        .iter()
        .filter(|r| r["type"] == "find.candidate")
        .collect();
    let excl: Vec<&Value> = recs
        .iter()
        .filter(|r| r["type"] == "find.excluded")
        .collect();
    // Every model of the snapshot is accounted for, and every exclusion has a stage and a reason.
    assert_eq!(cands.len() + excl.len(), total as usize);
    for e in &excl {
        assert!(e["stage"].as_str().is_some_and(|s| !s.is_empty()), "{e}");
        assert!(e["reason"].as_str().is_some_and(|s| s.len() > 10), "{e}");
    }
    let by_id = |id: &str| excl.iter().find(|e| e["id"] == id).copied();
    // zephyr-7b-beta: MIT, 7.24B params (bf16 ≈ 14.5 GB + KV), 32k context → shortlisted.
    let z = cands
        .iter()
        .find(|c| c["id"] == "HuggingFaceH4/zephyr-7b-beta")
        .expect("zephyr on the shortlist");
    assert_eq!(z["verdict"], "yes");
    assert_eq!(z["max_context"], 32768);
    assert_eq!(z["params"], 7241732096u64);
    assert!(z["hardware"]["fits"].as_bool().unwrap_or(false));
    // GPT-2: 1024-token context < 8192.
    let g = by_id("openai-community/gpt2").expect("gpt2 excluded");
    assert_eq!(g["stage"], "context");
    assert!(g["reason"].as_str().unwrap_or("").contains("1024"), "{g}");
    // The Llama 3 instruct models are gated on the Hub.
    let l = by_id("meta-llama/Meta-Llama-3-8B-Instruct").expect("llama3 excluded");
    assert_eq!(l["stage"], "gated");
    assert_eq!(
        l["nearest_change"],
        "--include-gated (and request access on the Hub)"
    );
    // A text-to-image model is out at the task stage with the tag it has.
    let f = by_id("black-forest-labs/FLUX.1-dev").expect("flux excluded");
    assert_eq!(f["stage"], "task");
    assert_eq!(f["nearest_change"], "--task text-to-image");
    // Models the simulator has no details for: excluded at `details`, saying so.
    assert!(
        excl.iter()
            .any(|e| e["stage"] == "details" && e["reason"].as_str().unwrap_or("").contains("404"))
    );

    // With the gated models: Llama 3 70B does not fit 24 GB; Llama 3 8B does, with conditions.
    let mut a2 = args.to_vec();
    a2.push("--include-gated");
    let (code, out, err) = cambrian(&store, &a2);
    assert_eq!(code, 0, "{err}");
    let recs = records(&out);
    let c8 = recs
        .iter()
        .find(|r| r["type"] == "find.candidate" && r["id"] == "meta-llama/Meta-Llama-3-8B-Instruct")
        .expect("llama3 8b shortlisted");
    assert_eq!(c8["verdict"], "yes-with-conditions");
    assert!(
        c8["conditions"]
            .as_array()
            .is_some_and(|c| c.iter().any(|x| x.as_str().unwrap_or("").contains("700M"))),
        "{c8}"
    );
    let x70 = recs
        .iter()
        .find(|r| r["type"] == "find.excluded" && r["id"] == "meta-llama/Meta-Llama-3-70B-Instruct")
        .expect("70b excluded");
    assert_eq!(x70["stage"], "hardware", "{x70}");

    // Offline, from the cache: same shortlist, nothing fetched.
    let mut a3: Vec<&str> = args
        .iter()
        .copied()
        .filter(|a| *a != "--endpoint" && *a != url.as_str())
        .collect();
    a3.push("--offline");
    let (code, out, err) = cambrian(&store, &a3);
    assert_eq!(code, 0, "{err}");
    let recs = records(&out);
    let s = recs
        .iter()
        .find(|r| r["type"] == "find.summary")
        .expect("summary");
    assert_eq!(s["details"]["fetched"], 0);
    assert!(s["details"]["from_cache"].as_u64().unwrap_or(0) > 100);
    assert_eq!(
        recs.iter()
            .filter(|r| r["type"] == "find.candidate")
            .count(),
        cands.len()
    );

    // CSV and HTML outputs.
    let (code, out, _) = cambrian(
        &store,
        &["find", "--task", "text-generation", "--offline", "--csv"],
    );
    assert!(code == 0 || code == 3);
    assert!(out.starts_with("status,rank,model,stage,reason"));
    let html = tmp.path().join("find.html");
    let (code, _, err) = cambrian(
        &store,
        &[
            "find",
            "--task",
            "text-generation",
            "--offline",
            "--html",
            html.to_str().expect("utf8"),
        ],
    );
    assert!(code == 0 || code == 3, "{err}");
    let h = std::fs::read_to_string(&html).expect("html written");
    assert!(h.contains("<h2>Funnel</h2>") && !h.contains("<script"));
    drop(sim);
}
