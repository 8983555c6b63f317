//! The Hub model record, as cambrian stores and compares it.
//!
//! Produced by `cambrian-hub` from `/api/models` and `/api/models/{id}`
//! responses, served by `cambrian-hubsim`, persisted by `cambrian-store`.
//! Every field but `id` is optional: the Hub omits fields depending on the
//! `expand[]` set and on the model, and cambrian never invents a value.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The Hub's placeholder `createdAt` for repositories created before the
/// field existed. It means "unknown" and is mapped to `None`.
pub const HUB_UNKNOWN_CREATED_AT: &str = "2022-03-02T23:29:04.000Z";

/// One model as listed or described by the Hub.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ModelRecord {
    /// `owner/name` (or a bare legacy name such as `gpt2`).
    pub id: String,
    pub author: Option<String>,
    /// Commit sha of the main revision.
    pub sha: Option<String>,
    /// `None` when absent or the Hub's placeholder date.
    pub created_at: Option<DateTime<Utc>>,
    pub last_modified: Option<DateTime<Utc>>,
    /// The Hub's `downloads`: a rolling 30-day count, not a cumulative one.
    pub downloads_30d: Option<u64>,
    /// The Hub's `downloadsAllTime` (only with `expand[]=downloadsAllTime`).
    pub downloads_all_time: Option<u64>,
    pub likes: Option<u64>,
    pub trending_score: Option<f64>,
    pub pipeline_tag: Option<String>,
    pub library_name: Option<String>,
    pub tags: Vec<String>,
    /// License id: `cardData.license`, else the `license:` tag. May be `other`.
    pub license: Option<String>,
    /// `cardData.license_name` when `license` is `other`.
    pub license_name: Option<String>,
    /// `false`, or the gating mode (`"auto"`, `"manual"`).
    pub gated: Option<String>,
    pub safetensors: Option<SafetensorsInfo>,
    pub gguf: Option<GgufInfo>,
    /// `config.architectures` and `config.model_type` when present.
    pub architectures: Vec<String>,
    pub model_type: Option<String>,
    /// Base models from `base_model:*` tags and `cardData.base_model`.
    pub base_models: Vec<String>,
    /// Repository file names (`siblings[].rfilename`) when expanded.
    pub siblings: Vec<String>,
}

/// The Hub's `safetensors` field: parameter counts per dtype and their total.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SafetensorsInfo {
    pub parameters: BTreeMap<String, u64>,
    pub total: u64,
}

/// The Hub's `gguf` field.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GgufInfo {
    pub total: Option<u64>,
    pub architecture: Option<String>,
    pub context_length: Option<u64>,
}
