//! Architecture reader: `config.json` (incl. nested `text_config`) and GGUF
//! metadata → the dimensions that memory and speed depend on, and the
//! parameter count those dimensions imply.
//!
//! The parameter formula is the module layout of the Hugging Face
//! implementation of each family (embeddings, attention projections with or
//! without biases, gated or plain MLP, norms with or without biases, MoE
//! experts and routers, MLA low-rank projections, tied or separate LM head).
//! Families without a specific layout fall back to the Llama layout and say so
//! in [`Arch::notes`].

use crate::FitError;
use cambrian_formats::gguf::GgufHeader;
use serde::Serialize;
use serde_json::Value;

/// Multi-head latent attention (DeepSeek-V2, MiniCPM3).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mla {
    pub q_lora_rank: Option<u64>,
    pub kv_lora_rank: u64,
    pub qk_nope_head_dim: u64,
    pub qk_rope_head_dim: u64,
    pub v_head_dim: u64,
}

/// Mixture of experts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Moe {
    pub experts: u64,
    pub active: u64,
    /// Intermediate size of one routed expert.
    pub expert_intermediate: u64,
    /// Total intermediate size of always-on shared experts (0 when none).
    pub shared_intermediate: u64,
    /// Qwen2-MoE's sigmoid gate on the shared expert.
    pub shared_gate: bool,
    /// Layers `0..first_dense` use a dense MLP (DeepSeek `first_k_dense_replace`).
    pub first_dense: u64,
    /// Every `every`-th layer is MoE (`moe_layer_freq`, `decoder_sparse_step`).
    pub every: u64,
}

/// Kind of per-head query/key normalisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum QkNorm {
    None,
    /// One `head_dim` weight for q and one for k (Qwen3, Gemma3).
    PerHead,
    /// Over the whole projection (OLMo2).
    Full,
}

/// The architecture as far as memory, speed and parameter count need it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Arch {
    /// `model_type` (or GGUF `general.architecture`).
    pub family: String,
    pub architectures: Vec<String>,
    /// Encoder-only models (BERT) have no KV cache.
    pub decoder: bool,
    pub layers: u64,
    pub hidden: u64,
    pub heads: u64,
    pub kv_heads: u64,
    pub head_dim: u64,
    pub intermediate: u64,
    pub vocab: u64,
    pub tied_embeddings: bool,
    pub gated_mlp: bool,
    /// LayerNorm with bias (vs RMSNorm weight only).
    pub norm_bias: bool,
    pub norms_per_layer: u64,
    pub final_norm: bool,
    pub qk_norm: QkNorm,
    pub qkv_bias: bool,
    pub o_bias: bool,
    pub mlp_bias: bool,
    pub lm_head_bias: bool,
    /// Learned absolute position embeddings (GPT-2, BERT).
    pub learned_positions: u64,
    pub token_types: u64,
    pub pooler: bool,
    pub moe: Option<Moe>,
    pub mla: Option<Mla>,
    /// Sliding-window size, when some layers use one.
    pub sliding_window: Option<u64>,
    /// Per layer: `true` when the layer uses the sliding window.
    pub sliding_layers: Vec<bool>,
    /// Native maximum context (`max_position_embeddings` & co).
    pub max_context: Option<u64>,
    /// Maximum context with `rope_scaling` applied, when it extends the native one.
    pub max_context_scaled: Option<u64>,
    /// What was assumed or could not be read.
    pub notes: Vec<String>,
}

fn num(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|f| *f >= 0.0 && f.fract() == 0.0 && *f < 1e18)
            .map(|f| f as u64)
    })
}

fn get(c: &Value, keys: &[&str]) -> Option<u64> {
    keys.iter().find_map(|k| c.get(*k).and_then(num))
}

fn getb(c: &Value, key: &str) -> Option<bool> {
    c.get(key).and_then(Value::as_bool)
}

fn need(c: &Value, keys: &[&str], what: &str) -> Result<u64, FitError> {
    get(c, keys)
        .filter(|v| *v > 0)
        .ok_or_else(|| FitError::Config {
            field: keys.join(" | "),
            detail: format!("{what} is missing or not a positive integer"),
        })
}

impl Arch {
    /// Read a Hugging Face `config.json`. Multimodal configs use their
    /// `text_config` (the vision tower is not counted; a note says so).
    pub fn from_config(cfg: &Value) -> Result<Arch, FitError> {
        if !cfg.is_object() {
            return Err(FitError::Config {
                field: "(top level)".into(),
                detail: "config is not a JSON object".into(),
            });
        }
        let mut notes = Vec::new();
        let architectures: Vec<String> = cfg
            .get("architectures")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let top_type = cfg
            .get("model_type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let has_dims = |c: &Value| get(c, &["hidden_size", "n_embd", "d_model"]).is_some();
        let c = match cfg.get("text_config") {
            Some(t) if t.is_object() && !has_dims(cfg) => {
                if cfg.get("vision_config").is_some() || cfg.get("audio_config").is_some() {
                    notes.push("multimodal model: only the text decoder (text_config) is counted; the vision/audio encoder and projector are not".into());
                }
                t
            }
            _ => cfg,
        };
        let arch0 = architectures.first().map(String::as_str).unwrap_or("");
        let family = c
            .get("model_type")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .or_else(|| Some(top_type.clone()).filter(|s| !s.is_empty()))
            .or_else(|| family_from_architecture(arch0).map(str::to_owned))
            .unwrap_or_default();
        let fam = family.as_str();

        // Family-specific layouts.
        let mut a = match fam {
            "gpt2" | "gpt_bigcode" => {
                let h = need(c, &["n_embd", "hidden_size"], "hidden size")?;
                let heads = need(c, &["n_head", "num_attention_heads"], "heads")?;
                let mq = getb(c, "multi_query").unwrap_or(false);
                Arch {
                    layers: need(c, &["n_layer", "num_hidden_layers"], "layers")?,
                    hidden: h,
                    heads,
                    kv_heads: if mq { 1 } else { heads },
                    head_dim: h / heads,
                    intermediate: get(c, &["n_inner"]).unwrap_or(4 * h),
                    vocab: need(c, &["vocab_size"], "vocabulary size")?,
                    tied_embeddings: getb(c, "tie_word_embeddings").unwrap_or(true),
                    gated_mlp: false,
                    norm_bias: true,
                    norms_per_layer: 2,
                    qkv_bias: true,
                    o_bias: true,
                    mlp_bias: true,
                    learned_positions: get(c, &["n_positions", "max_position_embeddings"])
                        .unwrap_or(1024),
                    max_context: get(c, &["n_positions", "n_ctx", "max_position_embeddings"]),
                    ..Arch::blank(fam)
                }
            }
            "bert" | "roberta" | "xlm-roberta" | "distilbert" | "electra" | "mpnet" => {
                let h = need(c, &["hidden_size", "dim"], "hidden size")?;
                let heads = need(c, &["num_attention_heads", "n_heads"], "heads")?;
                Arch {
                    decoder: false,
                    layers: need(c, &["num_hidden_layers", "n_layers"], "layers")?,
                    hidden: h,
                    heads,
                    kv_heads: heads,
                    head_dim: h / heads,
                    intermediate: need(
                        c,
                        &["intermediate_size", "hidden_dim"],
                        "intermediate size",
                    )?,
                    vocab: need(c, &["vocab_size"], "vocabulary size")?,
                    tied_embeddings: true,
                    gated_mlp: false,
                    norm_bias: true,
                    norms_per_layer: 2,
                    final_norm: false,
                    qkv_bias: true,
                    o_bias: true,
                    mlp_bias: true,
                    learned_positions: get(c, &["max_position_embeddings"]).unwrap_or(512),
                    token_types: if fam == "distilbert" {
                        0
                    } else {
                        get(c, &["type_vocab_size"]).unwrap_or(2)
                    },
                    // Embedding LayerNorm counted as one extra "layer" norm below via final_norm.
                    pooler: fam == "bert" && arch0 != "BertForMaskedLM",
                    max_context: get(c, &["max_position_embeddings"]),
                    ..Arch::blank(fam)
                }
            }
            "mpt" => {
                let h = need(c, &["d_model", "hidden_size"], "d_model")?;
                let heads = need(c, &["n_heads", "num_attention_heads"], "heads")?;
                let kv = c
                    .get("attn_config")
                    .and_then(|a| get(a, &["kv_n_heads"]))
                    .unwrap_or(heads);
                let no_bias = getb(c, "no_bias").unwrap_or(true);
                Arch {
                    layers: need(c, &["n_layers", "num_hidden_layers"], "n_layers")?,
                    hidden: h,
                    heads,
                    kv_heads: kv,
                    head_dim: h / heads,
                    intermediate: get(c, &["expansion_ratio"]).unwrap_or(4) * h,
                    vocab: need(c, &["vocab_size"], "vocabulary size")?,
                    tied_embeddings: true,
                    gated_mlp: false,
                    norm_bias: !no_bias,
                    norms_per_layer: 2,
                    qkv_bias: !no_bias,
                    o_bias: !no_bias,
                    mlp_bias: !no_bias,
                    max_context: get(c, &["max_seq_len", "max_position_embeddings"]),
                    ..Arch::blank(fam)
                }
            }
            "falcon" | "RefinedWeb" | "RefinedWebModel" => {
                let h = need(c, &["hidden_size", "n_embd", "d_model"], "hidden size")?;
                let heads = need(c, &["num_attention_heads", "n_head"], "heads")?;
                let new_arch = getb(c, "new_decoder_architecture").unwrap_or(fam == "RefinedWeb");
                let multi_query = getb(c, "multi_query").unwrap_or(true);
                let kv = if new_arch {
                    get(c, &["num_kv_heads", "n_head_kv", "num_key_value_heads"]).unwrap_or(heads)
                } else if multi_query {
                    1
                } else {
                    heads
                };
                let parallel = getb(c, "parallel_attn").unwrap_or(true);
                let bias = getb(c, "bias").unwrap_or(false);
                Arch {
                    layers: need(c, &["num_hidden_layers", "n_layer"], "layers")?,
                    hidden: h,
                    heads,
                    kv_heads: kv,
                    head_dim: h / heads,
                    intermediate: get(c, &["ffn_hidden_size"]).unwrap_or(4 * h),
                    vocab: need(c, &["vocab_size"], "vocabulary size")?,
                    tied_embeddings: getb(c, "tie_word_embeddings").unwrap_or(true),
                    gated_mlp: false,
                    norm_bias: true,
                    norms_per_layer: if new_arch || !parallel { 2 } else { 1 },
                    qkv_bias: bias,
                    o_bias: bias,
                    mlp_bias: bias,
                    max_context: get(c, &["max_position_embeddings"]).or(Some(2048)),
                    ..Arch::blank(fam)
                }
            }
            "gptj" => {
                let h = need(c, &["n_embd", "hidden_size"], "n_embd")?;
                let heads = need(c, &["n_head", "num_attention_heads"], "n_head")?;
                Arch {
                    layers: need(c, &["n_layer", "num_hidden_layers"], "n_layer")?,
                    hidden: h,
                    heads,
                    kv_heads: heads,
                    head_dim: h / heads,
                    intermediate: get(c, &["n_inner"]).unwrap_or(4 * h),
                    vocab: need(c, &["vocab_size"], "vocabulary size")?,
                    tied_embeddings: getb(c, "tie_word_embeddings").unwrap_or(false),
                    gated_mlp: false,
                    norm_bias: true,
                    norms_per_layer: 1,
                    mlp_bias: true,
                    lm_head_bias: true,
                    max_context: get(c, &["n_positions"]),
                    ..Arch::blank(fam)
                }
            }
            "phi-msft" => {
                let h = need(c, &["n_embd"], "n_embd")?;
                let heads = need(c, &["n_head"], "n_head")?;
                Arch {
                    layers: need(c, &["n_layer"], "n_layer")?,
                    hidden: h,
                    heads,
                    kv_heads: get(c, &["n_head_kv"]).unwrap_or(heads),
                    head_dim: h / heads,
                    intermediate: get(c, &["n_inner"]).unwrap_or(4 * h),
                    vocab: need(c, &["vocab_size"], "vocabulary size")?,
                    tied_embeddings: false,
                    gated_mlp: false,
                    norm_bias: true,
                    norms_per_layer: 1,
                    qkv_bias: true,
                    o_bias: true,
                    mlp_bias: true,
                    lm_head_bias: true,
                    max_context: get(c, &["n_positions"]),
                    ..Arch::blank(fam)
                }
            }
            _ => Arch::llama_like(c, fam, &mut notes)?,
        };
        a.architectures = architectures;
        a.family = family.clone();
        if a.heads == 0 || a.hidden == 0 || a.layers == 0 {
            return Err(FitError::Config {
                field: "hidden_size/num_attention_heads".into(),
                detail: "zero dimension".into(),
            });
        }
        if a.sliding_layers.is_empty() {
            a.sliding_layers = sliding_pattern(c, fam, a.layers, a.sliding_window);
        }
        if !a.sliding_layers.iter().any(|s| *s) {
            a.sliding_window = None;
        }
        let (native, scaled, note) = context(c, a.max_context);
        a.max_context = native;
        a.max_context_scaled = scaled;
        if let Some(n) = note {
            notes.push(n);
        }
        a.notes.extend(notes);
        Ok(a)
    }

    fn blank(fam: &str) -> Arch {
        Arch {
            family: fam.to_owned(),
            architectures: Vec::new(),
            decoder: true,
            layers: 0,
            hidden: 0,
            heads: 0,
            kv_heads: 0,
            head_dim: 0,
            intermediate: 0,
            vocab: 0,
            tied_embeddings: false,
            gated_mlp: true,
            norm_bias: false,
            norms_per_layer: 2,
            final_norm: true,
            qk_norm: QkNorm::None,
            qkv_bias: false,
            o_bias: false,
            mlp_bias: false,
            lm_head_bias: false,
            learned_positions: 0,
            token_types: 0,
            pooler: false,
            moe: None,
            mla: None,
            sliding_window: None,
            sliding_layers: Vec::new(),
            max_context: None,
            max_context_scaled: None,
            notes: Vec::new(),
        }
    }

    /// Llama-style decoders: Llama 1/2/3, Mistral, Mixtral, Qwen 2/2.5/3 (+MoE),
    /// Gemma 1/2/3, Phi 3/3.5/4, GPT-NeoX, StarCoder2, OLMo2, DeepSeek-V2, MiniCPM3, …
    fn llama_like(c: &Value, fam: &str, notes: &mut Vec<String>) -> Result<Arch, FitError> {
        let h = need(c, &["hidden_size", "n_embd", "d_model"], "hidden size")?;
        let layers = need(
            c,
            &["num_hidden_layers", "n_layer", "num_layers", "n_layers"],
            "layer count",
        )?;
        let heads = need(
            c,
            &["num_attention_heads", "n_head", "num_heads", "n_heads"],
            "attention heads",
        )?;
        let kv_heads = get(
            c,
            &[
                "num_key_value_heads",
                "num_kv_heads",
                "n_head_kv",
                "multi_query_group_num",
            ],
        )
        .unwrap_or(heads);
        let head_dim = get(c, &["head_dim"])
            .filter(|d| *d > 0)
            .unwrap_or(h / heads);
        let intermediate =
            get(c, &["intermediate_size", "ffn_hidden_size", "n_inner"]).unwrap_or(4 * h);
        let vocab = need(c, &["vocab_size", "padded_vocab_size"], "vocabulary size")?;
        let known = [
            "llama",
            "mistral",
            "mixtral",
            "qwen2",
            "qwen2_moe",
            "qwen3",
            "qwen3_moe",
            "gemma",
            "gemma2",
            "gemma3",
            "gemma3_text",
            "phi3",
            "phi",
            "gpt_neox",
            "starcoder2",
            "olmo2",
            "olmo",
            "deepseek_v2",
            "deepseek_v3",
            "minicpm3",
            "minicpm",
            "ministral3",
            "gptj",
            "mistral3",
            "cohere",
            "internlm2",
            "stablelm",
            "phimoe",
        ];
        if !known.contains(&fam) {
            notes.push(format!("model_type {fam:?} has no specific layout here: parameters computed with the Llama layout (gated MLP, RMSNorm, no biases)"));
        }
        let tied_default = matches!(
            fam,
            "gemma" | "gemma2" | "gemma3" | "gemma3_text" | "starcoder2" | "minicpm" | "minicpm3"
        );
        let mut a = Arch {
            layers,
            hidden: h,
            heads,
            kv_heads,
            head_dim,
            intermediate,
            vocab,
            tied_embeddings: getb(c, "tie_word_embeddings").unwrap_or(tied_default),
            qkv_bias: getb(c, "attention_bias").unwrap_or(false),
            o_bias: getb(c, "attention_bias").unwrap_or(false),
            mlp_bias: getb(c, "mlp_bias").unwrap_or(false),
            max_context: get(
                c,
                &[
                    "max_position_embeddings",
                    "max_sequence_length",
                    "seq_length",
                    "n_positions",
                    "max_seq_len",
                ],
            ),
            ..Arch::blank(fam)
        };
        match fam {
            "qwen2" | "qwen2_moe" => {
                a.qkv_bias = true;
                a.o_bias = false;
            }
            "qwen3" | "qwen3_moe" => a.qk_norm = QkNorm::PerHead,
            "gemma2" => a.norms_per_layer = 4,
            "gemma3" | "gemma3_text" => {
                a.norms_per_layer = 4;
                a.qk_norm = QkNorm::PerHead;
            }
            "olmo2" => a.qk_norm = QkNorm::Full,
            "gpt_neox" => {
                a.gated_mlp = false;
                a.norm_bias = true;
                a.qkv_bias = getb(c, "attention_bias").unwrap_or(true);
                a.o_bias = a.qkv_bias;
                a.mlp_bias = true;
            }
            "phi" => {
                a.gated_mlp = false;
                a.norm_bias = true;
                a.norms_per_layer = 1;
                a.qkv_bias = true;
                a.o_bias = true;
                a.mlp_bias = true;
                a.lm_head_bias = true;
            }
            "starcoder2" => {
                let bias = getb(c, "use_bias").unwrap_or(true);
                a.gated_mlp = false;
                a.norm_bias = c
                    .get("norm_type")
                    .and_then(Value::as_str)
                    .unwrap_or("layer_norm")
                    == "layer_norm";
                a.qkv_bias = bias;
                a.o_bias = bias;
                a.mlp_bias = bias;
            }
            "stablelm" => {
                a.norm_bias = true;
                a.qkv_bias = getb(c, "use_qkv_bias").unwrap_or(false);
            }
            "cohere" => {
                a.norms_per_layer = 1;
                a.tied_embeddings = getb(c, "tie_word_embeddings").unwrap_or(true);
            }
            _ => {}
        }
        // MoE.
        let experts = get(
            c,
            &[
                "num_local_experts",
                "num_experts",
                "n_routed_experts",
                "moe_num_experts",
            ],
        );
        if let Some(e) = experts.filter(|e| *e > 1) {
            let active = get(c, &["num_experts_per_tok", "moe_topk", "top_k"]).unwrap_or(2);
            let expert_intermediate =
                get(c, &["moe_intermediate_size", "expert_intermediate_size"])
                    .unwrap_or(intermediate);
            let (shared_intermediate, shared_gate) =
                if let Some(s) = get(c, &["shared_expert_intermediate_size"]) {
                    (s, true)
                } else {
                    (
                        get(c, &["n_shared_experts"]).unwrap_or(0) * expert_intermediate,
                        false,
                    )
                };
            a.moe = Some(Moe {
                experts: e,
                active,
                expert_intermediate,
                shared_intermediate,
                shared_gate,
                first_dense: get(c, &["first_k_dense_replace"]).unwrap_or(0),
                every: get(c, &["moe_layer_freq", "decoder_sparse_step"])
                    .filter(|v| *v > 0)
                    .unwrap_or(1),
            });
            if c.get("mlp_only_layers")
                .and_then(Value::as_array)
                .is_some_and(|l| !l.is_empty())
            {
                notes.push("mlp_only_layers is set: those layers are counted as MoE layers".into());
            }
        }
        // MLA.
        if let Some(r) = get(c, &["kv_lora_rank"]).filter(|r| *r > 0) {
            let nope = get(c, &["qk_nope_head_dim"]).unwrap_or(head_dim);
            let rope = get(c, &["qk_rope_head_dim"]).unwrap_or(0);
            let v = get(c, &["v_head_dim"]).unwrap_or(h / heads);
            a.mla = Some(Mla {
                q_lora_rank: get(c, &["q_lora_rank"]).filter(|q| *q > 0),
                kv_lora_rank: r,
                qk_nope_head_dim: nope,
                qk_rope_head_dim: rope,
                v_head_dim: v,
            });
            a.head_dim = nope + rope;
            a.kv_heads = heads;
        }
        // Sliding window.
        let use_sw = getb(c, "use_sliding_window").unwrap_or(true);
        a.sliding_window = if use_sw {
            get(c, &["sliding_window"]).filter(|w| *w > 0)
        } else {
            None
        };
        if let Some(lt) = c.get("layer_types").and_then(Value::as_array) {
            a.sliding_layers = lt
                .iter()
                .map(|t| t.as_str().is_some_and(|s| s.contains("sliding")))
                .collect();
            if a.sliding_layers.len() as u64 != layers {
                notes.push(format!(
                    "layer_types has {} entries for {layers} layers; ignored",
                    a.sliding_layers.len()
                ));
                a.sliding_layers.clear();
            }
        }
        Ok(a)
    }

    /// Read GGUF metadata (`{arch}.block_count`, `.embedding_length`, …).
    pub fn from_gguf(h: &GgufHeader) -> Result<Arch, FitError> {
        let fam = h.architecture().ok_or_else(|| FitError::Config {
            field: "general.architecture".into(),
            detail: "missing from the GGUF metadata".into(),
        })?;
        let g = |k: &str| h.arch_u64(k);
        let req = |k: &str| {
            g(k).filter(|v| *v > 0).ok_or_else(|| FitError::Config {
                field: format!("{fam}.{k}"),
                detail: "missing from the GGUF metadata".into(),
            })
        };
        let hidden = req("embedding_length")?;
        let heads = req("attention.head_count")?;
        let layers = req("block_count")?;
        let vocab = g("vocab_size")
            .or_else(|| match h.get("tokenizer.ggml.tokens") {
                Some(cambrian_formats::gguf::GgufValue::Array(a)) => Some(a.len),
                _ => None,
            })
            .unwrap_or(0);
        let mut a = Arch {
            layers,
            hidden,
            heads,
            kv_heads: g("attention.head_count_kv").unwrap_or(heads),
            head_dim: g("attention.key_length").unwrap_or(hidden / heads),
            intermediate: g("feed_forward_length").unwrap_or(4 * hidden),
            vocab,
            tied_embeddings: !h.tensors.iter().any(|t| t.name == "output.weight"),
            max_context: g("context_length"),
            decoder: !matches!(fam, "bert" | "nomic-bert" | "jina-bert-v2"),
            ..Arch::blank(fam)
        };
        if let Some(e) = g("expert_count").filter(|e| *e > 1) {
            a.moe = Some(Moe {
                experts: e,
                active: g("expert_used_count").unwrap_or(2),
                expert_intermediate: g("expert_feed_forward_length").unwrap_or(a.intermediate),
                shared_intermediate: g("expert_shared_feed_forward_length").unwrap_or(0),
                shared_gate: false,
                first_dense: g("leading_dense_block_count").unwrap_or(0),
                every: 1,
            });
        }
        if let Some(r) = g("attention.kv_lora_rank").filter(|r| *r > 0) {
            let rope = g("rope.dimension_count").unwrap_or(64);
            a.mla = Some(Mla {
                q_lora_rank: g("attention.q_lora_rank"),
                kv_lora_rank: r,
                qk_nope_head_dim: a.head_dim.saturating_sub(rope),
                qk_rope_head_dim: rope,
                v_head_dim: g("attention.value_length").unwrap_or(a.head_dim),
            });
        }
        if let Some(w) = g("attention.sliding_window").filter(|w| *w > 0) {
            a.sliding_window = Some(w);
            a.sliding_layers = match fam {
                "gemma2" => (0..layers).map(|i| i % 2 == 0).collect(),
                "gemma3" => (0..layers).map(|i| (i + 1) % 6 != 0).collect(),
                _ => vec![true; layers as usize],
            };
        }
        a.notes.push("architecture read from GGUF metadata; parameter and weight figures come from the tensor infos".into());
        Ok(a)
    }

    /// Layers using full (not sliding) attention.
    pub fn full_attention_layers(&self) -> u64 {
        self.layers - self.sliding_layers.iter().filter(|s| **s).count() as u64
    }

    /// Parameters of one attention block.
    fn attention_params(&self) -> u64 {
        let h = self.hidden;
        if let Some(m) = &self.mla {
            let nh = self.heads;
            let qk = m.qk_nope_head_dim + m.qk_rope_head_dim;
            let q = match m.q_lora_rank {
                Some(r) => h * r + r + r * nh * qk,
                None => h * nh * qk,
            };
            let kv = h * (m.kv_lora_rank + m.qk_rope_head_dim)
                + m.kv_lora_rank
                + m.kv_lora_rank * nh * (m.qk_nope_head_dim + m.v_head_dim);
            let o = nh * m.v_head_dim * h;
            return q + kv + o;
        }
        let q = self.heads * self.head_dim;
        let kv = self.kv_heads * self.head_dim;
        let mut p = h * q + 2 * h * kv + q * h;
        if self.qkv_bias {
            p += q + 2 * kv;
        }
        if self.o_bias {
            p += h;
        }
        p += match self.qk_norm {
            QkNorm::None => 0,
            QkNorm::PerHead => 2 * self.head_dim,
            QkNorm::Full => q + kv,
        };
        p
    }

    fn mlp_params(&self, inter: u64) -> u64 {
        let h = self.hidden;
        if self.gated_mlp {
            3 * h * inter + if self.mlp_bias { 2 * inter + h } else { 0 }
        } else {
            2 * h * inter + if self.mlp_bias { inter + h } else { 0 }
        }
    }

    fn is_moe_layer(&self, i: u64) -> bool {
        match &self.moe {
            Some(m) => i >= m.first_dense && (i + 1).is_multiple_of(m.every),
            None => false,
        }
    }

    /// (total, active per token) parameters of the feed-forward part of layer `i`.
    fn ffn_params(&self, i: u64) -> (u64, u64) {
        match &self.moe {
            Some(m) if self.is_moe_layer(i) => {
                let h = self.hidden;
                let expert = self.mlp_params(m.expert_intermediate);
                let shared = if m.shared_intermediate > 0 {
                    self.mlp_params(m.shared_intermediate)
                } else {
                    0
                };
                let router = h * m.experts + if m.shared_gate { h } else { 0 };
                (
                    m.experts * expert + shared + router,
                    m.active * expert + shared + router,
                )
            }
            _ => {
                let p = self.mlp_params(self.intermediate);
                (p, p)
            }
        }
    }

    /// Parameter count implied by the configuration: (total, active per token).
    pub fn param_count(&self) -> (u64, u64) {
        let h = self.hidden;
        let norm = h * if self.norm_bias { 2 } else { 1 };
        let mut embed = self.vocab * h + self.learned_positions * h + self.token_types * h;
        if !self.decoder {
            embed += norm; // embedding LayerNorm
        }
        let mut total = embed;
        let mut active = embed;
        let attn = self.attention_params() + self.norms_per_layer * norm;
        for i in 0..self.layers {
            let (t, a) = self.ffn_params(i);
            total += attn + t;
            active += attn + a;
        }
        let mut tail = 0;
        if self.final_norm {
            tail += norm;
        }
        if !self.tied_embeddings && self.decoder {
            tail += self.vocab * h + if self.lm_head_bias { self.vocab } else { 0 };
        }
        if self.pooler {
            tail += h * h + h;
        }
        (total + tail, active + tail)
    }

    /// Per-token KV cache elements in one full-attention layer, as the engine stores it.
    /// MLA: the compressed latent (`kv_lora_rank + rope dim`) when `compressed`,
    /// else the decompressed K and V (what eager transformers keeps).
    pub fn kv_elems_per_token_layer(&self, compressed_mla: bool) -> u64 {
        match &self.mla {
            Some(m) if compressed_mla => m.kv_lora_rank + m.qk_rope_head_dim,
            Some(m) => {
                self.heads * (m.qk_nope_head_dim + m.qk_rope_head_dim) + self.heads * m.v_head_dim
            }
            None => 2 * self.kv_heads * self.head_dim,
        }
    }

    /// Attention type in words (MHA, GQA, MQA, MLA).
    pub fn attention_kind(&self) -> String {
        if self.mla.is_some() {
            format!(
                "MLA (kv_lora_rank {})",
                self.mla.as_ref().map(|m| m.kv_lora_rank).unwrap_or(0)
            )
        } else if self.kv_heads == 1 {
            "MQA (1 KV head)".into()
        } else if self.kv_heads < self.heads {
            format!(
                "GQA ({} query heads, {} KV heads)",
                self.heads, self.kv_heads
            )
        } else {
            format!("MHA ({} heads)", self.heads)
        }
    }
}

/// `architectures[0]` → `model_type`, for trimmed configs without `model_type`.
fn family_from_architecture(a: &str) -> Option<&'static str> {
    Some(match a {
        "RWForCausalLM" => "RefinedWebModel",
        "FalconForCausalLM" => "falcon",
        "GPT2LMHeadModel" | "GPT2Model" => "gpt2",
        "GPTNeoXForCausalLM" => "gpt_neox",
        "MPTForCausalLM" => "mpt",
        "LlamaForCausalLM" => "llama",
        "MistralForCausalLM" => "mistral",
        "MixtralForCausalLM" => "mixtral",
        "Qwen2ForCausalLM" => "qwen2",
        "PhiForCausalLM" => "phi",
        "BertModel" | "BertForMaskedLM" => "bert",
        _ => return None,
    })
}

fn sliding_pattern(c: &Value, fam: &str, layers: u64, window: Option<u64>) -> Vec<bool> {
    let Some(_) = window else { return Vec::new() };
    match fam {
        // Gemma 2: even layers are local.
        "gemma2" => (0..layers).map(|i| i % 2 == 0).collect(),
        // Gemma 3: every `sliding_window_pattern`-th layer is global.
        "gemma3" | "gemma3_text" => {
            let p = get(c, &["sliding_window_pattern"])
                .filter(|p| *p > 0)
                .unwrap_or(6);
            (0..layers).map(|i| (i + 1) % p != 0).collect()
        }
        // Qwen2-style: layers from max_window_layers on use the window.
        "qwen2" | "qwen2_moe" | "qwen3" | "qwen3_moe" => {
            let from = get(c, &["max_window_layers"]).unwrap_or(layers);
            (0..layers).map(|i| i >= from).collect()
        }
        // Phi-3's sliding_window ≥ context is a no-op.
        "phi3" if window >= get(c, &["max_position_embeddings"]) => vec![false; layers as usize],
        _ => vec![true; layers as usize],
    }
}

/// (native max context, rope-scaled max context when larger, note).
fn context(c: &Value, native: Option<u64>) -> (Option<u64>, Option<u64>, Option<String>) {
    let rs = c.get("rope_scaling").filter(|v| v.is_object()).or_else(|| {
        c.get("rope_parameters")
            .filter(|v| v.get("factor").is_some())
    });
    let Some(rs) = rs else {
        return (native, None, None);
    };
    let ty = rs
        .get("rope_type")
        .or_else(|| rs.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let factor = rs.get("factor").and_then(Value::as_f64).unwrap_or(1.0);
    let orig = get(rs, &["original_max_position_embeddings"])
        .or_else(|| get(c, &["original_max_position_embeddings"]));
    match (ty.as_str(), native) {
        // Llama 3.1 / longrope: max_position_embeddings already is the extended length.
        ("llama3" | "longrope" | "su", Some(n)) => {
            let o = orig.unwrap_or(n);
            if n > o || factor <= 1.0 {
                (
                    Some(n),
                    None,
                    Some(format!(
                        "rope_scaling {ty}: trained at {o} tokens, extended to max_position_embeddings {n}"
                    )),
                )
            } else {
                let ext = (o as f64 * factor) as u64;
                (
                    Some(n),
                    Some(ext),
                    Some(format!(
                        "rope_scaling {ty} factor {factor}: {o} × {factor} = {ext} tokens (max_position_embeddings {n})"
                    )),
                )
            }
        }
        ("yarn" | "linear" | "dynamic", Some(n)) if factor > 1.0 => {
            let base = orig.unwrap_or(n);
            let ext = (base as f64 * factor) as u64;
            if ext > n {
                (
                    Some(n),
                    Some(ext),
                    Some(format!(
                        "rope_scaling {ty} factor {factor}: {base} × {factor} = {ext} tokens (native {n})"
                    )),
                )
            } else {
                (
                    Some(n),
                    None,
                    Some(format!(
                        "rope_scaling {ty} factor {factor} from {base} tokens: max_position_embeddings {n}"
                    )),
                )
            }
        }
        _ => (native, None, None),
    }
}
