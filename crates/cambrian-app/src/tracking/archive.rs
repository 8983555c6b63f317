//! Parsers for archived Hub snapshot files (bytes in, snapshots out; no I/O).
//!
//! Three formats are recognised by content, never by file name:
//!
//! * **daily top** — `{"date", "fetched_at", "source", "models": [ {id, likes, downloads,
//!   pipeline_tag, library_name, createdAt, lastModified}, … ]}`: one `/api/models` listing
//!   (sorted by likes, merged with sorted by downloads) per file.
//! * **api trending** — `{"<model id>": {"repoData": {…}, "repoType": "model"}, …}`: the
//!   model items of `GET /api/trending`, in rank order (key order). The file has no date of
//!   its own: it comes from a sibling `INDEX.json` (`commit_time_utc`) or from a
//!   `YYYY-MM-DD` file name.
//! * **trending rank feed** — JSON Lines of `{commit, commit_time, ranked_model_ids}`: the
//!   rank order of the Hub trending page at each commit. Only ranks (ids) are known. Several
//!   commits on one UTC day collapse to the last commit of that day.
//!
//! An `INDEX.json` (`{"source_repo", "files": [...]}`) is recognised and used as metadata.
//! Item parsing is tolerant per field: a missing or wrong-typed optional field becomes `None`
//! and is counted as a warning; an item without a string `id` is skipped (warning). A file
//! that is not JSON, or not one of the formats, is rejected with its name and line:column.

use crate::{Error, Result};
use cambrian_types::{HUB_UNKNOWN_CREATED_AT, ModelRecord};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// Snapshot `source` for the daily top listing archive.
pub const SOURCE_DAILY_TOP: &str = "archive:daily-top";
/// Snapshot `query` for the daily top listing archive.
pub const QUERY_DAILY_TOP: &str = "sort=likes|downloads&direction=-1&limit=300 (merged)";
/// Snapshot `source` for `/api/trending` archives.
pub const SOURCE_API_TRENDING: &str = "archive:api-trending";
pub const QUERY_API_TRENDING: &str = "GET /api/trending (recentlyTrending, type=model)";
/// Snapshot `source` for the trending page rank feed.
pub const SOURCE_RANK_FEED: &str = "archive:trending-page-rank";
pub const QUERY_RANK_FEED: &str = "trending page rank (ids only)";

/// At most this many warning texts are kept per snapshot (all are counted).
const MAX_WARNING_TEXTS: usize = 20;

/// Which archive format a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArchiveFormat {
    DailyTop,
    ApiTrending,
    TrendingRankFeed,
}

impl ArchiveFormat {
    pub fn name(self) -> &'static str {
        match self {
            ArchiveFormat::DailyTop => "daily-top",
            ArchiveFormat::ApiTrending => "api-trending",
            ArchiveFormat::TrendingRankFeed => "trending-rank-feed",
        }
    }
}

/// One snapshot read from an archive file, ready for `Store::import_snapshot`.
#[derive(Debug, Clone)]
pub struct ParsedSnapshot {
    pub format: ArchiveFormat,
    /// Where it came from: file name, plus `:LINE` for JSON Lines.
    pub origin: String,
    pub taken_at: DateTime<Utc>,
    /// UTC day of `taken_at`: one snapshot per day and source.
    pub day: NaiveDate,
    /// How `taken_at` was determined (for `--explain`-style output).
    pub taken_at_from: &'static str,
    pub source: &'static str,
    pub query: &'static str,
    /// In rank order (first = rank 1); duplicate ids removed (first kept).
    pub models: Vec<ModelRecord>,
    pub warning_count: u64,
    pub warnings: Vec<String>,
}

/// Metadata from an `INDEX.json` next to archive files: file name → timestamp.
#[derive(Debug, Clone, Default)]
pub struct ArchiveIndex {
    pub times: HashMap<String, DateTime<Utc>>,
}

/// What a file turned out to be.
#[derive(Debug)]
pub enum ParsedFile {
    Snapshots(Vec<ParsedSnapshot>),
    Index(ArchiveIndex),
}

struct Warnings {
    count: u64,
    texts: Vec<String>,
}

impl Warnings {
    fn new() -> Self {
        Warnings {
            count: 0,
            texts: Vec::new(),
        }
    }
    fn push(&mut self, w: String) {
        self.count += 1;
        if self.texts.len() < MAX_WARNING_TEXTS {
            self.texts.push(w);
        }
    }
}

fn bad(origin: &str, msg: impl std::fmt::Display) -> Error {
    Error::bad_input(format!("{origin}: {msg}")).with_hint(
        "cambrian import reads the daily-top listing (*.json with \"models\"), /api/trending \
         caches (*.json keyed by model id with \"repoData\") and the trending rank feed \
         (JSON Lines with \"ranked_model_ids\"); see docs/tracking.md",
    )
}

fn json_err(origin: &str, e: &serde_json::Error) -> Error {
    bad(
        origin,
        format!(
            "invalid JSON at line {}, column {}: {e}",
            e.line(),
            e.column()
        ),
    )
}

/// Parse one file's bytes. `name` is the file name used for messages and for a
/// `YYYY-MM-DD` fallback date; `index` holds times from a sibling `INDEX.json`.
pub fn parse_file(name: &str, bytes: &[u8], index: Option<&ArchiveIndex>) -> Result<ParsedFile> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(bad(name, "the file is empty"));
    }
    let mut stream = serde_json::Deserializer::from_slice(bytes).into_iter::<Value>();
    let first = match stream.next() {
        Some(Ok(v)) => v,
        Some(Err(e)) => return Err(json_err(name, &e)),
        None => return Err(bad(name, "the file is empty")),
    };
    let is_rank_line = first.get("ranked_model_ids").is_some();
    if is_rank_line {
        return parse_rank_feed(name, bytes).map(ParsedFile::Snapshots);
    }
    // A single JSON document: anything after it is an error.
    match stream.next() {
        None => {}
        Some(Ok(_)) => {
            return Err(bad(
                name,
                "more than one JSON value, and not a trending rank feed",
            ));
        }
        Some(Err(e)) => return Err(json_err(name, &e)),
    }
    let Value::Object(obj) = &first else {
        return Err(bad(
            name,
            format!(
                "expected a JSON object at the top level, found {}",
                type_name(&first)
            ),
        ));
    };
    if obj.get("models").is_some_and(Value::is_array) {
        return parse_daily_top(name, obj).map(|s| ParsedFile::Snapshots(vec![s]));
    }
    if obj.get("files").is_some_and(Value::is_array) {
        return Ok(ParsedFile::Index(parse_index(obj)));
    }
    if let Some((_, v)) = obj.iter().next()
        && v.get("repoData").is_some()
    {
        return parse_api_trending(name, obj, index).map(|s| ParsedFile::Snapshots(vec![s]));
    }
    Err(bad(name, "not a recognised snapshot format"))
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn date_from_name(name: &str) -> Option<NaiveDate> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let stem = base.get(..10)?;
    NaiveDate::parse_from_str(stem, "%Y-%m-%d").ok()
}

fn midnight(d: NaiveDate) -> DateTime<Utc> {
    d.and_time(NaiveTime::MIN).and_utc()
}

fn parse_index(obj: &serde_json::Map<String, Value>) -> ArchiveIndex {
    let mut idx = ArchiveIndex::default();
    for f in obj
        .get("files")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(file) = f.get("file").and_then(Value::as_str) else {
            continue;
        };
        let t = ["commit_time_utc", "fetched_at", "commit_time"]
            .iter()
            .find_map(|k| f.get(*k).and_then(Value::as_str).and_then(parse_time));
        if let Some(t) = t {
            idx.times.insert(file.to_string(), t);
        }
    }
    idx
}

fn parse_daily_top(name: &str, obj: &serde_json::Map<String, Value>) -> Result<ParsedSnapshot> {
    let date = obj
        .get("date")
        .and_then(Value::as_str)
        .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok());
    let fetched = obj
        .get("fetched_at")
        .and_then(Value::as_str)
        .and_then(parse_time);
    let mut w = Warnings::new();
    let (taken_at, from) = match (fetched, date) {
        (Some(t), Some(d)) if t.date_naive() != d => {
            w.push(format!(
                "fetched_at {t} is not on the declared date {d}; using the date"
            ));
            (midnight(d), "date field (fetched_at on another UTC day)")
        }
        (Some(t), _) => (t, "fetched_at field"),
        (None, Some(d)) => (midnight(d), "date field (00:00 UTC)"),
        (None, None) => match date_from_name(name) {
            Some(d) => (midnight(d), "file name (00:00 UTC)"),
            None => {
                return Err(bad(
                    name,
                    "no usable \"date\" or \"fetched_at\" field and no YYYY-MM-DD file name",
                ));
            }
        },
    };
    let items = obj
        .get("models")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let models = records(items.iter(), &mut w);
    Ok(ParsedSnapshot {
        format: ArchiveFormat::DailyTop,
        origin: name.to_string(),
        day: taken_at.date_naive(),
        taken_at,
        taken_at_from: from,
        source: SOURCE_DAILY_TOP,
        query: QUERY_DAILY_TOP,
        models,
        warning_count: w.count,
        warnings: w.texts,
    })
}

fn parse_api_trending(
    name: &str,
    obj: &serde_json::Map<String, Value>,
    index: Option<&ArchiveIndex>,
) -> Result<ParsedSnapshot> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let (taken_at, from) = match index.and_then(|i| i.times.get(base)) {
        Some(t) => (*t, "INDEX.json commit_time_utc"),
        None => match date_from_name(name) {
            Some(d) => (midnight(d), "file name (00:00 UTC)"),
            None => {
                return Err(bad(
                    name,
                    "an /api/trending cache carries no date: name the file YYYY-MM-DD.json or keep its INDEX.json beside it",
                ));
            }
        },
    };
    let mut w = Warnings::new();
    let mut items = Vec::with_capacity(obj.len());
    for (key, v) in obj {
        match v.get("repoData") {
            Some(rd @ Value::Object(m)) => {
                if let Some(id) = m.get("id").and_then(Value::as_str)
                    && id != key
                {
                    w.push(format!(
                        "item {key:?}: repoData.id is {id:?}; using repoData.id"
                    ));
                }
                items.push(rd);
            }
            _ => w.push(format!("item {key:?}: no repoData object; skipped")),
        }
    }
    let models = records(items.into_iter(), &mut w);
    Ok(ParsedSnapshot {
        format: ArchiveFormat::ApiTrending,
        origin: name.to_string(),
        day: taken_at.date_naive(),
        taken_at,
        taken_at_from: from,
        source: SOURCE_API_TRENDING,
        query: QUERY_API_TRENDING,
        models,
        warning_count: w.count,
        warnings: w.texts,
    })
}

fn parse_rank_feed(name: &str, bytes: &[u8]) -> Result<Vec<ParsedSnapshot>> {
    // Last commit of each UTC day wins.
    let mut by_day: BTreeMap<NaiveDate, (DateTime<Utc>, usize, Vec<ModelRecord>, Warnings)> =
        BTreeMap::new();
    for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
        let lineno = i + 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let origin = format!("{name}:{lineno}");
        let v: Value = serde_json::from_slice(line).map_err(|e| {
            bad(
                &origin,
                format!("invalid JSON at column {}: {e}", e.column()),
            )
        })?;
        let t = v
            .get("commit_time")
            .and_then(Value::as_str)
            .and_then(parse_time)
            .ok_or_else(|| {
                bad(
                    &origin,
                    "missing or unparsable \"commit_time\" (RFC 3339 expected)",
                )
            })?;
        let ids = v
            .get("ranked_model_ids")
            .and_then(Value::as_array)
            .ok_or_else(|| bad(&origin, "missing \"ranked_model_ids\" array"))?;
        let mut w = Warnings::new();
        let mut seen = std::collections::HashSet::new();
        let mut models = Vec::with_capacity(ids.len());
        for (j, id) in ids.iter().enumerate() {
            match id.as_str() {
                Some(s) if !s.is_empty() => {
                    if seen.insert(s) {
                        models.push(ModelRecord {
                            id: s.to_string(),
                            ..Default::default()
                        });
                    } else {
                        w.push(format!(
                            "line {lineno}: rank {} repeats {s:?}; first kept",
                            j + 1
                        ));
                    }
                }
                _ => w.push(format!(
                    "line {lineno}: rank {} is not a model id; skipped",
                    j + 1
                )),
            }
        }
        let day = t.date_naive();
        match by_day.get(&day) {
            Some((prev, ..)) if *prev > t => {}
            _ => {
                by_day.insert(day, (t, lineno, models, w));
            }
        }
    }
    if by_day.is_empty() {
        return Err(bad(name, "no rank lines"));
    }
    Ok(by_day
        .into_iter()
        .map(|(day, (t, lineno, models, w))| ParsedSnapshot {
            format: ArchiveFormat::TrendingRankFeed,
            origin: format!("{name}:{lineno}"),
            taken_at: t,
            day,
            taken_at_from: "commit_time (last commit of the UTC day)",
            source: SOURCE_RANK_FEED,
            query: QUERY_RANK_FEED,
            models,
            warning_count: w.count,
            warnings: w.texts,
        })
        .collect())
}

/// Map listing items to records, in order; ids seen before are dropped.
fn records<'a>(items: impl Iterator<Item = &'a Value>, w: &mut Warnings) -> Vec<ModelRecord> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, item) in items.enumerate() {
        let Some(r) = record_from_item(item, i, w) else {
            continue;
        };
        if seen.insert(r.id.clone()) {
            out.push(r);
        } else {
            w.push(format!(
                "item {i}: id {:?} repeated; first occurrence kept",
                r.id
            ));
        }
    }
    out
}

/// Map one archived Hub item to a [`ModelRecord`]. Tolerant per field.
fn record_from_item(item: &Value, index: usize, w: &mut Warnings) -> Option<ModelRecord> {
    let Value::Object(m) = item else {
        w.push(format!(
            "item {index}: {} instead of an object; skipped",
            type_name(item)
        ));
        return None;
    };
    let id = match m.get("id").or_else(|| m.get("modelId")) {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(v) => {
            w.push(format!(
                "item {index}: id is {}; item skipped",
                type_name(v)
            ));
            return None;
        }
        None => {
            w.push(format!("item {index}: no id; item skipped"));
            return None;
        }
    };
    let mut f = FieldReader {
        m,
        index,
        id: &id,
        w,
    };
    let r = ModelRecord {
        author: f.string("author"),
        sha: f.string("sha"),
        created_at: f.time("createdAt"),
        last_modified: f.time("lastModified"),
        downloads_30d: f.count("downloads"),
        downloads_all_time: f.count("downloadsAllTime"),
        likes: f.count("likes"),
        trending_score: f.float("trendingScore"),
        pipeline_tag: f.string("pipeline_tag"),
        library_name: f.string("library_name"),
        tags: f.strings("tags"),
        gated: f.gated(),
        id: id.clone(),
        ..Default::default()
    };
    Some(r)
}

struct FieldReader<'a> {
    m: &'a serde_json::Map<String, Value>,
    index: usize,
    id: &'a str,
    w: &'a mut Warnings,
}

impl FieldReader<'_> {
    fn get(&self, k: &str) -> Option<&Value> {
        self.m.get(k).filter(|v| !v.is_null())
    }
    fn warn(&mut self, k: &str, v_type: &str, want: &str) {
        let msg = format!(
            "item {} ({}): field {k} is {v_type}, expected {want}; ignored",
            self.index, self.id
        );
        self.w.push(msg);
    }
    fn string(&mut self, k: &str) -> Option<String> {
        match self.get(k)? {
            Value::String(s) => Some(s.clone()),
            v => {
                let t = type_name(v);
                self.warn(k, t, "a string");
                None
            }
        }
    }
    fn count(&mut self, k: &str) -> Option<u64> {
        let v = self.get(k)?;
        if let Some(n) = v.as_u64() {
            return Some(n);
        }
        let t = if v.is_number() {
            "a negative or fractional number"
        } else {
            type_name(v)
        };
        self.warn(k, t, "a non-negative integer");
        None
    }
    fn float(&mut self, k: &str) -> Option<f64> {
        let v = self.get(k)?;
        match v.as_f64() {
            Some(x) if x.is_finite() => Some(x),
            _ => {
                let t = type_name(v);
                self.warn(k, t, "a number");
                None
            }
        }
    }
    fn time(&mut self, k: &str) -> Option<DateTime<Utc>> {
        let v = self.get(k)?;
        match v.as_str() {
            Some(HUB_UNKNOWN_CREATED_AT) if k == "createdAt" => None,
            Some(s) => match parse_time(s) {
                Some(t) => Some(t),
                None => {
                    self.warn(k, "an unparsable date", "RFC 3339");
                    None
                }
            },
            None => {
                let t = type_name(v);
                self.warn(k, t, "an RFC 3339 string");
                None
            }
        }
    }
    fn strings(&mut self, k: &str) -> Vec<String> {
        match self.get(k) {
            None => Vec::new(),
            Some(Value::Array(a)) => {
                let out: Vec<String> = a
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect();
                if out.len() != a.len() {
                    self.warn(k, "an array with non-strings", "strings only");
                }
                out
            }
            Some(v) => {
                let t = type_name(v);
                self.warn(k, t, "an array of strings");
                Vec::new()
            }
        }
    }
    fn gated(&mut self) -> Option<String> {
        match self.get("gated")? {
            Value::Bool(b) => Some(b.to_string()),
            Value::String(s) => Some(s.clone()),
            v => {
                let t = type_name(v);
                self.warn("gated", t, "false, \"auto\" or \"manual\"");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snaps(p: ParsedFile) -> Vec<ParsedSnapshot> {
        match p {
            ParsedFile::Snapshots(s) => s,
            ParsedFile::Index(_) => panic!("index"),
        }
    }

    #[test]
    fn daily_top_fields_and_tolerance() {
        let doc = br#"{"date":"2026-08-07","fetched_at":"2026-08-07T21:41:45.715386+09:00","models":[
          {"id":"a/b","likes":5,"downloads":7,"pipeline_tag":"text-generation","library_name":"transformers","createdAt":"2022-03-02T23:29:04.000Z","lastModified":null,"extra":1},
          {"id":"c/d","likes":"many","downloads":-1,"pipeline_tag":3},
          {"likes":1},
          {"id":"a/b","likes":9}]}"#;
        let s = snaps(parse_file("x.json", doc, None).unwrap());
        assert_eq!(s.len(), 1);
        let s = &s[0];
        assert_eq!(s.format, ArchiveFormat::DailyTop);
        assert_eq!(s.day.to_string(), "2026-08-07");
        assert_eq!(s.taken_at.to_rfc3339(), "2026-08-07T12:41:45.715386+00:00");
        assert_eq!(s.models.len(), 2);
        assert_eq!(s.models[0].likes, Some(5));
        assert_eq!(s.models[0].downloads_30d, Some(7));
        assert_eq!(s.models[0].created_at, None);
        assert_eq!(s.models[1].likes, None);
        assert_eq!(s.models[1].downloads_30d, None);
        assert_eq!(s.models[1].pipeline_tag, None);
        // likes, downloads, pipeline_tag, missing id, repeated id
        assert_eq!(s.warning_count, 5);
    }

    #[test]
    fn rank_feed_last_commit_of_utc_day_wins() {
        let doc = b"{\"commit\":\"a\",\"commit_time\":\"2025-01-20T15:03:01+08:00\",\"ranked_model_ids\":[\"x\",\"y\"]}\n\
{\"commit\":\"b\",\"commit_time\":\"2025-01-20T07:52:04Z\",\"ranked_model_ids\":[\"y\",\"x\",\"z\"]}\n\
{\"commit\":\"c\",\"commit_time\":\"2025-01-20T07:25:51Z\",\"ranked_model_ids\":[\"q\"]}\n\
{\"commit\":\"d\",\"commit_time\":\"2025-01-21T00:54:32Z\",\"ranked_model_ids\":[\"x\"]}\n";
        let s = snaps(parse_file("feed.jsonl", doc, None).unwrap());
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].origin, "feed.jsonl:2");
        let ids: Vec<_> = s[0].models.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["y", "x", "z"]);
    }

    #[test]
    fn invalid_json_names_line_and_column() {
        let e = parse_file("bad.json", b"{\n \"models\": [1,,]}", None).unwrap_err();
        assert!(
            e.message.contains("bad.json: invalid JSON at line 2"),
            "{}",
            e.message
        );
        assert!(e.hint.is_some());
    }

    #[test]
    fn api_trending_needs_a_date() {
        let doc = br#"{"a/b":{"repoData":{"id":"a/b","likes":3,"gated":"manual"}}}"#;
        assert!(parse_file("cache.json", doc, None).is_err());
        let s = snaps(parse_file("2026-03-02.json", doc, None).unwrap());
        assert_eq!(s[0].models[0].gated.as_deref(), Some("manual"));
        let mut idx = ArchiveIndex::default();
        idx.times.insert(
            "2026-03-02.json".into(),
            parse_time("2026-03-02T12:17:14+00:00").unwrap(),
        );
        let s = snaps(parse_file("dir/2026-03-02.json", doc, Some(&idx)).unwrap());
        assert_eq!(s[0].taken_at_from, "INDEX.json commit_time_utc");
    }

    #[test]
    fn unknown_format_rejected() {
        assert!(parse_file("x.json", b"[1,2]", None).is_err());
        assert!(parse_file("x.json", b"{\"a\":1}", None).is_err());
        assert!(parse_file("x.json", b"  ", None).is_err());
    }
}
