//! Scorers: turn (answer text, expected value) into a [`Score`].
//!
//! A scorer is named on the command line as `NAME` or `NAME:OPTIONS`
//! (see [`ScorerSpec::parse`]). Every scorer is deterministic and pure.

use crate::jsonx;
use crate::normalize::{self, leading_unit};
use crate::schema::{Schema, json_eq};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// How a field of an extraction record is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    /// Numbers (strings like "1,500" parsed), equal within the tolerance.
    Number,
    /// Normalized text (case, punctuation, articles, whitespace).
    Text,
    /// JSON-equal as is.
    Exact,
    /// Calendar dates in any supported spelling, compared as dates.
    Date,
    /// Lists compared as sets of normalized elements (order and duplicates ignored).
    Set,
}

impl FieldType {
    fn parse(s: &str) -> Option<FieldType> {
        Some(match s {
            "number" | "num" => FieldType::Number,
            "text" | "string" => FieldType::Text,
            "exact" => FieldType::Exact,
            "date" => FieldType::Date,
            "set" | "list" => FieldType::Set,
            _ => return None,
        })
    }
    fn infer(v: &Value) -> FieldType {
        match v {
            Value::Number(_) => FieldType::Number,
            Value::Array(_) => FieldType::Set,
            Value::String(_) => FieldType::Text,
            _ => FieldType::Exact,
        }
    }
}

/// A scorer and its options, as parsed from `--scorer`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ScorerSpec {
    /// The trimmed answer equals the expected string (or one of a list).
    Exact,
    /// Equal after normalization.
    Normalized,
    /// The normalized answer contains the normalized expected string.
    Contains,
    /// A regex is applied to the answer; the capture named `answer`, else
    /// group 1, else the whole match is compared normalized to `expected`.
    Regex { pattern: String },
    /// The answer's number (the whole answer, else the last number in it)
    /// equals the expected within `abs + rel·|expected|`, units converted.
    Numeric { abs: f64, rel: f64 },
    /// Token F1 (SQuAD): correct when F1 ≥ threshold.
    TokenF1 { threshold: f64 },
    /// The answer contains a JSON value (fences and prose allowed).
    JsonValid,
    /// The answer's JSON value equals `expected` (numbers by value).
    Json,
    /// The answer's JSON value conforms to the schema (read from `path`).
    JsonSchema {
        path: PathBuf,
        #[serde(skip)]
        schema: Option<Value>,
    },
    /// Field extraction: per-field precision/recall/F1, exact-record rate.
    Fields {
        types: BTreeMap<String, FieldType>,
        abs: f64,
        rel: f64,
    },
}

/// A bad `--scorer` value.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("scorer `{spec}`: {message}")]
pub struct ScorerError {
    pub spec: String,
    pub message: String,
    pub hint: String,
}

pub const SCORER_HELP: &str = "scorers: exact, normalized, contains, regex:PATTERN, numeric[:abs=X,rel=Y], \
f1[:threshold=T], json-valid, json, json-schema:FILE, fields[:NAME=number|text|exact|date|set,…,abs=X,rel=Y]";

impl ScorerSpec {
    /// Parse `NAME[:OPTIONS]`.
    pub fn parse(s: &str) -> Result<ScorerSpec, ScorerError> {
        let (name, opts) = match s.split_once(':') {
            Some((n, o)) => (n.trim(), Some(o)),
            None => (s.trim(), None),
        };
        let err = |m: String| ScorerError {
            spec: s.to_string(),
            message: m,
            hint: SCORER_HELP.to_string(),
        };
        let kv = |o: Option<&str>| -> Result<Vec<(String, String)>, ScorerError> {
            let mut out = Vec::new();
            for part in o
                .unwrap_or("")
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
            {
                let Some((k, v)) = part.split_once('=') else {
                    return Err(err(format!("option `{part}` is not KEY=VALUE")));
                };
                out.push((k.trim().to_string(), v.trim().to_string()));
            }
            Ok(out)
        };
        let num = |k: &str, v: &str| -> Result<f64, ScorerError> {
            v.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .ok_or_else(|| {
                    err(format!(
                        "option `{k}` needs a non-negative number, got `{v}`"
                    ))
                })
        };
        let no_opts = |spec: ScorerSpec| match opts {
            Some(o) if !o.trim().is_empty() => Err(err(format!("`{name}` takes no options"))),
            _ => Ok(spec),
        };
        match name {
            "exact" => no_opts(ScorerSpec::Exact),
            "normalized" | "norm" => no_opts(ScorerSpec::Normalized),
            "contains" => no_opts(ScorerSpec::Contains),
            "json-valid" => no_opts(ScorerSpec::JsonValid),
            "json" => no_opts(ScorerSpec::Json),
            "regex" => {
                let pattern = opts.unwrap_or("").to_string();
                if pattern.is_empty() {
                    return Err(err("regex needs a pattern: regex:PATTERN".into()));
                }
                compile_regex(&pattern).map_err(|e| err(format!("bad pattern: {e}")))?;
                Ok(ScorerSpec::Regex { pattern })
            }
            "numeric" => {
                let (mut abs, mut rel) = (0.0, 1e-9);
                for (k, v) in kv(opts)? {
                    match k.as_str() {
                        "abs" | "tol" => abs = num(&k, &v)?,
                        "rel" => rel = num(&k, &v)?,
                        _ => return Err(err(format!("unknown option `{k}` (abs, rel)"))),
                    }
                }
                Ok(ScorerSpec::Numeric { abs, rel })
            }
            "f1" | "token-f1" => {
                let mut threshold = 0.5;
                for (k, v) in kv(opts)? {
                    match k.as_str() {
                        "threshold" | "t" => threshold = num(&k, &v)?.min(1.0),
                        _ => return Err(err(format!("unknown option `{k}` (threshold)"))),
                    }
                }
                Ok(ScorerSpec::TokenF1 { threshold })
            }
            "json-schema" | "schema" => {
                let path = opts.unwrap_or("").trim();
                if path.is_empty() {
                    return Err(err("json-schema needs a file: json-schema:FILE".into()));
                }
                Ok(ScorerSpec::JsonSchema {
                    path: PathBuf::from(path),
                    schema: None,
                })
            }
            "fields" | "extract" => {
                let (mut abs, mut rel) = (0.0, 1e-9);
                let mut types = BTreeMap::new();
                for (k, v) in kv(opts)? {
                    match k.as_str() {
                        "abs" | "tol" => abs = num(&k, &v)?,
                        "rel" => rel = num(&k, &v)?,
                        _ => {
                            let t = FieldType::parse(&v)
                                .ok_or_else(|| err(format!("field `{k}`: unknown type `{v}` (number, text, exact, date, set)")))?;
                            types.insert(k, t);
                        }
                    }
                }
                Ok(ScorerSpec::Fields { types, abs, rel })
            }
            _ => Err(err(format!("unknown scorer `{name}`"))),
        }
    }

    /// Short name used in reports.
    pub fn name(&self) -> String {
        match self {
            ScorerSpec::Exact => "exact".into(),
            ScorerSpec::Normalized => "normalized".into(),
            ScorerSpec::Contains => "contains".into(),
            ScorerSpec::Regex { pattern } => format!("regex:{pattern}"),
            ScorerSpec::Numeric { abs, rel } => format!("numeric:abs={abs},rel={rel}"),
            ScorerSpec::TokenF1 { threshold } => format!("f1:threshold={threshold}"),
            ScorerSpec::JsonValid => "json-valid".into(),
            ScorerSpec::Json => "json".into(),
            ScorerSpec::JsonSchema { path, .. } => format!("json-schema:{}", path.display()),
            ScorerSpec::Fields { types, abs, rel } => {
                let mut s = "fields".to_string();
                let opts: Vec<String> = types
                    .iter()
                    .map(|(k, t)| {
                        format!(
                            "{k}={}",
                            serde_json::to_value(t)
                                .ok()
                                .and_then(|v| v.as_str().map(str::to_string))
                                .unwrap_or_default()
                        )
                    })
                    .chain([format!("abs={abs}"), format!("rel={rel}")])
                    .collect();
                s.push(':');
                s.push_str(&opts.join(","));
                s
            }
        }
    }

    /// Whether the scorer reads the answer as JSON (so invalid JSON is a failure, not a wrong answer).
    pub fn expects_json(&self) -> bool {
        matches!(
            self,
            ScorerSpec::JsonValid
                | ScorerSpec::Json
                | ScorerSpec::JsonSchema { .. }
                | ScorerSpec::Fields { .. }
        )
    }
}

fn compile_regex(p: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(p).size_limit(1 << 22).build()
}

/// Per-field counts on one item.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FieldCounts {
    pub tp: u64,
    pub fp: u64,
    #[serde(rename = "fn")]
    pub fn_: u64,
}

/// Why an answer could not be scored as an answer (counted apart from wrong ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScoreFailure {
    InvalidJson,
    SchemaViolation,
}

/// The score of one answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    pub correct: bool,
    /// Graded score in [0, 1] (F1 for token-F1 and fields; 0/1 otherwise).
    pub score: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<ScoreFailure>,
    /// What was compared, for the per-item report (e.g. the extracted number).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Field extraction counts (empty for other scorers).
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub fields: BTreeMap<String, FieldCounts>,
}

impl Score {
    fn binary(correct: bool, detail: Option<String>) -> Score {
        Score {
            correct,
            score: if correct { 1.0 } else { 0.0 },
            failure: None,
            detail,
            fields: BTreeMap::new(),
        }
    }
    fn failed(failure: ScoreFailure, detail: String) -> Score {
        Score {
            correct: false,
            score: 0.0,
            failure: Some(failure),
            detail: Some(detail),
            fields: BTreeMap::new(),
        }
    }
}

/// A ready-to-use scorer (regexes and schemas compiled).
#[derive(Debug, Clone)]
pub struct Scorer {
    pub spec: ScorerSpec,
    regex: Option<regex::Regex>,
    schema: Option<Schema>,
}

impl Scorer {
    /// Compile a spec. For `json-schema`, the caller reads the file and
    /// sets `schema` on the spec first.
    pub fn new(spec: ScorerSpec) -> Result<Scorer, ScorerError> {
        let err = |m: String| ScorerError {
            spec: spec.name(),
            message: m,
            hint: SCORER_HELP.to_string(),
        };
        let regex = match &spec {
            ScorerSpec::Regex { pattern } => {
                Some(compile_regex(pattern).map_err(|e| err(format!("bad pattern: {e}")))?)
            }
            _ => None,
        };
        let schema = match &spec {
            ScorerSpec::JsonSchema {
                schema: Some(s), ..
            } => Some(Schema::compile(s.clone()).map_err(|e| err(e.to_string()))?),
            ScorerSpec::JsonSchema { schema: None, .. } => {
                return Err(err("the schema file was not loaded".into()));
            }
            _ => None,
        };
        Ok(Scorer {
            spec,
            regex,
            schema,
        })
    }

    /// Score one answer against the expected value.
    pub fn score(&self, answer: &str, expected: &Value) -> Score {
        match &self.spec {
            ScorerSpec::Exact => {
                let a = answer.trim();
                Score::binary(alternatives(expected).iter().any(|e| a == e.trim()), None)
            }
            ScorerSpec::Normalized => {
                let a = normalize::text(answer);
                Score::binary(
                    alternatives(expected)
                        .iter()
                        .any(|e| a == normalize::text(e)),
                    Some(a),
                )
            }
            ScorerSpec::Contains => {
                let a = normalize::text(answer);
                let ok = alternatives(expected).iter().any(|e| {
                    let e = normalize::text(e);
                    !e.is_empty() && contains_words(&a, &e)
                });
                Score::binary(ok, None)
            }
            ScorerSpec::Regex { .. } => {
                let Some(re) = &self.regex else {
                    return Score::binary(false, None);
                };
                match re.captures(answer) {
                    None => Score::binary(false, Some("no match".into())),
                    Some(c) => {
                        let got = c
                            .name("answer")
                            .or_else(|| c.get(1))
                            .or_else(|| c.get(0))
                            .map_or("", |m| m.as_str());
                        let g = normalize::text(got);
                        Score::binary(
                            alternatives(expected)
                                .iter()
                                .any(|e| g == normalize::text(e)),
                            Some(got.to_string()),
                        )
                    }
                }
            }
            ScorerSpec::Numeric { abs, rel } => numeric(answer, expected, *abs, *rel),
            ScorerSpec::TokenF1 { threshold } => {
                let f1 = alternatives(expected)
                    .iter()
                    .map(|e| token_f1(answer, e))
                    .fold(0.0, f64::max);
                Score {
                    correct: f1 >= *threshold,
                    score: f1,
                    failure: None,
                    detail: Some(format!("F1 {f1:.3}")),
                    fields: BTreeMap::new(),
                }
            }
            ScorerSpec::JsonValid => match jsonx::extract(answer) {
                Ok(_) => Score::binary(true, None),
                Err(e) => Score::failed(ScoreFailure::InvalidJson, e.message),
            },
            ScorerSpec::Json => match jsonx::extract(answer) {
                Ok(v) => Score::binary(json_eq(&v, expected), None),
                Err(e) => Score::failed(ScoreFailure::InvalidJson, e.message),
            },
            ScorerSpec::JsonSchema { .. } => match jsonx::extract(answer) {
                Err(e) => Score::failed(ScoreFailure::InvalidJson, e.message),
                Ok(v) => match self.schema.as_ref().map(|s| s.validate(&v)) {
                    Some(Err(why)) => Score::failed(ScoreFailure::SchemaViolation, why),
                    _ => Score::binary(true, None),
                },
            },
            ScorerSpec::Fields { types, abs, rel } => match jsonx::extract(answer) {
                Err(e) => {
                    // Every expected field is missed.
                    let mut s = Score::failed(ScoreFailure::InvalidJson, e.message);
                    s.fields = missed_fields(expected);
                    s
                }
                Ok(v) => fields_score(&v, expected, types, *abs, *rel),
            },
        }
    }
}

/// Accepted answers: a string, or each element of a list of strings; other
/// values by their JSON text.
fn alternatives(expected: &Value) -> Vec<String> {
    match expected {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) if a.iter().all(Value::is_string) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        other => vec![other.to_string()],
    }
}

/// Whole-word containment on normalized text.
fn contains_words(hay: &str, needle: &str) -> bool {
    let h = format!(" {hay} ");
    h.contains(&format!(" {needle} "))
}

/// SQuAD token F1 between normalized answer and expected.
pub fn token_f1(answer: &str, expected: &str) -> f64 {
    let a = normalize::tokens(answer);
    let e = normalize::tokens(expected);
    if a.is_empty() || e.is_empty() {
        return if a.is_empty() && e.is_empty() {
            1.0
        } else {
            0.0
        };
    }
    let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
    for t in &e {
        *counts.entry(t.as_str()).or_default() += 1;
    }
    let mut common = 0i64;
    for t in &a {
        if let Some(c) = counts.get_mut(t.as_str())
            && *c > 0
        {
            *c -= 1;
            common += 1;
        }
    }
    if common == 0 {
        return 0.0;
    }
    let p = common as f64 / a.len() as f64;
    let r = common as f64 / e.len() as f64;
    2.0 * p * r / (p + r)
}

fn within(got: f64, want: f64, abs: f64, rel: f64) -> bool {
    (got - want).abs() <= abs + rel * want.abs()
}

/// Expected value and unit of a numeric item: a number, a string like
/// "2.5 km", or an object {"value": …, "unit": …}.
fn expected_quantity(expected: &Value) -> Option<(f64, Option<String>)> {
    match expected {
        Value::Number(n) => n.as_f64().map(|v| (v, None)),
        Value::String(s) => {
            if let Some(v) = normalize::parse_number(s) {
                return Some((v, None));
            }
            let found = normalize::numbers_in(s);
            let first = found.first()?;
            Some((first.value, leading_unit(&first.after).map(|u| u.0)))
        }
        Value::Object(o) => {
            let v = o.get("value").and_then(|v| {
                v.as_f64()
                    .or_else(|| v.as_str().and_then(normalize::parse_number))
            })?;
            Some((v, o.get("unit").and_then(Value::as_str).map(str::to_string)))
        }
        _ => None,
    }
}

fn numeric(answer: &str, expected: &Value, abs: f64, rel: f64) -> Score {
    let Some((want, want_unit)) = expected_quantity(expected) else {
        return Score::binary(
            false,
            Some(format!("expected value {expected} is not a number")),
        );
    };
    let (got, got_unit) = match normalize::parse_number(answer) {
        Some(v) => (v, None),
        None => match normalize::numbers_in(answer).last() {
            Some(f) => (f.value, leading_unit(&f.after).map(|u| u.0)),
            None => return Score::binary(false, Some("no number in the answer".into())),
        },
    };
    // Convert the answer into the expected unit when both are known and of one dimension.
    let mut got_conv = got;
    if let (Some(wu), Some(gu)) = (&want_unit, &got_unit)
        && let (Some(w), Some(g)) = (normalize::unit(wu), normalize::unit(gu))
    {
        if w.dimension != g.dimension {
            return Score::binary(
                false,
                Some(format!("{got} {gu}: unit of another dimension than {wu}")),
            );
        }
        got_conv = got * g.factor / w.factor;
    }
    let ok = within(got_conv, want, abs, rel);
    let detail = match &got_unit {
        Some(u) => format!("{got} {u} → {got_conv} vs {want}"),
        None => format!("{got} vs {want}"),
    };
    Score::binary(ok, Some(detail))
}

// ---------- field extraction ----------

/// Flatten an object into dotted paths (`a.b`); lists are leaves.
fn flatten(v: &Value, prefix: &str, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(x, &key, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), other.clone());
        }
    }
}

fn field_equal(want: &Value, got: &Value, t: FieldType, abs: f64, rel: f64) -> bool {
    match t {
        FieldType::Exact => json_eq(want, got),
        FieldType::Number => match (as_number(want), as_number(got)) {
            (Some(w), Some(g)) => within(g, w, abs, rel),
            _ => false,
        },
        FieldType::Text => {
            normalize::text(&scalar_text(want)) == normalize::text(&scalar_text(got))
        }
        FieldType::Date => match (
            normalize::parse_date(&scalar_text(want)),
            normalize::parse_date(&scalar_text(got)),
        ) {
            (Some(w), Some(g)) => w == g,
            _ => false,
        },
        FieldType::Set => {
            let set = |v: &Value| -> std::collections::BTreeSet<String> {
                match v {
                    Value::Array(a) => a.iter().map(set_elem).collect(),
                    Value::Null => Default::default(),
                    other => [set_elem(other)].into_iter().collect(),
                }
            };
            set(want) == set(got)
        }
    }
}

fn set_elem(v: &Value) -> String {
    match v {
        Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), |f| format!("{f}")),
        Value::String(s) => {
            normalize::parse_number(s).map_or_else(|| normalize::text(s), |f| format!("{f}"))
        }
        other => other.to_string(),
    }
}

fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => normalize::parse_number(s),
        _ => None,
    }
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn missed_fields(expected: &Value) -> BTreeMap<String, FieldCounts> {
    let mut out: BTreeMap<String, FieldCounts> = BTreeMap::new();
    for rec in records(expected) {
        let mut flat = BTreeMap::new();
        flatten(rec, "", &mut flat);
        for k in flat.keys() {
            out.entry(k.clone()).or_default().fn_ += 1;
        }
    }
    out
}

/// The records of an expected/predicted value: an object is one record, a
/// list of objects is many.
fn records(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

/// Compare two records field by field; returns per-field (tp, fp, fn) and
/// the number of agreeing fields.
fn compare_records(
    want: Option<&Value>,
    got: Option<&Value>,
    types: &BTreeMap<String, FieldType>,
    abs: f64,
    rel: f64,
    counts: &mut BTreeMap<String, FieldCounts>,
) -> usize {
    let mut w = BTreeMap::new();
    let mut g = BTreeMap::new();
    if let Some(v) = want {
        flatten(v, "", &mut w);
    }
    if let Some(v) = got {
        flatten(v, "", &mut g);
    }
    let keys: std::collections::BTreeSet<&String> = w.keys().chain(g.keys()).collect();
    let mut agree = 0;
    for k in keys {
        let c = counts.entry(k.clone()).or_default();
        let wv = w.get(k).filter(|v| !v.is_null());
        let gv = g.get(k).filter(|v| !v.is_null());
        match (wv, gv) {
            (Some(a), Some(b)) => {
                let t = types.get(k).copied().unwrap_or_else(|| FieldType::infer(a));
                if field_equal(a, b, t, abs, rel) {
                    c.tp += 1;
                    agree += 1;
                } else {
                    c.fp += 1;
                    c.fn_ += 1;
                }
            }
            (Some(_), None) => c.fn_ += 1,
            (None, Some(_)) => c.fp += 1,
            (None, None) => {}
        }
    }
    agree
}

fn fields_score(
    got: &Value,
    expected: &Value,
    types: &BTreeMap<String, FieldType>,
    abs: f64,
    rel: f64,
) -> Score {
    // A list expected but {"key": [...]} answered: unwrap the single list.
    let got = match (expected, got) {
        (Value::Array(_), Value::Object(o)) if o.len() == 1 && o.values().all(Value::is_array) => {
            o.values().next().unwrap_or(got)
        }
        _ => got,
    };
    let mut counts: BTreeMap<String, FieldCounts> = BTreeMap::new();
    let want_recs = records(expected);
    let got_recs = records(got);
    if expected.is_array() != got.is_array() && !(expected.is_array() && got.is_object()) {
        // Shape mismatch (e.g. an object expected, a list answered): everything missed and spurious.
        for r in &want_recs {
            compare_records(Some(r), None, types, abs, rel, &mut counts);
        }
        for r in &got_recs {
            compare_records(None, Some(r), types, abs, rel, &mut counts);
        }
        return finish_fields(counts, false, "answer shape differs from expected".into());
    }
    // Greedy matching of records by number of agreeing fields (ties: earlier first).
    let mut pairs = Vec::new();
    for (i, w) in want_recs.iter().enumerate() {
        for (j, g) in got_recs.iter().enumerate() {
            let mut scratch = BTreeMap::new();
            let agree = compare_records(Some(w), Some(g), types, abs, rel, &mut scratch);
            if agree > 0 {
                pairs.push((agree, i, j));
            }
        }
    }
    pairs.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut used_w = vec![false; want_recs.len()];
    let mut used_g = vec![false; got_recs.len()];
    let mut matched = Vec::new();
    for (_, i, j) in pairs {
        if !used_w[i] && !used_g[j] {
            used_w[i] = true;
            used_g[j] = true;
            matched.push((i, j));
        }
    }
    for &(i, j) in &matched {
        compare_records(
            Some(want_recs[i]),
            Some(got_recs[j]),
            types,
            abs,
            rel,
            &mut counts,
        );
    }
    for (i, w) in want_recs.iter().enumerate() {
        if !used_w[i] {
            compare_records(Some(w), None, types, abs, rel, &mut counts);
        }
    }
    for (j, g) in got_recs.iter().enumerate() {
        if !used_g[j] {
            compare_records(None, Some(g), types, abs, rel, &mut counts);
        }
    }
    let exact =
        counts.values().all(|c| c.fp == 0 && c.fn_ == 0) && want_recs.len() == got_recs.len();
    let detail = format!("{} of {} records matched", matched.len(), want_recs.len());
    finish_fields(counts, exact, detail)
}

fn finish_fields(counts: BTreeMap<String, FieldCounts>, exact: bool, detail: String) -> Score {
    let (tp, fp, fn_) = counts.values().fold((0, 0, 0), |acc, c| {
        (acc.0 + c.tp, acc.1 + c.fp, acc.2 + c.fn_)
    });
    let f1 = if tp + fp + fn_ == 0 {
        1.0
    } else {
        2.0 * tp as f64 / (2 * tp + fp + fn_) as f64
    };
    Score {
        correct: exact,
        score: f1,
        failure: None,
        detail: Some(detail),
        fields: counts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sc(spec: &str) -> Scorer {
        Scorer::new(ScorerSpec::parse(spec).unwrap()).unwrap()
    }

    #[test]
    fn parse_specs() {
        assert_eq!(
            ScorerSpec::parse("numeric:abs=0.5").unwrap(),
            ScorerSpec::Numeric {
                abs: 0.5,
                rel: 1e-9
            }
        );
        assert_eq!(
            ScorerSpec::parse("regex:(\\d+):x").unwrap(),
            ScorerSpec::Regex {
                pattern: "(\\d+):x".into()
            }
        );
        assert!(ScorerSpec::parse("numeric:abs=-1").is_err());
        assert!(ScorerSpec::parse("regex:(").is_err());
        assert!(
            ScorerSpec::parse("bogus")
                .unwrap_err()
                .hint
                .contains("exact, normalized")
        );
        assert!(ScorerSpec::parse("fields:date=when").is_err());
        assert!(ScorerSpec::parse("exact:x=1").is_err());
    }

    #[test]
    fn text_scorers() {
        assert!(sc("exact").score(" Paris\n", &json!("Paris")).correct);
        assert!(!sc("exact").score("paris", &json!("Paris")).correct);
        assert!(
            sc("normalized")
                .score("The Paris.", &json!("paris"))
                .correct
        );
        assert!(
            sc("normalized")
                .score("Lyon", &json!(["Paris", "lyon"]))
                .correct
        );
        assert!(
            sc("contains")
                .score("I think it's Paris, France.", &json!("paris"))
                .correct
        );
        assert!(!sc("contains").score("Parisian", &json!("paris")).correct);
        let r =
            sc("regex:(?i)answer:\\s*(?P<answer>\\w+)").score("... Answer: Paris", &json!("paris"));
        assert!(r.correct);
        assert_eq!(r.detail.as_deref(), Some("Paris"));
        assert!(!sc("regex:answer: (\\w+)").score("no", &json!("x")).correct);
    }

    #[test]
    fn numeric_scorer() {
        assert!(sc("numeric").score("1,500,000", &json!(1_500_000)).correct);
        assert!(
            sc("numeric")
                .score("So the total is 42.", &json!("42"))
                .correct
        );
        assert!(!sc("numeric").score("41", &json!(42)).correct);
        assert!(sc("numeric:abs=1").score("41", &json!(42)).correct);
        assert!(
            sc("numeric:rel=0.05")
                .score("about 2.09 km", &json!(2))
                .correct
        );
        // Units converted: 1.5 km against 1500 m.
        assert!(
            sc("numeric")
                .score("1.5 km", &json!({"value": 1500, "unit": "metre"}))
                .correct
        );
        assert!(sc("numeric").score("1500 m", &json!("1.5 km")).correct);
        assert!(!sc("numeric").score("1.5 kg", &json!("1.5 km")).correct);
        assert!(!sc("numeric").score("none", &json!(1)).correct);
    }

    #[test]
    fn token_f1_values() {
        assert!((token_f1("the cat sat", "cat sat down") - 0.8).abs() < 1e-12);
        let s = sc("f1:threshold=0.8").score("cat sat", &json!("the cat sat down"));
        assert!((s.score - 0.8).abs() < 1e-12 && s.correct);
    }

    #[test]
    fn json_scorers() {
        let s = sc("json").score("```json\n{\"a\": 1.0}\n```", &json!({"a": 1}));
        assert!(s.correct);
        let s = sc("json").score("sorry", &json!({"a": 1}));
        assert_eq!(s.failure, Some(ScoreFailure::InvalidJson));
        let mut spec = ScorerSpec::parse("json-schema:s.json").unwrap();
        if let ScorerSpec::JsonSchema { schema, .. } = &mut spec {
            *schema = Some(json!({"type": "object", "required": ["a"]}));
        }
        let s = Scorer::new(spec).unwrap();
        assert!(s.score("{\"a\": 1}", &json!(null)).correct);
        assert_eq!(
            s.score("{\"b\": 1}", &json!(null)).failure,
            Some(ScoreFailure::SchemaViolation)
        );
    }

    #[test]
    fn field_extraction_object() {
        let s = sc("fields:date=date,tags=set");
        let want =
            json!({"name": "ACME Corp", "amount": 1500, "date": "2024-03-05", "tags": ["a", "b"]});
        let r = s.score("{\"name\": \"acme corp.\", \"amount\": \"1,500\", \"date\": \"March 5, 2024\", \"tags\": [\"B\", \"a\"]}", &want);
        assert!(r.correct, "{r:?}");
        assert_eq!(r.score, 1.0);
        let r = s.score(
            "{\"name\": \"ACME\", \"amount\": 1500, \"extra\": 1}",
            &want,
        );
        assert!(!r.correct);
        assert_eq!(
            r.fields["name"],
            FieldCounts {
                tp: 0,
                fp: 1,
                fn_: 1
            }
        );
        assert_eq!(
            r.fields["amount"],
            FieldCounts {
                tp: 1,
                fp: 0,
                fn_: 0
            }
        );
        assert_eq!(
            r.fields["date"],
            FieldCounts {
                tp: 0,
                fp: 0,
                fn_: 1
            }
        );
        assert_eq!(
            r.fields["extra"],
            FieldCounts {
                tp: 0,
                fp: 1,
                fn_: 0
            }
        );
        // F1 over all fields: tp 1, fp 2, fn 3 → 2/(2+5).
        assert!((r.score - 2.0 / 7.0).abs() < 1e-12);
    }

    #[test]
    fn field_extraction_records() {
        let s = sc("fields");
        let want =
            json!([{"value": 2, "unit": "metre"}, {"value": 2000, "unit": "pound sterling"}]);
        let r = s.score("{\"quantities\": [{\"value\": 2000, \"unit\": \"Pound Sterling\"}, {\"value\": 2, \"unit\": \"metre\"}]}", &want);
        assert!(r.correct, "{r:?}");
        let r = s.score("[{\"value\": 2, \"unit\": \"meter\"}]", &want);
        assert!(!r.correct);
        assert_eq!(
            r.fields["value"],
            FieldCounts {
                tp: 1,
                fp: 0,
                fn_: 1
            }
        );
        assert_eq!(
            r.fields["unit"],
            FieldCounts {
                tp: 0,
                fp: 1,
                fn_: 2
            }
        );
        assert!(s.score("[]", &json!([])).correct);
        assert!(
            !s.score("[{\"value\": 1, \"unit\": \"x\"}]", &json!([]))
                .correct
        );
        let r = s.score("nothing", &want);
        assert_eq!(r.failure, Some(ScoreFailure::InvalidJson));
        assert_eq!(r.fields["unit"].fn_, 2);
    }
}
