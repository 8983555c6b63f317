//! How a [`ModelRecord`] is split for storage: the volatile counters go to
//! the packed rows; everything else is the record's *detail*, stored once
//! per change. Details are written in a compact binary form (schema v5,
//! first byte [`BIN_V1`]); details written by schema v1–v4 are compact JSON
//! (first byte `{`) and stay readable. Also the derivation of a model's
//! base-model family.

use crate::error::StoreError;
use crate::packed::Fp;
use cambrian_types::{GgufInfo, ModelRecord, SafetensorsInfo};
use chrono::{DateTime, Utc};
use serde::Deserialize;
#[cfg(test)]
use serde::Serialize;

/// The JSON detail of schema v1–v4 (tests write old-form details with it).
#[cfg(test)]
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

/// First byte of a binary detail. A JSON detail (schema v1–v4) starts with `{`.
pub(crate) const BIN_V1: u8 = 0xB1;

/// Serialise the non-volatile part of `m` into `out` (cleared first), in the
/// binary form: [`BIN_V1`], then the fields in a fixed order — strings as
/// LEB128 length + UTF-8 bytes (an optional string: 0 = absent, else
/// length + 1), lists as count + strings, optional integers as a 0/1 byte +
/// LEB128, instants as zigzag seconds + nanoseconds. About half the bytes of
/// the JSON form, and no formatting.
pub(crate) fn encode_detail(m: &ModelRecord, out: &mut Vec<u8>) {
    out.clear();
    out.push(BIN_V1);
    walk_detail(m, &mut BinWriter(out));
}

/// Where the detail fields go, in [`walk_detail`]'s order: the binary
/// encoder and the fingerprint read the same fields through it, so the
/// fingerprint covers exactly what is stored.
trait DetailSink {
    fn opt_str(&mut self, s: Option<&str>);
    fn list(&mut self, v: &[String]);
    fn opt_time(&mut self, t: Option<&DateTime<Utc>>);
    fn safetensors(&mut self, s: Option<&SafetensorsInfo>);
    fn gguf(&mut self, g: Option<&GgufInfo>);
}

/// The detail fields of `m`, in their stored order.
fn walk_detail(m: &ModelRecord, w: &mut impl DetailSink) {
    w.opt_str(m.author.as_deref());
    w.opt_str(m.sha.as_deref());
    w.opt_time(m.created_at.as_ref());
    w.opt_time(m.last_modified.as_ref());
    w.opt_str(m.pipeline_tag.as_deref());
    w.opt_str(m.library_name.as_deref());
    w.list(&m.tags);
    w.opt_str(m.license.as_deref());
    w.opt_str(m.license_name.as_deref());
    w.opt_str(m.gated.as_deref());
    w.safetensors(m.safetensors.as_ref());
    w.gguf(m.gguf.as_ref());
    w.list(&m.architectures);
    w.opt_str(m.model_type.as_deref());
    w.list(&m.base_models);
    w.list(&m.siblings);
}

struct BinWriter<'a>(&'a mut Vec<u8>);

impl BinWriter<'_> {
    #[inline]
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }
    #[inline]
    fn str(&mut self, s: &str) {
        self.varint(s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
    }
    fn opt_u64(&mut self, v: Option<u64>) {
        match v {
            None => self.0.push(0),
            Some(v) => {
                self.0.push(1);
                self.varint(v);
            }
        }
    }
}

impl DetailSink for BinWriter<'_> {
    #[inline]
    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            None => self.0.push(0),
            Some(s) => {
                self.varint(s.len() as u64 + 1);
                self.0.extend_from_slice(s.as_bytes());
            }
        }
    }
    fn list(&mut self, v: &[String]) {
        self.varint(v.len() as u64);
        for s in v {
            self.str(s);
        }
    }
    fn opt_time(&mut self, t: Option<&DateTime<Utc>>) {
        match t {
            None => self.0.push(0),
            Some(t) => {
                self.0.push(1);
                let secs = t.timestamp();
                self.varint(((secs << 1) ^ (secs >> 63)) as u64);
                self.varint(u64::from(t.timestamp_subsec_nanos()));
            }
        }
    }
    fn safetensors(&mut self, s: Option<&SafetensorsInfo>) {
        let Some(st) = s else { return self.0.push(0) };
        self.0.push(1);
        self.varint(st.parameters.len() as u64);
        for (k, v) in &st.parameters {
            self.str(k);
            self.varint(*v);
        }
        self.varint(st.total);
    }
    fn gguf(&mut self, g: Option<&GgufInfo>) {
        let Some(g) = g else { return self.0.push(0) };
        self.0.push(1);
        self.opt_u64(g.total);
        self.opt_str(g.architecture.as_deref());
        self.opt_u64(g.context_length);
    }
}

/// Reads a binary detail; every read is checked against the end (a corrupt
/// or truncated detail is an error naming the model, never a panic).
struct BinReader<'a> {
    buf: &'a [u8],
    pos: usize,
    id: &'a str,
}

impl<'a> BinReader<'a> {
    fn corrupt(&self, what: &str) -> StoreError {
        StoreError::BadInput(format!(
            "stored detail of model {} is corrupt: {what} at byte {}",
            self.id, self.pos
        ))
    }
    fn byte(&mut self, what: &str) -> Result<u8, StoreError> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or_else(|| self.corrupt(&format!("it ends inside {what}")))?;
        self.pos += 1;
        Ok(b)
    }
    fn flag(&mut self, what: &str) -> Result<bool, StoreError> {
        match self.byte(what)? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(self.corrupt(&format!("presence byte {b} of {what}"))),
        }
    }
    fn varint(&mut self, what: &str) -> Result<u64, StoreError> {
        let mut v = 0u64;
        let mut shift = 0u32;
        loop {
            let b = self.byte(what)?;
            if shift >= 64 || (shift == 63 && b > 1) {
                return Err(self.corrupt(&format!("over-long number in {what}")));
            }
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
            shift += 7;
        }
    }
    fn bytes(&mut self, n: u64, what: &str) -> Result<&'a str, StoreError> {
        let end = usize::try_from(n)
            .ok()
            .and_then(|n| self.pos.checked_add(n))
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| self.corrupt(&format!("{what} runs past the end")))?;
        let s = std::str::from_utf8(&self.buf[self.pos..end])
            .map_err(|_| self.corrupt(&format!("{what} is not UTF-8")))?;
        self.pos = end;
        Ok(s)
    }
    fn str(&mut self, what: &str) -> Result<&'a str, StoreError> {
        let n = self.varint(what)?;
        self.bytes(n, what)
    }
    fn opt_str(&mut self, what: &str) -> Result<Option<String>, StoreError> {
        match self.varint(what)? {
            0 => Ok(None),
            n => Ok(Some(self.bytes(n - 1, what)?.to_string())),
        }
    }
    /// A list of strings; with `keep = false` it is read past (checked, not allocated).
    fn list(&mut self, what: &str, keep: bool) -> Result<Vec<String>, StoreError> {
        let n = self.varint(what)?;
        // Each element takes at least one byte: a corrupt count cannot reserve much.
        let room = (self.buf.len() - self.pos) as u64;
        if n > room {
            return Err(self.corrupt(&format!("{what} claims {n} elements")));
        }
        let mut out = Vec::with_capacity(if keep { n as usize } else { 0 });
        for _ in 0..n {
            let s = self.str(what)?;
            if keep {
                out.push(s.to_string());
            }
        }
        Ok(out)
    }
    fn opt_u64(&mut self, what: &str) -> Result<Option<u64>, StoreError> {
        if self.flag(what)? {
            Ok(Some(self.varint(what)?))
        } else {
            Ok(None)
        }
    }
    fn opt_time(&mut self, what: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        if !self.flag(what)? {
            return Ok(None);
        }
        let z = self.varint(what)?;
        let secs = ((z >> 1) as i64) ^ -((z & 1) as i64);
        let nanos = u32::try_from(self.varint(what)?)
            .map_err(|_| self.corrupt(&format!("nanoseconds of {what}")))?;
        DateTime::from_timestamp(secs, nanos)
            .map(Some)
            .ok_or_else(|| self.corrupt(&format!("{what} is not a valid instant")))
    }
}

/// Decode a binary detail (after [`BIN_V1`]). With `lean`, the string lists
/// and `sha` are read past without being allocated (the listing needs neither).
fn decode_bin(id: &str, detail: &[u8], lean: bool) -> Result<DetailOwned, StoreError> {
    let mut r = BinReader {
        buf: detail,
        pos: 1,
        id,
    };
    let mut d = DetailOwned {
        author: r.opt_str("author")?,
        ..Default::default()
    };
    let sha = r.opt_str("sha")?;
    if !lean {
        d.sha = sha;
    }
    d.created_at = r.opt_time("created_at")?;
    d.last_modified = r.opt_time("last_modified")?;
    d.pipeline_tag = r.opt_str("pipeline_tag")?;
    d.library_name = r.opt_str("library_name")?;
    d.tags = r.list("tags", !lean)?;
    d.license = r.opt_str("license")?;
    d.license_name = r.opt_str("license_name")?;
    d.gated = r.opt_str("gated")?;
    if r.flag("safetensors")? {
        let n = r.varint("safetensors")?;
        let mut st = SafetensorsInfo::default();
        for _ in 0..n {
            let k = r.str("safetensors dtype")?.to_string();
            let v = r.varint("safetensors count")?;
            st.parameters.insert(k, v);
        }
        st.total = r.varint("safetensors total")?;
        d.safetensors = Some(st);
    }
    if r.flag("gguf")? {
        d.gguf = Some(GgufInfo {
            total: r.opt_u64("gguf total")?,
            architecture: r.opt_str("gguf architecture")?,
            context_length: r.opt_u64("gguf context_length")?,
        });
    }
    d.architectures = r.list("architectures", !lean)?;
    d.model_type = r.opt_str("model_type")?;
    d.base_models = r.list("base_models", !lean)?;
    d.siblings = r.list("siblings", !lean)?;
    if r.pos != detail.len() {
        return Err(r.corrupt("trailing bytes"));
    }
    Ok(d)
}

/// Serialise the non-volatile part of `m` as JSON, the detail form of schema
/// v1–v4 (tests write old-form details with it).
#[cfg(test)]
pub(crate) fn encode_detail_json(m: &ModelRecord, out: &mut Vec<u8>) -> Result<(), StoreError> {
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
    walk_detail(m, f);
}

/// The fingerprint's encoding of the fields (fixed: stored fingerprints
/// were computed with it; a test pins a value).
impl DetailSink for Fp<'_> {
    fn opt_str(&mut self, s: Option<&str>) {
        Fp::opt_str(self, s);
    }
    fn list(&mut self, v: &[String]) {
        Fp::list(self, v);
    }
    fn opt_time(&mut self, t: Option<&DateTime<Utc>>) {
        match t {
            None => self.opt_u64(None),
            Some(t) => {
                self.opt_u64(Some(t.timestamp() as u64));
                self.u64(u64::from(t.timestamp_subsec_nanos()));
            }
        }
    }
    fn safetensors(&mut self, s: Option<&SafetensorsInfo>) {
        match s {
            None => self.opt_u64(None),
            Some(s) => {
                self.opt_u64(Some(s.parameters.len() as u64));
                for (k, v) in &s.parameters {
                    self.str(k);
                    self.u64(*v);
                }
                self.u64(s.total);
            }
        }
    }
    fn gguf(&mut self, g: Option<&GgufInfo>) {
        match g {
            None => self.opt_u64(None),
            Some(g) => {
                self.opt_u64(Some(1));
                self.opt_u64(g.total);
                Fp::opt_str(self, g.architecture.as_deref());
                self.opt_u64(g.context_length);
            }
        }
    }
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

/// Parse a stored JSON detail (schema v1–v4) of model `id` as `T` (a corrupt one is `BadInput`).
fn parse_detail<T: serde::de::DeserializeOwned>(id: &str, detail: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(detail)
        .map_err(|e| StoreError::BadInput(format!("stored detail of model {id} is corrupt: {e}")))
}

impl From<DetailListing> for DetailOwned {
    fn from(d: DetailListing) -> Self {
        DetailOwned {
            author: d.author,
            pipeline_tag: d.pipeline_tag,
            library_name: d.library_name,
            license: d.license,
            license_name: d.license_name,
            gated: d.gated,
            ..Default::default()
        }
    }
}

/// A stored detail of either form; with `lean`, its listing fields only.
fn detail_of(id: &str, detail: &[u8], lean: bool) -> Result<DetailOwned, StoreError> {
    match (detail.first() == Some(&BIN_V1), lean) {
        (true, false) => decode_bin(id, detail, false),
        (true, true) => {
            let d = decode_bin(id, detail, true)?;
            Ok(DetailListing {
                author: d.author,
                pipeline_tag: d.pipeline_tag,
                library_name: d.library_name,
                license: d.license,
                license_name: d.license_name,
                gated: d.gated,
            }
            .into())
        }
        (false, true) => parse_detail::<DetailListing>(id, detail).map(Into::into),
        (false, false) => parse_detail(id, detail),
    }
}

/// The fingerprint ([`detail_fingerprint`]) of a stored detail of either form.
pub(crate) fn stored_fingerprint(
    id: &str,
    detail: &[u8],
    scratch: &mut Vec<u8>,
) -> Result<i64, StoreError> {
    let m = decode_record(id.to_string(), detail, Counters::default())?;
    Ok(detail_fingerprint(&m, scratch))
}

/// A record with only its listing fields, from its id, stored detail and counters.
pub(crate) fn decode_listing(
    id: String,
    detail: &[u8],
    c: Counters,
) -> Result<ModelRecord, StoreError> {
    let d = detail_of(&id, detail, true)?;
    Ok(record_from(id, d, c))
}

/// Rebuild a record from its id, stored detail and counters.
pub(crate) fn decode_record(
    id: String,
    detail: &[u8],
    c: Counters,
) -> Result<ModelRecord, StoreError> {
    let d = detail_of(&id, detail, false)?;
    Ok(record_from(id, d, c))
}

fn record_from(id: String, d: DetailOwned, c: Counters) -> ModelRecord {
    ModelRecord {
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
    }
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

    /// Records that exercise every field and its edge cases.
    fn varied() -> Vec<ModelRecord> {
        use chrono::TimeZone;
        let t = |secs: i64, nanos: u32| Utc.timestamp_opt(secs, nanos).single().unwrap();
        let full = ModelRecord {
            id: "meta-llama/Llama-3.1-8B-Instruct".into(),
            author: Some("meta-llama".into()),
            sha: Some("0e9e39f249a16976918f6564b8830bc894c89659".into()),
            created_at: Some(t(1_721_260_800, 0)),
            last_modified: Some(t(1_727_000_000, 123_000_000)),
            pipeline_tag: Some("text-generation".into()),
            library_name: Some("transformers".into()),
            tags: vec![
                "transformers".into(),
                "safetensors".into(),
                "license:llama3.1".into(),
                "région:ü 🦙".into(),
                String::new(),
            ],
            license: Some("llama3.1".into()),
            license_name: Some("".into()),
            gated: Some("manual".into()),
            safetensors: Some(SafetensorsInfo {
                parameters: [
                    ("BF16".to_string(), 8_030_261_248u64),
                    ("F32".to_string(), u64::MAX),
                ]
                .into_iter()
                .collect(),
                total: 8_030_261_248,
            }),
            gguf: Some(GgufInfo {
                total: Some(1),
                architecture: Some("llama".into()),
                context_length: None,
            }),
            architectures: vec!["LlamaForCausalLM".into()],
            model_type: Some("llama".into()),
            base_models: vec!["meta-llama/Llama-3.1-8B".into()],
            siblings: vec![
                "config.json".into(),
                "model-00001-of-00004.safetensors".into(),
            ],
            ..Default::default()
        };
        let mut out = vec![
            ModelRecord {
                id: "bare".into(),
                ..Default::default()
            },
            full.clone(),
        ];
        // Instants before 1970, with nanoseconds, and a leap second.
        out.push(ModelRecord {
            created_at: Some(t(-86_400 * 365, 999_999_999)),
            last_modified: Some(t(1_483_228_799, 1_500_000_000)),
            ..full.clone()
        });
        out.push(ModelRecord {
            safetensors: Some(SafetensorsInfo::default()),
            gguf: Some(GgufInfo::default()),
            ..Default::default()
        });
        out.push(ModelRecord {
            tags: (0..300)
                .map(|i| format!("tag-{i}-{}", "x".repeat(i % 200)))
                .collect(),
            ..full
        });
        out
    }

    #[test]
    fn binary_detail_round_trips_and_agrees_with_the_json_form() {
        let c = Counters {
            likes: Some(7),
            downloads_30d: None,
            downloads_all_time: Some(1),
            trending_score: Some(-0.5),
        };
        let (mut bin, mut json, mut scratch) = (Vec::new(), Vec::new(), Vec::new());
        for m in varied() {
            let mut m = m;
            (
                m.likes,
                m.downloads_30d,
                m.downloads_all_time,
                m.trending_score,
            ) = (
                c.likes,
                c.downloads_30d,
                c.downloads_all_time,
                c.trending_score,
            );
            encode_detail(&m, &mut bin);
            encode_detail_json(&m, &mut json).unwrap();
            assert_eq!(bin[0], BIN_V1);
            assert_eq!(json[0], b'{');
            for form in [&bin, &json] {
                assert_eq!(decode_record(m.id.clone(), form, c).unwrap(), m, "{}", m.id);
                let lean = decode_listing(m.id.clone(), form, c).unwrap();
                assert_eq!(
                    (
                        &lean.author,
                        &lean.pipeline_tag,
                        &lean.library_name,
                        &lean.license,
                        &lean.license_name,
                        &lean.gated
                    ),
                    (
                        &m.author,
                        &m.pipeline_tag,
                        &m.library_name,
                        &m.license,
                        &m.license_name,
                        &m.gated
                    )
                );
                assert!(lean.tags.is_empty() && lean.siblings.is_empty());
                assert_eq!(
                    stored_fingerprint(&m.id, form, &mut scratch).unwrap(),
                    detail_fingerprint(&m, &mut scratch)
                );
            }
            // Smaller than JSON whenever there is something to store (an empty detail is
            // 17 bytes of absent-field markers vs `{}`).
            if json.len() > 64 {
                assert!(
                    bin.len() < json.len(),
                    "{}: {} vs {} bytes",
                    m.id,
                    bin.len(),
                    json.len()
                );
            }
        }
    }

    /// Fingerprints are stored in databases: for the same record they must
    /// never change (values computed before the field walk was shared with
    /// the binary encoder).
    #[test]
    fn detail_fingerprints_are_pinned() {
        let mut scratch = Vec::new();
        let got: Vec<i64> = varied()
            .iter()
            .map(|m| detail_fingerprint(m, &mut scratch))
            .collect();
        assert_eq!(
            got,
            [
                4294206713848494960,
                2964619045682643213,
                9126827267909292221,
                7405915766516210347,
                289132510160922846
            ]
        );
    }

    #[test]
    fn a_corrupt_binary_detail_is_an_error_never_a_panic() {
        let mut bin = Vec::new();
        for m in varied() {
            encode_detail(&m, &mut bin);
            // Every truncation.
            for cut in 1..bin.len() {
                let e = decode_record(m.id.clone(), &bin[..cut], Counters::default()).unwrap_err();
                assert!(e.to_string().contains("is corrupt"), "{e}");
                assert!(decode_listing(m.id.clone(), &bin[..cut], Counters::default()).is_err());
            }
            // Trailing bytes.
            let mut longer = bin.clone();
            longer.push(0);
            assert!(decode_record(m.id.clone(), &longer, Counters::default()).is_err());
            // Every single-byte change: decoded or refused, never a panic.
            for i in 1..bin.len().min(400) {
                for x in [0x00u8, 0x01, 0x7f, 0x80, 0xff] {
                    let mut b = bin.clone();
                    b[i] ^= x;
                    let _ = decode_record(m.id.clone(), &b, Counters::default());
                    let _ = decode_listing(m.id.clone(), &b, Counters::default());
                }
            }
        }
        // A huge claimed count or length cannot allocate or read past the end.
        for bad in [
            &[
                BIN_V1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
            ][..],
            &[BIN_V1, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x0f],
        ] {
            assert!(decode_record("x".into(), bad, Counters::default()).is_err());
        }
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
        encode_detail(&m, &mut buf);
        let c = Counters {
            likes: Some(3),
            ..Default::default()
        };
        assert_eq!(decode_record("a/b".into(), &buf, c).unwrap(), m);
    }
}
