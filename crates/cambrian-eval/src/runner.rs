//! The runner: sends every prepared item to every target and records one
//! [`ItemRun`] per (target, item).
//!
//! - **Bounded, adaptive concurrency per endpoint**: targets sharing a base URL
//!   share one [`AimdLimiter`] (at most `concurrency` requests in flight; halved
//!   on 429/503, paused for `Retry-After`, grown back by successes).
//! - **Retries**: back-pressure, 5xx, refused/broken connections and timeouts are
//!   retried up to `retries` times (exponential back-off from 250 ms, capped at
//!   10 s, or the server's `Retry-After`); other 4xx are final (`rejected`).
//! - **Response cache** ([`cache`]): content-addressed by the canonical request;
//!   re-runs are served from disk without a server.
//! - **Journal** ([`journal`]): append-only JSONL, fsync'd in batches; a killed run
//!   resumes with every item exactly once.
//! - **Warm-up**: one request per target before the run (not recorded, excluded
//!   from latency statistics), only for targets that have items to send.
//! - **Determinism audit** ([`determinism_audit`]): re-sends a seeded sample twice,
//!   bypassing the cache, and reports how often the answer text differs.

pub mod cache;
pub mod journal;

#[cfg(test)]
mod tests;

use crate::item::{CallError, CallErrorKind, GenParams, ItemRun, PreparedItem};
use cache::{CacheEntry, CanonicalRequest, ResponseCache};
use cambrian_llm::{
    AimdLimiter, ApiKey, Client, Completion, Endpoint, GenRequest, Input, LlmError,
};
use futures_util::stream::{self, StreamExt};
use journal::{JournalLine, Msg, Writer};
use rand::SeedableRng;
use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use cambrian_llm::{Api, Timeouts};

/// One model to evaluate.
#[derive(Clone)]
pub struct Target {
    /// The user's label (`NAME` of `--model NAME=URL`); must be unique.
    pub label: String,
    /// The model name sent in requests.
    pub model: String,
    /// The `/v1` root of the server.
    pub base_url: String,
    /// Sent as `Authorization: Bearer`; never logged or shown in `Debug`.
    pub api_key: Option<String>,
    pub api: Api,
    pub stream: bool,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("label", &self.label)
            .field("model", &self.model)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("api", &self.api)
            .field("stream", &self.stream)
            .finish()
    }
}

/// Settings of a run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub targets: Vec<Target>,
    /// Maximum requests in flight per endpoint (base URL).
    pub concurrency: usize,
    pub params: GenParams,
    /// Response cache directory; `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
    /// Journal file (created if missing, resumed if present).
    pub journal: PathBuf,
    pub timeouts: Timeouts,
    pub warmup: bool,
    /// Retries after the first attempt for retryable failures.
    pub retries: u32,
}

/// Progress, for the CLI's progress bar and logs.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEvent {
    /// Work is known: `total` = targets × items; `resumed` come from the
    /// journal, `cached` from the response cache, `to_send` go to servers.
    Started {
        total: usize,
        resumed: usize,
        cached: usize,
        to_send: usize,
    },
    WarmupDone {
        target: String,
        ms: f64,
    },
    /// One (target, item) finished (`ok` = a usable answer).
    ItemDone {
        target: String,
        item_id: String,
        ok: bool,
        cached: bool,
    },
    /// A request will be retried after `wait_ms`.
    Retrying {
        target: String,
        item_id: String,
        attempt: u32,
        wait_ms: f64,
        reason: String,
    },
    /// A journal's torn last line was dropped (a previous run was killed mid-write).
    JournalTornTail,
}

/// The result of [`run`].
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutput {
    /// Exactly one per (target, item), ordered by item, then by target in
    /// `RunConfig::targets` order.
    pub runs: Vec<ItemRun>,
    /// How many came from the journal of an earlier run.
    pub resumed: usize,
    /// How many were served from the response cache in this run.
    pub cached: usize,
    /// Warm-up latency per target label, milliseconds (not in `runs`).
    pub warmup_ms: Vec<(String, f64)>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("target {label:?}: {message}")]
    InvalidTarget { label: String, message: String },
    #[error("item id {id:?} appears more than once")]
    DuplicateItem { id: String },
    #[error(transparent)]
    Journal(#[from] journal::JournalError),
    #[error("journal {path} belongs to a different run: {message}")]
    JournalMismatch { path: PathBuf, message: String },
    #[error("warm-up request to target {label:?} ({url}) failed: {source}")]
    Warmup {
        label: String,
        url: String,
        #[source]
        source: LlmError,
    },
    #[error("cannot create the HTTP client: {0}")]
    Client(#[source] LlmError),
}

impl RunError {
    /// A hint for the user, when there is one.
    pub fn hint(&self) -> Option<String> {
        match self {
            RunError::JournalMismatch { path, .. } => Some(format!(
                "use a new --journal file, or delete {} to start over",
                path.display()
            )),
            RunError::Journal(journal::JournalError::Corrupt { path, .. }) => Some(format!(
                "the journal was edited or is not a cambrian journal; move {} aside to start over",
                path.display()
            )),
            RunError::Warmup { source, .. } => Some(match source {
                LlmError::Connect { .. } | LlmError::Timeout { .. } => {
                    "is the server running? the base URL is the server's /v1 root, e.g. http://127.0.0.1:8080/v1".to_string()
                }
                LlmError::Http { status: 401 | 403, .. } => "check the API key (its environment variable)".to_string(),
                LlmError::Http { status: 404, .. } => "check the model name and that the base URL ends with /v1".to_string(),
                _ => "run with --no-warmup to record per-item failures instead".to_string(),
            }),
            RunError::DuplicateItem { .. } => Some("item ids must be unique within a test set".to_string()),
            _ => None,
        }
    }
}

/// Map a client error to the recorded failure.
pub fn call_error(e: &LlmError) -> CallError {
    let kind = match e {
        LlmError::Timeout { .. } => CallErrorKind::Timeout,
        LlmError::Http { status, .. } if *status < 500 && *status != 429 && *status != 408 => {
            CallErrorKind::Rejected
        }
        LlmError::ServerError { .. } => CallErrorKind::Rejected,
        _ => CallErrorKind::Transport,
    };
    CallError {
        kind,
        message: e.to_string(),
        http_status: e.http_status(),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A target ready to send: its endpoint and the limiter of its base URL.
struct Prepared<'a> {
    target: &'a Target,
    endpoint: Endpoint,
    limiter: Arc<AimdLimiter>,
}

fn prepare_targets<'a>(cfg: &'a RunConfig) -> Result<Vec<Prepared<'a>>, RunError> {
    let mut limiters: HashMap<String, Arc<AimdLimiter>> = HashMap::new();
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(cfg.targets.len());
    for t in &cfg.targets {
        if t.label.is_empty() {
            return Err(RunError::InvalidTarget {
                label: t.label.clone(),
                message: "empty label".into(),
            });
        }
        if !seen.insert(t.label.as_str()) {
            return Err(RunError::InvalidTarget {
                label: t.label.clone(),
                message: "the label is used twice; give each model a distinct NAME".into(),
            });
        }
        let endpoint =
            Endpoint::new(&t.base_url, t.api_key.clone().map(ApiKey::new)).map_err(|e| {
                RunError::InvalidTarget {
                    label: t.label.clone(),
                    message: e.to_string(),
                }
            })?;
        let limiter = limiters
            .entry(endpoint.base_url().to_string())
            .or_insert_with(|| Arc::new(AimdLimiter::new(cfg.concurrency)))
            .clone();
        out.push(Prepared {
            target: t,
            endpoint,
            limiter,
        });
    }
    Ok(out)
}

fn prompt_of(item: &PreparedItem) -> String {
    // `/v1/completions` without a prepared prompt: the message contents, one
    // block per message (documented in docs/llm.md).
    match &item.prompt {
        Some(p) => p.clone(),
        None => item
            .messages
            .iter()
            .map(|m| m.content.as_str())
            .collect::<Vec<_>>()
            .join("\n\n"),
    }
}

fn canonical(p: &Prepared<'_>, item: &PreparedItem, params: &GenParams) -> CanonicalRequest {
    match p.target.api {
        Api::Chat => CanonicalRequest::new(
            p.endpoint.base_url(),
            &p.target.model,
            Api::Chat,
            Some(&item.messages),
            None,
            params,
        ),
        Api::Completions => CanonicalRequest::new(
            p.endpoint.base_url(),
            &p.target.model,
            Api::Completions,
            None,
            Some(&prompt_of(item)),
            params,
        ),
    }
}

fn backoff(attempt: u32) -> Duration {
    let base = 250u64.saturating_mul(1u64 << attempt.min(6));
    let jitter = rand::random::<f64>() * 0.25 + 0.875;
    Duration::from_millis(((base.min(10_000)) as f64 * jitter) as u64)
}

/// Longest `Retry-After` honoured; longer asks are capped.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

/// Send one request with the retry / back-pressure policy.
async fn call(
    client: &Client,
    p: &Prepared<'_>,
    item: &PreparedItem,
    params: &GenParams,
    retries: u32,
    on_event: &(dyn Fn(RunEvent) + Sync),
) -> Result<Completion, LlmError> {
    let prompt;
    let input = match p.target.api {
        Api::Chat => Input::Messages(&item.messages),
        Api::Completions => {
            prompt = prompt_of(item);
            Input::Prompt(&prompt)
        }
    };
    let req = GenRequest {
        api: p.target.api,
        model: &p.target.model,
        input,
        temperature: params.temperature,
        max_tokens: params.max_tokens,
        seed: params.seed,
        stream: p.target.stream,
    };
    let mut attempt = 0u32;
    loop {
        let result = {
            let _permit = p.limiter.acquire().await;
            client.complete(&p.endpoint, &req).await
        };
        match result {
            Ok(c) => {
                p.limiter.on_success();
                return Ok(c);
            }
            Err(e) if attempt < retries && e.is_retryable() => {
                attempt += 1;
                let wait = if e.is_backpressure() {
                    let pause = e
                        .retry_after()
                        .unwrap_or_else(|| backoff(attempt))
                        .min(MAX_RETRY_AFTER);
                    // The limiter makes every request to this endpoint wait.
                    p.limiter.on_backpressure(pause);
                    pause
                } else {
                    backoff(attempt)
                };
                on_event(RunEvent::Retrying {
                    target: p.target.label.clone(),
                    item_id: item.id.clone(),
                    attempt,
                    wait_ms: ms(wait),
                    reason: e.to_string(),
                });
                if !e.is_backpressure() {
                    tokio::time::sleep(wait).await;
                }
            }
            Err(e) => {
                if e.is_backpressure() {
                    p.limiter.on_backpressure(
                        e.retry_after()
                            .unwrap_or(Duration::ZERO)
                            .min(MAX_RETRY_AFTER),
                    );
                }
                return Err(e);
            }
        }
    }
}

fn item_run(label: &str, item_id: &str, r: &Result<Completion, LlmError>) -> ItemRun {
    match r {
        Ok(c) => {
            let usage = c.answer.usage.unwrap_or_default();
            ItemRun {
                model: label.to_string(),
                item_id: item_id.to_string(),
                text: Some(c.answer.text.clone()),
                reasoning: c.answer.reasoning.clone(),
                finish_reason: c.answer.finish_reason.clone(),
                prompt_tokens: usage.prompt_tokens,
                completion_tokens: usage.completion_tokens,
                ttft_ms: c.ttft.map(ms),
                latency_ms: Some(ms(c.latency)),
                error: None,
                cached: false,
            }
        }
        Err(e) => ItemRun {
            model: label.to_string(),
            item_id: item_id.to_string(),
            text: None,
            reasoning: None,
            finish_reason: None,
            prompt_tokens: None,
            completion_tokens: None,
            ttft_ms: None,
            latency_ms: None,
            error: Some(call_error(e)),
            cached: false,
        },
    }
}

fn from_cache(label: &str, item_id: &str, e: CacheEntry) -> ItemRun {
    ItemRun {
        model: label.to_string(),
        item_id: item_id.to_string(),
        text: Some(e.text),
        reasoning: e.reasoning,
        finish_reason: e.finish_reason,
        prompt_tokens: e.prompt_tokens,
        completion_tokens: e.completion_tokens,
        ttft_ms: e.ttft_ms,
        latency_ms: e.latency_ms,
        error: None,
        cached: true,
    }
}

/// Whether a journaled run is final (kept on resume) or is sent again.
fn is_final(r: &ItemRun) -> bool {
    match &r.error {
        None => true,
        Some(e) => e.kind == CallErrorKind::Rejected,
    }
}

/// Run every item against every target. See the module docs.
pub async fn run(
    cfg: &RunConfig,
    items: &[PreparedItem],
    on_event: &(dyn Fn(RunEvent) + Sync),
) -> Result<RunOutput, RunError> {
    let targets = prepare_targets(cfg)?;
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(items.len());
    for (i, it) in items.iter().enumerate() {
        if index.insert(it.id.as_str(), i).is_some() {
            return Err(RunError::DuplicateItem { id: it.id.clone() });
        }
    }
    let nt = targets.len();
    let mut slots: Vec<Option<ItemRun>> = vec![None; items.len() * nt];

    // Resume from the journal.
    let state = journal::load(&cfg.journal)?;
    if state.torn_tail {
        on_event(RunEvent::JournalTornTail);
    }
    if let Some(p) = &state.params
        && p != &cfg.params
    {
        return Err(RunError::JournalMismatch {
            path: cfg.journal.clone(),
            message: format!(
                "it was written with temperature {}, max_tokens {}, seed {:?}; this run uses temperature {}, max_tokens {}, seed {:?}",
                p.temperature,
                p.max_tokens,
                p.seed,
                cfg.params.temperature,
                cfg.params.max_tokens,
                cfg.params.seed
            ),
        });
    }
    let mut known_targets: HashMap<&str, (&str, &str, Api)> = HashMap::new();
    for (label, model, url, api) in &state.targets {
        known_targets.insert(label, (model, url, *api));
    }
    let target_index: HashMap<&str, usize> = targets
        .iter()
        .enumerate()
        .map(|(i, p)| (p.target.label.as_str(), i))
        .collect();
    for p in &targets {
        if let Some((model, url, api)) = known_targets.get(p.target.label.as_str())
            && (*model != p.target.model || *url != p.endpoint.base_url() || *api != p.target.api)
        {
            return Err(RunError::JournalMismatch {
                path: cfg.journal.clone(),
                message: format!(
                    "target {:?} was {model} at {url} ({api:?}), now {} at {} ({:?})",
                    p.target.label,
                    p.target.model,
                    p.endpoint.base_url(),
                    p.target.api
                ),
            });
        }
    }
    let mut resumed = 0usize;
    for r in state.runs {
        let (Some(&ti), Some(&ii)) = (
            target_index.get(r.model.as_str()),
            index.get(r.item_id.as_str()),
        ) else {
            continue; // an item or target not in this run
        };
        let slot = &mut slots[ii * nt + ti];
        if is_final(&r) {
            if slot.is_none() {
                resumed += 1;
            }
            *slot = Some(r);
        } else if slot.take().is_some() {
            resumed -= 1;
        }
    }

    let writer = Writer::open(&cfg.journal)?;
    if state.params.is_none() {
        writer.send(Msg::Line(JournalLine::Header {
            version: journal::JOURNAL_VERSION,
            params: cfg.params.clone(),
        }));
    }
    for p in &targets {
        if !known_targets.contains_key(p.target.label.as_str()) {
            writer.send(Msg::Line(JournalLine::Target {
                label: p.target.label.clone(),
                model: p.target.model.clone(),
                base_url: p.endpoint.base_url().to_string(),
                api: p.target.api,
            }));
        }
    }

    // Serve what we can from the cache; the rest is work.
    let cache = cfg.cache_dir.as_deref().map(ResponseCache::new);
    let mut cached = 0usize;
    let mut cached_at = Vec::new();
    // Per target: (item index, its request and cache key when cacheable).
    type Work = Vec<(usize, Option<(CanonicalRequest, String)>)>;
    let mut work: Vec<Work> = vec![Vec::new(); nt];
    for (ii, item) in items.iter().enumerate() {
        for (ti, p) in targets.iter().enumerate() {
            if slots[ii * nt + ti].is_some() {
                continue;
            }
            let Some(cache) = &cache else {
                work[ti].push((ii, None));
                continue;
            };
            let creq = canonical(p, item, &cfg.params);
            let key = creq.key();
            if let Some(entry) = cache.get(&key, &creq) {
                let r = from_cache(&p.target.label, &item.id, entry);
                writer.send(Msg::Line(JournalLine::Run(r.clone())));
                slots[ii * nt + ti] = Some(r);
                cached_at.push((ti, ii));
                cached += 1;
            } else {
                work[ti].push((ii, Some((creq, key))));
            }
        }
    }
    let to_send: usize = work.iter().map(Vec::len).sum();
    on_event(RunEvent::Started {
        total: items.len() * nt,
        resumed,
        cached,
        to_send,
    });
    for (ti, ii) in cached_at {
        on_event(RunEvent::ItemDone {
            target: targets[ti].target.label.clone(),
            item_id: items[ii].id.clone(),
            ok: true,
            cached: true,
        });
    }

    let client = Client::new(cfg.timeouts, cfg.concurrency.max(1)).map_err(RunError::Client)?;

    // Warm-up: one unrecorded request per target that has work.
    let mut warmup_ms = Vec::new();
    if cfg.warmup {
        for (ti, p) in targets.iter().enumerate() {
            let Some((ii, _)) = work[ti].first() else {
                continue;
            };
            match call(&client, p, &items[*ii], &cfg.params, cfg.retries, on_event).await {
                Ok(c) => {
                    let t = ms(c.latency);
                    on_event(RunEvent::WarmupDone {
                        target: p.target.label.clone(),
                        ms: t,
                    });
                    warmup_ms.push((p.target.label.clone(), t));
                }
                Err(source) => {
                    // Keep what the journal has; report the unreachable target.
                    drop(writer.finish());
                    return Err(RunError::Warmup {
                        label: p.target.label.clone(),
                        url: p.endpoint.base_url().to_string(),
                        source,
                    });
                }
            }
        }
    }

    // One stream per target, each bounded by the concurrency (the shared
    // limiter enforces the per-endpoint bound), merged into one.
    let per_target = targets.iter().enumerate().map(|(ti, p)| {
        let client = &client;
        let cfg_ref = cfg;
        stream::iter(std::mem::take(&mut work[ti]))
            .map(move |(ii, cache_key)| async move {
                let item = &items[ii];
                let r = call(client, p, item, &cfg_ref.params, cfg_ref.retries, on_event).await;
                (ti, ii, cache_key, r)
            })
            .buffer_unordered(cfg.concurrency.max(1))
            .boxed_local()
    });
    let mut merged = stream::select_all(per_target.collect::<Vec<_>>());
    while let Some((ti, ii, cache_key, r)) = merged.next().await {
        let p = &targets[ti];
        let item = &items[ii];
        let run = item_run(&p.target.label, &item.id, &r);
        if let (Some(cache), Some((creq, key)), Ok(c)) = (&cache, cache_key, &r) {
            let entry = CacheEntry {
                version: cache::CACHE_VERSION,
                request: creq,
                text: c.answer.text.clone(),
                reasoning: c.answer.reasoning.clone(),
                finish_reason: c.answer.finish_reason.clone(),
                prompt_tokens: run.prompt_tokens,
                completion_tokens: run.completion_tokens,
                ttft_ms: run.ttft_ms,
                latency_ms: run.latency_ms,
            };
            writer.send(Msg::Cache(cache.clone(), key, Box::new(entry)));
        }
        writer.send(Msg::Line(JournalLine::Run(run.clone())));
        on_event(RunEvent::ItemDone {
            target: p.target.label.clone(),
            item_id: item.id.clone(),
            ok: run.error.is_none(),
            cached: false,
        });
        slots[ii * nt + ti] = Some(run);
    }
    drop(merged);
    writer.finish()?;

    let runs: Vec<ItemRun> = slots.into_iter().flatten().collect();
    debug_assert_eq!(runs.len(), items.len() * nt);
    Ok(RunOutput {
        runs,
        resumed,
        cached,
        warmup_ms,
    })
}

/// Flip rate of one target.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TargetDeterminism {
    pub label: String,
    /// Items where both runs gave an answer.
    pub compared: usize,
    /// Items whose two answers differ (exact text comparison).
    pub flipped: usize,
    /// Items where either run failed (not compared).
    pub errors: usize,
    /// `flipped / compared` (0 when nothing was compared).
    pub flip_rate: f64,
    pub flipped_items: Vec<String>,
}

/// Result of [`determinism_audit`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DeterminismReport {
    /// Sampled item ids (same sample for every target).
    pub sample: Vec<String>,
    pub seed: u64,
    pub targets: Vec<TargetDeterminism>,
}

/// Send a seeded sample of `sample` items twice to every target (bypassing the
/// cache and the journal) and count answers that differ between the two runs.
pub async fn determinism_audit(
    cfg: &RunConfig,
    items: &[PreparedItem],
    sample: usize,
    seed: u64,
) -> Result<DeterminismReport, RunError> {
    let targets = prepare_targets(cfg)?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let n = sample.min(items.len());
    let mut picked: Vec<usize> = rand::seq::index::sample(&mut rng, items.len(), n).into_vec();
    picked.sort_unstable();
    let client = Client::new(cfg.timeouts, cfg.concurrency.max(1)).map_err(RunError::Client)?;
    let noop = |_: RunEvent| {};
    let mut reports = Vec::with_capacity(targets.len());
    for p in &targets {
        let jobs = picked.iter().flat_map(|&ii| [(ii, 0u8), (ii, 1u8)]);
        let results: Vec<(usize, u8, Result<Completion, LlmError>)> = stream::iter(jobs)
            .map(|(ii, round)| {
                let client = &client;
                let noop = &noop;
                async move {
                    (
                        ii,
                        round,
                        call(client, p, &items[ii], &cfg.params, cfg.retries, noop).await,
                    )
                }
            })
            .buffer_unordered(cfg.concurrency.max(1))
            .collect()
            .await;
        let mut answers: HashMap<usize, [Option<String>; 2]> = HashMap::new();
        for (ii, round, r) in results {
            let slot = answers.entry(ii).or_default();
            slot[round as usize] = r.ok().map(|c| c.answer.text);
        }
        let (mut compared, mut flipped, mut errors) = (0, 0, 0);
        let mut flipped_items = Vec::new();
        for &ii in &picked {
            match answers.get(&ii) {
                Some([Some(a), Some(b)]) => {
                    compared += 1;
                    if a != b {
                        flipped += 1;
                        flipped_items.push(items[ii].id.clone());
                    }
                }
                _ => errors += 1,
            }
        }
        reports.push(TargetDeterminism {
            label: p.target.label.clone(),
            compared,
            flipped,
            errors,
            flip_rate: if compared == 0 {
                0.0
            } else {
                flipped as f64 / compared as f64
            },
            flipped_items,
        });
    }
    Ok(DeterminismReport {
        sample: picked.iter().map(|&i| items[i].id.clone()).collect(),
        seed,
        targets: reports,
    })
}
