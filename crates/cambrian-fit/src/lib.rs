//! Memory, context, throughput and workload estimates with reasons.
//!
//! Pure functions: [`estimate`] takes what is known about a model
//! ([`ModelSpec`], built from a config, safetensors/GGUF headers, a Hub record
//! or a bare parameter count) and a [`FitRequest`] (GPU, count, context,
//! batch, weight and KV formats, engine, workload) and returns a
//! [`FitReport`]: each figure, the verdict, the reasons, the nearest change
//! that would make it fit, and an explanation line (inputs and formula) for
//! every number. Nothing here does I/O.
//!
//! The memory model reproduces what was measured on an H200 with PyTorch +
//! transformers (see `docs/fit.md` and the calibration tests): weights =
//! elements × bytes; KV = 2 × layers × kv_heads × head_dim × tokens × bytes;
//! prefill peak = KV + per-token activations of the MLP (or attention) phase.

pub mod arch;
pub mod hardware;
pub mod model;
pub mod workload;

pub use arch::{Arch, Mla, Moe, QkNorm};
pub use hardware::{GpuSpec, gpu_catalog, parse_gpu};
pub use model::{ModelSource, ModelSpec, ModelSpecOrParams};
pub use workload::{Workload, WorkloadEstimate, WorkloadOption, parse_workload};

use serde::Serialize;
use std::fmt;

/// Errors of the fit estimator (bad input; every variant says what and where).
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FitError {
    #[error("config field `{field}`: {detail}")]
    Config { field: String, detail: String },
    #[error("--gpu {input:?}: {detail}")]
    Gpu { input: String, detail: String },
    #[error("--workload {input:?}: {detail}")]
    Workload { input: String, detail: String },
    #[error("{what} {input:?}: {detail}")]
    Value {
        what: &'static str,
        input: String,
        detail: String,
    },
    #[error("cannot estimate: {what}")]
    Unknown { what: String },
}

/// CUDA context + cuBLAS workspace, measured on the calibration H200 as
/// `device_used − reserved` (≈ 0.73 GB in every row of h200_transformers.jsonl).
pub const CUDA_CONTEXT_BYTES: u64 = 730_000_000;
/// vLLM's default `gpu_memory_utilization`.
pub const VLLM_GPU_MEMORY_UTILIZATION: f64 = 0.9;
/// vLLM's default `max_num_batched_tokens` used by its memory profiling run.
pub const VLLM_PROFILE_TOKENS: u64 = 8192;
/// vLLM's default `max_num_seqs`.
pub const VLLM_MAX_NUM_SEQS: u64 = 256;
/// Assumed CUDA-graph and NCCL buffers of vLLM (not calibrated).
pub const VLLM_GRAPH_BYTES: u64 = 1 << 30;
/// llama.cpp's default micro-batch (`n_ubatch`).
pub const LLAMACPP_UBATCH: u64 = 512;
/// Assumed CUDA context of llama.cpp (not calibrated).
pub const LLAMACPP_CONTEXT_BYTES: u64 = 400_000_000;
/// Eager transformers' per-layer kernel-launch cost per decode step, from
/// the calibration rows (decode ms − roofline ms) / layers, median ≈ 0.54 ms.
pub const EAGER_LAUNCH_S_PER_LAYER: f64 = 0.54e-3;
/// Headroom below which a fit is called tight.
pub const TIGHT_FRACTION: f64 = 0.9;

/// Weight storage format.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WeightFormat {
    /// As stored (headers), else the per-dtype counts, else 16-bit.
    Auto,
    F32,
    F16,
    Bf16,
    /// FP8 weights (per-tensor scales); embeddings and LM head stay 16-bit.
    Fp8,
    /// INT8 weight-only (per-channel scales); embeddings and LM head 16-bit.
    Int8,
    /// INT4 weight-only with group-128 fp16 scale+zero (AWQ/GPTQ: 4.25 bits).
    Int4,
    /// A GGUF quant type (nominal bits of its main block type unless a GGUF header is known).
    Gguf(String),
}

impl fmt::Display for WeightFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WeightFormat::Auto => f.write_str("auto"),
            WeightFormat::F32 => f.write_str("fp32"),
            WeightFormat::F16 => f.write_str("fp16"),
            WeightFormat::Bf16 => f.write_str("bf16"),
            WeightFormat::Fp8 => f.write_str("fp8"),
            WeightFormat::Int8 => f.write_str("int8"),
            WeightFormat::Int4 => f.write_str("int4"),
            WeightFormat::Gguf(s) => f.write_str(s),
        }
    }
}

impl std::str::FromStr for WeightFormat {
    type Err = FitError;
    fn from_str(s: &str) -> Result<Self, FitError> {
        let l = s.trim().to_ascii_lowercase();
        Ok(match l.as_str() {
            "auto" | "" => WeightFormat::Auto,
            "fp32" | "f32" | "float32" => WeightFormat::F32,
            "fp16" | "f16" | "float16" => WeightFormat::F16,
            "bf16" | "bfloat16" => WeightFormat::Bf16,
            "fp8" | "f8" | "float8" => WeightFormat::Fp8,
            "int8" | "i8" | "8bit" => WeightFormat::Int8,
            "int4" | "i4" | "4bit" | "awq" | "gptq" => WeightFormat::Int4,
            _ => {
                let up = s.trim().to_ascii_uppercase();
                if gguf_main_type(&up).is_some() {
                    WeightFormat::Gguf(up)
                } else {
                    return Err(FitError::Value {
                        what: "--dtype",
                        input: s.into(),
                        detail: "expected fp32, fp16, bf16, fp8, int8, int4 or a GGUF type such as Q4_K_M, Q8_0".into(),
                    });
                }
            }
        })
    }
}

/// A GGUF file-type or tensor-type name → the ggml block type that dominates it.
pub fn gguf_main_type(name: &str) -> Option<&'static cambrian_formats::gguf::GgmlType> {
    use cambrian_formats::gguf::ggml_type_by_name;
    let n = name.to_ascii_uppercase();
    if let Some(t) = ggml_type_by_name(&n) {
        return Some(t);
    }
    // Q4_K_M → Q4_K, IQ3_M → IQ3_S, Q2_K_S → Q2_K, MXFP4_MOE → MXFP4.
    for suffix in ["_S", "_M", "_L", "_XL", "_MOE"] {
        if let Some(base) = n.strip_suffix(suffix) {
            if let Some(t) = ggml_type_by_name(base) {
                return Some(t);
            }
            if let Some(t) = ggml_type_by_name(&format!("{base}_S")) {
                return Some(t);
            }
        }
    }
    None
}

/// KV cache element format.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KvDtype {
    /// The compute dtype (fp32 models keep an fp32 cache in transformers; 16-bit otherwise).
    Auto,
    F32,
    F16,
    Fp8,
    /// llama.cpp q8_0 (34 bytes per 32 values).
    Q8,
    /// llama.cpp q4_0 (18 bytes per 32 values).
    Q4,
}

impl KvDtype {
    fn bytes(self, compute: f64) -> f64 {
        match self {
            KvDtype::Auto => compute,
            KvDtype::F32 => 4.0,
            KvDtype::F16 => 2.0,
            KvDtype::Fp8 => 1.0,
            KvDtype::Q8 => 34.0 / 32.0,
            KvDtype::Q4 => 18.0 / 32.0,
        }
    }
}

impl fmt::Display for KvDtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KvDtype::Auto => "auto",
            KvDtype::F32 => "fp32",
            KvDtype::F16 => "fp16",
            KvDtype::Fp8 => "fp8",
            KvDtype::Q8 => "q8_0",
            KvDtype::Q4 => "q4_0",
        })
    }
}

impl std::str::FromStr for KvDtype {
    type Err = FitError;
    fn from_str(s: &str) -> Result<Self, FitError> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "auto" | "" => KvDtype::Auto,
            "fp32" | "f32" => KvDtype::F32,
            "fp16" | "f16" | "bf16" => KvDtype::F16,
            "fp8" | "f8" | "fp8_e4m3" | "fp8_e5m2" => KvDtype::Fp8,
            "q8" | "q8_0" | "int8" => KvDtype::Q8,
            "q4" | "q4_0" | "int4" => KvDtype::Q4,
            _ => {
                return Err(FitError::Value {
                    what: "--kv-dtype",
                    input: s.into(),
                    detail: "expected auto, fp16, fp8, q8_0 or q4_0".into(),
                });
            }
        })
    }
}

/// Inference engine profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Engine {
    /// Eager PyTorch + transformers (`generate`): the calibrated profile.
    Transformers,
    /// vLLM: preallocated KV pool from `gpu_memory_utilization`, CUDA graphs.
    Vllm,
    /// llama.cpp: GGUF weights, layer offload.
    Llamacpp,
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Engine::Transformers => "transformers",
            Engine::Vllm => "vllm",
            Engine::Llamacpp => "llamacpp",
        })
    }
}

impl std::str::FromStr for Engine {
    type Err = FitError;
    fn from_str(s: &str) -> Result<Self, FitError> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "transformers" | "hf" | "pytorch" => Engine::Transformers,
            "vllm" => Engine::Vllm,
            "llamacpp" | "llama.cpp" | "llama-cpp" | "ollama" => Engine::Llamacpp,
            _ => {
                return Err(FitError::Value {
                    what: "--engine",
                    input: s.into(),
                    detail: "expected transformers, vllm or llamacpp".into(),
                });
            }
        })
    }
}

/// What to check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FitRequest {
    pub gpu: GpuSpec,
    /// Number of GPUs (tensor parallel).
    pub gpus: u32,
    /// Tokens per sequence (prompt + output).
    pub context: u64,
    /// Concurrent sequences.
    pub batch: u32,
    pub dtype: WeightFormat,
    pub kv_dtype: KvDtype,
    pub engine: Engine,
    pub workload: Option<Workload>,
}

impl FitRequest {
    /// A request with the defaults: 1 GPU, 4096 tokens, batch 1, auto formats, transformers.
    pub fn new(gpu: GpuSpec) -> FitRequest {
        FitRequest {
            gpu,
            gpus: 1,
            context: 4096,
            batch: 1,
            dtype: WeightFormat::Auto,
            kv_dtype: KvDtype::Auto,
            engine: Engine::Transformers,
            workload: None,
        }
    }
}

/// fits / tight / does not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// At most 90 % of the usable memory.
    Fits,
    /// Between 90 % and 100 %: fragmentation or a longer prompt can tip it over.
    Tight,
    DoesNotFit,
    /// Only the weights could be estimated (no architecture): they fit.
    FitsWeightsOnly,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Fits => "fits",
            Verdict::Tight => "tight",
            Verdict::DoesNotFit => "does not fit",
            Verdict::FitsWeightsOnly => "weights fit (KV cache unknown)",
        })
    }
}

/// One figure's derivation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explain {
    pub figure: String,
    pub value: String,
    /// Formula with the inputs substituted.
    pub formula: String,
}

/// A change that would alter the verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suggestion {
    pub change: String,
    pub total_bytes_per_gpu: u64,
    pub verdict: Verdict,
}

/// Speed estimates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Speed {
    /// Decode tokens/s of one sequence (batch 1).
    pub decode_tok_s_single: f64,
    /// Aggregate decode tokens/s at the requested batch.
    pub decode_tok_s_batch: f64,
    pub prefill_tok_s: f64,
    /// Decode step bound at the requested batch: "memory bandwidth", "compute" or "kernel launches".
    pub decode_bound: String,
    /// Sequences of `context` tokens the KV memory left over can hold.
    pub max_concurrent_sequences: Option<u64>,
}

/// The estimate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FitReport {
    pub model: String,
    pub gpu: String,
    pub gpus: u32,
    pub engine: Engine,
    pub context: u64,
    pub batch: u32,
    pub params: Option<u64>,
    pub params_active: Option<u64>,
    pub params_source: String,
    /// Weights, all GPUs together.
    pub weights_bytes: u64,
    pub weights_format: String,
    /// KV cache for `batch` sequences of `context` tokens (None without an architecture).
    pub kv_cache_bytes: Option<u64>,
    pub kv_bytes_per_token: Option<f64>,
    /// Transient prefill activations above weights and KV.
    pub activation_peak_bytes: Option<u64>,
    /// Runtime overhead per GPU (CUDA context, engine buffers).
    pub overhead_bytes: u64,
    /// Memory needed per GPU.
    pub total_bytes: u64,
    /// Memory the engine may use per GPU.
    pub capacity_bytes: u64,
    pub verdict: Verdict,
    pub reasons: Vec<String>,
    pub suggestions: Vec<Suggestion>,
    /// The first suggestion that fits.
    pub nearest_change: Option<String>,
    pub max_context: Option<u64>,
    /// Largest context (≤ model maximum) that fits with these settings.
    pub max_context_that_fits: Option<u64>,
    pub speed: Option<Speed>,
    pub workload: Option<WorkloadEstimate>,
    /// What could not be estimated and why.
    pub unknowns: Vec<String>,
    pub notes: Vec<String>,
    pub explain: Vec<Explain>,
}

pub(crate) fn gb(b: f64) -> String {
    format!("{:.2} GB", b / 1e9)
}

fn ex(figure: &str, value: String, formula: String) -> Explain {
    Explain {
        figure: figure.into(),
        value,
        formula,
    }
}

/// Bytes per element of the compute dtype implied by the weight format.
fn compute_bytes(model: &ModelSpec, fmt: &WeightFormat) -> f64 {
    match fmt {
        WeightFormat::F32 => 4.0,
        WeightFormat::Auto => {
            let f32_elems = model.params_by_dtype.get("F32").copied().unwrap_or(0);
            let all: u64 = model.params_by_dtype.values().sum();
            if all > 0 && f32_elems * 2 > all {
                4.0
            } else {
                2.0
            }
        }
        _ => 2.0,
    }
}

/// Weight bytes and how they were obtained.
fn weights(model: &ModelSpec, fmt: &WeightFormat) -> (f64, String, String) {
    let p = model.params.unwrap_or(0) as f64;
    let emb = model.arch.as_ref().map(|a| {
        let e = (a.vocab * a.hidden) as f64;
        if a.tied_embeddings { e } else { 2.0 * e }
    });
    let quantized = |bits: f64, scale_bits: f64, label: &str| {
        let e = emb.unwrap_or(0.0).min(p);
        let lin = p - e;
        let b = lin * (bits + scale_bits) / 8.0 + e * 2.0;
        let f = if emb.is_some() {
            format!(
                "{lin:.0} linear params × ({bits} + {scale_bits} scale) bits / 8 + {e:.0} embedding/LM-head params × 2 B"
            )
        } else {
            format!(
                "{p:.0} params × ({bits} + {scale_bits}) bits / 8 (embeddings not separated: no architecture)"
            )
        };
        (b, label.to_owned(), f)
    };
    match fmt {
        WeightFormat::Auto => {
            if let Some(s) = model.stored_bytes {
                let how = if model.gguf_types.is_empty() {
                    "as stored (sum of tensor bytes in the safetensors headers)".to_owned()
                } else {
                    let mix: Vec<String> = model
                        .gguf_types
                        .iter()
                        .map(|(k, (n, b))| format!("{k}: {n} elems → {b} B"))
                        .collect();
                    format!("as stored in the GGUF ({})", mix.join(", "))
                };
                let label = model
                    .file_type
                    .clone()
                    .unwrap_or_else(|| "as stored".into());
                return (s as f64, label, how);
            }
            let known: Option<f64> = model
                .params_by_dtype
                .iter()
                .map(|(d, n)| {
                    cambrian_formats::safetensors::dtype_bits(d).map(|b| *n as f64 * b as f64 / 8.0)
                })
                .sum();
            match known {
                Some(b) if !model.params_by_dtype.is_empty() => {
                    let parts: Vec<String> = model
                        .params_by_dtype
                        .iter()
                        .map(|(d, n)| format!("{n} × {d}"))
                        .collect();
                    (
                        b,
                        "as published".into(),
                        format!("Σ params × bytes per dtype: {}", parts.join(" + ")),
                    )
                }
                _ => (
                    p * 2.0,
                    "bf16 (assumed)".into(),
                    format!("{p:.0} params × 2 B (dtype unknown: 16-bit assumed)"),
                ),
            }
        }
        WeightFormat::F32 => (p * 4.0, "fp32".into(), format!("{p:.0} params × 4 B")),
        WeightFormat::F16 => (p * 2.0, "fp16".into(), format!("{p:.0} params × 2 B")),
        WeightFormat::Bf16 => (p * 2.0, "bf16".into(), format!("{p:.0} params × 2 B")),
        WeightFormat::Fp8 => quantized(8.0, 0.0, "fp8"),
        WeightFormat::Int8 => quantized(8.0, 0.0, "int8"),
        WeightFormat::Int4 => quantized(4.0, 0.25, "int4 (group 128)"),
        WeightFormat::Gguf(name) => {
            if model.file_type.as_deref() == Some(name.as_str())
                && let Some(s) = model.stored_bytes
            {
                return (
                    s as f64,
                    name.clone(),
                    "as stored in the GGUF tensor infos".into(),
                );
            }
            match gguf_main_type(name) {
                Some(t) => {
                    let bpw = t.bits_per_weight();
                    (
                        p * bpw / 8.0,
                        name.clone(),
                        format!(
                            "{p:.0} params × {bpw:.4} bits ({}: {} bytes per {}-element block) / 8; nominal — mixes such as _M keep some tensors at higher precision (read a GGUF header for the exact figure)",
                            t.name, t.type_size, t.block_size
                        ),
                    )
                }
                None => (
                    p * 2.0,
                    name.clone(),
                    "unknown GGUF type: 16-bit assumed".into(),
                ),
            }
        }
    }
}

/// Internal memory breakdown for one configuration.
struct Mem {
    weights: f64,
    weights_label: String,
    weights_formula: String,
    kv_per_token: Option<f64>,
    kv: Option<f64>,
    kv_formula: String,
    act: Option<f64>,
    act_formula: String,
    overhead: f64,
    overhead_formula: String,
    per_gpu: f64,
    per_gpu_formula: String,
    capacity: f64,
    capacity_formula: String,
    verdict: Verdict,
}

/// KV bytes for one sequence of `ctx` tokens, and the formula.
fn kv_per_seq(a: &Arch, ctx: u64, bytes: f64, engine: Engine) -> (f64, f64, String) {
    if !a.decoder {
        return (0.0, 0.0, "encoder-only model: no KV cache".into());
    }
    let compressed = engine != Engine::Transformers;
    let per_layer = a.kv_elems_per_token_layer(compressed) as f64;
    let full = a.full_attention_layers() as f64;
    let sliding = (a.layers as f64) - full;
    let window = a.sliding_window.unwrap_or(u64::MAX).min(ctx) as f64;
    let elems = per_layer * (full * ctx as f64 + sliding * window);
    let per_token_full = per_layer * a.layers as f64 * bytes;
    let what = match &a.mla {
        Some(m) if compressed => format!(
            "(kv_lora_rank {} + rope {}) latent",
            m.kv_lora_rank, m.qk_rope_head_dim
        ),
        Some(m) => format!(
            "{} heads × ({} + {} K + {} V) decompressed",
            a.heads, m.qk_nope_head_dim, m.qk_rope_head_dim, m.v_head_dim
        ),
        None => format!("2 × {} KV heads × {} head_dim", a.kv_heads, a.head_dim),
    };
    let f = if sliding > 0.0 {
        format!(
            "{what} = {per_layer:.0} elems/token/layer × ({full:.0} full layers × {ctx} + {sliding:.0} sliding layers × min({ctx}, window {})) tokens × {bytes} B",
            a.sliding_window.unwrap_or(0)
        )
    } else {
        format!(
            "{what} = {per_layer:.0} elems/token/layer × {} layers × {ctx} tokens × {bytes} B",
            a.layers
        )
    };
    (elems * bytes, per_token_full, f)
}

/// Per-token activation bytes of the prefill (transformers eager, measured
/// method): (MLP phase, attention phase, formula). `math` is the fp32 SDPA
/// math kernel, which also materialises GQA's repeated K and V.
fn act_per_token(a: &Arch, dt: f64, math: bool) -> (f64, f64, String) {
    let h = a.hidden as f64;
    let q = (a.heads * a.head_dim) as f64;
    let kv = (a.kv_heads * a.head_dim) as f64;
    let rope = 2.0 * a.head_dim as f64;
    let (ffn, extra_bytes, ffn_f) = match &a.moe {
        Some(m) => {
            // transformers 5 "grouped_mm" experts backend (its GPU default): the
            // k routed copies of each token are gathered and sorted (2 × k × H),
            // then gate_up (2I), act (I) and act·up (I) per copy; router logits
            // in dt and fp32 softmax; int64 routing indices.
            let e = m.experts as f64;
            let k = m.active as f64;
            let ie = m.expert_intermediate as f64;
            let shared = if m.shared_intermediate > 0 {
                3.0 * m.shared_intermediate as f64
            } else {
                0.0
            };
            (
                4.0 * h + k * (2.0 * h + 4.0 * ie) + shared,
                e * (dt + 4.0) + k * 32.0,
                format!(
                    "MoE grouped_mm: 4×H {h} + top-k {k} × (2×H + 4×expert_I {ie}) + shared 3×{:.0}, + router {e} × ({dt}+4) B + {k} × 32 B indices",
                    shared / 3.0
                ),
            )
        }
        None if a.gated_mlp => (
            4.0 * h + 3.0 * a.intermediate as f64,
            0.0,
            format!("4×H {h} + 3×I {}", a.intermediate),
        ),
        None => (
            4.0 * h + 2.0 * a.intermediate as f64,
            0.0,
            format!("4×H {h} + 2×I {} (plain MLP)", a.intermediate),
        ),
    };
    let mlp = dt * (ffn + rope) + extra_bytes + 8.0;
    let qn = if math { 5.0 } else { 3.0 };
    let attn = dt * (2.0 * h + qn * q + 3.0 * kv + rope) + 8.0;
    let f = format!(
        "MLP phase {dt} B × ({ffn_f} + 2×head_dim {} rope cos/sin) + 8 B position id = {mlp:.0} B/token; attention phase {dt} B × (2H + {qn}×q_dim {q} + 3×kv_dim {kv} + rope) = {attn:.0} B/token",
        a.head_dim
    );
    (mlp, attn, f)
}

fn memory(model: &ModelSpec, req: &FitRequest, ctx: u64) -> Mem {
    let n = req.gpus.max(1) as f64;
    let batch = req.batch.max(1) as u64;
    let (weights, weights_label, weights_formula) = weights(model, &req.dtype);
    let dt = compute_bytes(model, &req.dtype);
    let kv_b = match (req.engine, req.kv_dtype) {
        (Engine::Llamacpp, KvDtype::Auto) => 2.0,
        (_, k) => k.bytes(dt),
    };
    let (mut kv_per_token, mut kv, mut kv_formula) = (
        None,
        None,
        "unknown: no architecture (config.json or GGUF metadata) for this model".to_owned(),
    );
    let (mut act, mut act_formula) = (None, "unknown: no architecture".to_owned());
    if let Some(a) = &model.arch {
        let blocks = |c: u64| {
            if req.engine == Engine::Vllm {
                c.div_ceil(16) * 16
            } else {
                c
            }
        };
        let (seq, per_tok, f) = kv_per_seq(a, blocks(ctx), kv_b, req.engine);
        kv_per_token = Some(per_tok);
        kv = Some(seq * batch as f64);
        kv_formula = format!("{batch} sequences × {f} = {}", gb(seq * batch as f64));
        let math = req.engine == Engine::Transformers && dt >= 4.0;
        let (mlp, attn, af) = act_per_token(a, dt, math);
        let (value, formula) = match req.engine {
            Engine::Transformers => {
                let tokens = (batch * ctx) as f64;
                let mut attn_total = tokens * attn;
                let mut extra = String::new();
                if math {
                    // fp32: SDPA falls back to the math kernel, which materialises
                    // scores + softmax (+ a bool mask) per head, and a shared ctx² mask.
                    let per_elem = 2.0 * dt + 1.0;
                    let m = batch as f64 * a.heads as f64 * (ctx as f64).powi(2) * per_elem
                        + 5.0 * (ctx as f64).powi(2);
                    attn_total += m;
                    extra = format!(
                        " + fp32 SDPA math kernel: {batch} × {} heads × {ctx}² × (2×{dt}+1) B + 5 B × {ctx}² mask",
                        a.heads
                    );
                }
                let v = (tokens * mlp).max(attn_total);
                (
                    v,
                    format!("max over phases, {tokens:.0} prefill tokens: {af}{extra}"),
                )
            }
            Engine::Vllm => {
                let t = VLLM_PROFILE_TOKENS as f64;
                let logits = (VLLM_MAX_NUM_SEQS * a.vocab) as f64 * 4.0;
                (
                    t * mlp.max(attn) + logits,
                    format!(
                        "profile run of max_num_batched_tokens {t:.0} × max(MLP, attention) B/token + sampler logits {VLLM_MAX_NUM_SEQS} × vocab {} × 4 B; {af}",
                        a.vocab
                    ),
                )
            }
            Engine::Llamacpp => {
                let u = LLAMACPP_UBATCH as f64;
                let v = 4.0
                    * u
                    * (a.vocab as f64 + 4.0 * a.hidden as f64 + 3.0 * a.intermediate as f64);
                (
                    v,
                    format!(
                        "compute buffer: n_ubatch {u:.0} × 4 B × (vocab {} + 4×H + 3×I), flash attention",
                        a.vocab
                    ),
                )
            }
        };
        act = Some(value);
        act_formula = formula;
    }
    let (overhead, overhead_formula) = match req.engine {
        Engine::Transformers => (CUDA_CONTEXT_BYTES as f64, "CUDA context + cuBLAS workspace, measured (device_used − reserved on the calibration H200)".to_owned()),
        Engine::Vllm => (
            (CUDA_CONTEXT_BYTES + VLLM_GRAPH_BYTES) as f64,
            "CUDA context (measured 0.73 GB) + 1 GiB CUDA graphs/NCCL buffers (assumed)".to_owned(),
        ),
        Engine::Llamacpp => (LLAMACPP_CONTEXT_BYTES as f64, "CUDA context of llama.cpp (assumed 0.4 GB)".to_owned()),
    };
    // Tensor parallel: weights and activations split N ways; the KV cache is
    // split across KV heads (replicated when there are fewer KV heads than GPUs).
    let kv_split = model
        .arch
        .as_ref()
        .map(|a| {
            if a.mla.is_some() {
                n
            } else {
                n.min(a.kv_heads.max(1) as f64)
            }
        })
        .unwrap_or(n);
    let per_gpu = weights / n + kv.unwrap_or(0.0) / kv_split + act.unwrap_or(0.0) / n + overhead;
    let per_gpu_formula = format!(
        "weights {} / {n} + KV {} / {kv_split} + activations {} / {n} + overhead {}",
        gb(weights),
        kv.map(gb).unwrap_or("?".into()),
        act.map(gb).unwrap_or("?".into()),
        gb(overhead)
    );
    let usable = req.gpu.usable_bytes() as f64;
    let (capacity, capacity_formula) = if req.engine == Engine::Vllm {
        (
            usable * VLLM_GPU_MEMORY_UTILIZATION,
            format!(
                "{} × gpu_memory_utilization {VLLM_GPU_MEMORY_UTILIZATION}",
                gb(usable)
            ),
        )
    } else if req.gpu.unified_memory {
        (
            usable,
            format!(
                "{} unified memory × 0.75 (default GPU working-set limit)",
                gb(req.gpu.memory_bytes as f64)
            ),
        )
    } else {
        (usable, format!("{} device memory", gb(usable)))
    };
    let verdict = if per_gpu > capacity {
        Verdict::DoesNotFit
    } else if kv.is_none() {
        Verdict::FitsWeightsOnly
    } else if per_gpu > TIGHT_FRACTION * capacity {
        Verdict::Tight
    } else {
        Verdict::Fits
    };
    Mem {
        weights,
        weights_label,
        weights_formula,
        kv_per_token,
        kv,
        kv_formula,
        act,
        act_formula,
        overhead,
        overhead_formula,
        per_gpu,
        per_gpu_formula,
        capacity,
        capacity_formula,
        verdict,
    }
}

/// Largest context ≤ `limit` that does not exceed capacity.
fn max_context_that_fits(model: &ModelSpec, req: &FitRequest, limit: u64) -> Option<u64> {
    model.arch.as_ref()?;
    let fits = |c: u64| memory(model, req, c).verdict != Verdict::DoesNotFit;
    if !fits(1) {
        return Some(0);
    }
    let (mut lo, mut hi) = (1u64, limit.max(1));
    if fits(hi) {
        return Some(hi);
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if fits(mid) { lo = mid } else { hi = mid }
    }
    Some(lo)
}

/// Speed figures (None when the GPU's bandwidth is unknown).
fn speed(model: &ModelSpec, req: &FitRequest, mem: &Mem) -> Option<(Speed, Vec<Explain>)> {
    let bw = req.gpu.bandwidth?;
    let n = req.gpus.max(1) as f64;
    let tp = if n > 1.0 { 0.9 } else { 1.0 };
    let (bw_eff, c_eff, label) = match req.engine {
        Engine::Transformers => (
            0.88,
            0.55,
            "transformers eager: bandwidth efficiency 0.88 (measured copy rate 4.23 TB/s ÷ 4.8 TB/s on the H200), compute 0.55 (calibration prefill rows), + 0.54 ms launch cost per layer per step",
        ),
        Engine::Vllm => (
            0.80,
            0.60,
            "vLLM: bandwidth efficiency 0.80, compute 0.60 (assumed, CUDA graphs: no launch floor)",
        ),
        Engine::Llamacpp => (
            0.70,
            0.40,
            "llama.cpp: bandwidth efficiency 0.70, compute 0.40 (assumed)",
        ),
    };
    let flops = req.gpu.flops.unwrap_or(bw * 100.0);
    let active = model.params_active.or(model.params).unwrap_or(0) as f64;
    let total = model.params.unwrap_or(0) as f64;
    let bytes_per_param = if total > 0.0 {
        mem.weights / total
    } else {
        2.0
    };
    let ctx = req.context as f64;
    let (layers, qdim) = model
        .arch
        .as_ref()
        .map(|a| (a.layers as f64, (a.heads * a.head_dim) as f64))
        .unwrap_or((0.0, 0.0));
    let kv_tok = mem.kv_per_token.unwrap_or(0.0);
    let launch = if req.engine == Engine::Transformers {
        layers * EAGER_LAUNCH_S_PER_LAYER
    } else {
        0.0
    };
    let step = |b: f64| -> (f64, &'static str) {
        // MoE: at batch b, about min(E, b·k) experts are read per layer.
        let weight_read = match model.arch.as_ref().and_then(|a| a.moe.as_ref()) {
            Some(m) if m.experts > m.active && total > 0.0 => {
                // total − active = (E − k) × one expert's params over all layers.
                let e = m.experts as f64;
                let k = m.active as f64;
                let expert_total = ((total - active) * e / (e - k)).min(total);
                let frac = (b * k / e).clamp(k / e, 1.0);
                let bpp = mem.weights / total;
                bpp * ((total - expert_total) + expert_total * frac)
            }
            Some(_) => mem.weights,
            None => mem.weights,
        };
        let bytes = weight_read + b * ctx * kv_tok;
        let t_bw = bytes / (bw * n * tp * bw_eff);
        let fl = 2.0 * active * b + 2.0 * b * layers * qdim * ctx * 2.0;
        let t_c = fl / (flops * n * tp * c_eff);
        let (t, what) = if t_bw >= t_c {
            (t_bw, "memory bandwidth")
        } else {
            (t_c, "compute")
        };
        if launch > t {
            (t + launch, "kernel launches")
        } else {
            (t + launch, what)
        }
    };
    let _ = bytes_per_param;
    let b = req.batch.max(1) as f64;
    let (s1, _) = step(1.0);
    let (sb, bound) = step(b);
    let prefill_flops_tok = 2.0 * active + 2.0 * layers * qdim * ctx;
    let prefill = flops * n * tp * c_eff / prefill_flops_tok.max(1.0);
    let max_seqs = match (mem.kv, model.arch.as_ref()) {
        (Some(kv), Some(_)) if kv > 0.0 => {
            let per_seq = kv / b;
            let free = (mem.capacity
                - (mem.weights / n + mem.act.unwrap_or(0.0) / n + mem.overhead))
                .max(0.0)
                * n;
            Some((free / per_seq).floor() as u64)
        }
        _ => None,
    };
    let sp = Speed {
        decode_tok_s_single: 1.0 / s1,
        decode_tok_s_batch: b / sb,
        prefill_tok_s: prefill,
        decode_bound: bound.into(),
        max_concurrent_sequences: max_seqs,
    };
    let mut e = vec![
        ex(
            "decode step",
            format!("{:.2} ms at batch {b:.0}", sb * 1e3),
            format!(
                "max(bytes (weights {} + {b:.0} × {ctx:.0} tokens × KV {kv_tok:.0} B) / ({} GB/s × {n} GPUs × {bw_eff}), FLOPs (2 × {active:.0} active params × {b:.0} + attention) / ({:.0} TFLOP/s × {n} × {c_eff})) + launch {:.1} ms; {label}",
                gb(mem.weights),
                bw / 1e9,
                flops / 1e12,
                launch * 1e3
            ),
        ),
        ex(
            "decode tokens/s",
            format!(
                "{:.1} (1 sequence), {:.1} aggregate at batch {b:.0}",
                sp.decode_tok_s_single, sp.decode_tok_s_batch
            ),
            "batch / step time".into(),
        ),
        ex(
            "prefill tokens/s",
            format!("{prefill:.0}"),
            format!(
                "{:.0} TFLOP/s × {n} × {c_eff} / (2 × {active:.0} + 2 × {layers} layers × q_dim {qdim} × {ctx:.0}) FLOP/token",
                flops / 1e12
            ),
        ),
    ];
    if let Some(m) = max_seqs {
        e.push(ex("max concurrent sequences", m.to_string(), format!(
            "(capacity {} − weights − activations − overhead per GPU) × {n} GPUs / KV per {ctx:.0}-token sequence",
            gb(mem.capacity)
        )));
    }
    Some((sp, e))
}

/// Estimate memory, verdict, speed and workload for a model on a GPU.
pub fn estimate(model: &ModelSpecOrParams, req: &FitRequest) -> FitReport {
    let ctx = req.context.max(1);
    let m = memory(model, req, ctx);
    let mut reasons = Vec::new();
    let mut unknowns = Vec::new();
    let mut notes = model.notes.clone();
    let max_ctx = model
        .arch
        .as_ref()
        .and_then(|a| a.max_context_scaled.or(a.max_context));
    let n = req.gpus.max(1);
    let share = m.per_gpu / m.capacity.max(1.0) * 100.0;
    match m.verdict {
        Verdict::DoesNotFit => reasons.push(format!(
            "needs {} per GPU but {} × {n} offers {} ({share:.0} %)",
            gb(m.per_gpu),
            req.gpu.name,
            gb(m.capacity)
        )),
        Verdict::Tight => reasons.push(format!(
            "needs {} of {} per GPU ({share:.0} %): less than {:.0} % headroom for allocator fragmentation",
            gb(m.per_gpu),
            gb(m.capacity),
            (1.0 - TIGHT_FRACTION) * 100.0
        )),
        Verdict::Fits => reasons.push(format!("needs {} of {} per GPU ({share:.0} %)", gb(m.per_gpu), gb(m.capacity))),
        Verdict::FitsWeightsOnly => reasons.push(format!(
            "weights + overhead need {} of {} per GPU ({share:.0} %); the KV cache and activations come on top",
            gb(m.per_gpu),
            gb(m.capacity)
        )),
    }
    reasons.push(format!("weights {} ({})", gb(m.weights), m.weights_label));
    if let Some(kv) = m.kv {
        reasons.push(format!(
            "KV cache {} for {} × {ctx} tokens",
            gb(kv),
            req.batch.max(1)
        ));
    }
    if model.arch.is_none() {
        unknowns.push("KV cache and activation memory: the architecture is unknown (pass --config config.json, a model directory, or a GGUF file)".into());
    }
    if model.params.is_none() {
        unknowns.push("parameter count".into());
    }
    if let Some(mc) = max_ctx
        && ctx > mc
    {
        reasons.push(format!(
            "context {ctx} exceeds the model's maximum of {mc} tokens"
        ));
    }
    if req.gpu.bandwidth.is_none() {
        unknowns.push(format!("speed: memory bandwidth of {} unknown (use --gpu with a catalog name, or e.g. 24GB@936GB/s)", req.gpu.name));
    }
    if req.engine == Engine::Llamacpp
        && m.verdict == Verdict::DoesNotFit
        && let Some(a) = &model.arch
    {
        // Layer offload: how many blocks fit on the GPU(s).
        let per_layer = (m.weights + m.kv.unwrap_or(0.0)) / a.layers.max(1) as f64;
        let room = (m.capacity - m.overhead - m.act.unwrap_or(0.0)) * n as f64;
        let k = (room / per_layer).floor().clamp(0.0, a.layers as f64) as u64;
        reasons.push(format!(
                "llama.cpp can offload {k} of {} layers (-ngl {k}); the rest run from CPU RAM at CPU memory bandwidth",
                a.layers
            ));
    }

    // Suggestions: the nearest changes, least disruptive first.
    let mut suggestions = Vec::new();
    if matches!(m.verdict, Verdict::DoesNotFit | Verdict::Tight) {
        let mut try_req = |change: String, r: FitRequest, c: u64| {
            let mm = memory(model, &r, c);
            if matches!(
                mm.verdict,
                Verdict::Fits | Verdict::Tight | Verdict::FitsWeightsOnly
            ) && mm.verdict != m.verdict
                || mm.verdict == Verdict::Fits
            {
                suggestions.push(Suggestion {
                    change,
                    total_bytes_per_gpu: mm.per_gpu as u64,
                    verdict: mm.verdict,
                });
            }
        };
        if model.arch.is_some() && !matches!(req.kv_dtype, KvDtype::Fp8 | KvDtype::Q8 | KvDtype::Q4)
        {
            let (k, label) = if req.engine == Engine::Llamacpp {
                (KvDtype::Q8, "q8_0")
            } else {
                (KvDtype::Fp8, "fp8")
            };
            try_req(
                format!("--kv-dtype {label}"),
                FitRequest {
                    kv_dtype: k,
                    ..req.clone()
                },
                ctx,
            );
        }
        if let Some(c) = max_context_that_fits(model, req, ctx)
            && c >= 512
            && c < ctx
        {
            try_req(format!("--context {c}"), req.clone(), c);
        }
        let formats: Vec<WeightFormat> = if req.engine == Engine::Llamacpp {
            vec![
                WeightFormat::Gguf("Q8_0".into()),
                WeightFormat::Gguf("Q4_K_M".into()),
            ]
        } else {
            vec![WeightFormat::Fp8, WeightFormat::Int8, WeightFormat::Int4]
        };
        let cur = m.weights;
        for f in formats {
            let (w, _, _) = weights(model, &f);
            if w < cur * 0.95 {
                try_req(
                    format!("--dtype {f}"),
                    FitRequest {
                        dtype: f,
                        ..req.clone()
                    },
                    ctx,
                );
            }
        }
        for g in (n + 1)..=8 {
            let r = FitRequest {
                gpus: g,
                ..req.clone()
            };
            if memory(model, &r, ctx).verdict == Verdict::Fits || g == 8 {
                try_req(format!("--gpus {g}"), r, ctx);
                break;
            }
        }
        let mut others: Vec<&GpuSpec> = gpu_catalog()
            .iter()
            .filter(|g| g.memory_bytes > req.gpu.memory_bytes)
            .collect();
        others.sort_by(|a, b| {
            a.usd_per_hour
                .unwrap_or(f64::MAX)
                .total_cmp(&b.usd_per_hour.unwrap_or(f64::MAX))
        });
        if let Some(g) = others.into_iter().find(|g| {
            memory(
                model,
                &FitRequest {
                    gpu: (*g).clone(),
                    ..req.clone()
                },
                ctx,
            )
            .verdict
                == Verdict::Fits
        }) {
            try_req(
                format!("--gpu \"{}\"", g.name),
                FitRequest {
                    gpu: g.clone(),
                    ..req.clone()
                },
                ctx,
            );
        }
    }
    let nearest_change = suggestions
        .iter()
        .find(|s| s.verdict == Verdict::Fits)
        .or_else(|| suggestions.iter().find(|s| s.verdict == Verdict::Tight))
        .map(|s| s.change.clone());
    if let Some(c) = &nearest_change {
        reasons.push(format!("nearest change that fits: {c}"));
    }

    let mut explain = vec![
        ex(
            "params",
            model.params.map(|p| p.to_string()).unwrap_or("?".into()),
            model.params_source.clone(),
        ),
        ex("weights", gb(m.weights), m.weights_formula.clone()),
        ex(
            "KV cache",
            m.kv.map(gb).unwrap_or("?".into()),
            m.kv_formula.clone(),
        ),
        ex(
            "activation peak",
            m.act.map(gb).unwrap_or("?".into()),
            m.act_formula.clone(),
        ),
        ex("overhead", gb(m.overhead), m.overhead_formula.clone()),
        ex("total per GPU", gb(m.per_gpu), m.per_gpu_formula.clone()),
        ex(
            "capacity per GPU",
            gb(m.capacity),
            m.capacity_formula.clone(),
        ),
        ex(
            "verdict",
            m.verdict.to_string(),
            format!("fits if total ≤ {TIGHT_FRACTION} × capacity, tight if ≤ capacity"),
        ),
    ];
    if let Some(a) = &model.arch {
        explain.insert(
            1,
            ex(
                "architecture",
                a.family.clone(),
                format!(
                    "{} layers, hidden {}, {}, head_dim {}, intermediate {}, vocab {}{}{}",
                    a.layers,
                    a.hidden,
                    a.attention_kind(),
                    a.head_dim,
                    a.intermediate,
                    a.vocab,
                    a.moe
                        .as_ref()
                        .map(|m| format!(", MoE {} experts / {} active", m.experts, m.active))
                        .unwrap_or_default(),
                    a.sliding_window
                        .map(|w| format!(
                            ", sliding window {w} on {} layers",
                            a.layers - a.full_attention_layers()
                        ))
                        .unwrap_or_default()
                ),
            ),
        );
    }
    let max_fit = if matches!(
        m.verdict,
        Verdict::DoesNotFit | Verdict::Tight | Verdict::Fits
    ) {
        max_context_that_fits(model, req, max_ctx.unwrap_or(ctx).max(ctx))
    } else {
        None
    };
    let sp = speed(model, req, &m);
    let speed_val = sp.map(|(s, e)| {
        explain.extend(e);
        s
    });
    let wl = req
        .workload
        .as_ref()
        .map(|w| workload::estimate_workload(model, req, w));
    if let Some(w) = &wl {
        explain.extend(w.explain.iter().cloned());
    }
    notes.dedup();
    FitReport {
        model: model.name.clone(),
        gpu: req.gpu.name.clone(),
        gpus: n,
        engine: req.engine,
        context: ctx,
        batch: req.batch.max(1),
        params: model.params,
        params_active: model.params_active,
        params_source: model.params_source.clone(),
        weights_bytes: m.weights as u64,
        weights_format: m.weights_label.clone(),
        kv_cache_bytes: m.kv.map(|v| v as u64),
        kv_bytes_per_token: m.kv_per_token,
        activation_peak_bytes: m.act.map(|v| v as u64),
        overhead_bytes: m.overhead as u64,
        total_bytes: m.per_gpu as u64,
        capacity_bytes: m.capacity as u64,
        verdict: m.verdict,
        reasons,
        suggestions,
        nearest_change,
        max_context: max_ctx,
        max_context_that_fits: max_fit,
        speed: speed_val,
        workload: wl,
        unknowns,
        notes,
        explain,
    }
}

/// Memory per GPU and verdict only (used by the workload planner).
pub(crate) fn quick(model: &ModelSpec, req: &FitRequest) -> (f64, Verdict) {
    let m = memory(model, req, req.context.max(1));
    (m.per_gpu, m.verdict)
}

/// Speed only.
pub(crate) fn quick_speed(model: &ModelSpec, req: &FitRequest) -> Option<Speed> {
    let m = memory(model, req, req.context.max(1));
    speed(model, req, &m).map(|(s, _)| s)
}
