//! The HTTP client: one retry loop shared by every request kind.
//!
//! Each attempt has three clocks: the connect timeout (reqwest), the
//! first-byte timeout (request sent → response headers) and the total
//! timeout (request sent → end of body). Transient failures (see
//! [`HubError::is_transient`]) are retried up to `max_retries` times; a 429
//! waits for the reset announced by `RateLimit` / `Retry-After` (capped at
//! `max_rate_limit_wait`), everything else waits a full-jitter backoff.

use crate::config::HubConfig;
use crate::error::{HubError, ItemWarning};
use crate::link::next_link;
use crate::parse::{parse_listing, parse_listing_bytes, parse_model};
use crate::query::PageCursor;
use crate::ratelimit::{backoff_delay, parse_ratelimit, parse_retry_after};
use bytes::{Bytes, BytesMut};
use cambrian_types::ModelRecord;
use reqwest::header::{AUTHORIZATION, CONTENT_RANGE, HeaderMap, HeaderValue, RANGE, USER_AGENT};
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};
use url::Url;

/// A snapshot of the client's counters (monotonic since creation).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ClientStats {
    /// HTTP attempts sent (a retried request counts once per attempt).
    pub requests: u64,
    /// Attempts that were retries.
    pub retries: u64,
    /// Retries that waited for a rate-limit reset (429).
    pub rate_limited_waits: u64,
    /// Body bytes received, over all attempts.
    pub bytes_received: u64,
    /// Milliseconds spent waiting between attempts (backoff + rate limits).
    pub wait_ms: u64,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPage {
    pub models: Vec<ModelRecord>,
    /// Absolute URL of the next page (`Link: <…>; rel="next"`), if any.
    pub next: Option<String>,
    /// Items skipped or fields dropped while mapping this page.
    pub item_warnings: Vec<ItemWarning>,
}

/// `GET /api/models/{id}`: the mapped record plus the raw JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    pub record: ModelRecord,
    pub raw: serde_json::Value,
    /// The response's `config` object (architectures, model_type, tokenizer_config…).
    pub config: Option<serde_json::Value>,
    /// The response's `cardData` object (front matter of the model card).
    pub card_data: Option<serde_json::Value>,
    pub warnings: Vec<crate::FieldWarning>,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    retries: AtomicU64,
    rate_limited_waits: AtomicU64,
    bytes_received: AtomicU64,
    wait_ms: AtomicU64,
}

struct Inner {
    cfg: HubConfig,
    endpoint: Url,
    http: reqwest::Client,
    auth: Option<HeaderValue>,
    counters: Counters,
}

/// A Hub client. Cheap to clone (shares one connection pool and counters).
#[derive(Clone)]
pub struct HubClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for HubClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubClient")
            .field("cfg", &self.inner.cfg)
            .finish()
    }
}

/// What an attempt read.
struct Raw {
    status: u16,
    headers: HeaderMap,
    url: Url,
    body: Bytes,
}

enum BodyMode {
    /// Read the whole body; fail with `TooLarge` beyond this many bytes.
    Whole(u64),
    /// A ranged read of `start..end`.
    Range(u64, u64),
}

impl HubClient {
    pub fn new(cfg: HubConfig) -> Result<HubClient, HubError> {
        let trimmed = cfg.endpoint.trim_end_matches('/');
        let endpoint = Url::parse(trimmed).map_err(|e| HubError::Config {
            reason: format!("endpoint `{trimmed}` is not a URL: {e}"),
        })?;
        if !matches!(endpoint.scheme(), "http" | "https") || endpoint.cannot_be_a_base() {
            return Err(HubError::Config {
                reason: format!("endpoint `{trimmed}` must be an http(s) URL"),
            });
        }
        let auth = match &cfg.token {
            None => None,
            Some(t) if t.is_empty() => None,
            Some(t) => {
                let mut v = HeaderValue::from_str(&format!("Bearer {t}"))
                    // Do not echo the token: say only that it is malformed.
                    .map_err(|_| HubError::Config {
                        reason: "the token contains characters not allowed in an HTTP header"
                            .into(),
                    })?;
                v.set_sensitive(true);
                Some(v)
            }
        };
        let http = reqwest::Client::builder()
            .connect_timeout(cfg.connect_timeout)
            .pool_max_idle_per_host(16)
            .build()
            .map_err(|e| HubError::Config {
                reason: format!("cannot build the HTTP client: {e}"),
            })?;
        Ok(HubClient {
            inner: Arc::new(Inner {
                cfg,
                endpoint,
                http,
                auth,
                counters: Counters::default(),
            }),
        })
    }

    pub fn config(&self) -> &HubConfig {
        &self.inner.cfg
    }

    pub fn stats(&self) -> ClientStats {
        let c = &self.inner.counters;
        ClientStats {
            requests: c.requests.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            rate_limited_waits: c.rate_limited_waits.load(Ordering::Relaxed),
            bytes_received: c.bytes_received.load(Ordering::Relaxed),
            wait_ms: c.wait_ms.load(Ordering::Relaxed),
        }
    }

    /// One page of `GET /api/models`.
    pub async fn list_page(&self, cursor: &PageCursor) -> Result<ListPage, HubError> {
        let url = cursor_url(cursor, &self.inner.endpoint)?;
        let max = self.inner.cfg.max_json_bytes;
        self.fetch(&url, BodyMode::Whole(max), |raw| {
            let next = next_of(&raw);
            listing_page(&raw, next)
        })
        .await
    }

    /// One page of `GET /api/models` as received: its body is not parsed
    /// yet, its next-page URL (from the `Link` header) is known. Transport
    /// errors, 408/429/5xx and timeouts are retried as for
    /// [`list_page`](Self::list_page); the body is parsed by
    /// [`parse_page`](Self::parse_page). Lets a caller request page N+1
    /// while page N is parsed elsewhere.
    pub async fn list_page_raw(&self, cursor: &PageCursor) -> Result<RawListPage, HubError> {
        let url = cursor_url(cursor, &self.inner.endpoint)?;
        let max = self.inner.cfg.max_json_bytes;
        self.fetch(&url, BodyMode::Whole(max), |raw| {
            let next = next_of(&raw);
            Ok(RawListPage { raw, next })
        })
        .await
    }

    /// The records of a page fetched by [`list_page_raw`](Self::list_page_raw).
    /// A body that is not a listing (cut short, not JSON…) is fetched again
    /// with [`list_page`](Self::list_page) and its retries, as `list_page`
    /// would have; the page keeps the next-page URL of the first response,
    /// the one a caller already followed.
    pub async fn parse_page(&self, raw: RawListPage) -> Result<ListPage, HubError> {
        let url = raw.url().to_string();
        let next = raw.next.clone();
        match raw.parse() {
            Err(e) if e.is_transient() => self
                .list_page(&PageCursor::Next(url))
                .await
                .map(|p| ListPage { next, ..p }),
            other => other,
        }
    }

    /// `GET /api/models/{id}` or `/api/models/{id}/revision/{rev}`, with `expand[]`.
    pub async fn model_info(
        &self,
        id: &str,
        revision: Option<&str>,
        expand: &[String],
    ) -> Result<ModelInfo, HubError> {
        let mut url = self.inner.endpoint.clone();
        {
            let mut segs = url.path_segments_mut().map_err(|()| HubError::Config {
                reason: "endpoint cannot be a base".into(),
            })?;
            segs.pop_if_empty().push("api").push("models");
            push_repo_id(&mut segs, id)?;
            if let Some(rev) = revision {
                segs.push("revision").push(rev);
            }
        }
        if !expand.is_empty() {
            let mut q = url.query_pairs_mut();
            for e in expand {
                q.append_pair("expand[]", e);
            }
        }
        let max = self.inner.cfg.max_json_bytes;
        self.fetch(&url, BodyMode::Whole(max), |raw| {
            let v = json_body(&raw)?;
            let (record, warnings) = parse_model(&v).map_err(|e| HubError::Unexpected {
                url: raw.url.to_string(),
                reason: e.reason,
            })?;
            let config = v.get("config").filter(|c| c.is_object()).cloned();
            let card_data = v.get("cardData").filter(|c| c.is_object()).cloned();
            Ok(ModelInfo {
                record,
                raw: v,
                config,
                card_data,
                warnings,
            })
        })
        .await
    }

    /// Bytes `range.start..range.end` of a repository file
    /// (`GET /{id}/resolve/{rev}/{file}` with `Range: bytes=a-b`). The result
    /// is shorter than asked only when the file ends inside the range. A
    /// server that ignores `Range` (200) is read only up to `range.end`.
    pub async fn read_range(
        &self,
        id: &str,
        revision: &str,
        file: &str,
        range: Range<u64>,
    ) -> Result<Bytes, HubError> {
        if range.start > range.end {
            return Err(HubError::InvalidRequest {
                reason: format!("empty byte range {}..{}", range.start, range.end),
            });
        }
        if range.start == range.end {
            return Ok(Bytes::new());
        }
        let url = self.resolve_url(id, revision, file)?;
        self.fetch(&url, BodyMode::Range(range.start, range.end), |raw| {
            Ok(raw.body)
        })
        .await
    }

    /// Like [`HubClient::read_range`], and also the file's total length as the
    /// server states it (`Content-Range: bytes a-b/TOTAL` on 206, `Content-Length`
    /// on a 200 that ignored the range); `None` when it states none (`*`).
    /// Lets a caller learn a remote file's size and read its head in one request.
    pub async fn read_range_with_len(
        &self,
        id: &str,
        revision: &str,
        file: &str,
        range: Range<u64>,
    ) -> Result<(Bytes, Option<u64>), HubError> {
        if range.start >= range.end {
            return Err(HubError::InvalidRequest {
                reason: format!("empty byte range {}..{}", range.start, range.end),
            });
        }
        let url = self.resolve_url(id, revision, file)?;
        self.fetch(&url, BodyMode::Range(range.start, range.end), |raw| {
            let total = if raw.status == 206 {
                content_range_total(&raw.headers)
            } else {
                raw.headers
                    .get(reqwest::header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
            };
            Ok((raw.body, total))
        })
        .await
    }

    /// A whole repository file, refused (without downloading it) when the
    /// server announces more than `max_bytes`, and cut off with an error when
    /// the body grows past it.
    pub async fn read_file(
        &self,
        id: &str,
        revision: &str,
        file: &str,
        max_bytes: u64,
    ) -> Result<Bytes, HubError> {
        let url = self.resolve_url(id, revision, file)?;
        self.fetch(&url, BodyMode::Whole(max_bytes), |raw| Ok(raw.body))
            .await
    }

    fn resolve_url(&self, id: &str, revision: &str, file: &str) -> Result<Url, HubError> {
        if revision.is_empty() || file.is_empty() {
            return Err(HubError::InvalidRequest {
                reason: "revision and file name must not be empty".into(),
            });
        }
        let mut url = self.inner.endpoint.clone();
        {
            let mut segs = url.path_segments_mut().map_err(|()| HubError::Config {
                reason: "endpoint cannot be a base".into(),
            })?;
            segs.pop_if_empty();
            push_repo_id(&mut segs, id)?;
            segs.push("resolve").push(revision);
            for part in file.split('/') {
                if part.is_empty() || part == "." || part == ".." {
                    return Err(HubError::InvalidRequest {
                        reason: format!("file path `{file}` has an empty or dot segment"),
                    });
                }
                segs.push(part);
            }
        }
        Ok(url)
    }

    /// The retry loop.
    async fn fetch<T>(
        &self,
        url: &Url,
        mode: BodyMode,
        process: impl Fn(Raw) -> Result<T, HubError>,
    ) -> Result<T, HubError> {
        let cfg = &self.inner.cfg;
        let c = &self.inner.counters;
        let mut attempt: u32 = 0;
        loop {
            c.requests.fetch_add(1, Ordering::Relaxed);
            let result = match self.attempt(url, &mode).await {
                Ok(raw) => {
                    if (200..300).contains(&raw.status) {
                        process(raw)
                    } else {
                        Err(status_error(&raw))
                    }
                }
                Err(e) => Err(e),
            };
            let err = match result {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            if !err.is_transient() {
                return Err(err);
            }
            if attempt >= cfg.max_retries {
                return Err(if attempt == 0 {
                    err
                } else {
                    HubError::GaveUp {
                        url: url.to_string(),
                        attempts: attempt + 1,
                        last: Box::new(err),
                    }
                });
            }
            let wait = match &err {
                HubError::RateLimited { wait: Some(w), .. } => {
                    c.rate_limited_waits.fetch_add(1, Ordering::Relaxed);
                    // A little jitter on top so that parallel workers do not
                    // all return at the same instant.
                    let jitter =
                        backoff_delay(0, cfg.backoff_base, cfg.backoff_cap, &mut rand::rng());
                    (*w).min(cfg.max_rate_limit_wait) + jitter.min(Duration::from_millis(250))
                }
                _ => backoff_delay(attempt, cfg.backoff_base, cfg.backoff_cap, &mut rand::rng()),
            };
            tracing::debug!(url = %url, attempt, wait_ms = wait.as_millis() as u64, error = %err, "retrying Hub request");
            c.wait_ms
                .fetch_add(wait.as_millis() as u64, Ordering::Relaxed);
            tokio::time::sleep(wait).await;
            attempt += 1;
            c.retries.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// One attempt: send, wait for headers, read the body as `mode` says.
    async fn attempt(&self, url: &Url, mode: &BodyMode) -> Result<Raw, HubError> {
        let cfg = &self.inner.cfg;
        let mut req = self
            .inner
            .http
            .get(url.clone())
            .header(USER_AGENT, &cfg.user_agent);
        if let Some(auth) = &self.inner.auth {
            // The token goes only to the configured endpoint's origin, never
            // to a host named by a Link header.
            if url.origin() == self.inner.endpoint.origin() {
                req = req.header(AUTHORIZATION, auth.clone());
            }
        }
        if let BodyMode::Range(a, b) = mode {
            req = req.header(RANGE, format!("bytes={}-{}", a, b - 1));
        }
        let start = Instant::now();
        let deadline = start + cfg.total_timeout;
        let first_byte = cfg.first_byte_timeout.min(cfg.total_timeout);
        let mut resp = match tokio::time::timeout(first_byte, req.send()).await {
            Err(_) => {
                return Err(HubError::Timeout {
                    url: url.to_string(),
                    phase: "first-byte",
                    after: first_byte,
                });
            }
            Ok(Err(e)) => return Err(send_error(url, &e, cfg.connect_timeout)),
            Ok(Ok(r)) => r,
        };
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let final_url = resp.url().clone();

        // How many bytes to read, and whether more is an error.
        let (limit, cut_ok, skip) = if !(200..300).contains(&status) {
            (64 * 1024, true, 0) // error bodies: an excerpt is enough
        } else {
            match *mode {
                BodyMode::Whole(max) => {
                    if let Some(len) = resp.content_length()
                        && len > max
                    {
                        return Err(HubError::TooLarge {
                            url: url.to_string(),
                            limit: max,
                            size: Some(len),
                        });
                    }
                    (max, false, 0)
                }
                BodyMode::Range(a, b) if status == 206 => {
                    check_content_range(url, &headers, a, b)?;
                    (b - a, false, 0)
                }
                BodyMode::Range(a, b) => {
                    // 200 to a ranged request: the server sent the whole file.
                    if b > cfg.max_range_fallback_bytes {
                        return Err(HubError::TooLarge {
                            url: url.to_string(),
                            limit: cfg.max_range_fallback_bytes,
                            size: resp.content_length(),
                        });
                    }
                    (b, true, a)
                }
            }
        };

        // The announced length (at most 8 MiB up front, never more than may
        // be read): one allocation instead of repeated growth for a listing
        // page of ~0.5 MB; a body beyond it still grows the buffer.
        let announced = resp.content_length().unwrap_or(0).min(limit).min(8 << 20);
        let mut buf = BytesMut::with_capacity(usize::try_from(announced).unwrap_or(0));
        loop {
            let chunk = match tokio::time::timeout_at(deadline.into(), resp.chunk()).await {
                Err(_) => {
                    return Err(HubError::Timeout {
                        url: url.to_string(),
                        phase: "total",
                        after: cfg.total_timeout,
                    });
                }
                Ok(Err(e)) => {
                    return Err(HubError::Body {
                        url: url.to_string(),
                        reason: error_chain(&e),
                    });
                }
                Ok(Ok(None)) => break,
                Ok(Ok(Some(c))) => c,
            };
            self.inner
                .counters
                .bytes_received
                .fetch_add(chunk.len() as u64, Ordering::Relaxed);
            let room = limit.saturating_sub(buf.len() as u64) as usize;
            if chunk.len() > room {
                if cut_ok {
                    buf.extend_from_slice(&chunk[..room]);
                    break; // dropping `resp` closes the connection
                }
                return Err(HubError::TooLarge {
                    url: url.to_string(),
                    limit,
                    size: resp.content_length(),
                });
            }
            buf.extend_from_slice(&chunk);
            if cut_ok && buf.len() as u64 == limit {
                break;
            }
        }
        let mut body = buf.freeze();
        if skip > 0 {
            body = if (skip as usize) < body.len() {
                body.slice(skip as usize..)
            } else {
                Bytes::new()
            };
        }
        if status == 206
            && let BodyMode::Range(a, b) = *mode
        {
            let expected = content_range_len(&headers).unwrap_or(b - a);
            if body.len() as u64 != expected {
                return Err(HubError::Body {
                    url: url.to_string(),
                    reason: format!(
                        "expected {expected} bytes of range, received {}",
                        body.len()
                    ),
                });
            }
        }
        Ok(Raw {
            status,
            headers,
            url: final_url,
            body,
        })
    }
}

fn push_repo_id(segs: &mut url::PathSegmentsMut<'_>, id: &str) -> Result<(), HubError> {
    let parts: Vec<&str> = id.split('/').collect();
    if id.is_empty()
        || parts.len() > 2
        || parts
            .iter()
            .any(|p| p.is_empty() || *p == "." || *p == "..")
    {
        return Err(HubError::InvalidRequest {
            reason: format!("`{id}` is not a model id (expected `owner/name` or `name`)"),
        });
    }
    for p in parts {
        segs.push(p);
    }
    Ok(())
}

/// Parses a successful JSON body, mapping syntax errors to a byte offset.
/// A listing page fetched by [`HubClient::list_page_raw`], not parsed yet.
pub struct RawListPage {
    raw: Raw,
    next: Option<String>,
}

impl RawListPage {
    /// The absolute URL of the next page (`Link: <…>; rel="next"`), if any.
    pub fn next(&self) -> Option<&str> {
        self.next.as_deref()
    }

    /// The URL this page was fetched from (after redirects).
    pub fn url(&self) -> &str {
        self.raw.url.as_str()
    }

    /// Parse the body, as [`HubClient::list_page`] does, without refetching:
    /// a transient error here is a body that is not a listing
    /// ([`HubClient::parse_page`] refetches it).
    pub fn parse(self) -> Result<ListPage, HubError> {
        listing_page(&self.raw, self.next)
    }
}

fn cursor_url(cursor: &PageCursor, endpoint: &Url) -> Result<Url, HubError> {
    match cursor {
        PageCursor::First(q) => Ok(q.first_page_url(endpoint)),
        PageCursor::Next(s) => Url::parse(s).map_err(|e| HubError::InvalidRequest {
            reason: format!("next-page URL `{s}` is not a URL: {e}"),
        }),
    }
}

/// The next-page URL of a listing response (`Link: <…>; rel="next"`).
fn next_of(raw: &Raw) -> Option<String> {
    let links: Vec<&str> = raw
        .headers
        .get_all(reqwest::header::LINK)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .collect();
    next_link(&links, &raw.url).map(String::from)
}

/// A listing response's body mapped to records: one pass over the bytes;
/// anything unusual (invalid JSON, not an array of objects…) is re-read
/// through `Value`, which reports it.
fn listing_page(raw: &Raw, next: Option<String>) -> Result<ListPage, HubError> {
    let parsed = match parse_listing_bytes(&raw.body) {
        Some(p) => p,
        None => {
            let v = json_body(raw)?;
            parse_listing(&v).map_err(|e| HubError::Unexpected {
                url: raw.url.to_string(),
                reason: e.reason,
            })?
        }
    };
    Ok(ListPage {
        models: parsed.models,
        next,
        item_warnings: parsed.item_warnings,
    })
}

fn json_body(raw: &Raw) -> Result<serde_json::Value, HubError> {
    serde_json::from_slice(&raw.body).map_err(|e| {
        // A body that ends early (truncation) is reported at its end.
        let offset = if e.is_eof() {
            raw.body.len() as u64
        } else {
            byte_offset(&raw.body, e.line(), e.column())
        };
        HubError::InvalidJson {
            url: raw.url.to_string(),
            offset,
            line: e.line(),
            column: e.column(),
            reason: e.to_string(),
        }
    })
}

/// serde_json reports 1-based line and column (column counted in bytes);
/// turn them into a 0-based byte offset into `body`.
fn byte_offset(body: &[u8], line: usize, column: usize) -> u64 {
    let mut off = 0usize;
    let mut l = 1usize;
    if line > 1 {
        for (i, b) in body.iter().enumerate() {
            if *b == b'\n' {
                l += 1;
                if l == line {
                    off = i + 1;
                    break;
                }
            }
        }
    }
    (off + column.saturating_sub(1)).min(body.len()) as u64
}

fn status_error(raw: &Raw) -> HubError {
    let url = raw.url.to_string();
    if raw.status == 429 {
        let rl = raw
            .headers
            .get_all("ratelimit")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(parse_ratelimit)
            .max();
        let ra = raw
            .headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let wait = match (rl, ra) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        return HubError::RateLimited { url, wait };
    }
    // The Hub explains errors in X-Error-Message / a JSON `error` field.
    let detail = raw
        .headers
        .get("x-error-message")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| {
            serde_json::from_slice::<serde_json::Value>(&raw.body)
                .ok()
                .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
        })
        .or_else(|| {
            let s = String::from_utf8_lossy(&raw.body[..raw.body.len().min(200)])
                .trim()
                .to_string();
            (!s.is_empty()).then_some(s)
        });
    HubError::Http {
        url,
        status: raw.status,
        detail,
    }
}

fn send_error(url: &Url, e: &reqwest::Error, connect_timeout: Duration) -> HubError {
    if e.is_timeout() {
        return HubError::Timeout {
            url: url.to_string(),
            phase: "connect",
            after: connect_timeout,
        };
    }
    HubError::Connect {
        url: url.to_string(),
        reason: without_url(&error_chain(e), url.as_str()),
    }
}

/// reqwest says "error sending request for url (URL)"; the error names the URL already.
fn without_url(msg: &str, url: &str) -> String {
    msg.replace(&format!(" for url ({url})"), "")
}

/// `e` and its sources, joined by `: ` (reqwest's Display alone hides the cause).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
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

/// `Content-Range: bytes a-b/total` → (a, b inclusive).
fn parse_content_range(headers: &HeaderMap) -> Option<(u64, u64)> {
    let v = headers.get(CONTENT_RANGE)?.to_str().ok()?;
    let rest = v.trim().strip_prefix("bytes")?.trim_start();
    let (span, _total) = rest.split_once('/')?;
    let (a, b) = span.split_once('-')?;
    let a = a.trim().parse().ok()?;
    let b = b.trim().parse().ok()?;
    (a <= b).then_some((a, b))
}

fn content_range_len(headers: &HeaderMap) -> Option<u64> {
    parse_content_range(headers).map(|(a, b)| b - a + 1)
}

/// The `TOTAL` of `Content-Range: bytes a-b/TOTAL` (`None` for `*` or no header).
fn content_range_total(headers: &HeaderMap) -> Option<u64> {
    let v = headers.get(CONTENT_RANGE)?.to_str().ok()?;
    v.trim().rsplit_once('/')?.1.trim().parse().ok()
}

fn check_content_range(
    url: &Url,
    headers: &HeaderMap,
    start: u64,
    end: u64,
) -> Result<(), HubError> {
    match parse_content_range(headers) {
        Some((a, b)) if a == start && b < end => Ok(()),
        Some((a, b)) => Err(HubError::Unexpected {
            url: url.to_string(),
            reason: format!(
                "asked for bytes {}-{}, server sent Content-Range {a}-{b}",
                start,
                end - 1
            ),
        }),
        None => Err(HubError::Unexpected {
            url: url.to_string(),
            reason: "206 response without a valid Content-Range header".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_offsets() {
        let body = b"[1,\n 2,\n x]";
        let e = serde_json::from_slice::<serde_json::Value>(body).unwrap_err();
        assert_eq!(byte_offset(body, e.line(), e.column()), 9);
        assert_eq!(body[9], b'x');
        let body = b"[1,2 }";
        let e = serde_json::from_slice::<serde_json::Value>(body).unwrap_err();
        assert_eq!(byte_offset(body, e.line(), e.column()), 5);
    }

    #[test]
    fn token_redacted_in_debug() {
        let cfg = HubConfig {
            token: Some("hf_SENTINEL_do_not_print".into()),
            ..Default::default()
        };
        let c = HubClient::new(cfg.clone()).unwrap();
        assert!(!format!("{cfg:?}").contains("SENTINEL"));
        assert!(!format!("{c:?}").contains("SENTINEL"));
        assert!(format!("{cfg:?}").contains("<redacted>"));
    }

    #[test]
    fn urls() {
        let c = HubClient::new(HubConfig {
            endpoint: "http://127.0.0.1:1/".into(),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            c.resolve_url("org/m", "refs/pr/1", "sub dir/model.safetensors")
                .unwrap()
                .as_str(),
            "http://127.0.0.1:1/org/m/resolve/refs%2Fpr%2F1/sub%20dir/model.safetensors"
        );
        assert!(c.resolve_url("a/b/c", "main", "x").is_err());
        assert!(c.resolve_url("a/b", "main", "../x").is_err());
        assert!(
            HubClient::new(HubConfig {
                endpoint: "ftp://x".into(),
                ..Default::default()
            })
            .is_err()
        );
    }
}
