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
enum Cached {
    Found { details: ModelDetails },
    NotFound { message: String },
}

/// The outcome of looking a model up.
#[derive(Debug, Clone, PartialEq)]
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
}

impl<'s> DetailSource<'s> {
    pub fn new(store: &'s mut Store, settings: RemoteSettings) -> DetailSource<'s> {
        DetailSource { store, settings, client: None, stats: DetailStats::default(), now: Utc::now() }
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

    /// The cached entry, if present and fresh enough (any age when offline).
    fn cached(&mut self, id: &str) -> Result<Option<Lookup>> {
        let Some(entry) = self.store.cache_get(CACHE_NAMESPACE, id).map_err(store_err)? else { return Ok(None) };
        if !self.settings.offline && self.now - entry.fetched_at > Duration::days(i64::from(self.settings.max_age_days)) {
            return Ok(None);
        }
        match serde_json::from_value::<Cached>(entry.value) {
            Ok(Cached::Found { details }) => Ok(Some(Lookup::Found(details))),
            Ok(Cached::NotFound { message }) => Ok(Some(Lookup::NotFound(message))),
            // A corrupt or foreign entry is treated as absent and overwritten.
            Err(_) => Ok(None),
        }
    }

    /// Put details obtained elsewhere into the cache (used by tests and benchmarks to seed it).
    pub fn seed(&mut self, details: &ModelDetails, fetched_at: DateTime<Utc>) -> Result<()> {
        let v = serde_json::to_value(Cached::Found { details: details.clone() }).map_err(|e| Error::internal(e.to_string()))?;
        self.store.cache_put(CACHE_NAMESPACE, &details.record.id, &v, fetched_at).map_err(store_err)
    }

    /// Look up many models: cache first, then the Hub for the rest,
    /// `concurrency` requests at a time. `progress(done, total)` is called
    /// after each remote answer.
    pub async fn get_many(&mut self, ids: &[String], progress: &dyn Fn(u64, u64)) -> Result<HashMap<String, Lookup>> {
        let mut out = HashMap::with_capacity(ids.len());
        let mut missing = Vec::new();
        for id in ids {
            if out.contains_key(id) {
                continue;
            }
            match self.cached(id)? {
                Some(l) => {
                    self.stats.from_cache += 1;
                    out.insert(id.clone(), l);
                }
                None => missing.push(id.clone()),
            }
        }
        missing.sort();
        missing.dedup();
        if missing.is_empty() {
            return Ok(out);
        }
        if self.settings.offline {
            for id in missing {
                self.stats.failed += 1;
                out.insert(id, Lookup::Unavailable("not cached, and --offline forbids fetching".into()));
            }
            return Ok(out);
        }
        let client = self.client()?;
        let total = missing.len() as u64;
        let mut done = 0u64;
        let conc = self.settings.concurrency.clamp(1, 64);
        let mut results = stream::iter(missing.into_iter().map(|id| {
            let c = client.clone();
            async move {
                let r = c.model_info(&id, None, &[]).await;
                // The model-info `config` is a subset (architectures, model_type);
                // context length and KV-cache size need the repository's config.json.
                let full = match &r {
                    Ok(info) if !super::hardware::config_has_dims(info.config.as_ref()) => {
                        let rev = info.record.sha.clone().unwrap_or_else(|| "main".to_string());
                        match c.read_file(&id, &rev, "config.json", MAX_CONFIG_BYTES).await {
                            Ok(bytes) => serde_json::from_slice::<serde_json::Value>(&bytes).ok().filter(|v| v.is_object()),
                            Err(_) => None,
                        }
                    }
                    _ => None,
                };
                (id, r, full)
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
                Err(e) if e.status() == Some(404) => {
                    let message = format!("the Hub has no model {id} (HTTP 404)");
                    let v = serde_json::to_value(Cached::NotFound { message: message.clone() }).map_err(|e| Error::internal(e.to_string()))?;
                    self.store.cache_put(CACHE_NAMESPACE, &id, &v, now).map_err(store_err)?;
                    self.stats.not_found += 1;
                    out.insert(id, Lookup::NotFound(message));
                }
                Err(e) => {
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
