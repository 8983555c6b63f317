//! `cambrian scan` end to end: exit codes, JSON Lines, SARIF/CycloneDX
//! documents, table output, errors with hints. The samples are only read.

mod common;

use common::{assert_exit, cambrian_cmd, json_lines, record, record_with, run_cmd};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn td(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/scan")
        .join(p)
}

fn cambrian(args: &[&str]) -> Output {
    run_cmd(
        cambrian_cmd()
            .args(args)
            .env("NO_COLOR", "1")
            .env_remove("HF_TOKEN"),
    )
}

/// Starts the Hub simulator serving `data`. The runtime must outlive the simulator.
fn start_sim(data: &Path) -> (tokio::runtime::Runtime, cambrian_hubsim::RunningSim) {
    let rt = tokio::runtime::Runtime::new().expect("rt");
    let sim = rt
        .block_on(cambrian_hubsim::start(cambrian_hubsim::SimConfig {
            data: Some(data.to_path_buf()),
            ..Default::default()
        }))
        .expect("sim");
    (rt, sim)
}

/// Writes the simulator's model info for `id` at `sha`, listing `files`, and
/// returns the (created) directory the files are served from.
fn sim_repo(data: &Path, id: &str, sha: &str, files: &[&str]) -> PathBuf {
    let siblings: Vec<serde_json::Value> = files
        .iter()
        .map(|f| serde_json::json!({ "rfilename": f }))
        .collect();
    std::fs::write(
        data.join(format!("{}.json", id.replace('/', "__"))),
        serde_json::json!({ "id": id, "sha": sha, "siblings": siblings }).to_string(),
    )
    .expect("write info");
    let repo = data.join("repos").join(id);
    std::fs::create_dir_all(&repo).expect("mkdir");
    repo
}

/// `cambrian <args> --endpoint <endpoint>`, without the caller's `HF_TOKEN`
/// (the tests never depend on the developer's environment).
fn hub_cmd(args: &[&str], endpoint: &str) -> Command {
    let mut c = cambrian_cmd();
    c.args(args)
        .args(["--endpoint", endpoint])
        .env("NO_COLOR", "1")
        .env_remove("HF_TOKEN");
    c
}

#[test]
fn dangerous_pickle_exits_1_with_evidence() {
    let p = td("picklescan/data/malicious1_v4.pkl");
    let o = cambrian(&["scan", "--json", p.to_str().expect("utf8")]);
    assert_exit(&o, 1);
    let recs = json_lines(&o);
    assert!(recs.iter().all(|r| r["type"].is_string()));
    let file = record(&recs, "file");
    assert_eq!(file["verdict"], "dangerous");
    let f = &file["findings"][0];
    assert_eq!(f["symbol"], "builtins.eval");
    assert_eq!(f["opcode"], "STACK_GLOBAL");
    assert!(f["offset"].is_u64());
    let sum = recs.last().expect("summary");
    assert_eq!(sum["type"], "summary");
    assert_eq!(sum["exit_code"], 1);
}

#[test]
fn benign_checkpoint_exits_0_and_fail_on_is_honoured() {
    let p = td("picklescan/data/new_pytorch_model.bin");
    let p = p.to_str().expect("utf8");
    let o = cambrian(&["scan", p]);
    assert_exit(&o, 0);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("innocuous") && out.contains("pytorch-zip"),
        "{out}"
    );
    assert_exit(&cambrian(&["scan", "--fail-on", "innocuous", p]), 1);
    let bad = td("picklescan/data/malicious1.zip");
    assert_exit(
        &cambrian(&["scan", "--fail-on", "never", bad.to_str().expect("utf8")]),
        0,
    );
}

#[test]
fn directory_table_sarif_and_cyclonedx() {
    let dir = td("picklescan/data");
    let d = dir.to_str().expect("utf8");
    let o = cambrian(&["scan", d]);
    assert_exit(&o, 1);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("why: blocklist"), "{out}");
    assert!(out.contains("files scanned"), "{out}");

    let tmp = tempfile::tempdir().expect("tmp");
    let sarif = tmp.path().join("out.sarif");
    let o = cambrian(&[
        "scan",
        "--format",
        "sarif",
        "-o",
        sarif.to_str().expect("utf8"),
        d,
    ]);
    assert_exit(&o, 1);
    assert!(o.stdout.is_empty());
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&sarif).expect("sarif written")).expect("json");
    assert_eq!(doc["version"], "2.1.0");
    assert!(
        doc["runs"][0]["results"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
    );

    let o = cambrian(&["scan", "--format", "cyclonedx", d]);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("bom json");
    assert_eq!(doc["specVersion"], "1.6");
    assert_eq!(doc["components"][0]["type"], "machine-learning-model");
}

#[test]
fn missing_path_is_exit_3_and_no_target_is_exit_2() {
    let o = cambrian(&["scan", "/definitely/not/here.pkl"]);
    assert_exit(&o, 3);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("does not exist") && err.contains("hint:"),
        "{err}"
    );
    let o = cambrian(&["scan"]);
    assert_exit(&o, 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("hint:"));
}

#[test]
fn hf_cache_from_hf_home() {
    let tmp = tempfile::tempdir().expect("tmp");
    let snap = tmp.path().join("hub/models--acme--tiny/snapshots/0123abcd");
    std::fs::create_dir_all(&snap).expect("mkdir");
    std::fs::copy(
        td("picklescan/data/pytorch_model.bin"),
        snap.join("pytorch_model.bin"),
    )
    .expect("copy");
    std::fs::copy(
        td("cards/all-MiniLM-L6-v2.README.md"),
        snap.join("README.md"),
    )
    .expect("copy");
    let hf_cache = |args: &[&str]| {
        run_cmd(
            cambrian_cmd()
                .args(args)
                .env("HF_HOME", tmp.path())
                .env("NO_COLOR", "1")
                .env_remove("HF_HUB_CACHE")
                .env_remove("HF_TOKEN"),
        )
    };
    let o = hf_cache(&["scan", "--json", "--hf-cache"]);
    assert_exit(&o, 0);
    let recs = json_lines(&o);
    let repo = record(&recs, "repo");
    assert_eq!(repo["target"], "acme/tiny@0123abcd");
    assert!(repo["findings"][0]["rule"] == "repo.prefer-safetensors");
    let card = record(&recs, "card");
    assert!(card["score"].as_u64().is_some_and(|s| s > 0 && s <= 100));
    let o = hf_cache(&["scan", "--hf-cache", "acme/missing"]);
    assert_exit(&o, 3);
}

/// A Hub repo through the local Hub simulator: only what is needed is
/// fetched (safetensors header by Range, pickle weights by Range, README for
/// the card); a hostile chat template and the pickle are found.
#[test]
fn hub_repo_through_the_simulator() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path();
    let repo = sim_repo(
        data,
        "acme/mixed",
        "0123456789abcdef0123456789abcdef01234567",
        &[
            "pytorch_model.bin",
            "model.safetensors",
            "tokenizer_config.json",
            "README.md",
            "vocab.txt",
        ],
    );
    std::fs::copy(
        td("picklescan/data/malicious2_v4.pkl"),
        repo.join("pytorch_model.bin"),
    )
    .expect("copy");
    // A valid safetensors file: header + 8 bytes of data.
    let hdr = br#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
    let mut st = (hdr.len() as u64).to_le_bytes().to_vec();
    st.extend_from_slice(hdr);
    st.extend_from_slice(&[0u8; 8]);
    std::fs::write(repo.join("model.safetensors"), &st).expect("st");
    std::fs::write(
        repo.join("tokenizer_config.json"),
        br#"{"chat_template": "{{ self.__init__.__globals__ }}"}"#,
    )
    .expect("tok");
    std::fs::copy(
        td("cards/all-MiniLM-L6-v2.README.md"),
        repo.join("README.md"),
    )
    .expect("card");
    std::fs::write(repo.join("vocab.txt"), b"a\nb\n").expect("vocab");

    let (_rt, sim) = start_sim(data);
    let o = run_cmd(&mut hub_cmd(
        &["scan", "--json", "--hub", "acme/mixed"],
        &sim.base_url(),
    ));
    assert_exit(&o, 1);
    let recs = json_lines(&o);
    let file = |p: &str| record_with(&recs, "file", "path", p);
    assert_eq!(file("pytorch_model.bin")["verdict"], "dangerous");
    assert_eq!(file("model.safetensors")["verdict"], "clean");
    assert_eq!(file("model.safetensors")["format"], "safetensors");
    assert_eq!(file("tokenizer_config.json")["verdict"], "dangerous");
    assert!(recs.iter().all(|r| r["path"] != "vocab.txt"));
    let repo_rec = record(&recs, "repo");
    assert_eq!(
        repo_rec["target"],
        "acme/mixed@0123456789abcdef0123456789abcdef01234567"
    );
    assert!(recs.iter().any(|r| r["type"] == "card"));
    let o = run_cmd(&mut hub_cmd(
        &["scan", "--hub", "acme/absent"],
        &sim.base_url(),
    ));
    assert_exit(&o, 3);
    drop(sim);
}

/// CRC-32 (IEEE), bitwise: test-side only.
fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// A stored (uncompressed) zip of `members`, laid out like `torch.save`'s.
fn stored_zip(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in members {
        let off = out.len() as u32;
        let crc = if data.iter().all(|&b| b == 0) && data.len() > 1 << 20 {
            crc32_zeros(data.len())
        } else {
            crc32(data)
        };
        let mut common = Vec::new();
        common.extend_from_slice(&20u16.to_le_bytes()); // version needed
        common.extend_from_slice(&0u16.to_le_bytes()); // flags
        common.extend_from_slice(&0u16.to_le_bytes()); // stored
        common.extend_from_slice(&0u32.to_le_bytes()); // time + date
        common.extend_from_slice(&crc.to_le_bytes());
        common.extend_from_slice(&(data.len() as u32).to_le_bytes());
        common.extend_from_slice(&(data.len() as u32).to_le_bytes());
        common.extend_from_slice(&(name.len() as u16).to_le_bytes());
        common.extend_from_slice(&0u16.to_le_bytes()); // extra length
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&common);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes()); // version made by
        central.extend_from_slice(&common);
        central.extend_from_slice(&[0u8; 6]); // comment len, disk, internal attrs
        central.extend_from_slice(&0u32.to_le_bytes()); // external attrs
        central.extend_from_slice(&off.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let cd_off = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0u8; 4]);
    out.extend_from_slice(&(members.len() as u16).to_le_bytes());
    out.extend_from_slice(&(members.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_off.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// CRC-32 of `n` zero bytes, by CRC of a 64 KiB zero block combined the slow
/// but simple way (bitwise over all bytes is too slow in a debug test).
fn crc32_zeros(n: usize) -> u32 {
    let mut c = !0u32;
    for _ in 0..n {
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// A PyTorch-style zip checkpoint on the Hub, larger than what the scan reads:
/// the scan moves the zip directory, the member heads and the pickles by Range,
/// not the tensor storage, and still finds a malicious pickle hidden under a
/// storage-like member name at the end of the archive.
#[test]
fn hub_checkpoint_is_read_by_range_not_downloaded() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path();
    let repo = sim_repo(
        data,
        "acme/big",
        "89abcdef0123456789abcdef0123456789abcdef",
        &["pytorch_model.bin"],
    );
    let evil = std::fs::read(td("picklescan/data/malicious2_v4.pkl")).expect("sample");
    let storage = vec![0u8; 6 << 20];
    let benign_pickle: &[u8] = b"\x80\x02}q\x00.";
    let zip = stored_zip(&[
        ("archive/data.pkl", benign_pickle),
        ("archive/byteorder", b"little"),
        ("archive/data/0", &storage),
        ("archive/data/1", &storage),
        ("archive/data/2", &evil),
        ("archive/version", b"3\n"),
    ]);
    let size = zip.len() as u64;
    std::fs::write(repo.join("pytorch_model.bin"), &zip).expect("zip");

    let (_rt, sim) = start_sim(data);
    let o = run_cmd(&mut hub_cmd(
        &["scan", "--json", "--verbose", "--hub", "acme/big"],
        &sim.base_url(),
    ));
    assert_exit(&o, 1);
    let recs = json_lines(&o);
    let file = record_with(&recs, "file", "path", "pytorch_model.bin");
    assert_eq!(file["verdict"], "dangerous", "{file}");
    assert_eq!(file["format"], "pytorch-zip", "{file}");
    let text = file.to_string();
    assert!(
        text.contains("archive/data/2"),
        "evidence names the member: {text}"
    );
    assert!(
        text.contains("hub.ranged"),
        "the Range note is shown with --verbose: {text}"
    );
    let served: u64 = sim
        .stats()
        .paths
        .iter()
        .filter(|(p, _)| p.contains("pytorch_model.bin"))
        .map(|(_, s)| s.bytes)
        .sum();
    assert!(served > 0, "the sim saw the reads");
    assert!(
        served * 20 < size,
        "only {served} of {size} bytes should move"
    );
    eprintln!("ranged hub scan: {served} of {size} bytes served");
    drop(sim);
}
