//! Parsing completions: plain JSON bodies, SSE streams and error bodies.
//!
//! These functions are pure (bytes in, [`Answer`] or [`LlmError`] out) so the
//! recorded interactions of real servers can be replayed without a network.
//! Quirks handled, each seen in a real server's output:
//! - `choices[0].message.content` as a string, `null`, or a list of `{type, text}` parts;
//! - reasoning in `reasoning_content` / `reasoning`, or inline `<think>` tags;
//! - together.ai chat chunks carrying both `text` and `delta.content` (counted once);
//! - usage repeated cumulatively in every chunk (hyperbolic) or only in the last;
//! - streams that end without `data: [DONE]` (cerebras);
//! - `data:` lines with or without the space, CRLF line ends, comments;
//! - errors reported in a 200 body or as a stream event (vLLM, llama.cpp).

use crate::error::LlmError;
use crate::reasoning::split_think;
use crate::request::Api;
use serde::Deserialize;
use serde_json::Value;
use std::time::Duration;

/// Largest response body or accumulated stream text accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// Token counts reported by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    pub total_tokens: Option<u64>,
    /// `completion_tokens_details.reasoning_tokens` when reported.
    pub reasoning_tokens: Option<u64>,
}

/// A parsed completion.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Answer {
    /// The answer text, reasoning removed.
    pub text: String,
    /// Reasoning/thinking text, when the server or inline tags provided it.
    pub reasoning: Option<String>,
    /// `stop`, `length` (truncated by max_tokens), `eos`, `tool_calls`, ...
    pub finish_reason: Option<String>,
    pub usage: Option<Usage>,
    /// The model name the server reported.
    pub model: Option<String>,
}

/// A completed request: the answer plus timings measured by the client.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub answer: Answer,
    /// Time from sending the request to the first chunk carrying answer or
    /// reasoning text (streams only).
    pub ttft: Option<Duration>,
    /// Time from sending the request to the end of the body.
    pub latency: Duration,
    /// Whether the body was an SSE stream.
    pub streamed: bool,
}

#[derive(Deserialize)]
struct RawBody {
    #[serde(default)]
    choices: Option<Vec<RawChoice>>,
    #[serde(default)]
    usage: Option<Value>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    error: Option<Value>,
    /// vLLM's error object: `{"object":"error","message":...}`.
    #[serde(default)]
    object: Option<Value>,
    #[serde(default)]
    message: Option<Value>,
}

#[derive(Deserialize)]
struct RawChoice {
    #[serde(default)]
    message: Option<RawMessage>,
    #[serde(default)]
    delta: Option<RawMessage>,
    #[serde(default)]
    text: Option<Value>,
    #[serde(default)]
    finish_reason: Option<Value>,
}

#[derive(Deserialize)]
struct RawMessage {
    #[serde(default)]
    content: Option<Value>,
    #[serde(default)]
    reasoning_content: Option<Value>,
    #[serde(default)]
    reasoning: Option<Value>,
}

/// Text from a `content` value: a string, or a list of parts with `text`.
fn content_text(v: &Value, out: &mut String) -> bool {
    match v {
        Value::String(s) => {
            out.push_str(s);
            true
        }
        Value::Array(parts) => {
            let mut any = false;
            for p in parts {
                if let Some(t) = p.get("text").and_then(Value::as_str) {
                    out.push_str(t);
                    any = true;
                }
            }
            any
        }
        _ => false,
    }
}

fn reasoning_text(m: &RawMessage, out: &mut String) {
    for v in [&m.reasoning_content, &m.reasoning].into_iter().flatten() {
        if let Value::String(s) = v {
            out.push_str(s);
            return;
        }
    }
}

fn parse_usage(v: &Value) -> Option<Usage> {
    if !v.is_object() {
        return None;
    }
    let n = |k: &str| v.get(k).and_then(Value::as_u64);
    Some(Usage {
        prompt_tokens: n("prompt_tokens"),
        completion_tokens: n("completion_tokens"),
        total_tokens: n("total_tokens"),
        reasoning_tokens: v
            .get("completion_tokens_details")
            .and_then(|d| d.get("reasoning_tokens"))
            .and_then(Value::as_u64),
    })
}

fn finish_text(v: &Option<Value>) -> Option<String> {
    v.as_ref().and_then(Value::as_str).map(str::to_string)
}

fn keys_of(v: &Value) -> String {
    match v {
        Value::Object(m) => m.keys().take(8).cloned().collect::<Vec<_>>().join(", "),
        Value::Array(_) => "a JSON array".to_string(),
        _ => "a JSON scalar".to_string(),
    }
}

/// The message of an error object in a 200 body or stream chunk, if any.
fn embedded_error(b: &RawBody) -> Option<String> {
    if let Some(e) = &b.error
        && !e.is_null()
    {
        return Some(error_value_message(e).0);
    }
    if b.object.as_ref().and_then(Value::as_str) == Some("error") {
        return Some(
            b.message
                .as_ref()
                .and_then(Value::as_str)
                .unwrap_or("unspecified error")
                .to_string(),
        );
    }
    None
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn error_value_message(e: &Value) -> (String, Option<String>) {
    match e {
        Value::String(s) => (truncate(s, 500), None),
        Value::Object(o) => {
            let msg = o
                .get("message")
                .and_then(Value::as_str)
                .map(|s| truncate(s, 500))
                .unwrap_or_else(|| truncate(&e.to_string(), 500));
            let ty = o
                .get("type")
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| {
                    o.get("code")
                        .map(|c| c.to_string().trim_matches('"').to_string())
                });
            (msg, ty)
        }
        other => (truncate(&other.to_string(), 500), None),
    }
}

/// Extract `(message, error_type)` from an error body of any of the known shapes:
/// OpenAI / llama.cpp / Ollama `/v1` / llama-cpp-python `{"error":{"message","type"}}`,
/// TGI and HF `{"error":"...","error_type":"..."}`, vLLM
/// `{"object":"error","message","type"}`, FastAPI `{"detail": ...}`, or plain text.
pub fn error_message(body: &[u8]) -> (String, Option<String>) {
    let text = String::from_utf8_lossy(body);
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        let t = text.trim();
        return (
            if t.is_empty() {
                "(empty body)".to_string()
            } else {
                truncate(t, 500)
            },
            None,
        );
    };
    if let Some(e) = v.get("error") {
        let (msg, ty) = error_value_message(e);
        let ty = ty.or_else(|| {
            v.get("error_type")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
        return (msg, ty);
    }
    if let Some(m) = v.get("message").and_then(Value::as_str) {
        let ty = v.get("type").and_then(Value::as_str).map(str::to_string);
        return (truncate(m, 500), ty);
    }
    if let Some(d) = v.get("detail") {
        // FastAPI validation: [{"loc": [...], "msg": "..."}]
        if let Some(items) = d.as_array() {
            let msgs: Vec<String> = items
                .iter()
                .filter_map(|i| {
                    let msg = i.get("msg").and_then(Value::as_str)?;
                    let loc = i.get("loc").map(|l| l.to_string()).unwrap_or_default();
                    Some(format!("{loc}: {msg}"))
                })
                .collect();
            if !msgs.is_empty() {
                return (
                    truncate(&msgs.join("; "), 500),
                    Some("validation".to_string()),
                );
            }
        }
        if let Some(s) = d.as_str() {
            return (truncate(s, 500), None);
        }
    }
    (truncate(text.trim(), 500), None)
}

/// Parse `Retry-After`: delta-seconds or an HTTP date (relative to `now`).
pub fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = v.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Some(Duration::from_secs_f64(secs.min(86_400.0)));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The error for a non-2xx response.
pub fn http_error(status: u16, body: &[u8], retry_after: Option<Duration>) -> LlmError {
    let (message, error_type) = error_message(body);
    LlmError::Http {
        status,
        message,
        error_type,
        retry_after,
    }
}

/// Parse a complete (non-streamed) JSON body.
pub fn parse_json_body(api: Api, body: &[u8]) -> Result<Answer, LlmError> {
    let raw: RawBody = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => {
            // Valid JSON of another shape (TGI `generate` arrays, Cohere v2...)?
            let message = match serde_json::from_slice::<Value>(body) {
                Ok(v) => format!(
                    "not an OpenAI-compatible completion (got {}); is the base URL the server's /v1 root?",
                    keys_of(&v)
                ),
                Err(_) => format!(
                    "body is not JSON ({e} at line {}, column {}): {}",
                    e.line(),
                    e.column(),
                    truncate(&String::from_utf8_lossy(body), 200)
                ),
            };
            return Err(LlmError::Protocol { message });
        }
    };
    if let Some(message) = embedded_error(&raw) {
        return Err(LlmError::ServerError { message });
    }
    let Some(choices) = raw.choices else {
        let keys = serde_json::from_slice::<Value>(body)
            .map(|v| keys_of(&v))
            .unwrap_or_default();
        return Err(LlmError::Protocol {
            message: format!(
                "no `choices` in the response (keys: {keys}); is the base URL the server's /v1 root?"
            ),
        });
    };
    let Some(choice) = choices.into_iter().next() else {
        return Err(LlmError::Protocol {
            message: "`choices` is empty".to_string(),
        });
    };
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut got_text = false;
    if let Some(m) = choice.message.as_ref().or(choice.delta.as_ref()) {
        if api == Api::Chat
            && let Some(c) = &m.content
        {
            got_text = content_text(c, &mut text);
        }
        reasoning_text(m, &mut reasoning);
    }
    if !got_text {
        if let Some(Value::String(t)) = &choice.text {
            text.push_str(t);
        } else if api == Api::Completions
            && let Some(c) = choice.message.as_ref().and_then(|m| m.content.as_ref())
        {
            content_text(c, &mut text);
        }
    }
    Ok(finish_answer(
        text,
        reasoning,
        finish_text(&choice.finish_reason),
        raw.usage.as_ref().and_then(parse_usage),
        raw.model,
    ))
}

fn finish_answer(
    text: String,
    reasoning: String,
    finish_reason: Option<String>,
    usage: Option<Usage>,
    model: Option<String>,
) -> Answer {
    let (text, inline) = split_think(&text);
    let reasoning = match (reasoning.is_empty(), inline) {
        (true, None) => None,
        (true, Some(r)) => Some(r),
        (false, None) => Some(reasoning),
        (false, Some(r)) => Some(format!("{reasoning}\n{r}")),
    };
    Answer {
        text,
        reasoning,
        finish_reason,
        usage,
        model,
    }
}

/// One server-sent event.
#[derive(Debug, PartialEq, Eq)]
pub struct SseEvent<'a> {
    pub event: Option<&'a str>,
    pub data: &'a str,
}

/// Incremental `text/event-stream` decoder: feed body chunks as they arrive.
#[derive(Debug, Default)]
pub struct SseDecoder {
    buf: Vec<u8>,
    data: String,
    has_data: bool,
    event: Option<String>,
    /// Bytes consumed before `buf` (for error offsets).
    offset: u64,
}

impl SseDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed a chunk; `on_event` is called for every complete event.
    pub fn feed(
        &mut self,
        chunk: &[u8],
        on_event: &mut dyn FnMut(SseEvent<'_>) -> Result<(), LlmError>,
    ) -> Result<(), LlmError> {
        self.buf.extend_from_slice(chunk);
        // Take the buffer out so lines can borrow it while `self` is updated.
        let mut buf = std::mem::take(&mut self.buf);
        let mut start = 0;
        while let Some(pos) = memchr_nl(&buf[start..]) {
            let end = start + pos;
            let mut line = &buf[start..end];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            let line_offset = self.offset + start as u64;
            let line = std::str::from_utf8(line).map_err(|e| LlmError::Protocol {
                message: format!(
                    "stream is not UTF-8 at byte {}",
                    line_offset + e.valid_up_to() as u64
                ),
            })?;
            self.line(line, on_event)?;
            start = end + 1;
        }
        buf.drain(..start);
        self.buf = buf;
        self.offset += start as u64;
        if self.buf.len() > MAX_BODY_BYTES || self.data.len() > MAX_BODY_BYTES {
            return Err(LlmError::Protocol {
                message: format!(
                    "stream event larger than {MAX_BODY_BYTES} bytes at byte {}",
                    self.offset
                ),
            });
        }
        Ok(())
    }

    /// End of body: a last event without its blank line is still delivered.
    pub fn finish(
        &mut self,
        on_event: &mut dyn FnMut(SseEvent<'_>) -> Result<(), LlmError>,
    ) -> Result<(), LlmError> {
        if !self.buf.is_empty() {
            let rest = std::mem::take(&mut self.buf);
            let line = String::from_utf8_lossy(&rest)
                .trim_end_matches('\r')
                .to_string();
            self.line(&line, on_event)?;
        }
        self.line("", on_event)
    }

    fn line(
        &mut self,
        line: &str,
        on_event: &mut dyn FnMut(SseEvent<'_>) -> Result<(), LlmError>,
    ) -> Result<(), LlmError> {
        if line.is_empty() {
            if self.has_data {
                let r = on_event(SseEvent {
                    event: self.event.as_deref(),
                    data: &self.data,
                });
                self.data.clear();
                self.has_data = false;
                self.event = None;
                r?;
            } else {
                self.event = None;
            }
            return Ok(());
        }
        if line.starts_with(':') {
            return Ok(());
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.event = Some(value.to_string()),
            _ => {}
        }
        Ok(())
    }
}

fn memchr_nl(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

/// Accumulates streamed chunks into an [`Answer`].
#[derive(Debug)]
pub struct StreamAccumulator {
    api: Api,
    text: String,
    reasoning: String,
    finish_reason: Option<String>,
    usage: Option<Usage>,
    model: Option<String>,
    chunks: u32,
    done: bool,
    first_token: bool,
}

/// What one event meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkEffect {
    /// Nothing visible (role-only delta, usage-only chunk, comment).
    Nothing,
    /// The first chunk carrying answer or reasoning text: the time to first token.
    FirstToken,
    /// More text.
    Token,
    /// `data: [DONE]`.
    Done,
}

impl StreamAccumulator {
    pub fn new(api: Api) -> Self {
        StreamAccumulator {
            api,
            text: String::new(),
            reasoning: String::new(),
            finish_reason: None,
            usage: None,
            model: None,
            chunks: 0,
            done: false,
            first_token: false,
        }
    }

    /// Handle one SSE event.
    pub fn on_event(&mut self, ev: &SseEvent<'_>) -> Result<ChunkEffect, LlmError> {
        let data = ev.data.trim();
        if data == "[DONE]" {
            self.done = true;
            return Ok(ChunkEffect::Done);
        }
        if data.is_empty() {
            return Ok(ChunkEffect::Nothing);
        }
        if ev.event == Some("error") {
            let (message, _) = error_message(data.as_bytes());
            return Err(LlmError::ServerError { message });
        }
        let raw: RawBody = serde_json::from_str(data).map_err(|e| LlmError::Protocol {
            message: format!(
                "stream chunk {} is not an OpenAI-compatible JSON chunk ({e}): {}",
                self.chunks + 1,
                truncate(data, 200)
            ),
        })?;
        if let Some(message) = embedded_error(&raw) {
            return Err(LlmError::ServerError { message });
        }
        self.chunks += 1;
        if let Some(u) = raw.usage.as_ref().and_then(parse_usage) {
            // Some servers repeat cumulative usage in every chunk: keep the last.
            self.usage = Some(u);
        }
        if self.model.is_none() {
            self.model = raw.model;
        }
        let Some(choices) = raw.choices else {
            if self.usage.is_some() {
                return Ok(ChunkEffect::Nothing);
            }
            return Err(LlmError::Protocol {
                message: format!(
                    "stream chunk {} has no `choices` (not an OpenAI-compatible stream): {}",
                    self.chunks,
                    truncate(data, 200)
                ),
            });
        };
        let before = self.text.len() + self.reasoning.len();
        if let Some(choice) = choices.into_iter().next() {
            let mut got_text = false;
            if let Some(d) = choice.delta.as_ref().or(choice.message.as_ref()) {
                if self.api == Api::Chat
                    && let Some(c) = &d.content
                {
                    got_text = content_text(c, &mut self.text);
                }
                reasoning_text(d, &mut self.reasoning);
            }
            if !got_text && let Some(Value::String(t)) = &choice.text {
                self.text.push_str(t);
            }
            if let Some(f) = finish_text(&choice.finish_reason) {
                self.finish_reason = Some(f);
            }
        }
        if self.text.len() + self.reasoning.len() > MAX_BODY_BYTES {
            return Err(LlmError::Protocol {
                message: format!("streamed text larger than {MAX_BODY_BYTES} bytes"),
            });
        }
        if self.text.len() + self.reasoning.len() > before {
            if self.first_token {
                Ok(ChunkEffect::Token)
            } else {
                self.first_token = true;
                Ok(ChunkEffect::FirstToken)
            }
        } else {
            Ok(ChunkEffect::Nothing)
        }
    }

    /// Whether `[DONE]` arrived.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The answer once the stream ended.
    pub fn finish(self) -> Result<Answer, LlmError> {
        if self.chunks == 0 {
            return Err(LlmError::Protocol {
                message: "the stream ended without any completion chunk".to_string(),
            });
        }
        if !self.done && self.finish_reason.is_none() {
            // Neither `[DONE]` nor a finish reason: the server cut the stream
            // (llama-cpp-python does this to a stream when a newer request
            // interrupts it). Some servers omit `[DONE]`, but all send a finish reason.
            return Err(LlmError::Transport {
                message: format!(
                    "the stream ended after {} chunks without a finish_reason or [DONE]; the server dropped the request",
                    self.chunks
                ),
            });
        }
        Ok(finish_answer(
            self.text,
            self.reasoning,
            self.finish_reason,
            self.usage,
            self.model,
        ))
    }
}

/// Parse a whole SSE body at once (tests and replays).
pub fn parse_sse_body(api: Api, body: &[u8]) -> Result<Answer, LlmError> {
    let mut dec = SseDecoder::new();
    let mut acc = StreamAccumulator::new(api);
    {
        let mut on = |ev: SseEvent<'_>| acc.on_event(&ev).map(|_| ());
        dec.feed(body, &mut on)?;
        dec.finish(&mut on)?;
    }
    acc.finish()
}

/// Parse a recorded HTTP response the way the client would: error statuses
/// become [`LlmError::Http`], `text/event-stream` bodies are decoded as SSE,
/// anything else as JSON.
pub fn parse_response(
    api: Api,
    status: u16,
    content_type: Option<&str>,
    retry_after: Option<Duration>,
    body: &[u8],
) -> Result<Answer, LlmError> {
    if !(200..300).contains(&status) {
        return Err(http_error(status, body, retry_after));
    }
    if is_event_stream(content_type) || looks_like_sse(body) {
        parse_sse_body(api, body)
    } else {
        parse_json_body(api, body)
    }
}

/// A body that starts with an SSE `data:` field although the server did not
/// label it `text/event-stream`.
pub fn looks_like_sse(body: &[u8]) -> bool {
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(body.len());
    body[start..].starts_with(b"data:")
}

/// Whether a `Content-Type` names an SSE stream.
pub fn is_event_stream(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|c| {
        c.trim_start()
            .to_ascii_lowercase()
            .starts_with("text/event-stream")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_split_across_chunks_and_crlf() {
        let body = b"data: {\"choices\":[{\"delta\":{\"content\":\"He\"}}]}\r\n\r\n: keep-alive\n\ndata:{\"choices\":[{\"delta\":{\"content\":\"llo\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
        for split in 1..body.len() {
            let mut dec = SseDecoder::new();
            let mut acc = StreamAccumulator::new(Api::Chat);
            let mut on = |ev: SseEvent<'_>| acc.on_event(&ev).map(|_| ());
            dec.feed(&body[..split], &mut on).unwrap();
            dec.feed(&body[split..], &mut on).unwrap();
            dec.finish(&mut on).unwrap();
            let a = acc.finish().unwrap();
            assert_eq!(a.text, "Hello", "split at {split}");
            assert_eq!(a.finish_reason.as_deref(), Some("stop"));
        }
    }

    #[test]
    fn reasoning_content_kept_apart() {
        let body = br#"{"choices":[{"message":{"content":"4","reasoning_content":"2+2"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8,"completion_tokens_details":{"reasoning_tokens":4}}}"#;
        let a = parse_json_body(Api::Chat, body).unwrap();
        assert_eq!(a.text, "4");
        assert_eq!(a.reasoning.as_deref(), Some("2+2"));
        assert_eq!(a.usage.unwrap().reasoning_tokens, Some(4));
    }

    #[test]
    fn ollama_reasoning_field_in_stream() {
        let body = b"data: {\"choices\":[{\"delta\":{\"reasoning\":\"hmm\"}}]}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"yes\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
        let a = parse_sse_body(Api::Chat, body).unwrap();
        assert_eq!(a.text, "yes");
        assert_eq!(a.reasoning.as_deref(), Some("hmm"));
    }

    #[test]
    fn inline_think_split() {
        let body = br#"{"choices":[{"message":{"content":"<think>carry the one</think>\n\n12"},"finish_reason":"stop"}]}"#;
        let a = parse_json_body(Api::Chat, body).unwrap();
        assert_eq!(a.text, "12");
        assert_eq!(a.reasoning.as_deref(), Some("carry the one"));
    }

    #[test]
    fn completions_text() {
        let body = br#"{"object":"text_completion","choices":[{"text":" Paris","index":0,"finish_reason":"length"}],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}"#;
        let a = parse_json_body(Api::Completions, body).unwrap();
        assert_eq!(a.text, " Paris");
        assert_eq!(a.finish_reason.as_deref(), Some("length"));
    }

    #[test]
    fn error_shapes_of_known_servers() {
        // vLLM
        let (m, t) = error_message(br#"{"object":"error","message":"This model's maximum context length is 4096 tokens.","type":"BadRequestError","param":null,"code":400}"#);
        assert_eq!(m, "This model's maximum context length is 4096 tokens.");
        assert_eq!(t.as_deref(), Some("BadRequestError"));
        // llama.cpp server
        let (m, t) = error_message(br#"{"error":{"code":400,"message":"the request exceeds the available context size","type":"exceed_context_size_error"}}"#);
        assert_eq!(m, "the request exceeds the available context size");
        assert_eq!(t.as_deref(), Some("exceed_context_size_error"));
        // Ollama /v1
        let (m, _) = error_message(br#"{"error":{"message":"model \"llama9\" not found, try pulling it first","type":"api_error","param":null,"code":null}}"#);
        assert_eq!(m, "model \"llama9\" not found, try pulling it first");
        // TGI
        let (m, t) = error_message(br#"{"error":"Input validation error: `inputs` must have less than 4096 tokens","error_type":"validation"}"#);
        assert_eq!(
            m,
            "Input validation error: `inputs` must have less than 4096 tokens"
        );
        assert_eq!(t.as_deref(), Some("validation"));
        // FastAPI (llama-cpp-python) validation
        let (m, t) = error_message(
            br#"{"detail":[{"type":"missing","loc":["body","messages"],"msg":"Field required"}]}"#,
        );
        assert_eq!(m, "[\"body\",\"messages\"]: Field required");
        assert_eq!(t.as_deref(), Some("validation"));
        // plain text
        let (m, t) = error_message(b"Failed to deserialize the JSON body");
        assert_eq!(m, "Failed to deserialize the JSON body");
        assert_eq!(t, None);
    }

    #[test]
    fn error_event_in_stream() {
        let body = b"data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: {\"error\":{\"message\":\"context exceeded\",\"type\":\"BadRequestError\"}}\n\n";
        let e = parse_sse_body(Api::Chat, body).unwrap_err();
        assert!(
            matches!(e, LlmError::ServerError { ref message } if message == "context exceeded"),
            "{e:?}"
        );
    }

    #[test]
    fn stream_cut_short_is_an_error() {
        // llama-cpp-python with interrupt_requests: role chunk, then EOF.
        let body = b"data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"},\"finish_reason\":null}]}\n\n";
        let e = parse_sse_body(Api::Chat, body).unwrap_err();
        assert!(matches!(e, LlmError::Transport { .. }), "{e:?}");
        // No [DONE] but a finish reason (cerebras): fine.
        let body =
            b"data: {\"choices\":[{\"delta\":{\"content\":\"x\"},\"finish_reason\":\"stop\"}]}\n\n";
        assert_eq!(parse_sse_body(Api::Chat, body).unwrap().text, "x");
    }

    #[test]
    fn retry_after_forms() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("0.5", now),
            Some(Duration::from_millis(500))
        );
        let date = httpdate::fmt_http_date(now + Duration::from_secs(10));
        assert_eq!(parse_retry_after(&date, now), Some(Duration::from_secs(10)));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn garbage_is_protocol_error_not_panic() {
        for body in [
            &b""[..],
            b"\xff\xfe",
            b"[1,2",
            b"null",
            b"{\"choices\":7}",
            b"{\"choices\":[]}",
        ] {
            assert!(parse_json_body(Api::Chat, body).is_err());
            let _ = parse_sse_body(Api::Chat, body);
        }
    }
}
