//! The HTTP client: one request to an OpenAI-compatible server, streamed or
//! not, with connect / first-byte / total timeouts and client-side timings.

use crate::error::{LlmError, TimeoutPhase};
use crate::request::GenRequest;
use crate::response::{
    ChunkEffect, Completion, MAX_BODY_BYTES, SseDecoder, SseEvent, StreamAccumulator, http_error,
    is_event_stream, looks_like_sse, parse_json_body, parse_retry_after, parse_sse_body,
};
use std::fmt;
use std::time::{Duration, Instant};

/// An API key. Its `Debug` never shows the value and it is never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into())
    }
    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// The three timeouts of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing the TCP (and TLS) connection.
    pub connect: Duration,
    /// From sending the request to the response headers, and, for streams,
    /// to the first body chunk.
    pub first_byte: Duration,
    /// The whole request including the body.
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            first_byte: Duration::from_secs(120),
            total: Duration::from_secs(600),
        }
    }
}

/// A server: its `/v1` root and optional API key.
#[derive(Debug, Clone)]
pub struct Endpoint {
    base_url: String,
    api_key: Option<ApiKey>,
}

impl Endpoint {
    /// `base_url` is the `/v1` root, e.g. `http://127.0.0.1:8080/v1`.
    pub fn new(base_url: &str, api_key: Option<ApiKey>) -> Result<Self, LlmError> {
        let trimmed = base_url.trim().trim_end_matches('/');
        let parsed = reqwest::Url::parse(trimmed).map_err(|e| LlmError::InvalidUrl {
            url: base_url.to_string(),
            message: e.to_string(),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(LlmError::InvalidUrl {
                url: base_url.to_string(),
                message: format!("scheme {:?} is not http or https", parsed.scheme()),
            });
        }
        Ok(Endpoint {
            base_url: trimmed.to_string(),
            api_key,
        })
    }

    /// The normalised base URL (no trailing slash).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }
}

/// A pooled HTTP client. Cheap to clone; share one per process.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    timeouts: Timeouts,
}

fn map_reqwest(e: reqwest::Error, url: &str, timeouts: &Timeouts) -> LlmError {
    if e.is_connect() {
        if e.is_timeout() {
            return LlmError::Timeout {
                phase: TimeoutPhase::Connect,
                after: timeouts.connect,
            };
        }
        return LlmError::Connect {
            url: url.to_string(),
            message: error_chain(&e),
        };
    }
    if e.is_timeout() {
        return LlmError::Timeout {
            phase: TimeoutPhase::Total,
            after: timeouts.total,
        };
    }
    LlmError::Transport {
        message: error_chain(&e),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

impl Client {
    /// `pool_per_host`: idle keep-alive connections kept per host (use the
    /// concurrency so connections are reused).
    pub fn new(timeouts: Timeouts, pool_per_host: usize) -> Result<Self, LlmError> {
        let http = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            .pool_max_idle_per_host(pool_per_host.max(1))
            .tcp_nodelay(true)
            .user_agent(concat!("cambrian/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| LlmError::Transport {
                message: error_chain(&e),
            })?;
        Ok(Client { http, timeouts })
    }

    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// Send one request and read the whole answer.
    pub async fn complete(
        &self,
        endpoint: &Endpoint,
        req: &GenRequest<'_>,
    ) -> Result<Completion, LlmError> {
        let total = self.timeouts.total;
        match tokio::time::timeout(total, self.complete_inner(endpoint, req)).await {
            Ok(r) => r,
            Err(_) => Err(LlmError::Timeout {
                phase: TimeoutPhase::Total,
                after: total,
            }),
        }
    }

    async fn complete_inner(
        &self,
        endpoint: &Endpoint,
        req: &GenRequest<'_>,
    ) -> Result<Completion, LlmError> {
        let url = format!("{}{}", endpoint.base_url, req.api.path());
        let mut builder = self
            .http
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(
                reqwest::header::ACCEPT,
                if req.stream {
                    "text/event-stream"
                } else {
                    "application/json"
                },
            )
            .body(req.to_json());
        if let Some(key) = &endpoint.api_key {
            builder = builder.bearer_auth(key.expose());
        }
        let start = Instant::now();
        let first_byte = self.timeouts.first_byte;
        let mut resp = match tokio::time::timeout(first_byte, builder.send()).await {
            Err(_) => {
                return Err(LlmError::Timeout {
                    phase: TimeoutPhase::FirstByte,
                    after: first_byte,
                });
            }
            Ok(Err(e)) => return Err(map_reqwest(e, &url, &self.timeouts)),
            Ok(Ok(r)) => r,
        };
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if !(200..300).contains(&status) {
            let retry_after = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, std::time::SystemTime::now()));
            // Error bodies are short; read at most 64 KiB of them.
            let body = read_capped(&mut resp, 64 * 1024, &url, &self.timeouts)
                .await
                .unwrap_or_default();
            return Err(http_error(status, &body, retry_after));
        }
        if is_event_stream(content_type.as_deref()) {
            let mut dec = SseDecoder::new();
            let mut acc = StreamAccumulator::new(req.api);
            let mut ttft = None;
            let mut first = true;
            loop {
                let next = if first {
                    let left = first_byte.saturating_sub(start.elapsed());
                    match tokio::time::timeout(left, resp.chunk()).await {
                        Err(_) => {
                            return Err(LlmError::Timeout {
                                phase: TimeoutPhase::FirstByte,
                                after: first_byte,
                            });
                        }
                        Ok(r) => r,
                    }
                } else {
                    resp.chunk().await
                };
                first = false;
                let chunk = match next {
                    Ok(Some(c)) => c,
                    Ok(None) => break,
                    Err(e) => return Err(map_reqwest(e, &url, &self.timeouts)),
                };
                let mut on = |ev: SseEvent<'_>| {
                    if acc.on_event(&ev)? == ChunkEffect::FirstToken && ttft.is_none() {
                        ttft = Some(start.elapsed());
                    }
                    Ok(())
                };
                dec.feed(&chunk, &mut on)?;
                if acc.is_done() {
                    break;
                }
            }
            if !acc.is_done() {
                let mut on = |ev: SseEvent<'_>| acc.on_event(&ev).map(|_| ());
                dec.finish(&mut on)?;
            }
            let latency = start.elapsed();
            Ok(Completion {
                answer: acc.finish()?,
                ttft,
                latency,
                streamed: true,
            })
        } else {
            let body = read_capped(&mut resp, MAX_BODY_BYTES, &url, &self.timeouts).await?;
            let latency = start.elapsed();
            if looks_like_sse(&body) {
                // A stream labelled as something else: parsed whole, no TTFT.
                return Ok(Completion {
                    answer: parse_sse_body(req.api, &body)?,
                    ttft: None,
                    latency,
                    streamed: true,
                });
            }
            Ok(Completion {
                answer: parse_json_body(req.api, &body)?,
                ttft: None,
                latency,
                streamed: false,
            })
        }
    }
}

async fn read_capped(
    resp: &mut reqwest::Response,
    cap: usize,
    url: &str,
    timeouts: &Timeouts,
) -> Result<Vec<u8>, LlmError> {
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| map_reqwest(e, url, timeouts))?
    {
        if body.len() + chunk.len() > cap {
            return Err(LlmError::Protocol {
                message: format!("response body larger than {cap} bytes"),
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
