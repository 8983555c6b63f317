//! SARIF 2.1.0 and CycloneDX 1.6 output validated against the published
//! JSON schemas (vendored in testdata/scan/schemas, see ATTRIBUTION.md),
//! plus formats read through cambrian-formats, templates and cards on real
//! data.

use cambrian_scan::card::score_card;
use cambrian_scan::{Level, Limits, ScanTarget, Verdict, scan_bytes, scan_file, scan_path};
use std::path::PathBuf;

fn td(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/scan")
        .join(p)
}

fn load(p: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(td(p)).expect("schema file")).expect("json")
}

struct Local;
impl jsonschema::Retrieve for Local {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<serde_json::Value, Box<dyn std::error::Error + Send + Sync>> {
        let s = uri.as_str();
        let file = if s.ends_with("spdx.SNAPSHOT.schema.json") || s.ends_with("spdx.schema.json") {
            "schemas/spdx.SNAPSHOT.schema.json"
        } else if s.contains("jsf-0.82") {
            "schemas/jsf-0.82.SNAPSHOT.schema.json"
        } else {
            return Err(format!("no network in tests: {s}").into());
        };
        Ok(load(file))
    }
}

fn errors(
    schema: &serde_json::Value,
    doc: &serde_json::Value,
    draft: jsonschema::Draft,
) -> Vec<String> {
    let v = jsonschema::options()
        .with_draft(draft)
        .with_retriever(Local)
        .build(schema)
        .expect("schema compiles");
    v.iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

fn corpus_reports() -> Vec<cambrian_scan::RepoReport> {
    scan_path(&ScanTarget::Path(td("picklescan/data")), &Limits::default()).expect("scan")
}

#[test]
fn sarif_validates_against_the_2_1_0_schema() {
    let reports = corpus_reports();
    let doc = cambrian_scan::sarif::sarif(&reports, "0.1.0", Level::Suspicious);
    let errs = errors(
        &load("schemas/sarif-schema-2.1.0.json"),
        &doc,
        jsonschema::Draft::Draft4,
    );
    assert!(errs.is_empty(), "{errs:#?}");
    let results = doc["runs"][0]["results"].as_array().expect("results");
    assert!(
        results
            .iter()
            .any(|r| r["level"] == "error" && r["ruleId"] == "pickle.import")
    );
    // A broken document is rejected (the validation can fail).
    let mut bad = doc.clone();
    bad["runs"][0]["results"][0]["level"] = serde_json::json!("fatal");
    assert!(
        !errors(
            &load("schemas/sarif-schema-2.1.0.json"),
            &bad,
            jsonschema::Draft::Draft4
        )
        .is_empty()
    );
}

#[test]
fn cyclonedx_validates_against_the_1_6_schema() {
    let mut reports = corpus_reports();
    reports[0].card = Some(score_card(
        "README.md",
        &std::fs::read_to_string(td("cards/all-MiniLM-L6-v2.README.md")).expect("card"),
    ));
    let doc = cambrian_scan::cyclonedx::bom(&reports, "0.1.0", "2026-11-28T12:00:00Z");
    let errs = errors(
        &load("schemas/bom-1.6.SNAPSHOT.schema.json"),
        &doc,
        jsonschema::Draft::Draft7,
    );
    assert!(errs.is_empty(), "{errs:#?}");
    assert_eq!(doc["components"][0]["type"], "machine-learning-model");
    assert!(doc["components"][0]["modelCard"].is_object());
    assert!(
        doc["vulnerabilities"]
            .as_array()
            .is_some_and(|v| !v.is_empty())
    );
    let mut bad = doc.clone();
    bad["components"][0]["modelCard"]["nonsense"] = serde_json::json!(1);
    assert!(
        !errors(
            &load("schemas/bom-1.6.SNAPSHOT.schema.json"),
            &bad,
            jsonschema::Draft::Draft7
        )
        .is_empty()
    );
}

#[test]
fn gguf_and_safetensors_through_cambrian_formats() {
    let l = Limits::default();
    let r = scan_file(
        &td("models/llama-2-tiny-random.gguf"),
        "llama-2-tiny-random.gguf",
        &l,
    )
    .expect("read");
    assert_eq!(r.format, "gguf");
    assert!(r.verdict <= Verdict::Innocuous, "{:?}", r.findings);
    // The real MiniLM header, as the Hub path sees it (prefix, length unknown).
    let h = std::fs::read(td("models/model.safetensors.header-only")).expect("header");
    let r = cambrian_scan::engine::scan_header_prefix(&h, "model.safetensors", &l);
    assert_eq!(r.format, "safetensors");
    assert_eq!(r.verdict, Verdict::Clean, "{:?}", r.findings);
    // As a whole file it is truncated (data missing): flagged, not clean.
    let r = scan_file(
        &td("models/model.safetensors.header-only"),
        "model.safetensors",
        &l,
    )
    .expect("read");
    assert!(r.verdict >= Verdict::Suspicious, "{:?}", r.findings);
    // A chat template in GGUF metadata: build a GGUF with a hostile template.
    let mut g = b"GGUF".to_vec();
    g.extend_from_slice(&3u32.to_le_bytes());
    g.extend_from_slice(&0u64.to_le_bytes());
    g.extend_from_slice(&1u64.to_le_bytes());
    let key = b"tokenizer.chat_template";
    g.extend_from_slice(&(key.len() as u64).to_le_bytes());
    g.extend_from_slice(key);
    g.extend_from_slice(&8u32.to_le_bytes());
    let t = b"{{ cycler.__init__.__globals__.os.popen('id').read() }}";
    g.extend_from_slice(&(t.len() as u64).to_le_bytes());
    g.extend_from_slice(t);
    let r = scan_bytes(&g, "evil.gguf", &l);
    assert_eq!(r.verdict, Verdict::Dangerous, "{:?}", r.findings);
    assert!(
        r.findings
            .iter()
            .any(|f| f.symbol.as_deref() == Some("__globals__"))
    );
}

#[test]
fn tokenizer_config_templates() {
    let l = Limits::default();
    let r = scan_file(
        &td("models/tokenizer_config.json"),
        "tokenizer_config.json",
        &l,
    )
    .expect("read");
    assert_eq!(r.verdict, Verdict::Clean, "{:?}", r.findings);
    let evil = br#"{"chat_template": [{"name": "default", "template": "{{ ''.__class__.__mro__[1].__subclasses__() }}"}]}"#;
    let r = scan_bytes(evil, "tokenizer_config.json", &l);
    assert_eq!(r.verdict, Verdict::Dangerous);
    let bad = b"{\"chat_template\": ";
    let r = scan_bytes(bad, "tokenizer_config.json", &l);
    assert_eq!(r.verdict, Verdict::Unreadable);
    assert!(r.findings[0].message.contains("line 1"), "{:?}", r.findings);
}

#[test]
fn model_cards_scored_with_evidence() {
    let read = |p: &str| std::fs::read_to_string(td(p)).expect("card");
    let minilm = score_card("README.md", &read("cards/all-MiniLM-L6-v2.README.md"));
    let get = |r: &cambrian_scan::card::CardReport, c: &str| {
        r.checks
            .iter()
            .find(|x| x.check == c)
            .map(|x| x.passed)
            .expect("check")
    };
    assert!(get(&minilm, "license") && get(&minilm, "datasets"));
    assert!(get(&minilm, "training_data"), "{:?}", minilm.checks);
    assert!(!get(&minilm, "base_model"));
    assert!(!get(&minilm, "out_of_scope"));
    let sd = score_card("card.md", &read("cards/Stable_Diffusion_v1_Model_Card.md"));
    assert!(
        get(&sd, "out_of_scope") && get(&sd, "limitations"),
        "{:?}",
        sd.checks
    );
    let llama = score_card("card.md", &read("cards/Llama-2.MODEL_CARD.md"));
    assert!(
        get(&llama, "training_data") && get(&llama, "evaluation") && get(&llama, "eval_results"),
        "{:?}",
        llama.checks
    );
    for bad in [
        "cards/_malformed_bad_delim.README.md",
        "cards/_malformed_missing_delim.README.md",
    ] {
        let r = score_card("README.md", &read(bad));
        assert!(!r.problems.is_empty(), "{bad}: {:?}", r);
        assert_eq!(r.score, 0, "{bad}: {:?}", r.checks);
    }
    let empty = score_card("README.md", &read("cards/_edge_empty_array.README.md"));
    assert!(empty.problems.is_empty());
    // score = round(100 × passed / 8)
    assert_eq!(minilm.score, (100 * minilm.passed + 4) / 8);
}

#[test]
fn directory_scan_flags_pickle_only_weights() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::copy(
        td("picklescan/data/pytorch_model.bin"),
        dir.path().join("pytorch_model.bin"),
    )
    .expect("copy");
    std::fs::copy(
        td("cards/all-MiniLM-L6-v2.README.md"),
        dir.path().join("README.md"),
    )
    .expect("copy");
    let r = scan_path(
        &ScanTarget::Path(dir.path().to_path_buf()),
        &Limits::default(),
    )
    .expect("scan");
    assert_eq!(r[0].verdict, Verdict::Innocuous);
    assert!(
        r[0].findings
            .iter()
            .any(|f| f.rule == "repo.prefer-safetensors")
    );
    assert!(r[0].card.is_some());
}

#[test]
fn hf_cache_layout() {
    let dir = tempfile::tempdir().expect("tmp");
    let snap = dir.path().join("hub/models--acme--tiny/snapshots/abc123");
    std::fs::create_dir_all(&snap).expect("mkdir");
    std::fs::copy(
        td("picklescan/data/malicious1_v4.pkl"),
        snap.join("model.pkl"),
    )
    .expect("copy");
    let t = ScanTarget::HfCache {
        hub_dir: dir.path().join("hub"),
        repo: None,
    };
    let r = scan_path(&t, &Limits::default()).expect("scan");
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].target, "acme/tiny@abc123");
    assert_eq!(r[0].verdict, Verdict::Dangerous);
    let t = ScanTarget::HfCache {
        hub_dir: dir.path().join("hub"),
        repo: Some("acme/other".into()),
    };
    assert!(scan_path(&t, &Limits::default()).is_err());
}

#[test]
fn zip_bomb_and_traversal_and_nesting() {
    use std::io::Write;
    let l = Limits::default();
    // A deflated member of 64 MiB of zeros (ratio ~1000:1).
    let mut z = Vec::new();
    {
        let zeros = vec![0u8; 64 << 20];
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&zeros).expect("deflate");
        let comp = enc.finish().expect("deflate");
        let name = b"../../evil/data.pkl";
        let crc = {
            let mut c = flate2::Crc::new();
            c.update(&zeros);
            c.sum()
        };
        z.extend_from_slice(b"PK\x03\x04\x14\x00\x00\x00\x08\x00\x00\x00\x00\x00");
        z.extend_from_slice(&crc.to_le_bytes());
        z.extend_from_slice(&(comp.len() as u32).to_le_bytes());
        z.extend_from_slice(&(zeros.len() as u32).to_le_bytes());
        z.extend_from_slice(&(name.len() as u16).to_le_bytes());
        z.extend_from_slice(&0u16.to_le_bytes());
        z.extend_from_slice(name);
        z.extend_from_slice(&comp);
        let cd_off = z.len() as u32;
        let mut cd = b"PK\x01\x02\x14\x00\x14\x00\x00\x00\x08\x00\x00\x00\x00\x00".to_vec();
        cd.extend_from_slice(&crc.to_le_bytes());
        cd.extend_from_slice(&(comp.len() as u32).to_le_bytes());
        cd.extend_from_slice(&(zeros.len() as u32).to_le_bytes());
        cd.extend_from_slice(&(name.len() as u16).to_le_bytes());
        cd.extend_from_slice(&[0u8; 12]);
        cd.extend_from_slice(&0u32.to_le_bytes());
        cd.extend_from_slice(name);
        z.extend_from_slice(&cd);
        z.extend_from_slice(b"PK\x05\x06\x00\x00\x00\x00\x01\x00\x01\x00");
        z.extend_from_slice(&(cd.len() as u32).to_le_bytes());
        z.extend_from_slice(&cd_off.to_le_bytes());
        z.extend_from_slice(&0u16.to_le_bytes());
    }
    let r = scan_bytes(&z, "bomb.zip", &l);
    assert!(
        r.findings.iter().any(|f| f.rule == "zip.bomb"),
        "{:?}",
        r.findings
    );
    assert!(r.findings.iter().any(|f| f.rule == "zip.path-traversal"));
    assert_eq!(r.verdict, Verdict::Unreadable);
    // Nested: the corpus's malicious zip inside a zip inside a zip is found;
    // beyond the depth limit it is unreadable, never clean.
    let inner = std::fs::read(td("picklescan/data/malicious1.zip")).expect("zip");
    let lim = Limits {
        max_depth: 1,
        ..Limits::default()
    };
    let outer = store(&[("inner.zip", &inner)]);
    assert_eq!(
        scan_bytes(&outer, "outer.zip", &Limits::default()).verdict,
        Verdict::Dangerous
    );
    assert_eq!(
        scan_bytes(&outer, "outer.zip", &lim).verdict,
        Verdict::Unreadable
    );
}

/// Minimal stored zip writer.
fn store(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut cd = Vec::new();
    for (name, data) in members {
        let off = out.len() as u32;
        let crc = {
            let mut c = flate2::Crc::new();
            c.update(data);
            c.sum()
        };
        let mut h = b"PK\x03\x04\x14\x00\x00\x00\x00\x00\x00\x00\x00\x00".to_vec();
        h.extend_from_slice(&crc.to_le_bytes());
        h.extend_from_slice(&(data.len() as u32).to_le_bytes());
        h.extend_from_slice(&(data.len() as u32).to_le_bytes());
        h.extend_from_slice(&(name.len() as u16).to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        cd.extend_from_slice(b"PK\x01\x02\x14\x00\x14\x00\x00\x00\x00\x00\x00\x00\x00\x00");
        cd.extend_from_slice(&crc.to_le_bytes());
        cd.extend_from_slice(&(data.len() as u32).to_le_bytes());
        cd.extend_from_slice(&(data.len() as u32).to_le_bytes());
        cd.extend_from_slice(&(name.len() as u16).to_le_bytes());
        cd.extend_from_slice(&[0u8; 12]);
        cd.extend_from_slice(&off.to_le_bytes());
        cd.extend_from_slice(name.as_bytes());
    }
    let cd_off = out.len() as u32;
    out.extend_from_slice(&cd);
    out.extend_from_slice(b"PK\x05\x06\x00\x00\x00\x00");
    out.extend_from_slice(&(members.len() as u16).to_le_bytes());
    out.extend_from_slice(&(members.len() as u16).to_le_bytes());
    out.extend_from_slice(&(cd.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_off.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

#[test]
fn keras_hdf5_and_onnx_formats() {
    let l = Limits::default();
    let cfg = br#"{"class_name":"Sequential","config":{"layers":[{"class_name":"Lambda","config":{"name":"hook","function":["4wEAAAAAAAAA","",null]}}]}}"#;
    let k = store(&[
        ("metadata.json", b"{\"keras_version\":\"3.4.1\"}"),
        ("config.json", cfg),
        ("model.weights.h5", b"\x89HDF\r\n\x1a\n"),
    ]);
    let r = scan_bytes(&k, "model.keras", &l);
    assert_eq!(r.format, "keras");
    assert_eq!(r.verdict, Verdict::Dangerous, "{:?}", r.findings);
    assert!(
        r.findings
            .iter()
            .any(|f| f.rule == "keras.lambda-layer" && f.symbol.as_deref() == Some("hook"))
    );
    let mut h5 = b"\x89HDF\r\n\x1a\n".to_vec();
    h5.extend_from_slice(&[0u8; 512]);
    h5.extend_from_slice(br#"{"class_name": "Lambda", "config": {"name": "x"}}"#);
    let r = scan_bytes(&h5, "model.h5", &l);
    assert_eq!((r.format.as_str(), r.verdict), ("hdf5", Verdict::Dangerous));
    let mut clean_h5 = b"\x89HDF\r\n\x1a\n".to_vec();
    clean_h5.extend_from_slice(br#"{"class_name": "Dense"}"#);
    assert_eq!(
        scan_bytes(&clean_h5, "model.h5", &l).verdict,
        Verdict::Clean
    );
    // ONNX: an initializer whose external data climbs out of the model folder.
    fn ld(field: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![(field << 3) | 2, body.len() as u8];
        v.extend_from_slice(body);
        v
    }
    let entry = [ld(1, b"location"), ld(2, b"../../../../etc/passwd")].concat();
    let tensor = [ld(8, b"weight"), ld(13, &entry)].concat();
    let model = [vec![8, 7], ld(7, &ld(5, &tensor))].concat();
    let r = scan_bytes(&model, "model.onnx", &l);
    assert_eq!(r.verdict, Verdict::Dangerous, "{:?}", r.findings);
    assert_eq!(r.findings[0].symbol.as_deref(), Some("weight"));
    let entry = [ld(1, b"location"), ld(2, b"weights/model.data")].concat();
    let tensor = [ld(8, b"weight"), ld(13, &entry)].concat();
    let model = [vec![8, 7], ld(7, &ld(5, &tensor))].concat();
    assert_eq!(scan_bytes(&model, "model.onnx", &l).verdict, Verdict::Clean);
}

#[test]
fn gzip_wrapped_joblib_pickle_is_unpacked() {
    use std::io::Write;
    let p = std::fs::read(td("picklescan/data/malicious2_v4.pkl")).expect("pkl");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&p).expect("gz");
    let gz = enc.finish().expect("gz");
    let r = scan_bytes(&gz, "model.joblib", &Limits::default());
    assert_eq!(r.verdict, Verdict::Dangerous, "{:?}", r.findings);
    assert!(
        r.findings
            .iter()
            .any(|f| f.symbol.as_deref() == Some("posix.system")
                && f.member.as_deref().is_some_and(|m| m.contains("[gunzip]")))
    );
}
