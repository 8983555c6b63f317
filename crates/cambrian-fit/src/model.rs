//! What is known about a model: its architecture (when a config or GGUF
//! metadata is available), its parameter count and where that count came
//! from, and the exact stored weight bytes when file headers were read.

use crate::FitError;
use crate::arch::Arch;
use cambrian_formats::gguf::GgufHeader;
use cambrian_formats::safetensors::{SafetensorsHeader, dtype_bits};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// Where a model description comes from.
#[derive(Debug, Clone)]
pub enum ModelSource {
    /// A Hugging Face `config.json`.
    Config(Value),
    /// Only parameter counts (a listing entry or the Hub's `safetensors` field).
    ParamsOnly {
        total: u64,
        per_dtype: BTreeMap<String, u64>,
    },
    /// safetensors headers (all shards), with the config when available.
    Safetensors {
        config: Option<Value>,
        headers: Vec<SafetensorsHeader>,
    },
    /// A GGUF header.
    Gguf(Box<GgufHeader>),
    /// A Hub `GET /api/models/{id}` response (uses `safetensors`, `gguf`, and
    /// `config` when it carries architecture dimensions).
    HubModelInfo(Value),
}

/// Tensor names that are buffers saved with the weights, not parameters.
pub fn is_buffer(name: &str) -> bool {
    name.ends_with(".attn.bias")
        || name.ends_with(".attn.masked_bias")
        || name.ends_with("position_ids")
        || name.ends_with("rotary_emb.inv_freq")
}

/// A model as the estimator sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelSpec {
    pub name: String,
    pub arch: Option<Arch>,
    /// Total parameters (elements of all stored tensors when read from headers).
    pub params: Option<u64>,
    /// Parameters used per token (MoE: routed experts only).
    pub params_active: Option<u64>,
    /// How `params` was obtained.
    pub params_source: String,
    pub params_by_dtype: BTreeMap<String, u64>,
    /// Elements of saved buffers (e.g. GPT-2's attention masks) included in `params`.
    pub buffer_elems: u64,
    /// Exact weight bytes as stored, when headers were read.
    pub stored_bytes: Option<u64>,
    /// GGUF: (elements, bytes) per ggml type.
    pub gguf_types: BTreeMap<String, (u64, u64)>,
    /// GGUF `general.file_type` name.
    pub file_type: Option<String>,
    pub notes: Vec<String>,
}

/// The name the public API uses.
pub type ModelSpecOrParams = ModelSpec;

impl ModelSpec {
    fn empty(name: &str) -> ModelSpec {
        ModelSpec {
            name: name.to_owned(),
            arch: None,
            params: None,
            params_active: None,
            params_source: String::new(),
            params_by_dtype: BTreeMap::new(),
            buffer_elems: 0,
            stored_bytes: None,
            gguf_types: BTreeMap::new(),
            file_type: None,
            notes: Vec::new(),
        }
    }

    /// Build a spec from a source. `name` is for display.
    pub fn from_source(name: &str, src: ModelSource) -> Result<ModelSpec, FitError> {
        let mut m = ModelSpec::empty(name);
        match src {
            ModelSource::Config(cfg) => {
                let a = Arch::from_config(&cfg)?;
                let (t, act) = a.param_count();
                m.params = Some(t);
                m.params_active = Some(act);
                m.params_source = format!("computed from config.json ({} layout)", a.family);
                if let Some(d) = cfg
                    .get("torch_dtype")
                    .or_else(|| cfg.get("dtype"))
                    .and_then(Value::as_str)
                {
                    m.params_by_dtype.insert(hf_dtype(d), t);
                }
                m.arch = Some(a);
            }
            ModelSource::ParamsOnly { total, per_dtype } => {
                m.params = Some(total);
                m.params_active = Some(total);
                m.params_source = "parameter count only (no config: architecture unknown)".into();
                m.params_by_dtype = per_dtype;
            }
            ModelSource::Safetensors { config, headers } => {
                let mut total = 0u64;
                let mut bytes = 0u64;
                for h in &headers {
                    for i in &h.issues {
                        m.notes.push(format!(
                            "safetensors header problem ({}): {}",
                            i.code, i.message
                        ));
                    }
                    for t in &h.tensors {
                        let n = t.numel().unwrap_or(0);
                        total = total.saturating_add(n);
                        if is_buffer(&t.name) {
                            m.buffer_elems = m.buffer_elems.saturating_add(n);
                        }
                        let b = dtype_bits(&t.dtype)
                            .map(|bits| n.saturating_mul(bits) / 8)
                            .unwrap_or(0);
                        bytes = bytes.saturating_add(b);
                        *m.params_by_dtype.entry(t.dtype.clone()).or_insert(0) += n;
                    }
                }
                m.params = Some(total);
                m.stored_bytes = Some(bytes);
                m.params_source = format!(
                    "sum of tensor shapes in {} safetensors header(s)",
                    headers.len()
                );
                if m.buffer_elems > 0 {
                    m.notes.push(format!("{} elements are saved buffers (attention masks, position ids), not trainable parameters", m.buffer_elems));
                }
                if let Some(cfg) = config {
                    let a = Arch::from_config(&cfg)?;
                    let (ct, ca) = a.param_count();
                    // Active share from the config, applied to the exact total.
                    m.params_active = Some(if ct > 0 {
                        ((total as f64) * (ca as f64 / ct as f64)) as u64
                    } else {
                        total
                    });
                    m.arch = Some(a);
                } else {
                    m.params_active = Some(total);
                }
            }
            ModelSource::Gguf(h) => {
                let a = Arch::from_gguf(&h)?;
                let (ct, ca) = a.param_count();
                let total = h.param_count();
                m.params = Some(total);
                m.params_active = Some(if ct > 0 {
                    ((total as f64) * (ca as f64 / ct as f64)).min(total as f64) as u64
                } else {
                    total
                });
                m.stored_bytes = Some(h.data_bytes());
                m.gguf_types = h.by_type();
                m.file_type = h.file_type().map(str::to_owned);
                m.params_source = "sum of tensor shapes in the GGUF tensor infos".into();
                for (k, (n, _)) in &m.gguf_types {
                    m.params_by_dtype.insert(k.clone(), *n);
                }
                m.arch = Some(a);
            }
            ModelSource::HubModelInfo(v) => {
                let st = v.get("safetensors");
                let total = st.and_then(|s| s.get("total")).and_then(Value::as_u64);
                let per: BTreeMap<String, u64> = st
                    .and_then(|s| s.get("parameters"))
                    .and_then(Value::as_object)
                    .map(|o| {
                        o.iter()
                            .filter_map(|(k, v)| v.as_u64().map(|n| (k.clone(), n)))
                            .collect()
                    })
                    .unwrap_or_default();
                let gguf_total = v
                    .get("gguf")
                    .and_then(|g| g.get("total"))
                    .and_then(Value::as_u64);
                // Listing / trending entries carry `numParameters` instead.
                let num_params = v.get("numParameters").and_then(Value::as_u64);
                let cfg = v
                    .get("config")
                    .filter(|c| Arch::from_config(c).is_ok())
                    .cloned();
                if let Some(c) = cfg {
                    m = ModelSpec::from_source(name, ModelSource::Config(c))?;
                    if let Some(t) = total {
                        m.params_source =
                            "Hub safetensors field (exact); architecture from the Hub config"
                                .into();
                        m.params = Some(t);
                    }
                    m.params_by_dtype = per;
                } else if let Some(t) = total.or(gguf_total).or(num_params) {
                    m.params = Some(t);
                    m.params_active = Some(t);
                    m.params_by_dtype = per;
                    m.params_source = if total.is_some() {
                        "Hub safetensors field (architecture unknown)".into()
                    } else if gguf_total.is_some() {
                        "Hub gguf field (architecture unknown)".into()
                    } else {
                        "Hub listing numParameters (architecture unknown)".into()
                    };
                } else {
                    return Err(FitError::Unknown {
                        what: "the Hub record has neither a `safetensors`/`gguf` parameter count nor a config with dimensions".into(),
                    });
                }
                if let Some(id) = v.get("id").and_then(Value::as_str)
                    && m.name.is_empty()
                {
                    m.name = id.to_owned();
                }
            }
        }
        if let Some(a) = &m.arch {
            m.notes.extend(a.notes.iter().cloned());
        }
        Ok(m)
    }

    /// Parameters excluding saved buffers.
    pub fn trainable_params(&self) -> Option<u64> {
        self.params.map(|p| p.saturating_sub(self.buffer_elems))
    }
}

/// `torch_dtype` → safetensors dtype name.
pub fn hf_dtype(d: &str) -> String {
    match d {
        "bfloat16" => "BF16",
        "float16" | "half" => "F16",
        "float32" | "float" => "F32",
        "float8_e4m3fn" => "F8_E4M3",
        other => return other.to_ascii_uppercase(),
    }
    .to_owned()
}
