//! Test sets: parsing and validating JSONL or CSV files of labeled items,
//! and turning them into [`PreparedItem`]s through a minijinja prompt
//! template and an optional system prompt.
//!
//! Every validation error names the file, the line and the field.

use crate::item::{Input, PreparedItem, TestItem};
use cambrian_llm::{ChatMessage, Role};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Largest test set file accepted (bytes). Larger files are refused before
/// reading, so memory use is bounded.
pub const MAX_FILE_BYTES: u64 = 512 * 1024 * 1024;
/// Largest number of items in one test set.
pub const MAX_ITEMS: usize = 1_000_000;

/// The fields an item may carry.
const FIELDS: [&str; 4] = ["id", "input", "expected", "metadata"];

#[derive(Debug, thiserror::Error)]
pub enum TestSetError {
    #[error("cannot read test set {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        field: Option<String>,
        message: String,
        hint: Option<String>,
    },
    #[error("{path}: {message}")]
    File {
        path: PathBuf,
        message: String,
        hint: Option<String>,
    },
    #[error("prompt template: {message}")]
    Template {
        message: String,
        item: Option<String>,
        hint: Option<String>,
    },
}

impl TestSetError {
    pub fn hint(&self) -> Option<&str> {
        match self {
            TestSetError::Io { .. } => None,
            TestSetError::Invalid { hint, .. }
            | TestSetError::File { hint, .. }
            | TestSetError::Template { hint, .. } => hint.as_deref(),
        }
    }
}

/// File format of a test set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jsonl,
    Csv,
}

impl Format {
    /// `.csv` → CSV, anything else (`.jsonl`, `.json`, `.ndjson`) → JSON Lines.
    pub fn from_path(path: &Path) -> Format {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
        {
            Some(e) if e == "csv" => Format::Csv,
            _ => Format::Jsonl,
        }
    }
}

/// Read and validate a test set file (format from the extension).
pub fn load(path: &Path) -> Result<Vec<TestItem>, TestSetError> {
    let io = |source| TestSetError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(TestSetError::File {
            path: path.to_path_buf(),
            message: format!("file is {} bytes, over the {} byte limit", meta.len(), MAX_FILE_BYTES),
            hint: Some("split the test set; evaluations beyond a few thousand items rarely change a verdict".into()),
        });
    }
    let bytes = std::fs::read(path).map_err(io)?;
    let text = String::from_utf8(bytes).map_err(|e| TestSetError::File {
        path: path.to_path_buf(),
        message: format!("not UTF-8 at byte offset {}", e.utf8_error().valid_up_to()),
        hint: Some("save the file as UTF-8".into()),
    })?;
    match Format::from_path(path) {
        Format::Jsonl => parse_jsonl(&text, path),
        Format::Csv => parse_csv(&text, path),
    }
}

fn invalid(
    path: &Path,
    line: usize,
    field: Option<&str>,
    message: impl Into<String>,
    hint: Option<&str>,
) -> TestSetError {
    TestSetError::Invalid {
        path: path.to_path_buf(),
        line,
        field: field.map(str::to_string),
        message: message.into(),
        hint: hint.map(str::to_string),
    }
}

/// Parse JSON Lines: one object per line with `id`, `input`, `expected`,
/// optional `metadata`. Blank lines are skipped.
pub fn parse_jsonl(text: &str, path: &Path) -> Result<Vec<TestItem>, TestSetError> {
    let mut items = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(line).map_err(|e| {
            invalid(
                path,
                line_no,
                None,
                format!("invalid JSON at column {}: {e}", e.column()),
                Some(
                    "each line must be one JSON object: {\"id\": …, \"input\": …, \"expected\": …}",
                ),
            )
        })?;
        let serde_json::Value::Object(obj) = value else {
            return Err(invalid(
                path,
                line_no,
                None,
                "expected a JSON object",
                Some("each line must be one JSON object"),
            ));
        };
        for k in obj.keys() {
            if !FIELDS.contains(&k.as_str()) {
                return Err(invalid(
                    path,
                    line_no,
                    Some(k),
                    format!("unknown field `{k}`"),
                    Some(
                        "allowed fields: id, input, expected, metadata (put extra data under `metadata`)",
                    ),
                ));
            }
        }
        let id = match obj.get("id") {
            Some(serde_json::Value::String(s)) if !s.trim().is_empty() => s.clone(),
            Some(serde_json::Value::Number(n)) => n.to_string(),
            Some(_) => {
                return Err(invalid(
                    path,
                    line_no,
                    Some("id"),
                    "field `id` must be a non-empty string or a number",
                    None,
                ));
            }
            None => {
                return Err(invalid(
                    path,
                    line_no,
                    Some("id"),
                    "missing field `id`",
                    Some("give every item a unique id"),
                ));
            }
        };
        let input = match obj.get("input") {
            Some(v) => parse_input(v).map_err(|m| {
                invalid(
                    path,
                    line_no,
                    Some("input"),
                    m,
                    Some(
                        "`input` is a string or a list of {\"role\": \"user\", \"content\": \"…\"}",
                    ),
                )
            })?,
            None => {
                return Err(invalid(
                    path,
                    line_no,
                    Some("input"),
                    "missing field `input`",
                    None,
                ));
            }
        };
        let expected = match obj.get("expected") {
            Some(serde_json::Value::Null) | None => {
                return Err(invalid(
                    path,
                    line_no,
                    Some("expected"),
                    "missing field `expected`",
                    Some("`expected` is a string, number, list or object"),
                ));
            }
            Some(v) => v.clone(),
        };
        let metadata = match obj.get("metadata") {
            None | Some(serde_json::Value::Null) => None,
            Some(v @ serde_json::Value::Object(_)) => Some(v.clone()),
            Some(_) => {
                return Err(invalid(
                    path,
                    line_no,
                    Some("metadata"),
                    "field `metadata` must be an object",
                    None,
                ));
            }
        };
        push_item(
            &mut items,
            &mut seen,
            TestItem {
                id,
                input,
                expected,
                metadata,
            },
            path,
            line_no,
        )?;
    }
    non_empty(items, path, "a test set needs at least one line")
}

/// The items read from `path`, or the "no items" error with `hint`.
fn non_empty(items: Vec<TestItem>, path: &Path, hint: &str) -> Result<Vec<TestItem>, TestSetError> {
    if items.is_empty() {
        return Err(TestSetError::File {
            path: path.to_path_buf(),
            message: "no items".into(),
            hint: Some(hint.into()),
        });
    }
    Ok(items)
}

fn push_item(
    items: &mut Vec<TestItem>,
    seen: &mut HashMap<String, usize>,
    item: TestItem,
    path: &Path,
    line: usize,
) -> Result<(), TestSetError> {
    if let Some(first) = seen.get(&item.id) {
        return Err(invalid(
            path,
            line,
            Some("id"),
            format!("duplicate id `{}` (first seen on line {first})", item.id),
            Some("ids must be unique"),
        ));
    }
    if items.len() >= MAX_ITEMS {
        return Err(invalid(
            path,
            line,
            None,
            format!("more than {MAX_ITEMS} items"),
            Some("split the test set"),
        ));
    }
    seen.insert(item.id.clone(), line);
    items.push(item);
    Ok(())
}

fn parse_input(v: &serde_json::Value) -> Result<Input, String> {
    match v {
        serde_json::Value::String(s) => Ok(Input::Text(s.clone())),
        serde_json::Value::Array(arr) => {
            if arr.is_empty() {
                return Err("`input` messages list is empty".into());
            }
            let mut msgs = Vec::with_capacity(arr.len());
            for (j, m) in arr.iter().enumerate() {
                let msg: ChatMessage = serde_json::from_value(m.clone()).map_err(|e| {
                    format!("message {j}: {e} (roles: system, user, assistant, tool)")
                })?;
                msgs.push(msg);
            }
            Ok(Input::Messages(msgs))
        }
        _ => Err("`input` must be a string or a list of chat messages".into()),
    }
}

/// Parse CSV with a header naming `id`, `input`, `expected` and optionally
/// `metadata`. A cell of `expected` that starts with `{` or `[` is parsed as
/// JSON (list or object); `metadata` must be a JSON object or empty; an
/// `input` cell starting with `[` is parsed as a list of chat messages.
pub fn parse_csv(text: &str, path: &Path) -> Result<Vec<TestItem>, TestSetError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| TestSetError::File {
            path: path.to_path_buf(),
            message: format!("bad CSV header: {e}"),
            hint: None,
        })?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h.trim() == name);
    for h in headers.iter() {
        if !FIELDS.contains(&h.trim()) {
            return Err(invalid(
                path,
                1,
                Some(h),
                format!("unknown column `{h}`"),
                Some("columns: id, input, expected, metadata"),
            ));
        }
    }
    let (Some(ci), Some(cin), Some(cex)) = (col("id"), col("input"), col("expected")) else {
        return Err(invalid(
            path,
            1,
            None,
            "the header must name the columns id, input and expected",
            Some("first line e.g. `id,input,expected`"),
        ));
    };
    let cmeta = col("metadata");
    let mut items = Vec::new();
    let mut seen = HashMap::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map(|p| p.line() as usize).unwrap_or(0);
            invalid(
                path,
                line,
                None,
                format!("bad CSV record: {e}"),
                Some("quote cells that contain commas, quotes or newlines"),
            )
        })?;
        let line = rec.position().map(|p| p.line() as usize).unwrap_or(0);
        let get = |c: usize| rec.get(c).unwrap_or("");
        let id = get(ci).trim().to_string();
        if id.is_empty() {
            return Err(invalid(
                path,
                line,
                Some("id"),
                "empty `id`",
                Some("give every item a unique id"),
            ));
        }
        let raw_in = get(cin);
        let input = if raw_in.trim_start().starts_with('[') {
            let v: serde_json::Value = serde_json::from_str(raw_in).map_err(|e| {
                invalid(
                    path,
                    line,
                    Some("input"),
                    format!("invalid JSON messages at column {}: {e}", e.column()),
                    None,
                )
            })?;
            parse_input(&v).map_err(|m| invalid(path, line, Some("input"), m, None))?
        } else if raw_in.is_empty() {
            return Err(invalid(path, line, Some("input"), "empty `input`", None));
        } else {
            Input::Text(raw_in.to_string())
        };
        let raw_ex = get(cex);
        let expected =
            if raw_ex.trim_start().starts_with('{') || raw_ex.trim_start().starts_with('[') {
                serde_json::from_str(raw_ex).map_err(|e| {
                    invalid(
                        path,
                        line,
                        Some("expected"),
                        format!("invalid JSON at column {}: {e}", e.column()),
                        Some("a cell starting with { or [ is read as JSON"),
                    )
                })?
            } else if raw_ex.is_empty() {
                return Err(invalid(
                    path,
                    line,
                    Some("expected"),
                    "empty `expected`",
                    None,
                ));
            } else {
                serde_json::Value::String(raw_ex.to_string())
            };
        let metadata = match cmeta.map(get).map(str::trim) {
            None | Some("") => None,
            Some(m) => match serde_json::from_str::<serde_json::Value>(m) {
                Ok(v @ serde_json::Value::Object(_)) => Some(v),
                Ok(_) => {
                    return Err(invalid(
                        path,
                        line,
                        Some("metadata"),
                        "`metadata` must be a JSON object",
                        None,
                    ));
                }
                Err(e) => {
                    return Err(invalid(
                        path,
                        line,
                        Some("metadata"),
                        format!("invalid JSON at column {}: {e}", e.column()),
                        None,
                    ));
                }
            },
        };
        push_item(
            &mut items,
            &mut seen,
            TestItem {
                id,
                input,
                expected,
                metadata,
            },
            path,
            line,
        )?;
    }
    non_empty(
        items,
        path,
        "a CSV test set needs a header and at least one row",
    )
}

/// How text inputs become requests.
#[derive(Debug, Clone, Default)]
pub struct PromptSpec {
    /// A minijinja template; the context has `input`, `id`, `metadata`
    /// (and `expected` is deliberately absent). `None` = the input as is.
    pub template: Option<String>,
    /// A system message prepended to every request (unless the item's own
    /// messages already start with a system message).
    pub system: Option<String>,
    /// Also fill [`PreparedItem::prompt`] for `/v1/completions` targets.
    pub completions_prompt: bool,
}

/// Render every item into the messages (and prompt) that will be sent.
pub fn prepare(items: &[TestItem], spec: &PromptSpec) -> Result<Vec<PreparedItem>, TestSetError> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    if let Some(t) = &spec.template {
        env.add_template("prompt", t).map_err(|e| TestSetError::Template {
            message: template_error(&e),
            item: None,
            hint: Some("the template sees `input`, `id` and `metadata`, e.g. `Extract the quantities from: {{ input }}`".into()),
        })?;
    }
    let tmpl = if spec.template.is_some() {
        env.get_template("prompt").ok()
    } else {
        None
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let mut messages = Vec::new();
        match &item.input {
            Input::Text(text) => {
                let user = match &tmpl {
                    Some(t) => t
                        .render(minijinja::context! { input => text, id => &item.id, metadata => &item.metadata })
                        .map_err(|e| TestSetError::Template {
                            message: format!("item `{}`: {}", item.id, template_error(&e)),
                            item: Some(item.id.clone()),
                            hint: Some("the template sees `input`, `id` and `metadata` only".into()),
                        })?,
                    None => text.clone(),
                };
                if let Some(s) = &spec.system {
                    messages.push(ChatMessage {
                        role: Role::System,
                        content: s.clone(),
                    });
                }
                messages.push(ChatMessage {
                    role: Role::User,
                    content: user,
                });
            }
            Input::Messages(msgs) => {
                if let Some(s) = &spec.system
                    && msgs.first().map(|m| m.role) != Some(Role::System)
                {
                    messages.push(ChatMessage {
                        role: Role::System,
                        content: s.clone(),
                    });
                }
                messages.extend(msgs.iter().cloned());
            }
        }
        let prompt = spec
            .completions_prompt
            .then(|| completions_prompt(&messages));
        out.push(PreparedItem {
            id: item.id.clone(),
            messages,
            prompt,
        });
    }
    Ok(out)
}

/// A plain-text prompt for `/v1/completions`: the system text, a blank line,
/// then the user text; multi-turn inputs are written `role: content`.
fn completions_prompt(messages: &[ChatMessage]) -> String {
    let simple = messages
        .iter()
        .all(|m| matches!(m.role, Role::System | Role::User))
        && messages.iter().filter(|m| m.role == Role::User).count() == 1;
    if simple {
        messages
            .iter()
            .map(|m| m.content.as_str())
            .collect::<Vec<_>>()
            .join("\n\n")
    } else {
        let mut s = String::new();
        for m in messages {
            let role = match m.role {
                Role::System => "system",
                Role::User => "user",
                Role::Assistant => "assistant",
                Role::Tool => "tool",
            };
            s.push_str(role);
            s.push_str(": ");
            s.push_str(&m.content);
            s.push('\n');
        }
        s.push_str("assistant:");
        s
    }
}

fn template_error(e: &minijinja::Error) -> String {
    match e.line() {
        Some(l) => format!("{} (template line {l})", e),
        None => e.to_string(),
    }
}

/// A short content key (first 16 hex digits of SHA-256 over the parts,
/// each length-prefixed) naming a run's default journal file.
pub fn content_key(parts: &[&[u8]]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    hex::encode(&h.finalize()[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("t.jsonl")
    }

    #[test]
    fn jsonl_errors_name_line_and_field() {
        let err = parse_jsonl("{\"id\":1,\"input\":\"a\",\"expected\":\"b\"}\n\n{\"id\":2,\"input\":5,\"expected\":\"b\"}\n", p()).unwrap_err();
        match err {
            TestSetError::Invalid { line, field, .. } => {
                assert_eq!(line, 3);
                assert_eq!(field.as_deref(), Some("input"));
            }
            e => panic!("{e:?}"),
        }
        let err = parse_jsonl("{\"id\":1,\"input\":\"a\",\"expected\":\"b\"}\n{\"id\":1,\"input\":\"a\",\"expected\":\"b\"}", p()).unwrap_err();
        assert!(
            err.to_string()
                .contains("t.jsonl:2: duplicate id `1` (first seen on line 1)"),
            "{err}"
        );
        let err = parse_jsonl("{\"id\":1,\"input\":\"a\"}", p()).unwrap_err();
        assert!(err.to_string().contains("missing field `expected`"));
        let err =
            parse_jsonl("{\"id\":1,\"input\":\"a\",\"expected\":1,\"label\":2}", p()).unwrap_err();
        assert!(err.to_string().contains("unknown field `label`"));
        let err = parse_jsonl("{\"id\":1,\"input\":\"a\",\"expected\":1", p()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("t.jsonl:1: invalid JSON at column"),
            "{err}"
        );
    }

    #[test]
    fn csv_parses_json_cells() {
        let text = "id,input,expected,metadata\nq1,\"How far, in km?\",\"{\"\"km\"\": 3}\",\n q2 ,hi,hello,\"{\"\"lang\"\": \"\"en\"\"}\"\n";
        let items = parse_csv(text, Path::new("t.csv")).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].expected, serde_json::json!({"km": 3}));
        assert_eq!(items[1].id, "q2");
        assert_eq!(items[1].metadata, Some(serde_json::json!({"lang": "en"})));
        let err = parse_csv("id,input,expected\nq1,a,{bad\n", Path::new("t.csv")).unwrap_err();
        assert!(err.to_string().starts_with("t.csv:2:"), "{err}");
    }

    #[test]
    fn template_and_system() {
        let items = parse_jsonl(
            "{\"id\":\"a\",\"input\":\"two meters\",\"expected\":1,\"metadata\":{\"k\":\"v\"}}\n{\"id\":\"b\",\"input\":[{\"role\":\"user\",\"content\":\"hi\"}],\"expected\":\"x\"}",
            p(),
        )
        .unwrap();
        let spec = PromptSpec {
            template: Some("Q[{{ metadata.k }}]: {{ input }}".into()),
            system: Some("Be terse.".into()),
            completions_prompt: true,
        };
        let prepared = prepare(&items, &spec).unwrap();
        assert_eq!(prepared[0].messages.len(), 2);
        assert_eq!(prepared[0].messages[1].content, "Q[v]: two meters");
        assert_eq!(
            prepared[0].prompt.as_deref(),
            Some("Be terse.\n\nQ[v]: two meters")
        );
        assert_eq!(prepared[1].messages[0].role, Role::System);
        let bad = PromptSpec {
            template: Some("{{ expected }}".into()),
            ..Default::default()
        };
        let err = prepare(&items, &bad).unwrap_err();
        assert!(err.to_string().contains("item `a`"), "{err}");
    }
}
