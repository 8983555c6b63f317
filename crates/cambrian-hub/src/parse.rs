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
use cambrian_types::{GgufInfo, ModelRecord, SafetensorsInfo, HUB_UNKNOWN_CREATED_AT};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
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
        return Err(ParseError { reason: format!("expected a JSON array of models, found {}", type_name(v)) });
    };
    let mut out = ParsedListing { models: Vec::with_capacity(items.len()), item_warnings: Vec::new() };
    for (index, item) in items.iter().enumerate() {
        match parse_model(item) {
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
    Ok(out)
}

/// Maps one model object (`/api/models/{id}` or a listing item).
pub fn parse_model(v: &Value) -> Result<(ModelRecord, Vec<FieldWarning>), ParseError> {
    let Value::Object(o) = v else {
        return Err(ParseError { reason: format!("expected a JSON object, found {}", type_name(v)) });
    };
    let id = match o.get("id") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::String(_)) => return Err(ParseError { reason: "`id` is empty".into() }),
        None | Some(Value::Null) => return Err(ParseError { reason: "missing `id`".into() }),
        Some(other) => {
            return Err(ParseError { reason: format!("`id` must be a string, found {}", type_name(other)) });
        }
    };
    let mut w = Vec::new();
    let mut r = ModelRecord { id, ..Default::default() };
    r.author = string_field(o, "author", &mut w);
    r.sha = string_field(o, "sha", &mut w);
    r.created_at = date_field(o, "createdAt", &mut w);
    r.last_modified = date_field(o, "lastModified", &mut w);
    r.downloads_30d = count_field(o, "downloads", &mut w);
    r.downloads_all_time = count_field(o, "downloadsAllTime", &mut w);
    r.likes = count_field(o, "likes", &mut w);
    r.trending_score = float_field(o, "trendingScore", &mut w);
    r.pipeline_tag = string_field(o, "pipeline_tag", &mut w);
    r.library_name = string_field(o, "library_name", &mut w);
    r.tags = string_list(o.get("tags"), "tags", &mut w);

    let card = match o.get("cardData") {
        None | Some(Value::Null) => None,
        Some(Value::Object(c)) => Some(c),
        Some(other) => {
            warn(&mut w, "cardData", format!("expected an object, found {}", type_name(other)));
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
                    warn(&mut w, "cardData.license", format!("a list of {} licenses; using the first", a.len()));
                }
                first
            }
            Some(other) => {
                warn(&mut w, "cardData.license", format!("expected a string, found {}", type_name(other)));
                None
            }
        };
        r.license_name = match c.get("license_name") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                warn(&mut w, "cardData.license_name", format!("expected a string, found {}", type_name(other)));
                None
            }
        };
    }
    if r.license.is_none() {
        r.license = r.tags.iter().find_map(|t| t.strip_prefix("license:")).filter(|s| !s.is_empty()).map(str::to_string);
    }

    r.gated = match o.get("gated") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(b.to_string()),
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            warn(&mut w, "gated", format!("expected false or a string, found {}", type_name(other)));
            None
        }
    };
    r.safetensors = safetensors_field(o.get("safetensors"), &mut w);
    r.gguf = gguf_field(o.get("gguf"), &mut w);

    match o.get("config") {
        None | Some(Value::Null) => {}
        Some(Value::Object(c)) => {
            r.architectures = string_list(c.get("architectures"), "config.architectures", &mut w);
            r.model_type = string_at(c, "model_type", "config.model_type", &mut w);
        }
        Some(other) => warn(&mut w, "config", format!("expected an object, found {}", type_name(other))),
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
                warn(&mut w, "cardData.base_model", format!("expected a string or a list, found {}", type_name(other)));
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

    match o.get("siblings") {
        None | Some(Value::Null) => {}
        Some(Value::Array(a)) => {
            for (i, s) in a.iter().enumerate() {
                match s.get("rfilename") {
                    Some(Value::String(f)) => r.siblings.push(f.clone()),
                    _ => warn(&mut w, &format!("siblings[{i}].rfilename"), "missing or not a string; dropped".into()),
                }
            }
        }
        Some(other) => warn(&mut w, "siblings", format!("expected a list, found {}", type_name(other))),
    }
    Ok((r, w))
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
    w.push(FieldWarning { field: field.to_string(), reason });
}

fn string_field(o: &Map<String, Value>, key: &str, w: &mut Vec<FieldWarning>) -> Option<String> {
    string_at(o, key, key, w)
}

fn string_at(o: &Map<String, Value>, key: &str, path: &str, w: &mut Vec<FieldWarning>) -> Option<String> {
    match o.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            warn(w, path, format!("expected a string, found {}", type_name(other)));
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
                    other => warn(w, &format!("{key}[{i}]"), format!("expected a string, found {}; dropped", type_name(other))),
                }
            }
            out
        }
        Some(other) => {
            warn(w, key, format!("expected a list of strings, found {}", type_name(other)));
            Vec::new()
        }
    }
}

fn as_count(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64().filter(|f| f.is_finite() && *f >= 0.0 && f.fract() == 0.0 && *f < 1.8e19).map(|f| f as u64)
        }),
        _ => None,
    }
}

fn count_field(o: &Map<String, Value>, key: &str, w: &mut Vec<FieldWarning>) -> Option<u64> {
    match o.get(key) {
        None | Some(Value::Null) => None,
        Some(v) => {
            let c = as_count(v);
            if c.is_none() {
                warn(w, key, format!("expected a non-negative integer, found {}", short(v)));
            }
            c
        }
    }
}

fn float_field(o: &Map<String, Value>, key: &str, w: &mut Vec<FieldWarning>) -> Option<f64> {
    match o.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_f64().filter(|f| f.is_finite()),
        Some(other) => {
            warn(w, key, format!("expected a number, found {}", short(other)));
            None
        }
    }
}

fn date_field(o: &Map<String, Value>, key: &str, w: &mut Vec<FieldWarning>) -> Option<DateTime<Utc>> {
    match o.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s == HUB_UNKNOWN_CREATED_AT && key == "createdAt" => None,
        Some(Value::String(s)) => match DateTime::parse_from_rfc3339(s) {
            Ok(d) => Some(d.with_timezone(&Utc)),
            Err(e) => {
                warn(w, key, format!("not an RFC 3339 date ({e}): {}", short(&Value::String(s.clone()))));
                None
            }
        },
        Some(other) => {
            warn(w, key, format!("expected a date string, found {}", type_name(other)));
            None
        }
    }
}

fn safetensors_field(v: Option<&Value>, w: &mut Vec<FieldWarning>) -> Option<SafetensorsInfo> {
    let o = match v {
        None | Some(Value::Null) => return None,
        Some(Value::Object(o)) => o,
        Some(other) => {
            warn(w, "safetensors", format!("expected an object, found {}", type_name(other)));
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
                    None => warn(w, &format!("safetensors.parameters.{dtype}"), format!("expected a non-negative integer, found {}; dropped", short(n))),
                }
            }
        }
        None | Some(Value::Null) => {}
        Some(other) => warn(w, "safetensors.parameters", format!("expected an object, found {}", type_name(other))),
    }
    let total = match o.get("total").and_then(as_count) {
        Some(t) => t,
        None => {
            if parameters.is_empty() {
                warn(w, "safetensors", "neither a usable `total` nor `parameters`; dropped".into());
                return None;
            }
            let sum = parameters.values().fold(0u64, |a, b| a.saturating_add(*b));
            warn(w, "safetensors.total", format!("missing or not an integer; using the sum of parameters ({sum})"));
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
            warn(w, "gguf", format!("expected an object, found {}", type_name(other)));
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
