//! Model details on demand: the store's cache first, then the Hub client
//! (`GET /api/models/{id}`), writing what was fetched back to the cache.
//! Listing snapshots carry few fields (often no license, no config); `find`
//! and `license MODEL` need `cardData.license`, base models, the parameter
//! count and `config`.

use crate::{Error, Result};
use cambrian_hub::{HubClient, HubConfig, HubError};
use cambrian_store::{Store, StoreError};
use cambrian_types::ModelRecord;
use chrono::{DateTime, Duration, Utc};
use futures_util::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// Cache namespace (the version is part of the name: a new layout gets a new namespace).
pub const CACHE_NAMESPACE: &str = "find.model-details.v1";

/// Largest `config.json` read from a repository.
pub const MAX_CONFIG_BYTES: u64 = 2 * 1024 * 1024;

/// How details may be obtained.
#[derive(Debug, Clone)]
pub struct RemoteSettings {
    /// Hub endpoint, e.g. `https://huggingface.co` (no trailing `/`).
    pub endpoint: String,
    /// Bearer token; never printed.
    pub token: Option<String>,
    /// Use only what is cached; never contact the Hub.
    pub offline: bool,
    /// Cached details older than this many days are fetched again (when online).
    pub max_age_days: u32,
    /// Concurrent model-info requests.
    pub concurrency: usize,
    /// Retries per request (the Hub client's backoff applies).
    pub max_retries: u32,
}

impl Default for RemoteSettings {
    fn default() -> Self {
        RemoteSettings {
            endpoint: "https://huggingface.co".into(),
            token: None,
            offline: false,
            max_age_days: 7,
            concurrency: 8,
            max_retries: 4,
        }
    }
}

/// A model's details as `find` uses them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelDetails {
    pub record: ModelRecord,
    /// `config` of the model-info response (architecture fields), if any.
    pub config: Option<serde_json::Value>,
}

/// What the cache holds for a model: its details, or the fact that the Hub
/// has no such model (so that it is not asked again on every run).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
#[allow(
    clippy::large_enum_variant,
    reason = "one value per model being serialised; boxing would only add an allocation"
)]
enum Cached {
    Found { details: ModelDetails },
    NotFound { message: String },
}

/// The stored form of [`Cached`] read as a plain struct: serde buffers an
/// internally tagged enum into an intermediate tree before deserialising it,
/// which doubled the cost of reading tens of thousands of entries.
#[derive(Deserialize)]
struct CachedRead {
    status: String,
    #[serde(default)]
    details: Option<ModelDetails>,
    #[serde(default)]
    message: Option<String>,
}

/// `find`'s reading of a cached record: every field of [`ModelRecord`]
/// except `tags` and `siblings`, which the funnel never reads and which are
/// most of a record's allocations (a listing has ~15 tags per model).
#[derive(Deserialize)]
struct LeanRecord {
    id: String,
    #[serde(default)]
    author: Option<String>,
    #[serde(default)]
    sha: Option<String>,
    #[serde(default)]
    created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    last_modified: Option<DateTime<Utc>>,
    #[serde(default)]
    downloads_30d: Option<u64>,
    #[serde(default)]
    downloads_all_time: Option<u64>,
    #[serde(default)]
    likes: Option<u64>,
    #[serde(default)]
    trending_score: Option<f64>,
    #[serde(default)]
    pipeline_tag: Option<String>,
    #[serde(default)]
    library_name: Option<String>,
    #[serde(default)]
    license: Option<String>,
    #[serde(default)]
    license_name: Option<String>,
    #[serde(default)]
    gated: Option<String>,
    #[serde(default)]
    safetensors: Option<cambrian_types::SafetensorsInfo>,
    #[serde(default)]
    gguf: Option<cambrian_types::GgufInfo>,
    #[serde(default)]
    architectures: Vec<String>,
    #[serde(default)]
    model_type: Option<String>,
    #[serde(default)]
    base_models: Vec<String>,
}

impl From<LeanRecord> for ModelRecord {
    fn from(r: LeanRecord) -> ModelRecord {
        ModelRecord {
            id: r.id,
            author: r.author,
            sha: r.sha,
            created_at: r.created_at,
            last_modified: r.last_modified,
            downloads_30d: r.downloads_30d,
            downloads_all_time: r.downloads_all_time,
            likes: r.likes,
            trending_score: r.trending_score,
            pipeline_tag: r.pipeline_tag,
            library_name: r.library_name,
            tags: Vec::new(),
            license: r.license,
            license_name: r.license_name,
            gated: r.gated,
            safetensors: r.safetensors,
            gguf: r.gguf,
            architectures: r.architectures,
            model_type: r.model_type,
            base_models: r.base_models,
            siblings: Vec::new(),
        }
    }
}

#[derive(Deserialize)]
struct LeanDetails {
    record: LeanRecord,
    #[serde(default)]
    config: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct CachedLean {
    status: String,
    #[serde(default)]
    details: Option<LeanDetails>,
    #[serde(default)]
    message: Option<String>,
}

/// Parse a stored [`Cached`] entry; `lean` leaves `tags` and `siblings` empty.
/// `None` for a corrupt or foreign entry.
fn parse_cached(json: &str, lean: bool) -> Option<Lookup> {
    if lean {
        return match serde_json::from_str::<CachedLean>(json).ok()? {
            CachedLean {
                status,
                details: Some(d),
                ..
            } if status == "found" => Some(Lookup::Found(ModelDetails {
                record: d.record.into(),
                config: d.config,
            })),
            CachedLean {
                status,
                message: Some(m),
                ..
            } if status == "not-found" => Some(Lookup::NotFound(m)),
            _ => None,
        };
    }
    match serde_json::from_str::<CachedRead>(json).ok()? {
        CachedRead {
            status,
            details: Some(details),
            ..
        } if status == "found" => Some(Lookup::Found(details)),
        CachedRead {
            status,
            message: Some(message),
            ..
        } if status == "not-found" => Some(Lookup::NotFound(message)),
        _ => None,
    }
}

/// The outcome of looking a model up.
#[derive(Debug, Clone, PartialEq)]
#[allow(
    clippy::large_enum_variant,
    reason = "held once per shortlisted model (hundreds); mostly the large variant"
)]
pub enum Lookup {
    Found(ModelDetails),
    /// The Hub answered 404 (or the negative answer is cached).
    NotFound(String),
    /// Could not be obtained now (offline and not cached, or a remote error).
    Unavailable(String),
}

impl Lookup {
    pub fn details(&self) -> Option<&ModelDetails> {
        match self {
            Lookup::Found(d) => Some(d),
            _ => None,
        }
    }
}

/// Counters for the report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DetailStats {
    pub from_cache: u64,
    pub fetched: u64,
    pub not_found: u64,
    pub failed: u64,
    /// Hub requests made (including retries), from the client's counters.
    pub requests: u64,
}

pub(crate) fn store_err(e: StoreError) -> Error {
    let hint = e.hint();
    let mut err = Error::new(e.kind(), e.to_string());
    if let Some(h) = hint {
        err = err.with_hint(h);
    }
    err.with_source(e)
}

fn hub_err(e: HubError) -> Error {
    let hint = e.hint();
    let mut err = Error::new(e.kind(), e.to_string());
    if let Some(h) = hint {
        err = err.with_hint(h);
    }
    err.with_source(e)
}

/// Looks details up in the store's cache and, when allowed, on the Hub.
pub struct DetailSource<'s> {
    store: &'s mut Store,
    settings: RemoteSettings,
    client: Option<HubClient>,
    pub stats: DetailStats,
    now: DateTime<Utc>,
    lean: bool,
    /// Set when a request found the Hub unreachable (see `get_many`); kept
    /// across calls (lineage lookups follow the first round).
    unreachable: Arc<OnceLock<String>>,
}

impl<'s> DetailSource<'s> {
    pub fn new(store: &'s mut Store, settings: RemoteSettings) -> DetailSource<'s> {
        DetailSource {
            store,
            settings,
            client: None,
            stats: DetailStats::default(),
            now: Utc::now(),
            lean: false,
            unreachable: Arc::default(),
        }
    }

    /// Read cached records without their `tags` and `siblings` (for the
    /// funnel, which reads neither; fetched records stay complete).
    pub fn without_tags(mut self) -> DetailSource<'s> {
        self.lean = true;
        self
    }

    fn client(&mut self) -> Result<HubClient> {
        if let Some(c) = &self.client {
            return Ok(c.clone());
        }
        let cfg = HubConfig {
            endpoint: self.settings.endpoint.trim_end_matches('/').to_string(),
            token: self.settings.token.clone(),
            max_retries: self.settings.max_retries,
            ..HubConfig::default()
        };
        let c = HubClient::new(cfg).map_err(hub_err)?;
        self.client = Some(c.clone());
        Ok(c)
    }

    /// Every cached entry of `ids` that is fresh enough (any age when
    /// offline), in one pass over the store (see
    /// `cambrian_store::Store::cache_visit_many`), each parsed once straight
    /// from its stored text.
    fn cached_many(&mut self, ids: &[String], out: &mut HashMap<String, Lookup>) -> Result<()> {
        let max_age = Duration::days(i64::from(self.settings.max_age_days));
        let (offline, now, lean) = (self.settings.offline, self.now, self.lean);
        let mut hits = 0u64;
        let visited: std::result::Result<(), std::convert::Infallible> = self
            .store
            .cache_visit_many(CACHE_NAMESPACE, ids, |key, fetched_at, json| {
                if !offline && now - fetched_at > max_age {
                    return Ok(());
                }
                // A corrupt or foreign entry is treated as absent (and overwritten when fetched).
                let Some(lookup) = parse_cached(json, lean) else {
                    return Ok(());
                };
                hits += 1;
                out.insert(key.to_string(), lookup);
                Ok(())
            })
            .map_err(store_err)?;
        let Ok(()) = visited;
        self.stats.from_cache += hits;
        Ok(())
    }

    /// Put details obtained elsewhere into the cache (used by tests and benchmarks to seed it).
    pub fn seed(&mut self, details: &ModelDetails, fetched_at: DateTime<Utc>) -> Result<()> {
        let v = serde_json::to_value(Cached::Found {
            details: details.clone(),
        })
        .map_err(|e| Error::internal(e.to_string()))?;
        self.store
            .cache_put(CACHE_NAMESPACE, &details.record.id, &v, fetched_at)
            .map_err(store_err)
    }

    /// Look up many models: cache first, then the Hub for the rest,
    /// `concurrency` requests at a time. `progress(done, total)` is called
    /// after each remote answer.
    pub async fn get_many(
        &mut self,
        ids: &[String],
        progress: &dyn Fn(u64, u64),
    ) -> Result<HashMap<String, Lookup>> {
        let mut out = HashMap::with_capacity(ids.len());
        self.cached_many(ids, &mut out)?;
        let mut missing: Vec<String> = ids
            .iter()
            .filter(|id| !out.contains_key(id.as_str()))
            .cloned()
            .collect();
        missing.sort();
        missing.dedup();
        if missing.is_empty() {
            return Ok(out);
        }
        if self.settings.offline {
            for id in missing {
                self.stats.failed += 1;
                out.insert(
                    id,
                    Lookup::Unavailable("not cached, and --offline forbids fetching".into()),
                );
            }
            return Ok(out);
        }
        let client = self.client()?;
        let total = missing.len() as u64;
        let mut done = 0u64;
        let conc = self.settings.concurrency.clamp(1, 64);
        // Circuit breaker: once a request has given up because the Hub could
        // not be reached at all (DNS, refused connection, connect timeout),
        // the models not yet asked for are not asked (offline, each would
        // spend its own retries: 36 s for 30 models was measured).
        let unreachable = self.unreachable.clone();
        let mut results = stream::iter(missing.into_iter().map(|id| {
            let c = client.clone();
            let unreachable = unreachable.clone();
            async move {
                if let Some(why) = unreachable.get() {
                    return (id, Err(NotFetched::Skipped(why.clone())), None);
                }
                let r = c.model_info(&id, None, &[]).await;
                if let Err(e) = &r
                    && cannot_reach(e)
                {
                    let _ = unreachable.set(e.to_string());
                }
                // The model-info `config` is a subset (architectures, model_type);
                // context length and KV-cache size need the repository's config.json.
                let full = match &r {
                    Ok(info) if !super::hardware::config_has_dims(info.config.as_ref()) => {
                        let rev = info
                            .record
                            .sha
                            .clone()
                            .unwrap_or_else(|| "main".to_string());
                        match c
                            .read_file(&id, &rev, "config.json", MAX_CONFIG_BYTES)
                            .await
                        {
                            Ok(bytes) => serde_json::from_slice::<serde_json::Value>(&bytes)
                                .ok()
                                .filter(|v| v.is_object()),
                            Err(_) => None,
                        }
                    }
                    _ => None,
                };
                (id, r.map_err(NotFetched::Failed), full)
            }
        }))
        .buffer_unordered(conc);
        let mut first_fatal: Option<Error> = None;
        while let Some((id, r, full_config)) = results.next().await {
            done += 1;
            progress(done, total);
            let now = Utc::now();
            match r {
                Ok(info) => {
                    let mut record = info.record;
                    if record.id.is_empty() {
                        record.id = id.clone();
                    }
                    let config = match (full_config, info.config) {
                        (Some(mut full), Some(sub)) => {
                            // Keep the Hub's fields (e.g. tokenizer_config) that config.json lacks.
                            if let (Some(f), Some(s)) = (full.as_object_mut(), sub.as_object()) {
                                for (k, v) in s {
                                    f.entry(k.clone()).or_insert_with(|| v.clone());
                                }
                            }
                            Some(full)
                        }
                        (Some(full), None) => Some(full),
                        (None, sub) => sub,
                    };
                    let details = ModelDetails { record, config };
                    self.seed(&details, now)?;
                    self.stats.fetched += 1;
                    out.insert(id, Lookup::Found(details));
                }
                Err(NotFetched::Skipped(why)) => {
                    self.stats.failed += 1;
                    out.insert(
                        id,
                        Lookup::Unavailable(format!(
                            "not fetched: the Hub could not be reached for another model ({why})"
                        )),
                    );
                }
                Err(NotFetched::Failed(e)) if e.status() == Some(404) => {
                    let message = format!("the Hub has no model {id} (HTTP 404)");
                    let v = serde_json::to_value(Cached::NotFound {
                        message: message.clone(),
                    })
                    .map_err(|e| Error::internal(e.to_string()))?;
                    self.store
                        .cache_put(CACHE_NAMESPACE, &id, &v, now)
                        .map_err(store_err)?;
                    self.stats.not_found += 1;
                    out.insert(id, Lookup::NotFound(message));
                }
                Err(NotFetched::Failed(e)) => {
                    self.stats.failed += 1;
                    // Configuration errors are fatal; per-model remote failures are
                    // reported on the model (its license cannot be checked).
                    if matches!(e, HubError::Config { .. }) && first_fatal.is_none() {
                        first_fatal = Some(hub_err(e));
                        continue;
                    }
                    out.insert(id, Lookup::Unavailable(e.to_string()));
                }
            }
        }
        self.stats.requests = client.stats().requests;
        if let Some(e) = first_fatal {
            return Err(e);
        }
        Ok(out)
    }
}

/// Why a model's details are missing after a fetch round.
enum NotFetched {
    /// Not asked: an earlier request found the Hub unreachable (the reason).
    Skipped(String),
    /// Asked, and the request failed.
    Failed(HubError),
}

/// The Hub could not be reached at all (as opposed to answering with an error).
fn cannot_reach(e: &HubError) -> bool {
    match e {
        HubError::GaveUp { last, .. } => cannot_reach(last),
        HubError::Connect { .. } => true,
        HubError::Timeout { phase, .. } => *phase == "connect",
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn sample() -> ModelDetails {
        let t = Utc
            .with_ymd_and_hms(2025, 1, 2, 3, 4, 5)
            .single()
            .expect("time");
        ModelDetails {
            record: ModelRecord {
                id: "org/model-7b".into(),
                author: Some("org".into()),
                sha: Some("abc".into()),
                created_at: Some(t),
                last_modified: Some(t),
                downloads_30d: Some(10),
                downloads_all_time: Some(100),
                likes: Some(3),
                trending_score: Some(1.5),
                pipeline_tag: Some("text-generation".into()),
                library_name: Some("transformers".into()),
                tags: vec!["transformers".into(), "license:other".into()],
                license: Some("other".into()),
                license_name: Some("llama3".into()),
                gated: Some("manual".into()),
                safetensors: Some(cambrian_types::SafetensorsInfo {
                    parameters: [("BF16".to_string(), 7u64)].into_iter().collect(),
                    total: 7,
                }),
                gguf: Some(cambrian_types::GgufInfo {
                    total: Some(7),
                    architecture: Some("llama".into()),
                    context_length: Some(8192),
                }),
                architectures: vec!["LlamaForCausalLM".into()],
                model_type: Some("llama".into()),
                base_models: vec!["org/base".into()],
                siblings: vec!["config.json".into()],
            },
            config: Some(
                serde_json::json!({ "hidden_size": 4096, "max_position_embeddings": 8192 }),
            ),
        }
    }

    /// An unreachable Hub (connection refused) is given up on once: the
    /// models not yet asked for are not asked, and every model says why.
    #[tokio::test(flavor = "current_thread")]
    async fn an_unreachable_hub_is_not_asked_again_for_every_model() {
        // A loopback port with nothing listening: connections are refused.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::open(dir.path()).expect("store");
        let settings = RemoteSettings {
            endpoint: format!("http://127.0.0.1:{port}"),
            concurrency: 2,
            max_retries: 1,
            ..RemoteSettings::default()
        };
        let ids: Vec<String> = (0..40).map(|i| format!("org/m{i}")).collect();
        let mut src = DetailSource::new(&mut store, settings);
        let got = src
            .get_many(&ids, &|_, _| {})
            .await
            .expect("per-model failures only");
        assert_eq!(got.len(), 40);
        let skipped = got
            .values()
            .filter(|l| matches!(l, Lookup::Unavailable(m) if m.starts_with("not fetched: the Hub could not be reached")))
            .count();
        assert!(got.values().all(|l| matches!(l, Lookup::Unavailable(_))));
        // At most the first `concurrency` models were asked (2 attempts each).
        assert!(skipped >= 38, "{skipped} skipped");
        assert!(src.stats.requests <= 4, "{} requests", src.stats.requests);
        assert_eq!(src.stats.failed, 40);
    }

    #[test]
    fn lean_parse_keeps_every_field_but_tags_and_siblings() {
        let d = sample();
        let json = serde_json::to_string(&Cached::Found { details: d.clone() }).expect("json");
        assert_eq!(parse_cached(&json, false), Some(Lookup::Found(d.clone())));
        let mut lean = d;
        lean.record.tags.clear();
        lean.record.siblings.clear();
        assert_eq!(parse_cached(&json, true), Some(Lookup::Found(lean)));
    }

    #[test]
    fn negative_and_corrupt_entries() {
        let json = serde_json::to_string(&Cached::NotFound {
            message: "the Hub has no model x (HTTP 404)".into(),
        })
        .expect("json");
        for lean in [false, true] {
            assert_eq!(
                parse_cached(&json, lean),
                Some(Lookup::NotFound("the Hub has no model x (HTTP 404)".into()))
            );
            assert_eq!(parse_cached("{\"status\":\"found\"}", lean), None);
            assert_eq!(
                parse_cached("{\"status\":\"found\",\"details\":{\"record\":{}}}", lean),
                None
            );
            assert_eq!(parse_cached("not json", lean), None);
        }
    }
}
