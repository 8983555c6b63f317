//! An instant OpenAI-compatible stub server for tests and benchmarks.
//!
//! Serves `POST /v1/chat/completions`, `POST /v1/completions` (JSON or SSE
//! when `"stream": true`) and `GET /v1/models` on 127.0.0.1. The answer is a
//! pure function of the prompt so tests can assert on it:
//!
//! - `#answer:TEXT` anywhere in the prompt (up to the end of the line) → the
//!   answer is `TEXT`; otherwise the answer is `ok`.
//! - `#think:TEXT` → the answer is preceded by `<think>TEXT</think>` (or sent
//!   as `reasoning_content` when [`SimConfig::reasoning_field`] is set).
//! - `#status:NNN` → the request fails with HTTP NNN and a vLLM-shaped error body.
//! - `#sleep:MS` → the response is delayed by MS milliseconds.
//!
//! Usage counts are whitespace-separated words (prompt and answer), and the
//! `finish_reason` is `length` when the answer has more words than
//! `max_tokens` (the answer is then cut to `max_tokens` words).
//!
//! Fault injection ([`SimConfig`]): every n-th request answered with 429 +
//! `Retry-After`, every n-th with 503, a fixed delay, and every n-th answer
//! made different (for determinism audits). Counters are exposed through
//! [`Stats`] and `GET /stats`.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Behaviour of the stub.
#[derive(Debug, Clone, Default)]
pub struct SimConfig {
    /// Delay before every response.
    pub delay: Duration,
    /// Answer every n-th request (1-based count) with 429 and `Retry-After`.
    pub fail_429_every: Option<u64>,
    /// `Retry-After` seconds sent with 429/503 (0 = retry at once).
    pub retry_after_secs: u64,
    /// Answer every n-th request with 503.
    pub fail_503_every: Option<u64>,
    /// Append ` (variant N)` to every n-th answer (non-determinism).
    pub vary_every: Option<u64>,
    /// Send reasoning in `reasoning_content` instead of inline `<think>` tags.
    pub reasoning_field: bool,
    /// Requests after the first `n` never get an answer (for kill tests:
    /// the client is stuck mid-run at a known point).
    pub hold_after: Option<u64>,
}

/// Request counters.
#[derive(Debug, Default)]
pub struct Stats {
    /// Requests received on the completion endpoints.
    pub requests: AtomicU64,
    /// Requests answered with a completion (2xx).
    pub completed: AtomicU64,
    /// Requests answered with an injected or requested error.
    pub errors: AtomicU64,
    /// Requests being handled now, and the highest value seen.
    pub in_flight: AtomicU64,
    pub peak_in_flight: AtomicU64,
}

impl Stats {
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }
    pub fn completed(&self) -> u64 {
        self.completed.load(Ordering::SeqCst)
    }
    pub fn peak_in_flight(&self) -> u64 {
        self.peak_in_flight.load(Ordering::SeqCst)
    }
    fn snapshot(&self) -> Value {
        json!({
            "requests": self.requests(),
            "completed": self.completed(),
            "errors": self.errors.load(Ordering::SeqCst),
            "peak_in_flight": self.peak_in_flight(),
        })
    }
}

struct Sim {
    cfg: SimConfig,
    stats: Arc<Stats>,
}

/// A running stub.
pub struct SimHandle {
    pub addr: SocketAddr,
    pub stats: Arc<Stats>,
    task: tokio::task::JoinHandle<()>,
}

impl SimHandle {
    /// The `/v1` base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The axum router of the stub.
pub fn router(cfg: SimConfig, stats: Arc<Stats>) -> Router {
    let sim = Arc::new(Sim { cfg, stats });
    Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/completions", post(completions))
        .route("/v1/models", get(models))
        .route("/stats", get(stats_route))
        .with_state(sim)
}

/// Serve on an already bound listener until the task is dropped.
pub async fn serve(
    listener: tokio::net::TcpListener,
    cfg: SimConfig,
    stats: Arc<Stats>,
) -> std::io::Result<()> {
    axum::serve(listener, router(cfg, stats)).await
}

/// Bind 127.0.0.1 on a free port and serve in a background task.
pub async fn spawn(cfg: SimConfig) -> std::io::Result<SimHandle> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let stats = Arc::new(Stats::default());
    let s = stats.clone();
    let task = tokio::spawn(async move {
        let _ = serve(listener, cfg, s).await;
    });
    Ok(SimHandle { addr, stats, task })
}

#[derive(Deserialize)]
struct Req {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    messages: Option<Vec<Msg>>,
    #[serde(default)]
    prompt: Option<Value>,
    #[serde(default)]
    max_tokens: Option<u64>,
    #[serde(default)]
    stream: bool,
}

#[derive(Deserialize)]
struct Msg {
    #[serde(default)]
    content: Option<Value>,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Chat,
    Completions,
}

async fn chat(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    handle(sim, Kind::Chat, body).await
}

async fn completions(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    handle(sim, Kind::Completions, body).await
}

async fn models() -> Response {
    axum::Json(json!({"object":"list","data":[{"id":"sim","object":"model","owned_by":"cambrian-llmsim"}]}))
        .into_response()
}

async fn stats_route(State(sim): State<Arc<Sim>>) -> Response {
    axum::Json(sim.stats.snapshot()).into_response()
}

fn error(status: u16, message: &str, retry_after: Option<u64>) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body =
        json!({"object":"error","message":message,"type":"SimError","param":null,"code":status});
    let mut r = (code, axum::Json(body)).into_response();
    if let Some(s) = retry_after
        && let Ok(v) = HeaderValue::from_str(&s.to_string())
    {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

fn marker<'a>(prompt: &'a str, key: &str) -> Option<&'a str> {
    let at = prompt.find(key)?;
    let rest = &prompt[at + key.len()..];
    Some(rest.split('\n').next().unwrap_or("").trim())
}

struct InFlight<'a>(&'a Stats);
impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn handle(sim: Arc<Sim>, kind: Kind, body: Bytes) -> Response {
    let stats = &sim.stats;
    let n = stats.requests.fetch_add(1, Ordering::SeqCst) + 1;
    let now = stats.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    stats.peak_in_flight.fetch_max(now, Ordering::SeqCst);
    let _guard = InFlight(stats);
    let req: Req = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            stats.errors.fetch_add(1, Ordering::SeqCst);
            return error(400, &format!("invalid JSON body: {e}"), None);
        }
    };
    let prompt = match kind {
        Kind::Chat => req
            .messages
            .as_deref()
            .unwrap_or_default()
            .iter()
            .filter_map(|m| m.content.as_ref().and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        Kind::Completions => match &req.prompt {
            Some(Value::String(s)) => s.clone(),
            _ => String::new(),
        },
    };
    if sim.cfg.hold_after.is_some_and(|h| n > h) {
        std::future::pending::<()>().await;
    }
    if !sim.cfg.delay.is_zero() {
        tokio::time::sleep(sim.cfg.delay).await;
    }
    if let Some(ms) = marker(&prompt, "#sleep:").and_then(|s| s.parse::<u64>().ok()) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if sim
        .cfg
        .fail_429_every
        .is_some_and(|k| k > 0 && n.is_multiple_of(k))
    {
        stats.errors.fetch_add(1, Ordering::SeqCst);
        return error(
            429,
            "rate limited (injected)",
            Some(sim.cfg.retry_after_secs),
        );
    }
    if sim
        .cfg
        .fail_503_every
        .is_some_and(|k| k > 0 && n.is_multiple_of(k))
    {
        stats.errors.fetch_add(1, Ordering::SeqCst);
        return error(503, "overloaded (injected)", Some(sim.cfg.retry_after_secs));
    }
    if let Some(code) = marker(&prompt, "#status:").and_then(|s| s.parse::<u16>().ok()) {
        stats.errors.fetch_add(1, Ordering::SeqCst);
        return error(code, "error requested by #status marker", None);
    }
    let mut answer = marker(&prompt, "#answer:").unwrap_or("ok").to_string();
    if sim
        .cfg
        .vary_every
        .is_some_and(|k| k > 0 && n.is_multiple_of(k))
    {
        answer.push_str(&format!(" (variant {n})"));
    }
    let words: Vec<&str> = answer.split_whitespace().collect();
    let max = req.max_tokens.unwrap_or(u64::MAX) as usize;
    let (answer, finish) = if words.len() > max {
        (words[..max].join(" "), "length")
    } else {
        (answer.clone(), "stop")
    };
    let think = marker(&prompt, "#think:").map(str::to_string);
    let prompt_tokens = prompt.split_whitespace().count() as u64;
    let completion_tokens = answer.split_whitespace().count() as u64
        + think
            .as_deref()
            .map_or(0, |t| t.split_whitespace().count() as u64);
    let usage = json!({"prompt_tokens":prompt_tokens,"completion_tokens":completion_tokens,
        "total_tokens":prompt_tokens+completion_tokens});
    let model = req.model.unwrap_or_else(|| "sim".to_string());
    let (content, reasoning) = match (&think, sim.cfg.reasoning_field) {
        (Some(t), false) => (format!("<think>{t}</think>\n{answer}"), None),
        (Some(t), true) => (answer.clone(), Some(t.clone())),
        (None, _) => (answer.clone(), None),
    };
    stats.completed.fetch_add(1, Ordering::SeqCst);
    if !req.stream {
        let body = match kind {
            Kind::Chat => {
                let mut msg = json!({"role":"assistant","content":content});
                if let Some(r) = reasoning {
                    msg["reasoning_content"] = Value::String(r);
                }
                json!({"id":format!("chatcmpl-sim-{n}"),"object":"chat.completion","created":0,"model":model,
                    "choices":[{"index":0,"message":msg,"finish_reason":finish}],"usage":usage})
            }
            Kind::Completions => {
                json!({"id":format!("cmpl-sim-{n}"),"object":"text_completion","created":0,
                "model":model,"choices":[{"index":0,"text":content,"finish_reason":finish}],"usage":usage})
            }
        };
        return axum::Json(body).into_response();
    }
    // Stream: reasoning first, then one chunk per word, a finish chunk, usage, [DONE].
    let mut out = String::new();
    let mut push = |v: Value| {
        out.push_str("data: ");
        out.push_str(&v.to_string());
        out.push_str("\n\n");
    };
    let chunk = |delta: Value, finish: Value| match kind {
        Kind::Chat => {
            json!({"id":format!("chatcmpl-sim-{n}"),"object":"chat.completion.chunk","created":0,
            "model":model,"choices":[{"index":0,"delta":delta,"finish_reason":finish}]})
        }
        Kind::Completions => {
            json!({"id":format!("cmpl-sim-{n}"),"object":"text_completion","created":0,
            "model":model,"choices":[{"index":0,"text":delta.get("content").cloned().unwrap_or(Value::String(String::new())),"finish_reason":finish}]})
        }
    };
    if kind == Kind::Chat {
        push(chunk(json!({"role":"assistant","content":""}), Value::Null));
        if let Some(r) = &reasoning {
            push(chunk(json!({"reasoning_content":r}), Value::Null));
        }
    }
    for piece in content.split_inclusive(' ') {
        push(chunk(json!({"content":piece}), Value::Null));
    }
    push(chunk(json!({}), Value::String(finish.to_string())));
    push(
        json!({"id":format!("chatcmpl-sim-{n}"),"object":"chat.completion.chunk","created":0,"model":model,
        "choices":[],"usage":usage}),
    );
    out.push_str("data: [DONE]\n\n");
    let mut r = Body::from(out).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    r
}
