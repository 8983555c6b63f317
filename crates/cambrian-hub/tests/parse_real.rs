//! Parsing of real Hub responses (testdata/hub, copied from huggingface_hub's
//! cassettes) and of malformed variants of them.

use cambrian_hub::{parse_listing, parse_model};
use serde_json::{Value, json};
use std::path::PathBuf;

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/hub")
}

fn load(rel: &str) -> Value {
    let p = testdata().join(rel);
    serde_json::from_slice(&std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .unwrap()
}

#[test]
fn all_35_real_model_info_responses_parse_without_warnings() {
    let dir = testdata().join("model_info");
    let mut n = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        let v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        let (rec, warnings) = parse_model(&v).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(warnings.is_empty(), "{}: {warnings:?}", p.display());
        assert_eq!(Some(rec.id.as_str()), v["id"].as_str());
        assert_eq!(rec.downloads_30d, v["downloads"].as_u64());
        assert_eq!(rec.likes, v["likes"].as_u64());
        assert_eq!(rec.tags.len(), v["tags"].as_array().unwrap().len());
        assert_eq!(rec.siblings.len(), v["siblings"].as_array().unwrap().len());
        // safetensors total equals the sum of the per-dtype counts in every real file.
        if let Some(st) = &rec.safetensors {
            assert_eq!(
                st.parameters.values().sum::<u64>(),
                st.total,
                "{}",
                p.display()
            );
        }
        n += 1;
    }
    assert_eq!(n, 35);
}

struct Expect {
    file: &'static str,
    id: &'static str,
    author: &'static str,
    created: Option<&'static str>,
    downloads_30d: u64,
    likes: u64,
    license: Option<&'static str>,
    gated: &'static str,
    st_total: Option<u64>,
    st_params: &'static [(&'static str, u64)],
    architectures: &'static [&'static str],
    model_type: Option<&'static str>,
    base_models: &'static [&'static str],
    siblings: usize,
}

#[test]
fn field_mapping_matches_the_source_files() {
    let cases = [
        Expect {
            file: "meta-llama__Llama-3.1-8B-Instruct.2025-03-21.json",
            id: "meta-llama/Llama-3.1-8B-Instruct",
            author: "meta-llama",
            created: Some("2024-07-18T08:56:00Z"),
            downloads_30d: 5_795_728,
            likes: 3763,
            license: Some("llama3.1"),
            gated: "manual",
            st_total: Some(8_030_261_248),
            st_params: &[("BF16", 8_030_261_248)],
            architectures: &["LlamaForCausalLM"],
            model_type: Some("llama"),
            // tag `base_model:finetune:…` and cardData's (different) spelling
            base_models: &["meta-llama/Llama-3.1-8B", "meta-llama/Meta-Llama-3.1-8B"],
            siblings: 17,
        },
        Expect {
            file: "deepset__roberta-base-squad2.2025-01-22.json",
            id: "deepset/roberta-base-squad2",
            author: "deepset",
            created: Some("2022-03-02T23:29:05Z"), // one second after the placeholder: a real date
            downloads_30d: 1_801_802,
            likes: 842,
            license: Some("cc-by-4.0"),
            gated: "false",
            st_total: Some(124_057_092),
            st_params: &[("F32", 124_056_578), ("I64", 514)],
            architectures: &["RobertaForQuestionAnswering"],
            model_type: Some("roberta"),
            base_models: &["FacebookAI/roberta-base"], // cardData list, de-duplicated with the tag
            siblings: 12,
        },
        Expect {
            file: "gpt2.2025-03-21.json",
            id: "gpt2",
            author: "openai-community",
            created: None, // the Hub's placeholder 2022-03-02T23:29:04.000Z
            downloads_30d: 17_272_637,
            likes: 2630,
            license: Some("mit"),
            gated: "false",
            st_total: Some(137_022_720),
            st_params: &[("F32", 137_022_720)],
            architectures: &["GPT2LMHeadModel"],
            model_type: Some("gpt2"),
            base_models: &[],
            siblings: 26,
        },
        Expect {
            file: "dbmdz__bert-large-cased-finetuned-conll03-english.2025-03-21.json",
            id: "dbmdz/bert-large-cased-finetuned-conll03-english",
            author: "dbmdz",
            created: Some("2022-03-02T23:29:05Z"),
            downloads_30d: 1_465_961,
            likes: 78,
            license: None, // neither cardData.license nor a license: tag
            gated: "false",
            st_total: Some(333_588_489),
            st_params: &[("F32", 333_588_489)],
            architectures: &["BertForTokenClassification"],
            model_type: Some("bert"),
            base_models: &[],
            siblings: 9,
        },
        Expect {
            file: "CompVis__stable-diffusion-v1-4.2025-03-21.json",
            id: "CompVis/stable-diffusion-v1-4",
            author: "CompVis",
            created: Some("2022-08-20T13:26:13Z"),
            downloads_30d: 1_155_072,
            likes: 6729,
            license: Some("creativeml-openrail-m"),
            gated: "false",
            st_total: None, // diffusers repo: no safetensors summary
            st_params: &[],
            architectures: &[],
            model_type: None,
            base_models: &[],
            siblings: 33,
        },
        Expect {
            file: "sentence-transformers__all-MiniLM-L6-v2.2025-03-21.json",
            id: "sentence-transformers/all-MiniLM-L6-v2",
            author: "sentence-transformers",
            created: Some("2022-03-02T23:29:05Z"),
            downloads_30d: 90_148_743,
            likes: 3148,
            license: Some("apache-2.0"),
            gated: "false",
            st_total: Some(22_713_728),
            st_params: &[("F32", 22_713_216), ("I64", 512)],
            architectures: &["BertModel"],
            model_type: Some("bert"),
            base_models: &[],
            siblings: 30,
        },
    ];
    for c in cases {
        let v = load(&format!("model_info/{}", c.file));
        let (r, w) = parse_model(&v).unwrap();
        assert!(w.is_empty(), "{}: {w:?}", c.file);
        assert_eq!(r.id, c.id);
        assert_eq!(r.author.as_deref(), Some(c.author), "{}", c.file);
        assert_eq!(
            r.created_at
                .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
                .as_deref(),
            c.created,
            "{}",
            c.file
        );
        assert!(r.last_modified.is_some());
        assert_eq!(r.downloads_30d, Some(c.downloads_30d));
        assert_eq!(r.downloads_all_time, None);
        assert_eq!(r.likes, Some(c.likes));
        assert_eq!(r.license.as_deref(), c.license, "{}", c.file);
        assert_eq!(r.license_name, None);
        assert_eq!(r.gated.as_deref(), Some(c.gated), "{}", c.file);
        assert_eq!(
            r.safetensors.as_ref().map(|s| s.total),
            c.st_total,
            "{}",
            c.file
        );
        let params: Vec<(&str, u64)> = r
            .safetensors
            .as_ref()
            .map(|s| s.parameters.iter().map(|(k, v)| (k.as_str(), *v)).collect())
            .unwrap_or_default();
        assert_eq!(params, c.st_params.to_vec(), "{}", c.file);
        assert_eq!(
            r.architectures,
            c.architectures
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
        );
        assert_eq!(r.model_type.as_deref(), c.model_type);
        assert_eq!(
            r.base_models,
            c.base_models
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>(),
            "{}",
            c.file
        );
        assert_eq!(r.siblings.len(), c.siblings);
        assert_eq!(r.gguf, None);
        assert_eq!(r.sha.as_deref(), v["sha"].as_str());
    }
}

#[test]
fn listing_excerpt_parses() {
    let v = load("listing_excerpts/api_models_two_items_2025-11.json");
    let page = parse_listing(&v).unwrap();
    assert!(page.item_warnings.is_empty(), "{:?}", page.item_warnings);
    assert_eq!(page.models.len(), 2);
    let k = &page.models[0];
    assert_eq!(k.id, "moonshotai/Kimi-K2-Thinking");
    assert_eq!(k.trending_score, Some(580.0));
    assert_eq!(k.downloads_30d, Some(5119));
    assert_eq!(k.likes, Some(578));
    assert_eq!(k.license.as_deref(), Some("other")); // from the license: tag
    assert_eq!(k.author, None); // compact listings have no author; none is invented
    assert_eq!(page.models[1].license.as_deref(), Some("mit"));
    assert_eq!(
        page.models[1].created_at.unwrap().to_rfc3339(),
        "2025-10-22T13:45:10+00:00"
    );
}

#[test]
fn license_other_with_name_gguf_and_quantized_base() {
    let v = json!({
        "id": "org/m-GGUF",
        "tags": ["gguf", "base_model:quantized:org/m", "base_model:adapter:other/x", "license:other"],
        "cardData": { "license": "other", "license_name": "qwen-research", "base_model": ["org/m", " other/x "] },
        "gguf": { "total": 7_615_616_512u64, "architecture": "qwen2", "context_length": 32768 },
        "gated": "auto",
        "downloadsAllTime": 12,
        "trendingScore": 3.5
    });
    let (r, w) = parse_model(&v).unwrap();
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(r.license.as_deref(), Some("other"));
    assert_eq!(r.license_name.as_deref(), Some("qwen-research"));
    assert_eq!(
        r.base_models,
        vec!["org/m".to_string(), "other/x".to_string()]
    );
    let g = r.gguf.unwrap();
    assert_eq!(
        (g.total, g.architecture.as_deref(), g.context_length),
        (Some(7_615_616_512), Some("qwen2"), Some(32768))
    );
    assert_eq!(r.gated.as_deref(), Some("auto"));
    assert_eq!(r.downloads_all_time, Some(12));
    assert_eq!(r.trending_score, Some(3.5));
}

/// A change made to a real response to make it malformed.
type Mutation = Box<dyn Fn(&mut Value)>;

/// Each malformed variant: which fields warn, what survives.
#[test]
fn malformed_variants_are_tolerated_per_field() {
    let base = load("model_info/HuggingFaceH4__zephyr-7b-beta.2025-03-21.json");
    let cases: Vec<(&str, Mutation, Vec<&str>)> = vec![
        (
            "likes as string",
            Box::new(|v| v["likes"] = json!("1667")),
            vec!["likes"],
        ),
        (
            "negative downloads",
            Box::new(|v| v["downloads"] = json!(-1)),
            vec!["downloads"],
        ),
        (
            "float downloads",
            Box::new(|v| v["downloads"] = json!(1.5)),
            vec!["downloads"],
        ),
        (
            "tags not a list",
            Box::new(|v| v["tags"] = json!("text-generation")),
            vec!["tags"],
        ),
        (
            "non-string tag",
            Box::new(|v| v["tags"][0] = json!(7)),
            vec!["tags[0]"],
        ),
        (
            "createdAt a number",
            Box::new(|v| v["createdAt"] = json!(12345)),
            vec!["createdAt"],
        ),
        (
            "createdAt not a date",
            Box::new(|v| v["createdAt"] = json!("yesterday")),
            vec!["createdAt"],
        ),
        (
            "safetensors a string",
            Box::new(|v| v["safetensors"] = json!("BF16")),
            vec!["safetensors"],
        ),
        (
            "safetensors total missing",
            Box::new(|v| {
                v["safetensors"].as_object_mut().unwrap().remove("total");
            }),
            vec!["safetensors.total"],
        ),
        (
            "gated a number",
            Box::new(|v| v["gated"] = json!(1)),
            vec!["gated"],
        ),
        (
            "config a list",
            Box::new(|v| v["config"] = json!([])),
            vec!["config"],
        ),
        (
            "cardData.license a number",
            Box::new(|v| v["cardData"]["license"] = json!(3)),
            vec!["cardData.license"],
        ),
        (
            "sibling without rfilename",
            Box::new(|v| v["siblings"][0] = json!({"name": "x"})),
            vec!["siblings[0].rfilename"],
        ),
        (
            "unknown fields",
            Box::new(|v| {
                v["brandNewField"] = json!({"a": [1]});
                v["likes7d"] = json!(3);
            }),
            vec![],
        ),
        (
            "missing optional fields",
            Box::new(|v| {
                let o = v.as_object_mut().unwrap();
                for k in [
                    "likes",
                    "downloads",
                    "tags",
                    "sha",
                    "config",
                    "cardData",
                    "safetensors",
                ] {
                    o.remove(k);
                }
            }),
            vec![],
        ),
        (
            "nulls",
            Box::new(|v| {
                v["library_name"] = Value::Null;
                v["lastModified"] = Value::Null;
            }),
            vec![],
        ),
    ];
    for (name, f, expected) in cases {
        let mut v = base.clone();
        f(&mut v);
        let (r, w) = parse_model(&v).unwrap_or_else(|e| panic!("{name}: {e}"));
        let fields: Vec<&str> = w.iter().map(|w| w.field.as_str()).collect();
        assert_eq!(fields, expected, "{name}: {w:?}");
        assert_eq!(r.id, "HuggingFaceH4/zephyr-7b-beta", "{name}");
    }
    // License falls back to the tag when cardData.license is unusable.
    let mut v = base.clone();
    v["cardData"]["license"] = json!(3);
    assert_eq!(parse_model(&v).unwrap().0.license.as_deref(), Some("mit"));
    // Missing total: the sum of parameters, said in the warning.
    let mut v = base.clone();
    v["safetensors"].as_object_mut().unwrap().remove("total");
    let (r, w) = parse_model(&v).unwrap();
    assert_eq!(r.safetensors.unwrap().total, 7_241_732_096);
    assert!(
        w[0].reason.contains("sum of parameters (7241732096)"),
        "{}",
        w[0].reason
    );
}

#[test]
fn records_without_a_string_id_are_rejected_and_skipped_in_listings() {
    for bad in [
        json!({}),
        json!({"id": 5}),
        json!({"id": ""}),
        json!({"id": null}),
        json!([1]),
        json!("x"),
    ] {
        assert!(parse_model(&bad).is_err(), "{bad}");
    }
    let page = json!([{"id": "a/b"}, {"modelId": "c/d"}, 3, {"id": "e/f", "likes": "x"}]);
    let p = parse_listing(&page).unwrap();
    assert_eq!(
        p.models.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        vec!["a/b", "e/f"]
    );
    let w: Vec<(usize, Option<&str>, Option<&str>)> = p
        .item_warnings
        .iter()
        .map(|w| (w.index, w.id.as_deref(), w.field.as_deref()))
        .collect();
    assert_eq!(
        w,
        vec![
            (1, None, None),
            (2, None, None),
            (3, Some("e/f"), Some("likes"))
        ]
    );
    assert!(p.item_warnings[0].reason.contains("missing `id`"));
    // A page that is not a list is an error, not an empty page.
    assert!(parse_listing(&json!({"error": "x"})).is_err());
}

/// The one-pass byte parser used for listing pages gives exactly the records
/// and warnings (texts included) of the `Value` path, on every real record
/// and on malformed, escaped and edge-case values.
#[test]
fn one_pass_byte_parser_equals_the_value_parser() {
    let dir = testdata().join("model_info");
    let mut items: Vec<Value> = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in &entries {
        items.push(serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap());
    }
    assert_eq!(items.len(), 35);
    let base = items[0].clone();
    let variants: Vec<Mutation> = vec![
        Box::new(|v| v["likes"] = json!("1667")),
        Box::new(|v| v["likes"] = json!(12.0)),
        Box::new(|v| v["likes"] = json!(1e300)),
        Box::new(|v| v["likes"] = json!(u64::MAX)),
        Box::new(|v| v["downloads"] = json!(-1)),
        Box::new(|v| v["downloads"] = json!(1.5)),
        Box::new(|v| v["downloads"] = json!({"a": [1, {"b": null}], "long": "x".repeat(100)})),
        Box::new(|v| v["downloads"] = json!([1, 2])),
        Box::new(|v| v["downloads"] = json!(true)),
        Box::new(|v| v["trendingScore"] = json!("hot")),
        Box::new(|v| v["trendingScore"] = json!(-3)),
        Box::new(|v| v["trendingScore"] = json!(2.25)),
        Box::new(|v| v["tags"] = json!("text-generation")),
        Box::new(|v| v["tags"] = json!({"a": 1})),
        Box::new(
            |v| v["tags"] = json!(["a\"b", "é\\u00e9", 7, null, ["x"], {"k": 1}, "license:apache-2.0", "base_model:finetune:o/x"]),
        ),
        Box::new(|v| v["createdAt"] = json!(12345)),
        Box::new(|v| v["createdAt"] = json!("yesterday")),
        Box::new(|v| v["createdAt"] = json!("2022-03-02T23:29:04.000Z")),
        Box::new(|v| v["lastModified"] = json!("2022-03-02T23:29:04.000Z")),
        Box::new(|v| v["createdAt"] = json!("2024-02-29T23:59:60.000Z")),
        Box::new(|v| v["createdAt"] = json!("2023-02-29T10:00:00.000Z")),
        Box::new(|v| v["createdAt"] = json!("2024-01-01T24:00:00.000Z")),
        Box::new(|v| v["createdAt"] = json!("2024-01-01t10:00:00.000z")),
        Box::new(|v| v["createdAt"] = json!("2024-01-01T10:00:00+02:00")),
        Box::new(|v| v["createdAt"] = json!("2024-01-01T10:00:00.123456Z")),
        Box::new(|v| v["createdAt"] = json!("2024-01-01T10:00:00Z")),
        Box::new(|v| v["lastModified"] = json!("2024-1-01T10:00:00.000Z1")),
        Box::new(|v| v["lastModified"] = json!("२०२४-01-01T10:00:00.000Z")),
        Box::new(|v| v["author"] = json!(["x"])),
        Box::new(|v| v["author"] = json!("with \"quotes\" and \\ and \u{1F600}")),
        Box::new(|v| v["sha"] = json!(false)),
        Box::new(|v| v["gated"] = json!(1)),
        Box::new(|v| v["gated"] = json!(true)),
        Box::new(|v| v["gated"] = json!("manual")),
        Box::new(|v| v["safetensors"] = json!("BF16")),
        Box::new(|v| v["safetensors"] = json!({"parameters": "F32", "total": "many"})),
        Box::new(|v| v["gguf"] = json!({"total": -1, "architecture": 3})),
        Box::new(|v| v["config"] = json!([])),
        Box::new(|v| v["cardData"] = json!("mit")),
        Box::new(|v| v["cardData"]["license"] = json!(["mit", "apache-2.0"])),
        Box::new(|v| v["cardData"]["base_model"] = json!(7)),
        Box::new(|v| v["siblings"] = json!({})),
        Box::new(|v| v["siblings"][0] = json!({"name": "x"})),
        Box::new(|v| {
            v["brandNewField"] = json!({"a": [1]});
            v["likes7d"] = json!(3);
        }),
        Box::new(|v| {
            let o = v.as_object_mut().unwrap();
            o.clear();
            o.insert("id".into(), json!("only/id"));
        }),
        Box::new(|v| v["id"] = json!("")),
        Box::new(|v| v["id"] = json!(5)),
        Box::new(|v| v["id"] = json!(null)),
        Box::new(|v| {
            v.as_object_mut().unwrap().remove("id");
        }),
        Box::new(|v| v["id"] = json!("esc\\aped/\"id\"")),
    ];
    for (i, f) in variants.iter().enumerate() {
        let mut v = base.clone();
        f(&mut v);
        items.push(v);
        let _ = i;
    }
    // Whole page, and one page per item (so every variant is also an item 0).
    let mut pages = vec![Value::Array(items.clone())];
    pages.extend(items.iter().map(|i| json!([i])));
    for (n, page) in pages.iter().enumerate() {
        let bytes = serde_json::to_vec(page).unwrap();
        let fast = cambrian_hub::parse_listing_bytes(&bytes)
            .unwrap_or_else(|| panic!("page {n}: one-pass parser refused"));
        let slow = parse_listing(page).unwrap();
        assert_eq!(fast, slow, "page {n}");
    }
    // Not an array of objects, invalid JSON, duplicate keys: left to the Value path.
    for bad in [
        &b"[1]"[..],
        b"{\"error\":\"x\"}",
        b"[{\"id\":\"a\"}",
        b"[{\"id\":\"a\",\"id\":\"b\"}]",
        b"",
        b"[{\"id\":\"a\"}] x",
    ] {
        assert!(
            cambrian_hub::parse_listing_bytes(bad).is_none(),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    assert_eq!(
        cambrian_hub::parse_listing_bytes(b"[]"),
        Some(Default::default())
    );
}
