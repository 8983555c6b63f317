//! Content-addressed response cache.
//!
//! Key: sha256 of the canonical request JSON (format version, base URL,
//! model, API, messages or prompt, temperature, max_tokens, seed). Value: the
//! parsed answer with its original timings, in `<dir>/v1/<first 2 hex>/<hash>.json`,
//! written to a temporary file and renamed so a crash never leaves half an entry.
//! Only successful answers are stored: failures are retried on the next run.

use crate::item::GenParams;
use cambrian_llm::{Api, ChatMessage};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Version of the key and entry format; bump to invalidate old entries.
pub const CACHE_VERSION: u32 = 1;

/// The canonical request that is hashed (and stored beside the answer so an
/// entry says what produced it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CanonicalRequest {
    pub v: u32,
    pub base_url: String,
    pub model: String,
    pub api: Api,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<ChatMessage>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    pub temperature: f64,
    pub max_tokens: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

impl CanonicalRequest {
    pub fn new(
        base_url: &str,
        model: &str,
        api: Api,
        messages: Option<&[ChatMessage]>,
        prompt: Option<&str>,
        params: &GenParams,
    ) -> Self {
        CanonicalRequest {
            v: CACHE_VERSION,
            base_url: base_url.trim_end_matches('/').to_string(),
            model: model.to_string(),
            api,
            messages: messages.map(<[ChatMessage]>::to_vec),
            prompt: prompt.map(str::to_string),
            temperature: params.temperature,
            max_tokens: params.max_tokens,
            seed: params.seed,
        }
    }

    /// Hex sha256 of the canonical JSON.
    pub fn key(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        hex::encode(Sha256::digest(&json))
    }
}

/// A stored answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheEntry {
    pub version: u32,
    pub request: CanonicalRequest,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    pub finish_reason: Option<String>,
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    pub ttft_ms: Option<f64>,
    pub latency_ms: Option<f64>,
}

/// The cache directory.
#[derive(Debug, Clone)]
pub struct ResponseCache {
    dir: PathBuf,
}

impl ResponseCache {
    pub fn new(dir: &Path) -> Self {
        ResponseCache {
            dir: dir.to_path_buf(),
        }
    }

    fn path(&self, key: &str) -> PathBuf {
        let shard = key.get(..2).unwrap_or("xx");
        self.dir
            .join(format!("v{CACHE_VERSION}"))
            .join(shard)
            .join(format!("{key}.json"))
    }

    /// Look an entry up. A missing, unreadable or mismatching entry is a miss
    /// (the cache is an optimisation, never a source of errors).
    pub fn get(&self, key: &str, request: &CanonicalRequest) -> Option<CacheEntry> {
        let bytes = std::fs::read(self.path(key)).ok()?;
        let entry: CacheEntry = serde_json::from_slice(&bytes).ok()?;
        (entry.version == CACHE_VERSION && &entry.request == request).then_some(entry)
    }

    /// Store an entry atomically (temp file + rename).
    pub fn put(&self, key: &str, entry: &CacheEntry) -> std::io::Result<()> {
        let path = self.path(key);
        let parent = path.parent().unwrap_or(&self.dir);
        std::fs::create_dir_all(parent)?;
        let tmp = parent.join(format!(".{key}.{}.tmp", std::process::id()));
        {
            let mut f = std::fs::File::create(&tmp)?;
            let json = serde_json::to_vec(entry).map_err(std::io::Error::other)?;
            f.write_all(&json)?;
        }
        std::fs::rename(&tmp, &path)
    }
}
