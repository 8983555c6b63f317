//! Tolerant mapping of Hub JSON to [`ModelRecord`].
//!
//! Rules (also in `docs/hub.md`):
//! * Unknown fields are ignored. `null` means absent (no warning).
//! * A missing or non-string `id` rejects the record ([`ParseError`]); in a
//!   listing that item is skipped with an [`ItemWarning`].
//! * Any other field of the wrong type, or with an unusable value (negative
//!   count, unparsable date), becomes `None` / empty plus a [`FieldWarning`];
//!   a non-string element of a string list is dropped with a warning.
//! * `createdAt` equal to [`HUB_UNKNOWN_CREATED_AT`] maps to `None` (no warning).
//! * `downloads` → `downloads_30d`; `downloadsAllTime`, `likes` likewise.
//!   Counts must be non-negative integers (an integral float such as `12.0`
//!   is accepted).
//! * `license` = `cardData.license` (a string; for a list, its first string
//!   element) else the first `license:<id>` tag; `license_name` =
//!   `cardData.license_name`.
//! * `gated` = `"false"` for `false`, `"true"` for `true`, the string as-is
//!   (`"auto"`, `"manual"`).
//! * `safetensors` needs `parameters` (dtype → count); a missing `total` is
//!   the sum of `parameters` (with a warning saying so).
//! * `base_models` = the repo id at the end of each `base_model:…` tag
//!   (`base_model:org/x`, `base_model:finetune:org/x`,
//!   `base_model:quantized:org/x`, …), then `cardData.base_model` (string or
//!   list), de-duplicated in first-seen order.

use crate::error::{FieldWarning, ItemWarning, ParseError};
use cambrian_types::{GgufInfo, HUB_UNKNOWN_CREATED_AT, ModelRecord, SafetensorsInfo};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// A listing page's records and the problems tolerated while mapping them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedListing {
    pub models: Vec<ModelRecord>,
    pub item_warnings: Vec<ItemWarning>,
}

/// Maps a JSON array of model objects (one listing page). Items that are not
/// objects or lack a string `id` are skipped with a warning; field problems
/// become item warnings naming the field. Returns `Err` with a reason if the
/// value is not an array.
pub fn parse_listing(v: &Value) -> Result<ParsedListing, ParseError> {
    let Value::Array(items) = v else {
        return Err(ParseError {
            reason: format!("expected a JSON array of models, found {}", type_name(v)),
        });
    };
    let mut out = ParsedListing {
        models: Vec::with_capacity(items.len()),
        item_warnings: Vec::new(),
    };
    for (index, item) in items.iter().enumerate() {
        push_item(&mut out, index, parse_model(item));
    }
    Ok(out)
}

/// Maps the raw bytes of a listing page in one pass, without building a
/// [`Value`] tree: each item is read into a borrowed wire struct whose
/// fields accept any JSON value ([`Lax`]), then mapped by the same code as
/// [`parse_listing`] — so records, warnings and their texts are identical.
///
/// Returns `None` when the bytes are not a JSON array of objects that the
/// single pass can take (invalid JSON, a non-object item, a duplicate key,
/// not an array…); the caller then goes through [`Value`] and
/// [`parse_listing`], which report those cases exactly.
///
/// Each item is mapped as soon as it is read (no list of wire structs is
/// built first), and the body's UTF-8 is checked once up front rather than
/// string by string.
pub fn parse_listing_bytes(body: &[u8]) -> Option<ParsedListing> {
    let text = std::str::from_utf8(body).ok()?;
    let mut de = serde_json::Deserializer::from_str(text);
    let out = Deserializer::deserialize_seq(&mut de, PageVisitor).ok()?;
    de.end().ok()?;
    Some(out)
}

/// Reads a listing page's array item by item into a [`ParsedListing`].
struct PageVisitor;

impl<'de> Visitor<'de> for PageVisitor {
    type Value = ParsedListing;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON array of model objects")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ParsedListing, A::Error> {
        // A Hub page holds at most 1000 items; the hint (if any) comes from the input.
        let mut out = ParsedListing {
            models: Vec::with_capacity(seq.size_hint().unwrap_or(1000).min(1000)),
            item_warnings: Vec::new(),
        };
        let mut index = 0;
        while let Some(item) = seq.next_element::<Wire<'de>>()? {
            push_item(&mut out, index, map_wire(item));
            index += 1;
        }
        Ok(out)
    }
}

fn push_item(
    out: &mut ParsedListing,
    index: usize,
    r: Result<(ModelRecord, Vec<FieldWarning>), ParseError>,
) {
    match r {
        Ok((rec, warns)) => {
            for w in warns {
                out.item_warnings.push(ItemWarning {
                    index,
                    id: Some(rec.id.clone()),
                    field: Some(w.field),
                    reason: w.reason,
                });
            }
            out.models.push(rec);
        }
        Err(e) => out.item_warnings.push(ItemWarning {
            index,
            id: None,
            field: None,
            reason: format!("item skipped: {}", e.reason),
        }),
    }
}

/// Maps one model object (`/api/models/{id}` or a listing item).
pub fn parse_model(v: &Value) -> Result<(ModelRecord, Vec<FieldWarning>), ParseError> {
    if !v.is_object() {
        return Err(ParseError {
            reason: format!("expected a JSON object, found {}", type_name(v)),
        });
    }
    // Reading an object into `Wire` cannot fail: every field accepts any
    // value and a `Value` map has no duplicate keys.
    let wire = Wire::deserialize(v).map_err(|e| ParseError {
        reason: format!("unreadable record: {e}"),
    })?;
    map_wire(wire)
}

/// One JSON value as the lenient reader keeps it: the shapes the mapping
/// accepts stay cheap (strings borrowed from the input when unescaped);
/// objects are kept as a [`Value`], only to describe them in a warning.
#[derive(Debug, Default)]
enum Lax<'a> {
    #[default]
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    Str(Cow<'a, str>),
    Seq(Vec<Lax<'a>>),
    Map(Box<Value>),
}

impl<'de: 'a, 'a> Deserialize<'de> for Lax<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LaxVisitor)
    }
}

struct LaxVisitor;

impl<'de> Visitor<'de> for LaxVisitor {
    type Value = Lax<'de>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Lax<'de>, E> {
        Ok(Lax::Null)
    }
    fn visit_none<E>(self) -> Result<Lax<'de>, E> {
        Ok(Lax::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Lax<'de>, D::Error> {
        Lax::deserialize(d)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Lax<'de>, E> {
        Ok(Lax::Bool(b))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Lax<'de>, E> {
        Ok(Lax::U64(n))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Lax<'de>, E> {
        // serde_json hands non-negative integers to visit_u64; keep the same
        // split whatever the source.
        Ok(if n >= 0 {
            Lax::U64(n as u64)
        } else {
            Lax::I64(n)
        })
    }
    fn visit_f64<E>(self, n: f64) -> Result<Lax<'de>, E> {
        Ok(Lax::F64(n))
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Lax<'de>, E> {
        Ok(Lax::Str(Cow::Borrowed(s)))
    }
    fn visit_str<E>(self, s: &str) -> Result<Lax<'de>, E> {
        Ok(Lax::Str(Cow::Owned(s.to_string())))
    }
    fn visit_string<E>(self, s: String) -> Result<Lax<'de>, E> {
        Ok(Lax::Str(Cow::Owned(s)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Lax<'de>, A::Error> {
        // The size hint comes from the input: cap what is reserved up front.
        // Lists here are mostly `tags` (about 10 on the Hub).
        let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(16).min(64));
        while let Some(x) = seq.next_element::<Lax<'de>>()? {
            v.push(x);
        }
        Ok(Lax::Seq(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Lax<'de>, A::Error> {
        let v = Value::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
        Ok(Lax::Map(Box::new(v)))
    }
}

impl Lax<'_> {
    fn type_name(&self) -> &'static str {
        match self {
            Lax::Null => "null",
            Lax::Bool(_) => "a boolean",
            Lax::U64(_) | Lax::I64(_) | Lax::F64(_) => "a number",
            Lax::Str(_) => "a string",
            Lax::Seq(_) => "a list",
            Lax::Map(_) => "an object",
        }
    }

    /// The value as JSON, for warnings.
    fn to_value(&self) -> Value {
        match self {
            Lax::Null => Value::Null,
            Lax::Bool(b) => Value::Bool(*b),
            Lax::U64(n) => Value::from(*n),
            Lax::I64(n) => Value::from(*n),
            Lax::F64(n) => serde_json::Number::from_f64(*n)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            Lax::Str(s) => Value::String(s.to_string()),
            Lax::Seq(a) => Value::Array(a.iter().map(Lax::to_value).collect()),
            Lax::Map(v) => (**v).clone(),
        }
    }

    fn short(&self) -> String {
        short(&self.to_value())
    }
}

/// The fields of a model object that the mapping reads. Unknown fields are
/// skipped; the rare nested objects are kept as [`Value`]s.
#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(default, borrow)]
    id: Lax<'a>,
    #[serde(default, borrow)]
    author: Lax<'a>,
    #[serde(default, borrow)]
    sha: Lax<'a>,
    #[serde(default, borrow, rename = "createdAt")]
    created_at: Lax<'a>,
    #[serde(default, borrow, rename = "lastModified")]
    last_modified: Lax<'a>,
    #[serde(default, borrow)]
    downloads: Lax<'a>,
    #[serde(default, borrow, rename = "downloadsAllTime")]
    downloads_all_time: Lax<'a>,
    #[serde(default, borrow)]
    likes: Lax<'a>,
    #[serde(default, borrow, rename = "trendingScore")]
    trending_score: Lax<'a>,
    #[serde(default, borrow)]
    pipeline_tag: Lax<'a>,
    #[serde(default, borrow)]
    library_name: Lax<'a>,
    #[serde(default, borrow)]
    tags: Lax<'a>,
    #[serde(default, borrow)]
    gated: Lax<'a>,
    #[serde(default, rename = "cardData")]
    card_data: Option<Value>,
    #[serde(default)]
    safetensors: Option<Value>,
    #[serde(default)]
    gguf: Option<Value>,
    #[serde(default)]
    config: Option<Value>,
    #[serde(default)]
    siblings: Option<Value>,
}

fn map_wire(o: Wire<'_>) -> Result<(ModelRecord, Vec<FieldWarning>), ParseError> {
    let id = match o.id {
        Lax::Str(s) if !s.is_empty() => s.into_owned(),
        Lax::Str(_) => {
            return Err(ParseError {
                reason: "`id` is empty".into(),
            });
        }
        Lax::Null => {
            return Err(ParseError {
                reason: "missing `id`".into(),
            });
        }
        other => {
            return Err(ParseError {
                reason: format!("`id` must be a string, found {}", other.type_name()),
            });
        }
    };
    let mut w = Vec::new();
    let mut r = ModelRecord {
        id,
        ..Default::default()
    };
    r.author = lax_string(o.author, "author", &mut w);
    r.sha = lax_string(o.sha, "sha", &mut w);
    r.created_at = lax_date(o.created_at, "createdAt", &mut w);
    r.last_modified = lax_date(o.last_modified, "lastModified", &mut w);
    r.downloads_30d = lax_count(o.downloads, "downloads", &mut w);
    r.downloads_all_time = lax_count(o.downloads_all_time, "downloadsAllTime", &mut w);
    r.likes = lax_count(o.likes, "likes", &mut w);
    r.trending_score = lax_float(o.trending_score, "trendingScore", &mut w);
    r.pipeline_tag = lax_string(o.pipeline_tag, "pipeline_tag", &mut w);
    r.library_name = lax_string(o.library_name, "library_name", &mut w);
    r.tags = lax_string_list(o.tags, "tags", &mut w);

    let card = match &o.card_data {
        None | Some(Value::Null) => None,
        Some(Value::Object(c)) => Some(c),
        Some(other) => {
            warn(
                &mut w,
                "cardData",
                format!("expected an object, found {}", type_name(other)),
            );
            None
        }
    };
    // License: cardData.license, else the `license:` tag.
    if let Some(c) = card {
        r.license = match c.get("license") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Array(a)) => {
                let first = a.iter().find_map(|x| x.as_str().map(str::to_string));
                if a.len() > 1 {
                    warn(
                        &mut w,
                        "cardData.license",
                        format!("a list of {} licenses; using the first", a.len()),
                    );
                }
                first
            }
            Some(other) => {
                warn(
                    &mut w,
                    "cardData.license",
                    format!("expected a string, found {}", type_name(other)),
                );
                None
            }
        };
        r.license_name = match c.get("license_name") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                warn(
                    &mut w,
                    "cardData.license_name",
                    format!("expected a string, found {}", type_name(other)),
                );
                None
            }
        };
    }
    if r.license.is_none() {
        r.license = r
            .tags
            .iter()
            .find_map(|t| t.strip_prefix("license:"))
            .filter(|s| !s.is_empty())
            .map(str::to_string);
    }

    r.gated = match o.gated {
        Lax::Null => None,
        Lax::Bool(b) => Some(b.to_string()),
        Lax::Str(s) => Some(s.into_owned()),
        other => {
            warn(
                &mut w,
                "gated",
                format!("expected false or a string, found {}", other.type_name()),
            );
            None
        }
    };
    r.safetensors = safetensors_field(o.safetensors.as_ref(), &mut w);
    r.gguf = gguf_field(o.gguf.as_ref(), &mut w);

    match &o.config {
        None | Some(Value::Null) => {}
        Some(Value::Object(c)) => {
            r.architectures = string_list(c.get("architectures"), "config.architectures", &mut w);
            r.model_type = string_at(c, "model_type", "config.model_type", &mut w);
        }
        Some(other) => warn(
            &mut w,
            "config",
            format!("expected an object, found {}", type_name(other)),
        ),
    }

    // Base models: tags first, then cardData.base_model.
    let mut bases: Vec<String> = Vec::new();
    for t in &r.tags {
        if let Some(rest) = t.strip_prefix("base_model:") {
            let repo = rest.rsplit(':').next().unwrap_or(rest);
            if !repo.is_empty() && !bases.iter().any(|b| b == repo) {
                bases.push(repo.to_string());
            }
        }
    }
    if let Some(c) = card {
        let list = match c.get("base_model") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => vec![s.clone()],
            Some(v @ Value::Array(_)) => string_list(Some(v), "cardData.base_model", &mut w),
            Some(other) => {
                warn(
                    &mut w,
                    "cardData.base_model",
                    format!("expected a string or a list, found {}", type_name(other)),
                );
                Vec::new()
            }
        };
        for b in list {
            let b = b.trim().to_string();
            if !b.is_empty() && !bases.contains(&b) {
                bases.push(b);
            }
        }
    }
    r.base_models = bases;

    match &o.siblings {
        None | Some(Value::Null) => {}
        Some(Value::Array(a)) => {
            for (i, s) in a.iter().enumerate() {
                match s.get("rfilename") {
                    Some(Value::String(f)) => r.siblings.push(f.clone()),
                    _ => warn(
                        &mut w,
                        &format!("siblings[{i}].rfilename"),
                        "missing or not a string; dropped".into(),
                    ),
                }
            }
        }
        Some(other) => warn(
            &mut w,
            "siblings",
            format!("expected a list, found {}", type_name(other)),
        ),
    }
    Ok((r, w))
}

fn lax_string(v: Lax<'_>, key: &str, w: &mut Vec<FieldWarning>) -> Option<String> {
    match v {
        Lax::Null => None,
        Lax::Str(s) => Some(s.into_owned()),
        other => {
            warn(
                w,
                key,
                format!("expected a string, found {}", other.type_name()),
            );
            None
        }
    }
}

fn lax_string_list(v: Lax<'_>, key: &str, w: &mut Vec<FieldWarning>) -> Vec<String> {
    match v {
        Lax::Null => Vec::new(),
        Lax::Seq(a) => {
            let mut out = Vec::with_capacity(a.len());
            for (i, x) in a.into_iter().enumerate() {
                match x {
                    Lax::Str(s) => out.push(s.into_owned()),
                    other => warn(
                        w,
                        &format!("{key}[{i}]"),
                        format!("expected a string, found {}; dropped", other.type_name()),
                    ),
                }
            }
            out
        }
        other => {
            warn(
                w,
                key,
                format!("expected a list of strings, found {}", other.type_name()),
            );
            Vec::new()
        }
    }
}

fn lax_count(v: Lax<'_>, key: &str, w: &mut Vec<FieldWarning>) -> Option<u64> {
    let c = match &v {
        Lax::Null => return None,
        Lax::U64(n) => Some(*n),
        Lax::F64(f) => f64_count(*f),
        _ => None,
    };
    if c.is_none() {
        warn(
            w,
            key,
            format!("expected a non-negative integer, found {}", v.short()),
        );
    }
    c
}

fn lax_float(v: Lax<'_>, key: &str, w: &mut Vec<FieldWarning>) -> Option<f64> {
    match v {
        Lax::Null => None,
        Lax::U64(n) => Some(n as f64),
        Lax::I64(n) => Some(n as f64),
        Lax::F64(f) => Some(f).filter(|f| f.is_finite()),
        other => {
            warn(
                w,
                key,
                format!("expected a number, found {}", other.short()),
            );
            None
        }
    }
}

fn lax_date(v: Lax<'_>, key: &str, w: &mut Vec<FieldWarning>) -> Option<DateTime<Utc>> {
    match v {
        Lax::Null => None,
        Lax::Str(s) if s == HUB_UNKNOWN_CREATED_AT && key == "createdAt" => None,
        Lax::Str(s) => match parse_date(&s) {
            Ok(d) => Some(d),
            Err(e) => {
                warn(
                    w,
                    key,
                    format!(
                        "not an RFC 3339 date ({e}): {}",
                        short(&Value::String(s.into_owned()))
                    ),
                );
                None
            }
        },
        other => {
            warn(
                w,
                key,
                format!("expected a date string, found {}", other.type_name()),
            );
            None
        }
    }
}

/// RFC 3339. The Hub's own form `YYYY-MM-DDTHH:MM:SS.mmmZ` is read directly;
/// everything else (offsets, other precisions, invalid text) goes through
/// chrono, which gives the same instant or the error text.
fn parse_date(s: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    if let Some(d) = parse_hub_date(s.as_bytes()) {
        return Ok(d);
    }
    DateTime::parse_from_rfc3339(s).map(|d| d.with_timezone(&Utc))
}

fn parse_hub_date(b: &[u8]) -> Option<DateTime<Utc>> {
    if b.len() != 24
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'.'
        || b[23] != b'Z'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let mut n = 0u32;
        for &c in b.get(r)? {
            if !c.is_ascii_digit() {
                return None;
            }
            n = n * 10 + u32::from(c - b'0');
        }
        Some(n)
    };
    let date = chrono::NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    // Leap seconds (ss = 60) are left to chrono.
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if ss > 59 {
        return None;
    }
    let time = chrono::NaiveTime::from_hms_milli_opt(hh, mm, ss, num(20..23)?)?;
    Some(date.and_time(time).and_utc())
}

pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn warn(w: &mut Vec<FieldWarning>, field: &str, reason: String) {
    w.push(FieldWarning {
        field: field.to_string(),
        reason,
    });
}

fn string_field(o: &Map<String, Value>, key: &str, w: &mut Vec<FieldWarning>) -> Option<String> {
    string_at(o, key, key, w)
}

fn string_at(
    o: &Map<String, Value>,
    key: &str,
    path: &str,
    w: &mut Vec<FieldWarning>,
) -> Option<String> {
    match o.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            warn(
                w,
                path,
                format!("expected a string, found {}", type_name(other)),
            );
            None
        }
    }
}

fn string_list(v: Option<&Value>, key: &str, w: &mut Vec<FieldWarning>) -> Vec<String> {
    match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => {
            let mut out = Vec::with_capacity(a.len());
            for (i, x) in a.iter().enumerate() {
                match x {
                    Value::String(s) => out.push(s.clone()),
                    other => warn(
                        w,
                        &format!("{key}[{i}]"),
                        format!("expected a string, found {}; dropped", type_name(other)),
                    ),
                }
            }
            out
        }
        Some(other) => {
            warn(
                w,
                key,
                format!("expected a list of strings, found {}", type_name(other)),
            );
            Vec::new()
        }
    }
}

fn as_count(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().and_then(f64_count)),
        _ => None,
    }
}

/// An integral, non-negative float that fits a `u64` (e.g. `12.0`).
fn f64_count(f: f64) -> Option<u64> {
    (f.is_finite() && f >= 0.0 && f.fract() == 0.0 && f < 1.8e19).then_some(f as u64)
}

fn count_field(o: &Map<String, Value>, key: &str, w: &mut Vec<FieldWarning>) -> Option<u64> {
    match o.get(key) {
        None | Some(Value::Null) => None,
        Some(v) => {
            let c = as_count(v);
            if c.is_none() {
                warn(
                    w,
                    key,
                    format!("expected a non-negative integer, found {}", short(v)),
                );
            }
            c
        }
    }
}

fn safetensors_field(v: Option<&Value>, w: &mut Vec<FieldWarning>) -> Option<SafetensorsInfo> {
    let o = match v {
        None | Some(Value::Null) => return None,
        Some(Value::Object(o)) => o,
        Some(other) => {
            warn(
                w,
                "safetensors",
                format!("expected an object, found {}", type_name(other)),
            );
            return None;
        }
    };
    let mut parameters = BTreeMap::new();
    match o.get("parameters") {
        Some(Value::Object(p)) => {
            for (dtype, n) in p {
                match as_count(n) {
                    Some(c) => {
                        parameters.insert(dtype.clone(), c);
                    }
                    None => warn(
                        w,
                        &format!("safetensors.parameters.{dtype}"),
                        format!(
                            "expected a non-negative integer, found {}; dropped",
                            short(n)
                        ),
                    ),
                }
            }
        }
        None | Some(Value::Null) => {}
        Some(other) => warn(
            w,
            "safetensors.parameters",
            format!("expected an object, found {}", type_name(other)),
        ),
    }
    let total = match o.get("total").and_then(as_count) {
        Some(t) => t,
        None => {
            if parameters.is_empty() {
                warn(
                    w,
                    "safetensors",
                    "neither a usable `total` nor `parameters`; dropped".into(),
                );
                return None;
            }
            let sum = parameters.values().fold(0u64, |a, b| a.saturating_add(*b));
            warn(
                w,
                "safetensors.total",
                format!("missing or not an integer; using the sum of parameters ({sum})"),
            );
            sum
        }
    };
    Some(SafetensorsInfo { parameters, total })
}

fn gguf_field(v: Option<&Value>, w: &mut Vec<FieldWarning>) -> Option<GgufInfo> {
    let o = match v {
        None | Some(Value::Null) => return None,
        Some(Value::Object(o)) => o,
        Some(other) => {
            warn(
                w,
                "gguf",
                format!("expected an object, found {}", type_name(other)),
            );
            return None;
        }
    };
    let mut inner = Vec::new();
    let g = GgufInfo {
        total: count_field(o, "total", &mut inner),
        architecture: string_field(o, "architecture", &mut inner),
        context_length: count_field(o, "context_length", &mut inner),
    };
    for mut fw in inner {
        fw.field = format!("gguf.{}", fw.field);
        w.push(fw);
    }
    Some(g)
}

/// A short rendering of a value for warnings (never more than ~60 chars).
fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() <= 60 {
        return s;
    }
    let mut end = 57;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hub_date_fast_path_agrees_with_chrono() {
        let ok = [
            "2022-03-02T23:29:04.000Z",
            "2024-02-29T00:00:00.999Z",
            "1999-12-31T23:59:59.001Z",
            "2026-08-22T12:34:56.789Z",
            "0001-01-01T00:00:00.000Z",
        ];
        for s in ok {
            let fast =
                parse_hub_date(s.as_bytes()).unwrap_or_else(|| panic!("{s}: fast path refused"));
            let slow = DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
            assert_eq!(fast, slow, "{s}");
        }
        // Not the Hub's exact form, or not a valid date: left to chrono.
        for s in [
            "2023-02-29T10:00:00.000Z",
            "2024-01-01T24:00:00.000Z",
            "2024-02-29T23:59:60.000Z",
            "2024-01-01t10:00:00.000z",
            "2024-01-01T10:00:00Z",
            "2024-01-01T10:00:00.000+00:00",
            "2024-13-01T10:00:00.000Z",
            "2024-01-01T10:60:00.000Z",
            "+024-01-01T10:00:00.000Z",
            "2024-01-01T10:00:00.0a0Z",
        ] {
            assert_eq!(parse_hub_date(s.as_bytes()), None, "{s}");
        }
        assert!(parse_date("2024-01-01T10:00:00+02:00").is_ok());
        assert!(parse_date("2023-02-29T10:00:00.000Z").is_err());
    }
}
