//! Finding the JSON value in a model's answer: bare JSON, a ```json fence,
//! or a value embedded in prose ("Here is the result: {...}").

use serde_json::Value;

/// Largest answer scanned for an embedded JSON value (bytes). Longer answers
/// are scanned up to this length only.
const MAX_SCAN: usize = 1 << 20;
/// At most this many `{`/`[` start positions are tried in prose.
const MAX_STARTS: usize = 64;

/// Why no JSON value was found.
#[derive(Debug, Clone, PartialEq)]
pub struct NoJson {
    /// serde_json's message for the most plausible candidate.
    pub message: String,
}

/// Extract the first JSON value from an answer.
///
/// Order: (1) the whole answer (trimmed); (2) the first fenced block
/// (```json … ``` or ``` … ```), parsed whole; (3) the first position in the
/// text where a `{` or `[` starts a complete JSON value (trailing prose ignored).
pub fn extract(answer: &str) -> Result<Value, NoJson> {
    let text = truncate(answer.trim(), MAX_SCAN);
    if text.is_empty() {
        return Err(NoJson {
            message: "empty answer".into(),
        });
    }
    let mut first_err = match serde_json::from_str::<Value>(text) {
        Ok(v) => return Ok(v),
        Err(e) => e.to_string(),
    };
    if let Some(block) = fenced_block(text) {
        match serde_json::from_str::<Value>(block.trim()) {
            Ok(v) => return Ok(v),
            Err(e) => first_err = format!("in the ``` block: {e}"),
        }
    }
    let mut tried = 0;
    for (pos, ch) in text.char_indices() {
        if ch != '{' && ch != '[' {
            continue;
        }
        tried += 1;
        if tried > MAX_STARTS {
            break;
        }
        let mut stream = serde_json::Deserializer::from_str(&text[pos..]).into_iter::<Value>();
        match stream.next() {
            Some(Ok(v)) if v.is_object() || v.is_array() => return Ok(v),
            Some(Err(e)) if tried == 1 => first_err = e.to_string(),
            _ => {}
        }
    }
    Err(NoJson { message: first_err })
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The body of the first ``` fence (language tag dropped). An unclosed fence
/// runs to the end of the text (truncated answers).
fn fenced_block(text: &str) -> Option<&str> {
    let start = text.find("```")?;
    let after = &text[start + 3..];
    let body_start = after.find('\n').map(|i| i + 1).unwrap_or(after.len());
    let body = &after[body_start..];
    Some(match body.find("```") {
        Some(end) => &body[..end],
        None => body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_json_in_fences_and_prose() {
        assert_eq!(extract(" {\"a\": 1} ").unwrap(), json!({"a": 1}));
        assert_eq!(
            extract("```json\n{\"a\": 1}\n```").unwrap(),
            json!({"a": 1})
        );
        assert_eq!(
            extract("Sure!\n```\n[1, 2]\n```\nDone.").unwrap(),
            json!([1, 2])
        );
        assert_eq!(
            extract("The result is {\"a\": [1]} as requested.").unwrap(),
            json!({"a": [1]})
        );
        assert_eq!(
            extract("Note [draft]: {\"a\": 2}").unwrap(),
            json!({"a": 2})
        );
        assert_eq!(extract("42").unwrap(), json!(42));
        assert!(extract("no json here").is_err());
        assert!(extract("{\"a\": ").is_err());
        assert!(extract("").is_err());
    }
}
