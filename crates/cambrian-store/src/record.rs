//! How a [`ModelRecord`] is split for storage: the volatile counters go to
//! integer columns of `row`; everything else is the record's *detail*,
//! serialised as compact JSON and stored once per change. Also the
//! derivation of a model's base-model family.

use crate::error::StoreError;
use crate::packed::Fp;
use cambrian_types::{GgufInfo, ModelRecord, SafetensorsInfo};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Serialize)]
struct DetailRef<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    author: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sha: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created_at: &'a Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_modified: &'a Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pipeline_tag: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    library_name: &'a Option<String>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    tags: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    license: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    license_name: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gated: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    safetensors: &'a Option<SafetensorsInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gguf: &'a Option<GgufInfo>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    architectures: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    model_type: &'a Option<String>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    base_models: &'a [String],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    siblings: &'a [String],
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DetailOwned {
    author: Option<String>,
    sha: Option<String>,
    created_at: Option<DateTime<Utc>>,
    last_modified: Option<DateTime<Utc>>,
    pipeline_tag: Option<String>,
    library_name: Option<String>,
    tags: Vec<String>,
    license: Option<String>,
    license_name: Option<String>,
    gated: Option<String>,
    safetensors: Option<SafetensorsInfo>,
    gguf: Option<GgufInfo>,
    architectures: Vec<String>,
    model_type: Option<String>,
    base_models: Vec<String>,
    siblings: Vec<String>,
}

/// Serialise the non-volatile part of `m` into `out` (cleared first).
pub(crate) fn encode_detail(m: &ModelRecord, out: &mut Vec<u8>) -> Result<(), StoreError> {
    out.clear();
    let d = DetailRef {
        author: &m.author,
        sha: &m.sha,
        created_at: &m.created_at,
        last_modified: &m.last_modified,
        pipeline_tag: &m.pipeline_tag,
        library_name: &m.library_name,
        tags: &m.tags,
        license: &m.license,
        license_name: &m.license_name,
        gated: &m.gated,
        safetensors: &m.safetensors,
        gguf: &m.gguf,
        architectures: &m.architectures,
        model_type: &m.model_type,
        base_models: &m.base_models,
        siblings: &m.siblings,
    };
    serde_json::to_writer(out, &d)
        .map_err(|e| StoreError::BadInput(format!("cannot encode model {}: {e}", m.id)))
}

/// A stable fingerprint of the non-volatile part of `m` (exactly the fields
/// [`encode_detail`] writes), computed from the fields without serialising:
/// the writer compares it with the fingerprint of the model's latest stored
/// detail and serialises + stores a new detail only when they differ.
pub(crate) fn detail_fingerprint(m: &ModelRecord, scratch: &mut Vec<u8>) -> i64 {
    let mut f = Fp::new(scratch);
    detail_fields(m, &mut f);
    f.finish()
}

/// Every field of `m` (id, counters, detail), length-prefixed, into `buf`
/// (cleared first): the input of [`crate::content_hash`].
pub(crate) fn content_fields(m: &ModelRecord, buf: &mut Vec<u8>) {
    let mut f = Fp::new(buf);
    f.str(&m.id);
    f.opt_u64(m.likes);
    f.opt_u64(m.downloads_30d);
    f.opt_u64(m.downloads_all_time);
    f.opt_u64(m.trending_score.map(f64::to_bits));
    detail_fields(m, &mut f);
}

fn detail_fields(m: &ModelRecord, f: &mut Fp<'_>) {
    f.opt_str(m.author.as_deref());
    f.opt_str(m.sha.as_deref());
    for t in [&m.created_at, &m.last_modified] {
        match t {
            None => f.opt_u64(None),
            Some(t) => {
                f.opt_u64(Some(t.timestamp() as u64));
                f.u64(u64::from(t.timestamp_subsec_nanos()));
            }
        }
    }
    f.opt_str(m.pipeline_tag.as_deref());
    f.opt_str(m.library_name.as_deref());
    f.list(&m.tags);
    f.opt_str(m.license.as_deref());
    f.opt_str(m.license_name.as_deref());
    f.opt_str(m.gated.as_deref());
    match &m.safetensors {
        None => f.opt_u64(None),
        Some(s) => {
            f.opt_u64(Some(s.parameters.len() as u64));
            for (k, v) in &s.parameters {
                f.str(k);
                f.u64(*v);
            }
            f.u64(s.total);
        }
    }
    match &m.gguf {
        None => f.opt_u64(None),
        Some(g) => {
            f.opt_u64(Some(1));
            f.opt_u64(g.total);
            f.opt_str(g.architecture.as_deref());
            f.opt_u64(g.context_length);
        }
    }
    f.list(&m.architectures);
    f.opt_str(m.model_type.as_deref());
    f.list(&m.base_models);
    f.list(&m.siblings);
}

/// The stored counters of one row.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Counters {
    pub likes: Option<u64>,
    pub downloads_30d: Option<u64>,
    pub downloads_all_time: Option<u64>,
    pub trending_score: Option<f64>,
}

/// The listing fields of a stored detail (see `Store::snapshot_listing`);
/// every other field is skipped by the parser without being allocated.
#[derive(Deserialize, Default)]
#[serde(default)]
struct DetailListing {
    author: Option<String>,
    pipeline_tag: Option<String>,
    library_name: Option<String>,
    license: Option<String>,
    license_name: Option<String>,
    gated: Option<String>,
}

/// Parse a stored detail of model `id` as `T` (a corrupt one is `BadInput`).
fn parse_detail<T: serde::de::DeserializeOwned>(id: &str, detail: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(detail)
        .map_err(|e| StoreError::BadInput(format!("stored detail of model {id} is corrupt: {e}")))
}

/// A record with only its listing fields, from its id, detail JSON and counters.
pub(crate) fn decode_listing(
    id: String,
    detail: &[u8],
    c: Counters,
) -> Result<ModelRecord, StoreError> {
    let d: DetailListing = parse_detail(&id, detail)?;
    Ok(ModelRecord {
        id,
        author: d.author,
        downloads_30d: c.downloads_30d,
        downloads_all_time: c.downloads_all_time,
        likes: c.likes,
        trending_score: c.trending_score,
        pipeline_tag: d.pipeline_tag,
        library_name: d.library_name,
        license: d.license,
        license_name: d.license_name,
        gated: d.gated,
        ..Default::default()
    })
}

/// Rebuild a record from its id, detail JSON and counters.
pub(crate) fn decode_record(
    id: String,
    detail: &[u8],
    c: Counters,
) -> Result<ModelRecord, StoreError> {
    let d: DetailOwned = parse_detail(&id, detail)?;
    Ok(ModelRecord {
        id,
        author: d.author,
        sha: d.sha,
        created_at: d.created_at,
        last_modified: d.last_modified,
        downloads_30d: c.downloads_30d,
        downloads_all_time: c.downloads_all_time,
        likes: c.likes,
        trending_score: c.trending_score,
        pipeline_tag: d.pipeline_tag,
        library_name: d.library_name,
        tags: d.tags,
        license: d.license,
        license_name: d.license_name,
        gated: d.gated,
        safetensors: d.safetensors,
        gguf: d.gguf,
        architectures: d.architectures,
        model_type: d.model_type,
        base_models: d.base_models,
        siblings: d.siblings,
    })
}

/// The base-model family of a record: its first base model (from
/// `base_model:*` tags or card data, as the Hub client filled
/// `base_models`), falling back to `base_model:` tags, reduced to
/// `owner/name-prefix` by cutting the name before its first size token
/// (`7B`, `0.5b`, `82M`, `8x7B`) and dropping a trailing `-` or `_`.
///
/// `Qwen/Qwen2.5-7B-Instruct` → `Qwen/Qwen2.5`, `meta-llama/Llama-3.1-8B` →
/// `meta-llama/Llama-3.1`, `openai/whisper-large-v3` (no size token) →
/// unchanged. `None` when the record names no base model.
pub fn base_family(m: &ModelRecord) -> Option<String> {
    base_of(m).map(family_of)
}

/// The trimmed, non-empty base model id [`base_family`] reduces.
pub(crate) fn base_of(m: &ModelRecord) -> Option<&str> {
    let base = m.base_models.first().map(String::as_str).or_else(|| {
        m.tags.iter().find_map(|t| {
            let rest = t.strip_prefix("base_model:")?;
            // `base_model:finetune:owner/name` and friends carry a relation.
            Some(match rest.split_once(':') {
                Some((_, id)) => id,
                None => rest,
            })
        })
    })?;
    let base = base.trim();
    (!base.is_empty()).then_some(base)
}

/// Reduce a model id to its family (see [`base_family`]).
pub fn family_of(id: &str) -> String {
    let (owner, name) = match id.rsplit_once('/') {
        Some((o, n)) => (Some(o), n),
        None => (None, id),
    };
    let mut cut = name.len();
    for (start, _) in name.match_indices(['-', '_', '.']) {
        let token = &name[start + 1..];
        let token = token.split(['-', '_']).next().unwrap_or("");
        if is_size_token(token) {
            cut = start;
            break;
        }
    }
    let stem = name[..cut].trim_end_matches(['-', '_', '.']);
    let stem = if stem.is_empty() { name } else { stem };
    match owner {
        Some(o) => format!("{o}/{stem}"),
        None => stem.to_string(),
    }
}

fn is_size_token(t: &str) -> bool {
    let lower = t.to_ascii_lowercase();
    let body = match lower.strip_suffix('b').or_else(|| lower.strip_suffix('m')) {
        Some(b) => b,
        None => return false,
    };
    // `8x7` (mixture of experts) or `0.5` or `70`.
    let body = match body.split_once('x') {
        Some((n, s)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => s,
        _ => body,
    };
    !body.is_empty()
        && body.bytes().next().is_some_and(|b| b.is_ascii_digit())
        && body.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_cuts_at_the_size_token() {
        assert_eq!(family_of("Qwen/Qwen2.5-7B-Instruct"), "Qwen/Qwen2.5");
        assert_eq!(family_of("meta-llama/Llama-3.1-8B"), "meta-llama/Llama-3.1");
        assert_eq!(
            family_of("mistralai/Mixtral-8x7B-v0.1"),
            "mistralai/Mixtral"
        );
        assert_eq!(family_of("Qwen/Qwen2.5-0.5B"), "Qwen/Qwen2.5");
        assert_eq!(family_of("hexgrad/Kokoro-82M"), "hexgrad/Kokoro");
        assert_eq!(
            family_of("openai/whisper-large-v3"),
            "openai/whisper-large-v3"
        );
        assert_eq!(family_of("gpt2"), "gpt2");
        assert_eq!(
            family_of("Qwen/Qwen3-VL-235B-A22B-Instruct"),
            "Qwen/Qwen3-VL"
        );
    }

    #[test]
    fn family_from_tags_when_base_models_is_empty() {
        let m = ModelRecord {
            id: "x/y".into(),
            tags: vec!["base_model:finetune:google/gemma-2-9b".into()],
            ..Default::default()
        };
        assert_eq!(base_family(&m).as_deref(), Some("google/gemma-2"));
        assert_eq!(base_family(&ModelRecord::default()), None);
    }

    #[test]
    fn detail_round_trips() {
        let m = ModelRecord {
            id: "a/b".into(),
            author: Some("a".into()),
            likes: Some(3),
            tags: vec!["t".into()],
            pipeline_tag: Some("text-generation".into()),
            ..Default::default()
        };
        let mut buf = Vec::new();
        encode_detail(&m, &mut buf).unwrap();
        let c = Counters {
            likes: Some(3),
            ..Default::default()
        };
        assert_eq!(decode_record("a/b".into(), &buf, c).unwrap(), m);
    }
}
