//! HTTP serving: the accept loop (which lets a fault drop a connection), the
//! request router, listing semantics and fault injection.

use crate::population::{EXPANDABLE, INFO_EXPAND_ONLY, SimModel};
use crate::repo::{self, FileBody};
use crate::{Counters, FaultKind, SimConfig, SimStats};
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Request, Response, StatusCode, header};
use bytes::Bytes;
use futures_util::stream::{self, StreamExt};
use hyper_util::rt::TokioIo;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// Lets a handler drop its own connection (the `reset` fault).
#[derive(Clone)]
struct ConnAbort(Arc<Notify>);

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum SortKey {
    Likes,
    Downloads,
    DownloadsAllTime,
    Trending,
    CreatedAt,
    LastModified,
    Id,
}

impl SortKey {
    fn parse(s: &str) -> Option<SortKey> {
        Some(match s {
            "likes" | "likes7d" => SortKey::Likes,
            "downloads" => SortKey::Downloads,
            "downloadsAllTime" | "downloads_all_time" => SortKey::DownloadsAllTime,
            "trendingScore" | "trending_score" | "trending" => SortKey::Trending,
            "createdAt" | "created_at" => SortKey::CreatedAt,
            "lastModified" | "last_modified" => SortKey::LastModified,
            "id" | "modelId" => SortKey::Id,
            _ => return None,
        })
    }
    const ALL: [SortKey; 7] = [
        SortKey::Likes,
        SortKey::Downloads,
        SortKey::DownloadsAllTime,
        SortKey::Trending,
        SortKey::CreatedAt,
        SortKey::LastModified,
        SortKey::Id,
    ];
}

/// The expand set whose listing items are serialised once at start-up: the
/// default of `cambrian sync` (`cambrian_app::tracking::sync::DEFAULT_EXPAND`),
/// in sorted order. Any request whose expand set equals it (in any order,
/// `expand[]` or `expand`) is served from those bytes; the output is the same
/// as [`project`] gives.
pub const PRESERIALISED_EXPAND: &[&str] = &[
    "author",
    "createdAt",
    "downloads",
    "downloadsAllTime",
    "gated",
    "lastModified",
    "library_name",
    "likes",
    "pipeline_tag",
    "sha",
    "tags",
    "trendingScore",
];

pub(crate) struct State {
    pub cfg: SimConfig,
    pub models: Vec<SimModel>,
    by_id: HashMap<String, u32>,
    /// (key, descending) → model indices in that order, ties broken by id
    /// ascending.
    orders: HashMap<(SortKey, bool), Vec<u32>>,
    base_url: String,
    /// Listing items pre-serialised for [`PRESERIALISED_EXPAND`] (one per
    /// model, same index as `models`), so that the listing `cambrian sync`
    /// and the benchmark peer ask for is served as a concatenation of bytes.
    preserialised: Vec<Box<str>>,
    rng: Mutex<ChaCha8Rng>,
    fault_rate: AtomicU64,
    counters: Counters,
}

impl State {
    pub fn new(cfg: SimConfig, models: Vec<SimModel>, base_url: String) -> State {
        let by_id = models
            .iter()
            .enumerate()
            .map(|(i, m)| (m.id.clone(), i as u32))
            .collect();
        let mut by_id_order: Vec<u32> = (0..models.len() as u32).collect();
        by_id_order.sort_unstable_by(|a, b| models[*a as usize].id.cmp(&models[*b as usize].id));
        // rank of each model in id order, for cheap tie-breaks
        let mut id_rank = vec![0u32; models.len()];
        for (r, i) in by_id_order.iter().enumerate() {
            id_rank[*i as usize] = r as u32;
        }
        // Sort compact (key, id rank, index) triples: cache-friendly, so the
        // 14 orders of 200k models take well under a second.
        let mut orders = HashMap::new();
        for key in SortKey::ALL {
            let keyed: Vec<u64> = models
                .iter()
                .map(|m| match key {
                    SortKey::Likes => m.likes,
                    SortKey::Downloads => m.downloads,
                    SortKey::DownloadsAllTime => m.downloads_all_time,
                    SortKey::Trending => f64_order_bits(m.trending),
                    SortKey::CreatedAt => (m.created_ms as u64) ^ (1 << 63),
                    SortKey::LastModified => (m.modified_ms as u64) ^ (1 << 63),
                    SortKey::Id => 0,
                })
                .collect();
            for desc in [false, true] {
                let mut v: Vec<(u64, u32, u32)> = (0..models.len())
                    .map(|i| {
                        let k = if desc { !keyed[i] } else { keyed[i] };
                        let r = if key == SortKey::Id && desc {
                            u32::MAX - id_rank[i]
                        } else {
                            id_rank[i]
                        };
                        (k, r, i as u32)
                    })
                    .collect();
                v.sort_unstable();
                orders.insert(
                    (key, desc),
                    v.into_iter().map(|(_, _, i)| i).collect::<Vec<u32>>(),
                );
            }
        }
        let pre_expand: Vec<String> = PRESERIALISED_EXPAND.iter().map(|s| s.to_string()).collect();
        let preserialised = models
            .iter()
            .map(|m| project(m, &pre_expand).into_boxed_str())
            .collect();
        let rng = Mutex::new(ChaCha8Rng::seed_from_u64(cfg.seed.wrapping_add(0xFA17)));
        let fault_rate = AtomicU64::new(cfg.fault_rate.to_bits());
        State {
            cfg,
            models,
            by_id,
            orders,
            base_url,
            preserialised,
            rng,
            fault_rate,
            counters: Counters::new(),
        }
    }

    pub fn set_fault_rate(&self, r: f64) {
        self.fault_rate
            .store(r.clamp(0.0, 1.0).to_bits(), Ordering::Relaxed);
    }

    pub fn stats(&self) -> SimStats {
        SimStats {
            requests: self.counters.requests.load(Ordering::Relaxed),
            authorized_requests: self.counters.authorized.load(Ordering::Relaxed),
            bytes: self.counters.bytes.load(Ordering::Relaxed),
            models: self.models.len(),
            faults: self
                .counters
                .faults
                .lock()
                .map(|f| f.iter().map(|(k, v)| (k.name().to_string(), *v)).collect())
                .unwrap_or_default(),
            paths: self
                .counters
                .paths
                .lock()
                .map(|p| p.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
        }
    }

    /// Draws whether this request gets a fault, and which, plus a random
    /// word the fault may use for its own choices.
    fn draw_fault(&self) -> (Option<FaultKind>, u64) {
        let rate = f64::from_bits(self.fault_rate.load(Ordering::Relaxed));
        let Ok(mut rng) = self.rng.lock() else {
            return (None, 0);
        };
        let hit = rate > 0.0 && !self.cfg.faults.is_empty() && rng.random_bool(rate);
        let kind = hit.then(|| self.cfg.faults[rng.random_range(0..self.cfg.faults.len())]);
        (kind, rng.random())
    }
}

/// The accept loop: one hyper HTTP/1 connection per socket, each able to be
/// dropped by its handler, all closed on shutdown.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<State>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let app = axum::Router::new().fallback(handle).with_state(state);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => break,
        };
        let Ok((stream, _)) = accepted else { continue };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let mut shutdown = shutdown.clone();
        tokio::spawn(async move {
            let abort = Arc::new(Notify::new());
            let abort2 = abort.clone();
            let svc = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnAbort(abort2.clone()));
                let app = app.clone();
                async move {
                    use tower::ServiceExt;
                    app.oneshot(req.map(Body::new)).await
                }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc);
            tokio::select! {
                _ = conn => {}
                _ = abort.notified() => {}   // dropping `conn` closes the socket
                _ = shutdown.changed() => {}
            }
        });
    }
}

fn json_error(status: StatusCode, msg: &str) -> Response<Body> {
    let body = serde_json::json!({ "error": msg }).to_string();
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(msg) {
        r.headers_mut().insert("x-error-message", v);
    }
    r
}

async fn handle(
    axum::extract::State(st): axum::extract::State<Arc<State>>,
    req: Request<Body>,
) -> Response<Body> {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    if path == "/_sim/stats" {
        return json_ok(
            serde_json::to_string(&st.stats()).unwrap_or_default(),
            HeaderMap::new(),
        );
    }
    let abort = req.extensions().get::<ConnAbort>().cloned();
    if req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer "))
    {
        st.counters.authorized.fetch_add(1, Ordering::Relaxed);
    }
    let (fault, word) = st.draw_fault();
    if let Some(f) = fault {
        st.counters.fault(f);
        match f {
            FaultKind::RateLimit => {
                let t = st.cfg.ratelimit_reset_secs;
                let mut r = json_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "You have exceeded the rate limit for this endpoint.",
                );
                let h = r.headers_mut();
                h.insert("ratelimit", hv(&format!("\"api\";r=0;t={t}")));
                h.insert(
                    "ratelimit-policy",
                    hv("\"fixed window\";\"api\";q=500;w=300"),
                );
                h.insert(header::RETRY_AFTER, hv(&t.to_string()));
                st.counters.record(&path, 0);
                return r;
            }
            FaultKind::Status500 | FaultKind::Status502 | FaultKind::Status503 => {
                let code = match f {
                    FaultKind::Status500 => StatusCode::INTERNAL_SERVER_ERROR,
                    FaultKind::Status502 => StatusCode::BAD_GATEWAY,
                    _ => StatusCode::SERVICE_UNAVAILABLE,
                };
                st.counters.record(&path, 0);
                return json_error(code, "Simulated server error");
            }
            FaultKind::Reset => {
                st.counters.record(&path, 0);
                if let Some(a) = abort {
                    a.0.notify_one();
                    // The connection task drops this future with the socket.
                    std::future::pending::<()>().await;
                }
                return json_error(StatusCode::INTERNAL_SERVER_ERROR, "reset");
            }
            FaultKind::Stall => tokio::time::sleep(st.cfg.stall).await,
            _ => {}
        }
    }
    let range = req
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    route(&st, &path, &query, range.as_deref(), fault, word).await
}

/// Maps an f64 to a u64 with the same total order.
fn f64_order_bits(x: f64) -> u64 {
    let b = x.to_bits();
    if b >> 63 == 1 { !b } else { b | (1 << 63) }
}

fn hv(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

fn json_ok(body: String, headers: HeaderMap) -> Response<Body> {
    let mut r = Response::new(Body::from(body));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r.headers_mut().extend(headers);
    r
}

async fn route(
    st: &Arc<State>,
    path: &str,
    query: &str,
    range: Option<&str>,
    fault: Option<FaultKind>,
    word: u64,
) -> Response<Body> {
    if path == "/api/models" || path == "/api/models/" {
        return match listing(st, query, fault) {
            Ok((body, headers)) => json_with_faults(st, path, body, headers, fault, word),
            Err(r) => {
                st.counters.record(path, 0);
                r
            }
        };
    }
    if let Some(rest) = path.strip_prefix("/api/models/") {
        let segs: Vec<String> = rest.split('/').map(percent_decode).collect();
        let (id, _rev) = match segs.iter().position(|s| s == "revision") {
            Some(p) if p + 1 < segs.len() => (segs[..p].join("/"), Some(segs[p + 1..].join("/"))),
            _ => (segs.join("/"), None),
        };
        let Some(&idx) = st.by_id.get(&id) else {
            st.counters.record(path, 0);
            let mut r = json_error(StatusCode::NOT_FOUND, "Repository not found");
            r.headers_mut()
                .insert("x-error-code", HeaderValue::from_static("RepoNotFound"));
            return r;
        };
        let expand = match parse_expand(query) {
            Ok(e) => e,
            Err(r) => return r,
        };
        let m = &st.models[idx as usize];
        let body = if expand.is_empty() {
            full_object(m)
        } else {
            project(m, &expand)
        };
        return json_with_faults(st, path, body, HeaderMap::new(), fault, word);
    }
    resolve(st, path, range, fault, word).await
}

/// `expand` / `expand[]` values; 400 for unknown names.
#[allow(
    clippy::result_large_err,
    reason = "the error is the HTTP answer itself, returned once per request"
)]
fn parse_expand(query: &str) -> Result<Vec<String>, Response<Body>> {
    let mut out = Vec::new();
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        if k == "expand[]" || k == "expand" {
            if !EXPANDABLE.contains(&v.as_ref()) {
                return Err(json_error(
                    StatusCode::BAD_REQUEST,
                    &format!("\"expand\" must be one of [{}]", EXPANDABLE.join(", ")),
                ));
            }
            if !out.iter().any(|e: &String| e == v.as_ref()) {
                out.push(v.into_owned());
            }
        }
    }
    Ok(out)
}

fn full_object(m: &SimModel) -> String {
    let mut s = String::with_capacity(1024);
    s.push('{');
    let mut first = true;
    for (k, seg) in m.segments() {
        if INFO_EXPAND_ONLY.contains(&k) {
            continue;
        }
        push_segment(&mut s, &mut first, seg);
    }
    s.push('}');
    s
}

fn push_segment(s: &mut String, first: &mut bool, seg: &str) {
    if !*first {
        s.push(',');
    }
    *first = false;
    s.push_str(seg);
}

/// `_id`, `id` and the expanded fields present, in record order.
fn project(m: &SimModel, expand: &[String]) -> String {
    let mut s = String::with_capacity(512);
    s.push('{');
    let mut first = true;
    for (k, seg) in m.segments() {
        if k == "_id" || k == "id" || expand.iter().any(|e| e == k) {
            push_segment(&mut s, &mut first, seg);
        }
    }
    s.push('}');
    s
}

#[allow(
    clippy::result_large_err,
    reason = "the error is the HTTP answer itself, returned once per request"
)]
fn listing(
    st: &State,
    query: &str,
    fault: Option<FaultKind>,
) -> Result<(String, HeaderMap), Response<Body>> {
    let mut search = None;
    let mut author = None;
    let mut filters: Vec<String> = Vec::new();
    let mut pipeline = None;
    let mut sort = None;
    let mut direction: Option<i64> = None;
    let mut limit: usize = 1000;
    let mut cursor = None;
    let mut full = false;
    let mut extra: Vec<String> = Vec::new();
    let mut keep: Vec<(String, String)> = Vec::new();
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        if k != "cursor" {
            keep.push((k.to_string(), v.to_string()));
        }
        match k.as_ref() {
            "search" => search = Some(v.to_string()),
            "author" => author = Some(v.to_string()),
            "filter" => filters.extend(v.split(',').filter(|s| !s.is_empty()).map(str::to_string)),
            "pipeline_tag" => pipeline = Some(v.to_string()),
            "sort" => sort = Some(v.to_string()),
            "direction" => {
                direction = Some(v.parse().map_err(|_| {
                    json_error(StatusCode::BAD_REQUEST, "\"direction\" must be 1 or -1")
                })?)
            }
            "limit" => {
                let l: usize = v.parse().map_err(|_| {
                    json_error(
                        StatusCode::BAD_REQUEST,
                        "\"limit\" must be a positive integer",
                    )
                })?;
                if l == 0 {
                    return Err(json_error(
                        StatusCode::BAD_REQUEST,
                        "\"limit\" must be a positive integer",
                    ));
                }
                limit = l.min(1000);
            }
            "cursor" => cursor = Some(v.to_string()),
            "full" => full = is_true(&v),
            // huggingface_hub's `cardData=True` / `config=True`: the compact
            // set plus that field.
            "cardData" | "config" if is_true(&v) => extra.push(k.to_string()),
            _ => {}
        }
    }
    let mut expand = parse_expand(query)?;
    if !extra.is_empty() && expand.is_empty() {
        expand = crate::population::COMPACT_FIELDS
            .iter()
            .map(|s| s.to_string())
            .collect();
    }
    expand.extend(extra);
    let key = match &sort {
        None => SortKey::Id,
        Some(s) => SortKey::parse(s).ok_or_else(|| {
            json_error(StatusCode::BAD_REQUEST, &format!("unknown sort key `{s}`"))
        })?,
    };
    // The Hub sorts descending when `sort` is given without `direction`.
    let desc = match direction {
        Some(d) => d < 0,
        None => sort.is_some() && key != SortKey::Id,
    };
    let order = st
        .orders
        .get(&(key, desc))
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let mut pos = match &cursor {
        None => 0,
        Some(c) => decode_cursor(c)
            .filter(|p| *p <= order.len())
            .ok_or_else(|| json_error(StatusCode::BAD_REQUEST, "invalid cursor"))?,
    };
    if fault == Some(FaultKind::Repeat) && pos > 0 {
        // Start one matching item early: it was the last of the previous page.
        let mut p = pos;
        while p > 0 {
            p -= 1;
            if matches(
                &st.models[order[p] as usize],
                &search,
                &author,
                &filters,
                &pipeline,
            ) {
                pos = p;
                break;
            }
        }
    }
    let matcher = |m: &SimModel| matches(m, &search, &author, &filters, &pipeline);
    let preserialised = !full && expand.len() == PRESERIALISED_EXPAND.len() && {
        let mut sorted: Vec<&str> = expand.iter().map(String::as_str).collect();
        sorted.sort_unstable();
        sorted == PRESERIALISED_EXPAND
    };
    let mut body = String::with_capacity(limit.min(order.len()) * 400 + 2);
    body.push('[');
    let mut n = 0;
    let mut i = pos;
    while i < order.len() && n < limit {
        let m = &st.models[order[i] as usize];
        i += 1;
        if !matcher(m) {
            continue;
        }
        if n > 0 {
            body.push(',');
        }
        n += 1;
        if preserialised {
            body.push_str(
                st.preserialised
                    .get(order[i - 1] as usize)
                    .map(|b| &b[..])
                    .unwrap_or_default(),
            );
        } else if full {
            body.push_str(&full_object(m));
        } else if expand.is_empty() {
            body.push_str(&m.compact);
        } else {
            body.push_str(&project(m, &expand));
        }
    }
    body.push(']');
    // Next page: the position of the next matching item, if there is one.
    while i < order.len() && !matcher(&st.models[order[i] as usize]) {
        i += 1;
    }
    let mut headers = HeaderMap::new();
    if i < order.len() {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &keep {
            ser.append_pair(k, v);
        }
        ser.append_pair("cursor", &encode_cursor(i));
        let link = format!(
            "<{}/api/models?{}>; rel=\"next\"",
            st.base_url,
            ser.finish()
        );
        headers.insert(header::LINK, hv(&link));
    }
    Ok((body, headers))
}

fn is_true(v: &str) -> bool {
    matches!(v, "true" | "True" | "1")
}

fn matches(
    m: &SimModel,
    search: &Option<String>,
    author: &Option<String>,
    filters: &[String],
    pipeline: &Option<String>,
) -> bool {
    if let Some(a) = author
        && !m.author.eq_ignore_ascii_case(a)
    {
        return false;
    }
    if let Some(p) = pipeline
        && m.pipeline_tag.as_deref() != Some(p.as_str())
    {
        return false;
    }
    if let Some(s) = search
        && !contains_ignore_case(&m.id, s)
    {
        return false;
    }
    filters
        .iter()
        .all(|f| m.tags.iter().any(|t| t == f) || m.pipeline_tag.as_deref() == Some(f.as_str()))
}

fn contains_ignore_case(hay: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    let h = hay.to_ascii_lowercase();
    h.contains(&needle.to_ascii_lowercase())
}

fn encode_cursor(pos: usize) -> String {
    // Opaque to clients; a version prefix lets the format change.
    let raw = format!("v1:{pos}");
    raw.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_cursor(c: &str) -> Option<usize> {
    if !c.len().is_multiple_of(2) || c.len() > 64 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..c.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(c.get(i..i + 2)?, 16).ok())
        .collect();
    let s = String::from_utf8(bytes?).ok()?;
    s.strip_prefix("v1:")?.parse().ok()
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Sends a JSON body, applying content faults (malformed modes, truncation).
fn json_with_faults(
    st: &State,
    path: &str,
    body: String,
    headers: HeaderMap,
    fault: Option<FaultKind>,
    word: u64,
) -> Response<Body> {
    let body = match fault {
        Some(FaultKind::WrongTypes)
        | Some(FaultKind::MissingFields)
        | Some(FaultKind::UnknownFields) => mutate(&body, fault, word),
        Some(FaultKind::InvalidJson) => {
            let cut = (word as usize % body.len().max(1)).max(1).min(body.len());
            let mut cut = cut;
            while !body.is_char_boundary(cut) {
                cut -= 1;
            }
            format!("{}\u{1}<html>oops{}", &body[..cut], &body[cut..])
        }
        _ => body,
    };
    if fault == Some(FaultKind::Truncate) {
        let bytes = Bytes::from(body);
        let half = bytes.len() / 2;
        st.counters.record(path, half as u64);
        let mut r = if word.is_multiple_of(2) {
            // Content-Length promises more than is sent; the stream fails.
            let full_len = bytes.len();
            let part = bytes.slice(..half);
            let s = stream::iter(vec![
                Ok::<Bytes, std::io::Error>(part),
                Err(std::io::Error::other("simulated truncation")),
            ]);
            let mut r = Response::new(Body::from_stream(s));
            r.headers_mut()
                .insert(header::CONTENT_LENGTH, hv(&full_len.to_string()));
            r
        } else {
            // Valid chunked HTTP carrying cut JSON.
            let s = stream::iter(vec![Ok::<Bytes, std::io::Error>(bytes.slice(..half))]);
            Response::new(Body::from_stream(s))
        };
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        r.headers_mut().extend(headers);
        return r;
    }
    st.counters.record(path, body.len() as u64);
    json_ok(body, headers)
}

/// Malformed-content modes applied to a listing page or one record.
fn mutate(body: &str, fault: Option<FaultKind>, word: u64) -> String {
    let Ok(mut v) = serde_json::from_str::<Value>(body) else {
        return body.to_string();
    };
    let items: Vec<&mut Value> = match &mut v {
        Value::Array(a) => a.iter_mut().collect(),
        o @ Value::Object(_) => vec![o],
        _ => Vec::new(),
    };
    for (i, item) in items.into_iter().enumerate() {
        let Value::Object(o) = item else { continue };
        match fault {
            Some(FaultKind::WrongTypes) if (i as u64 + word).is_multiple_of(2) => {
                if let Some(l) = o.get("likes").cloned() {
                    o.insert("likes".into(), Value::String(l.to_string()));
                }
                if o.contains_key("downloads") {
                    o.insert("downloads".into(), serde_json::json!(-5));
                }
                if o.contains_key("tags") {
                    o.insert("tags".into(), Value::String("not-a-list".into()));
                }
                if o.contains_key("createdAt") {
                    o.insert("createdAt".into(), serde_json::json!(12345));
                }
                if o.contains_key("safetensors") {
                    o.insert(
                        "safetensors".into(),
                        serde_json::json!({ "parameters": "F32", "total": "many" }),
                    );
                }
            }
            Some(FaultKind::MissingFields) => {
                for k in [
                    "likes",
                    "downloads",
                    "tags",
                    "pipeline_tag",
                    "createdAt",
                    "library_name",
                    "safetensors",
                ] {
                    o.remove(k);
                }
                if i == 0 {
                    o.remove("id");
                }
            }
            Some(FaultKind::UnknownFields) => {
                o.insert(
                    "cambrianSimUnknown".into(),
                    serde_json::json!({ "nested": [1, 2, { "x": null }] }),
                );
                o.insert("likes7d".into(), serde_json::json!(word % 100));
            }
            _ => {}
        }
    }
    v.to_string()
}

static ZEROS: [u8; 65536] = [0u8; 65536];

async fn resolve(
    st: &Arc<State>,
    path: &str,
    range: Option<&str>,
    fault: Option<FaultKind>,
    word: u64,
) -> Response<Body> {
    let segs: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(percent_decode)
        .collect();
    let Some(rp) = segs.iter().position(|s| s == "resolve") else {
        st.counters.record(path, 0);
        return json_error(StatusCode::NOT_FOUND, "Not Found");
    };
    if rp == 0 || rp > 2 || segs.len() < rp + 3 {
        st.counters.record(path, 0);
        return json_error(StatusCode::NOT_FOUND, "Not Found");
    }
    let id = segs[..rp].join("/");
    let file = segs[rp + 2..].join("/");
    if segs[rp + 2..]
        .iter()
        .any(|s| s.is_empty() || s == "." || s == "..")
        || segs[..rp].iter().any(|s| s.is_empty() || s == "..")
    {
        st.counters.record(path, 0);
        return json_error(StatusCode::BAD_REQUEST, "invalid path");
    }
    let body = if id == repo::LLAMA2_7B_SIM_ID {
        repo::llama2_file(&file)
    } else {
        None
    };
    let body = match body {
        Some(b) => Some(b),
        None => disk_file(st, &id, &file).or_else(|| {
            let m = &st.models[*st.by_id.get(&id)? as usize];
            repo::generated_file(m, m.files.as_ref()?, &file)
        }),
    };
    let Some(fb) = body else {
        st.counters.record(path, 0);
        let mut r = json_error(StatusCode::NOT_FOUND, "Entry not found");
        r.headers_mut()
            .insert("x-error-code", HeaderValue::from_static("EntryNotFound"));
        return r;
    };
    let len = fb.len();
    let (status, start, end) = match range.map(|r| parse_range(r, len)) {
        None | Some(Ok(None)) => (StatusCode::OK, 0, len),
        Some(Ok(Some((a, b)))) => (StatusCode::PARTIAL_CONTENT, a, b),
        Some(Err(())) => {
            st.counters.record(path, 0);
            let mut r = json_error(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "Requested range not satisfiable",
            );
            r.headers_mut()
                .insert(header::CONTENT_RANGE, hv(&format!("bytes */{len}")));
            return r;
        }
    };
    let truncate = fault == Some(FaultKind::Truncate);
    let send_end = if truncate {
        start + (end - start) / 2
    } else {
        end
    };
    st.counters.record(path, 0);
    let counting = st.clone();
    let counted_path = path.to_string();
    let s = body_stream(fb, start, send_end, truncate).inspect(move |c| {
        if let Ok(b) = c {
            counting.counters.add_bytes(&counted_path, b.len() as u64);
        }
    });
    let mut r = Response::new(Body::from_stream(s));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_LENGTH, hv(&(end - start).to_string()));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if status == StatusCode::PARTIAL_CONTENT {
        h.insert(
            header::CONTENT_RANGE,
            hv(&format!(
                "bytes {}-{}/{}",
                start,
                end.saturating_sub(1),
                len
            )),
        );
    }
    if let Some(sha) = st
        .by_id
        .get(&id)
        .and_then(|i| st.models[*i as usize].field("sha"))
    {
        h.insert("x-repo-commit", hv(sha.trim_matches('"')));
    }
    let _ = word;
    r
}

fn disk_file(st: &State, id: &str, file: &str) -> Option<FileBody> {
    let dir: &PathBuf = st.cfg.data.as_ref()?;
    let mut p = dir.join("repos");
    for part in id.split('/').chain(file.split('/')) {
        p.push(part);
    }
    let meta = std::fs::metadata(&p).ok()?;
    meta.is_file().then(|| FileBody::Disk {
        path: p,
        len: meta.len(),
    })
}

/// `bytes=a-b`, `bytes=a-`, `bytes=-n` (single range). `Ok(None)`: ignore
/// the header (multi-range or not `bytes`), `Err`: not satisfiable.
fn parse_range(h: &str, len: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = h.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    let (start, end) = if a.is_empty() {
        let n: u64 = b.parse().map_err(|_| ())?;
        if n == 0 {
            return Err(());
        }
        (len.saturating_sub(n), len)
    } else {
        let s: u64 = a.parse().map_err(|_| ())?;
        let e = if b.is_empty() {
            len
        } else {
            b.parse::<u64>().map_err(|_| ())?.saturating_add(1).min(len)
        };
        (s, e)
    };
    if start >= len || start >= end {
        return Err(());
    }
    Ok(Some((start, end)))
}

type ChunkStream = futures_util::stream::BoxStream<'static, Result<Bytes, std::io::Error>>;

/// Bytes `start..end` of `fb` as a stream of ≤64 KiB chunks; with
/// `fail_at_end`, the stream ends with an error (simulated truncation).
fn body_stream(fb: FileBody, start: u64, end: u64, fail_at_end: bool) -> ChunkStream {
    let main: ChunkStream = match fb {
        FileBody::Bytes(b) => {
            let s = (start as usize).min(b.len());
            let e = (end as usize).min(b.len());
            stream::iter(vec![Ok(b.slice(s..e))]).boxed()
        }
        FileBody::Zeros { header, .. } => {
            let hl = header.len() as u64;
            let mut first = Vec::new();
            if start < hl {
                first.push(Ok(header.slice(start as usize..end.min(hl) as usize)));
            }
            let zstart = start.max(hl);
            let zeros = stream::unfold(zstart, move |pos| async move {
                if pos >= end {
                    return None;
                }
                let n = (end - pos).min(ZEROS.len() as u64);
                Some((Ok(Bytes::from_static(&ZEROS[..n as usize])), pos + n))
            });
            stream::iter(first).chain(zeros).boxed()
        }
        FileBody::Disk { path, .. } => {
            let st = stream::unfold(
                (path, start, None::<tokio::fs::File>),
                move |(path, pos, file)| async move {
                    use tokio::io::{AsyncReadExt, AsyncSeekExt};
                    if pos >= end {
                        return None;
                    }
                    let mut f = match file {
                        Some(f) => f,
                        None => {
                            let mut f = match tokio::fs::File::open(&path).await {
                                Ok(f) => f,
                                Err(e) => return Some((Err(e), (path, end, None))),
                            };
                            if let Err(e) = f.seek(std::io::SeekFrom::Start(pos)).await {
                                return Some((Err(e), (path, end, None)));
                            }
                            f
                        }
                    };
                    let n = (end - pos).min(65536) as usize;
                    let mut buf = vec![0u8; n];
                    match f.read_exact(&mut buf).await {
                        Ok(_) => Some((Ok(Bytes::from(buf)), (path, pos + n as u64, Some(f)))),
                        Err(e) => Some((Err(e), (path, end, None))),
                    }
                },
            );
            st.boxed()
        }
    };
    if fail_at_end {
        main.chain(stream::iter(vec![Err(std::io::Error::other(
            "simulated truncation",
        ))]))
        .boxed()
    } else {
        main
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_roundtrip() {
        for p in [0usize, 1, 999, 123_456_789] {
            assert_eq!(decode_cursor(&encode_cursor(p)), Some(p));
        }
        assert_eq!(decode_cursor("zz"), None);
        assert_eq!(decode_cursor(""), None);
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-7", 100), Ok(Some((0, 8))));
        assert_eq!(parse_range("bytes=90-", 100), Ok(Some((90, 100))));
        assert_eq!(parse_range("bytes=-10", 100), Ok(Some((90, 100))));
        assert_eq!(parse_range("bytes=50-500", 100), Ok(Some((50, 100))));
        assert_eq!(parse_range("bytes=100-", 100), Err(()));
        assert_eq!(parse_range("bytes=0-1,4-5", 100), Ok(None));
        assert_eq!(parse_range("items=0-1", 100), Ok(None));
    }
}
