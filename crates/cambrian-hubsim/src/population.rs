//! The simulated Hub's models: loaded from real files (`--data DIR`) or
//! generated (seeded, deterministic), each kept as pre-serialised JSON
//! fields so that a listing page is a concatenation of byte strings.

use crate::SimError;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Field set of a listing item without `expand[]`, in the real listing's
/// order (`testdata/hub/listing_excerpts/api_models_two_items_2025-11.json`).
pub const COMPACT_FIELDS: &[&str] = &[
    "_id",
    "id",
    "likes",
    "trendingScore",
    "private",
    "downloads",
    "tags",
    "pipeline_tag",
    "library_name",
    "createdAt",
    "modelId",
];

/// Fields `GET /api/models/{id}` leaves out unless expanded.
pub const INFO_EXPAND_ONLY: &[&str] = &["downloadsAllTime", "trendingScore"];

/// Names accepted in `expand[]` (the Hub answers 400 to others).
pub const EXPANDABLE: &[&str] = &[
    "author",
    "baseModels",
    "cardData",
    "childrenModelCount",
    "config",
    "createdAt",
    "disabled",
    "downloads",
    "downloadsAllTime",
    "gated",
    "gguf",
    "inference",
    "inferenceProviderMapping",
    "lastModified",
    "library_name",
    "likes",
    "mask_token",
    "model-index",
    "pipeline_tag",
    "private",
    "resourceGroup",
    "safetensors",
    "sha",
    "siblings",
    "spaces",
    "tags",
    "transformersInfo",
    "trendingScore",
    "widgetData",
    "usedStorage",
];

/// The Hub's placeholder creation date (repositories older than the field).
pub const PLACEHOLDER_CREATED_AT: &str = "2022-03-02T23:29:04.000Z";

/// A model of the simulated Hub.
#[derive(Debug)]
pub struct SimModel {
    pub id: String,
    pub author: String,
    pub likes: u64,
    pub downloads: u64,
    pub downloads_all_time: u64,
    pub trending: f64,
    /// Milliseconds since the epoch (0 when absent).
    pub created_ms: i64,
    pub modified_ms: i64,
    pub pipeline_tag: Option<String>,
    pub tags: Vec<String>,
    /// Every field of the full record as `"key":value` segments back to
    /// back (one allocation per model), in output order; see [`SimModel::fields`].
    json: Box<str>,
    /// (start, end, key length) of each segment in `json`.
    spans: Box<[(u32, u32, u16)]>,
    /// The compact listing item, serialised.
    pub compact: Box<str>,
    /// For generated models: what the virtual repository files describe.
    pub files: Option<GenFiles>,
}

/// Data for a generated model's virtual files.
#[derive(Debug, Clone)]
pub struct GenFiles {
    pub license: String,
    pub architecture: Option<String>,
    pub model_type: Option<String>,
    pub params: Vec<(String, u64)>,
}

impl SimModel {
    /// The serialised value of a field.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.fields().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// `(key, serialised value)` of every field, in output order.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.spans.iter().map(|&(a, b, kl)| {
            let seg = &self.json[a as usize..b as usize];
            // seg = "key":value
            (&seg[1..1 + kl as usize], &seg[kl as usize + 3..])
        })
    }

    /// `"key":value` segments in output order (ready to join with commas).
    pub fn segments(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.spans.iter().map(|&(a, b, kl)| {
            let seg = &self.json[a as usize..b as usize];
            (&seg[1..1 + kl as usize], seg)
        })
    }

    /// Builds a model from a JSON object (real record or generated one).
    pub fn from_object(o: &Map<String, Value>, files: Option<GenFiles>) -> Option<SimModel> {
        let id = o.get("id")?.as_str()?.to_string();
        let num = |k: &str| o.get(k).and_then(Value::as_u64).unwrap_or(0);
        let date = |k: &str| {
            o.get(k)
                .and_then(Value::as_str)
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                .map(|d| d.timestamp_millis())
                .unwrap_or(0)
        };
        let mut json = String::with_capacity(512);
        let mut spans = Vec::with_capacity(o.len());
        for (k, v) in o {
            // Keys are written unescaped by the server: keep only plain ones.
            if k.len() > u16::MAX as usize || k.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20)
            {
                continue;
            }
            let start = json.len();
            json.push('"');
            json.push_str(k);
            json.push_str("\":");
            json.push_str(&v.to_string());
            spans.push((start as u32, json.len() as u32, k.len() as u16));
        }
        let mut compact = String::with_capacity(256);
        compact.push('{');
        let mut first = true;
        for name in COMPACT_FIELDS {
            if let Some(v) = o.get(*name) {
                if !first {
                    compact.push(',');
                }
                first = false;
                compact.push_str(&Value::String((*name).to_string()).to_string());
                compact.push(':');
                compact.push_str(&v.to_string());
            }
        }
        compact.push('}');
        Some(SimModel {
            author: o
                .get("author")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| {
                    id.split_once('/')
                        .map(|(a, _)| a.to_string())
                        .unwrap_or_default()
                }),
            likes: num("likes"),
            downloads: num("downloads"),
            downloads_all_time: num("downloadsAllTime"),
            trending: o
                .get("trendingScore")
                .and_then(Value::as_f64)
                .unwrap_or(0.0),
            created_ms: date("createdAt"),
            modified_ms: date("lastModified"),
            pipeline_tag: o
                .get("pipeline_tag")
                .and_then(Value::as_str)
                .map(str::to_string),
            tags: o
                .get("tags")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|t| t.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            id,
            json: json.into_boxed_str(),
            spans: spans.into_boxed_slice(),
            compact: compact.into_boxed_str(),
            files,
        })
    }
}

/// The distributions derived from real data (see `data/ATTRIBUTION.md`).
#[derive(Debug, serde::Deserialize)]
struct Dist {
    pipeline_tag: Vec<(String, u64)>,
    library_name: Vec<(String, u64)>,
    license: Vec<(String, u64)>,
    tag_share: Vec<(String, f64)>,
    language: Vec<(String, u64)>,
    likes_zipf: Zipf,
    downloads_zipf: Zipf,
}

#[derive(Debug, serde::Deserialize)]
struct Zipf {
    c: f64,
    alpha: f64,
}

const DIST_JSON: &str = include_str!("../data/distributions.json");

fn pick<'a>(table: &'a [(String, u64)], rng: &mut impl Rng) -> &'a str {
    let total: u64 = table.iter().map(|(_, n)| *n).sum();
    if total == 0 {
        return "";
    }
    let mut x = rng.random_range(0..total);
    for (k, n) in table {
        if x < *n {
            return k;
        }
        x -= n;
    }
    ""
}

/// Architecture and model_type plausible for a pipeline tag.
fn arch_for(pipeline: &str, rng: &mut impl Rng) -> (&'static str, &'static str) {
    const LM: &[(&str, &str)] = &[
        ("LlamaForCausalLM", "llama"),
        ("Qwen2ForCausalLM", "qwen2"),
        ("MistralForCausalLM", "mistral"),
        ("Gemma2ForCausalLM", "gemma2"),
        ("Phi3ForCausalLM", "phi3"),
    ];
    match pipeline {
        "text-generation" | "image-text-to-text" | "any-to-any" => {
            LM[rng.random_range(0..LM.len())]
        }
        "automatic-speech-recognition" => ("WhisperForConditionalGeneration", "whisper"),
        "sentence-similarity" | "feature-extraction" | "fill-mask" | "text-ranking" => {
            ("BertModel", "bert")
        }
        "text-classification" | "token-classification" => {
            ("XLMRobertaForSequenceClassification", "xlm-roberta")
        }
        "image-classification" => ("ViTForImageClassification", "vit"),
        "zero-shot-image-classification" => ("CLIPModel", "clip"),
        "translation" | "summarization" => ("T5ForConditionalGeneration", "t5"),
        _ => ("AutoModel", "custom"),
    }
}

const NAME_WORDS: &[&str] = &[
    "llama", "qwen", "mistral", "gemma", "phi", "bert", "whisper", "flux", "sdxl", "t5", "vit",
    "clip", "deepseek", "kimi", "glm", "olmo", "falcon", "mamba", "smol", "granite",
];
const NAME_SUFFIX: &[&str] = &[
    "instruct",
    "chat",
    "base",
    "it",
    "gguf",
    "awq",
    "lora",
    "finetuned",
    "v2",
    "distill",
];

const AUTHOR_POOL: u64 = 100_000;
const EPOCH_2022_03_02: i64 = 1_646_179_200; // 2022-03-02T00:00:00Z
const EPOCH_2026_08_22: i64 = 1_787_356_800; // 2026-08-22T00:00:00Z

fn iso(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%S.000Z").to_string())
        .unwrap_or_else(|| PLACEHOLDER_CREATED_AT.to_string())
}

/// Generates `n` models from `seed`. Model `i` depends only on `(seed, i)`
/// and on its popularity ranks (a seeded permutation of `0..n`).
pub fn generate(n: usize, seed: u64) -> Result<Vec<SimModel>, SimError> {
    let dist: Dist = serde_json::from_str(DIST_JSON)
        .map_err(|e| SimError::Data(format!("embedded distributions: {e}")))?;
    // Popularity ranks: a seeded permutation for likes; downloads ranks are
    // likes ranks perturbed by a log-normal factor, so the two correlate.
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut like_rank: Vec<u32> = (0..n as u32).collect();
    for i in (1..n).rev() {
        let j = rng.random_range(0..=i);
        like_rank.swap(i, j);
    }
    let mut dl_key: Vec<(f64, u32)> = (0..n as u32)
        .map(|i| {
            let noise: f64 = rng.random_range(-1.5..1.5);
            (((like_rank[i as usize] as f64) + 1.0).ln() + noise, i)
        })
        .collect();
    dl_key.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut dl_rank = vec![0u32; n];
    for (r, (_, i)) in dl_key.iter().enumerate() {
        dl_rank[*i as usize] = r as u32;
    }
    let mut out = Vec::with_capacity(n + 1);
    for i in 0..n {
        let mut r = ChaCha8Rng::seed_from_u64(
            seed ^ (i as u64)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .wrapping_add(1),
        );
        // Author: idx = floor(A·u²) over a fixed pool of A authors, so a few
        // orgs own many repos (P(idx = 0) = 1/√A) and model i's author does
        // not depend on n.
        let a: f64 = r.random_range(0.0..1.0);
        let author_idx = ((AUTHOR_POOL as f64 * a * a) as u64).min(AUTHOR_POOL - 1);
        let author = format!("org{author_idx:05}");
        let word = NAME_WORDS[r.random_range(0..NAME_WORDS.len())];
        let suffix = NAME_SUFFIX[r.random_range(0..NAME_SUFFIX.len())];
        let size = [0.5, 1.0, 1.5, 3.0, 7.0, 8.0, 13.0, 32.0, 70.0][r.random_range(0..9)];
        let id = format!("{author}/{word}-{size}b-{suffix}-{i:x}");
        let pipeline = pick(&dist.pipeline_tag, &mut r).to_string();
        let library = pick(&dist.library_name, &mut r).to_string();
        let license = pick(&dist.license, &mut r).to_string();
        let likes = (dist.likes_zipf.c * ((like_rank[i] as f64) + 1.0).powf(-dist.likes_zipf.alpha))
            .floor() as u64;
        let downloads = (dist.downloads_zipf.c
            * ((dl_rank[i] as f64) + 1.0).powf(-dist.downloads_zipf.alpha))
        .floor() as u64;
        let created = if r.random_bool(0.05) {
            None
        } else {
            Some(r.random_range(EPOCH_2022_03_02..EPOCH_2026_08_22))
        };
        let created_eff = created.unwrap_or(EPOCH_2022_03_02 + 84_544);
        let modified = r.random_range(created_eff..=EPOCH_2026_08_22);
        let age_days = ((EPOCH_2026_08_22 - created_eff) as f64 / 86_400.0).max(1.0);
        // Trending decays with age; downloadsAllTime accumulates with it.
        let trending =
            ((likes as f64) * (-age_days / 60.0).exp() * r.random_range(0.0..1.0)).floor();
        let all_time = downloads.saturating_add(
            (downloads as f64 * (age_days / 30.0) * r.random_range(0.2..1.0)) as u64,
        );
        let (arch, model_type) = arch_for(&pipeline, &mut r);
        let mut tags: Vec<String> = Vec::new();
        if !library.is_empty() {
            tags.push(library.clone());
        }
        let has_st = library == "transformers"
            || library == "diffusers"
            || library == "sentence-transformers"
            || r.random_bool(0.3);
        if has_st {
            tags.push("safetensors".into());
        }
        tags.push(model_type.to_string());
        if !pipeline.is_empty() {
            tags.push(pipeline.clone());
        }
        for (t, share) in &dist.tag_share {
            if t != "safetensors" && r.random_bool(share.clamp(0.0, 1.0)) {
                tags.push(t.clone());
            }
        }
        if r.random_bool(0.6) {
            tags.push(pick(&dist.language, &mut r).to_string());
        }
        let base = if r.random_bool(0.3) && i > 0 {
            let j = r.random_range(0..i);
            Some(format!("org{:05}/base-{j:x}", j as u64 % AUTHOR_POOL))
        } else {
            None
        };
        if let Some(b) = &base {
            tags.push(format!("base_model:{b}"));
            tags.push(format!("base_model:finetune:{b}"));
        }
        if !license.is_empty() {
            tags.push(format!("license:{license}"));
        }
        tags.push("region:us".into());
        let gated = if r.random_bool(0.04) {
            Value::String(if r.random_bool(0.5) { "manual" } else { "auto" }.into())
        } else {
            Value::Bool(false)
        };
        let params_total: u64 = (10f64.powf(r.random_range(6.5..11.0))) as u64;
        let dtype = ["BF16", "F32", "F16"][r.random_range(0..3)];
        let params = vec![(dtype.to_string(), params_total)];
        let sha: String = (0..40)
            .map(|_| char::from_digit(r.random_range(0..16), 16).unwrap_or('0'))
            .collect();
        let oid: String = (0..24)
            .map(|_| char::from_digit(r.random_range(0..16), 16).unwrap_or('0'))
            .collect();

        let mut o = Map::new();
        o.insert("_id".into(), oid.into());
        o.insert("id".into(), id.clone().into());
        o.insert("private".into(), false.into());
        o.insert(
            "pipeline_tag".into(),
            if pipeline.is_empty() {
                Value::Null
            } else {
                pipeline.clone().into()
            },
        );
        o.insert(
            "library_name".into(),
            if library.is_empty() {
                Value::Null
            } else {
                library.clone().into()
            },
        );
        o.insert(
            "tags".into(),
            tags.iter().cloned().map(Value::String).collect(),
        );
        o.insert("downloads".into(), downloads.into());
        o.insert("likes".into(), likes.into());
        o.insert("modelId".into(), id.clone().into());
        o.insert("author".into(), author.clone().into());
        o.insert("sha".into(), sha.into());
        o.insert("lastModified".into(), iso(modified).into());
        o.insert("gated".into(), gated);
        o.insert("disabled".into(), false.into());
        let mut config = Map::new();
        config.insert(
            "architectures".into(),
            vec![Value::String(arch.into())].into(),
        );
        config.insert("model_type".into(), model_type.into());
        o.insert("config".into(), config.into());
        let mut card = Map::new();
        if !license.is_empty() {
            card.insert("license".into(), license.clone().into());
        }
        if let Some(b) = &base {
            card.insert("base_model".into(), b.clone().into());
        }
        o.insert("cardData".into(), card.into());
        let mut sib = vec![".gitattributes", "README.md", "config.json"];
        if has_st {
            sib.push("model.safetensors");
        }
        o.insert(
            "siblings".into(),
            sib.iter()
                .map(|f| serde_json::json!({ "rfilename": f }))
                .collect(),
        );
        o.insert(
            "createdAt".into(),
            created
                .map(iso)
                .unwrap_or_else(|| PLACEHOLDER_CREATED_AT.into())
                .into(),
        );
        if has_st {
            o.insert(
                "safetensors".into(),
                serde_json::json!({ "parameters": { dtype: params_total }, "total": params_total }),
            );
        }
        o.insert("downloadsAllTime".into(), all_time.into());
        o.insert("trendingScore".into(), (trending as u64).into());
        let files = GenFiles {
            license,
            architecture: Some(arch.to_string()),
            model_type: Some(model_type.to_string()),
            params: if has_st { params } else { Vec::new() },
        };
        if let Some(m) = SimModel::from_object(&o, Some(files)) {
            out.push(m);
        }
    }
    Ok(out)
}

/// The declared 7B-class repository served by every simulator (listed in the
/// generated population): see [`crate::repo::LLAMA2_7B_SIM_ID`].
pub fn declared_models() -> Vec<SimModel> {
    let id = crate::repo::LLAMA2_7B_SIM_ID;
    let o = serde_json::json!({
        "_id": "65f0000000000000000007b0",
        "id": id,
        "private": false,
        "pipeline_tag": "text-generation",
        "library_name": "transformers",
        "tags": ["transformers", "safetensors", "llama", "text-generation", "en", "license:llama2", "region:us"],
        "downloads": 1000,
        "likes": 10,
        "modelId": id,
        "author": "cambrian-sim",
        "sha": "0000000000000000000000000000000000007b00",
        "lastModified": "2024-01-01T00:00:00.000Z",
        "gated": false,
        "disabled": false,
        "config": { "architectures": ["LlamaForCausalLM"], "model_type": "llama" },
        "cardData": { "license": "llama2" },
        "siblings": crate::repo::LLAMA2_FILES.iter().map(|f| serde_json::json!({ "rfilename": f })).collect::<Vec<_>>(),
        "createdAt": "2024-01-01T00:00:00.000Z",
        "safetensors": { "parameters": { "F16": crate::repo::llama2_param_count() }, "total": crate::repo::llama2_param_count() },
        "downloadsAllTime": 5000,
        "trendingScore": 1
    });
    o.as_object()
        .and_then(|o| SimModel::from_object(o, None))
        .into_iter()
        .collect()
}

/// Loads the real population under `dir` (see docs/hub.md "Populations").
pub fn load_dir(dir: &Path) -> Result<Vec<SimModel>, SimError> {
    let mut files = Vec::new();
    collect_json(dir, 0, &mut files)?;
    files.sort();
    // id → (priority, object). Later snapshots override earlier ones; a full
    // model_info record (priority 2) wins over listing items (priority 1).
    let mut by_id: HashMap<String, (u8, Map<String, Value>)> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut put =
        |o: Map<String, Value>, prio: u8, by_id: &mut HashMap<String, (u8, Map<String, Value>)>| {
            let Some(id) = o.get("id").and_then(Value::as_str).map(str::to_string) else {
                return;
            };
            match by_id.get(&id) {
                Some((p, _)) if *p > prio => {}
                Some(_) => {
                    by_id.insert(id, (prio, o));
                }
                None => {
                    order.push(id.clone());
                    by_id.insert(id, (prio, o));
                }
            }
        };
    for f in &files {
        let text = std::fs::read(f).map_err(|e| SimError::Data(format!("{}: {e}", f.display())))?;
        let v: Value = serde_json::from_slice(&text)
            .map_err(|e| SimError::Data(format!("{}: {e}", f.display())))?;
        match v {
            Value::Object(mut o) if o.get("models").is_some_and(Value::is_array) => {
                if let Some(Value::Array(items)) = o.remove("models") {
                    for it in items {
                        if let Value::Object(m) = it {
                            put(m, 1, &mut by_id);
                        }
                    }
                }
            }
            Value::Object(o) if o.get("id").is_some_and(Value::is_string) => put(o, 2, &mut by_id),
            Value::Object(o) if o.values().any(|x| x.get("repoData").is_some()) => {
                // /api/trending format: {id: {repoData: {...}}}
                for (_, x) in o {
                    if let Some(Value::Object(m)) = x.get("repoData").cloned() {
                        put(m, 1, &mut by_id);
                    }
                }
            }
            Value::Array(items) => {
                for it in items {
                    if let Value::Object(m) = it {
                        put(m, 1, &mut by_id);
                    }
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::with_capacity(order.len());
    for id in order {
        if let Some((_, o)) = by_id.remove(&id)
            && let Some(m) = SimModel::from_object(&o, None)
        {
            out.push(m);
        }
    }
    Ok(out)
}

fn collect_json(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), SimError> {
    if depth > 6 {
        return Ok(());
    }
    let rd =
        std::fs::read_dir(dir).map_err(|e| SimError::Data(format!("{}: {e}", dir.display())))?;
    for entry in rd.flatten() {
        let p = entry.path();
        if p.is_dir() {
            if depth == 0 && p.file_name().is_some_and(|n| n == "repos") {
                continue; // repository files, served by /resolve/
            }
            collect_json(&p, depth + 1, out)?;
        } else if p.extension().is_some_and(|e| e == "json")
            && !p
                .file_name()
                .is_some_and(|n| n == "INDEX.json" || n.to_string_lossy().starts_with('.'))
        {
            out.push(p);
        }
    }
    Ok(())
}
