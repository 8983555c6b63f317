//! Repository files served by `/{id}/resolve/{rev}/{file}`: real files under
//! `DIR/repos/<owner>/<name>/`, and virtual files whose bytes are computed —
//! a safetensors file is its real header followed by a data region of zeros
//! that is streamed, never allocated.

use crate::population::{GenFiles, SimModel};
use bytes::Bytes;
use serde_json::{Map, Value, json};
use std::path::PathBuf;

/// A 7B-class sharded repository whose headers describe the tensors of
/// Llama-2-7B (`meta-llama/Llama-2-7b-hf`: 32 layers, hidden 4096,
/// intermediate 11008, vocab 32000, F16), split into two shards like the
/// original.
pub const LLAMA2_7B_SIM_ID: &str = "cambrian-sim/Llama-2-7b-hf-sim";
pub const LLAMA2_FILES: &[&str] = &[
    "config.json",
    "generation_config.json",
    "model-00001-of-00002.safetensors",
    "model-00002-of-00002.safetensors",
    "model.safetensors.index.json",
];
/// Bytes of tensor data in the first shard before the next tensor starts the
/// second one (the original's first shard holds 9,976,576,152 bytes).
const SHARD1_LIMIT: u64 = 9_976_576_152;

/// The bytes of a file, possibly virtual.
#[derive(Debug, Clone)]
pub enum FileBody {
    Bytes(Bytes),
    /// `header` followed by `total - header.len()` zero bytes.
    Zeros {
        header: Bytes,
        total: u64,
    },
    Disk {
        path: PathBuf,
        len: u64,
    },
}

impl FileBody {
    pub fn len(&self) -> u64 {
        match self {
            FileBody::Bytes(b) => b.len() as u64,
            FileBody::Zeros { total, .. } => *total,
            FileBody::Disk { len, .. } => *len,
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn llama2_tensors() -> Vec<(String, Vec<u64>)> {
    let (h, i, v, l) = (4096u64, 11008u64, 32000u64, 32);
    let mut t = vec![("model.embed_tokens.weight".to_string(), vec![v, h])];
    for n in 0..l {
        let p = format!("model.layers.{n}");
        t.push((format!("{p}.self_attn.q_proj.weight"), vec![h, h]));
        t.push((format!("{p}.self_attn.k_proj.weight"), vec![h, h]));
        t.push((format!("{p}.self_attn.v_proj.weight"), vec![h, h]));
        t.push((format!("{p}.self_attn.o_proj.weight"), vec![h, h]));
        t.push((format!("{p}.mlp.gate_proj.weight"), vec![i, h]));
        t.push((format!("{p}.mlp.up_proj.weight"), vec![i, h]));
        t.push((format!("{p}.mlp.down_proj.weight"), vec![h, i]));
        t.push((format!("{p}.input_layernorm.weight"), vec![h]));
        t.push((format!("{p}.post_attention_layernorm.weight"), vec![h]));
    }
    t.push(("model.norm.weight".to_string(), vec![h]));
    t.push(("lm_head.weight".to_string(), vec![v, h]));
    t
}

/// 6,738,415,616 — the parameter count of Llama-2-7B.
pub fn llama2_param_count() -> u64 {
    llama2_tensors()
        .iter()
        .map(|(_, s)| s.iter().product::<u64>())
        .sum()
}

/// A safetensors header (8-byte little-endian length + JSON padded with
/// spaces to a multiple of 8) for `tensors` laid out back to back.
pub fn safetensors_header(tensors: &[(String, String, Vec<u64>)]) -> (Bytes, u64) {
    let mut o = Map::new();
    o.insert("__metadata__".into(), json!({ "format": "pt" }));
    let mut off = 0u64;
    for (name, dtype, shape) in tensors {
        let size = shape.iter().product::<u64>() * dtype_size(dtype);
        o.insert(
            name.clone(),
            json!({ "dtype": dtype, "shape": shape, "data_offsets": [off, off + size] }),
        );
        off += size;
    }
    let mut text = Value::Object(o).to_string();
    while !text.len().is_multiple_of(8) {
        text.push(' ');
    }
    let mut buf = Vec::with_capacity(8 + text.len());
    buf.extend_from_slice(&(text.len() as u64).to_le_bytes());
    buf.extend_from_slice(text.as_bytes());
    (Bytes::from(buf), off)
}

fn dtype_size(d: &str) -> u64 {
    match d {
        "F64" | "I64" | "U64" => 8,
        "F32" | "I32" | "U32" => 4,
        "F16" | "BF16" | "I16" | "U16" => 2,
        _ => 1,
    }
}

fn llama2_shards() -> [Vec<(String, String, Vec<u64>)>; 2] {
    let mut shards: [Vec<(String, String, Vec<u64>)>; 2] = [Vec::new(), Vec::new()];
    let mut used = 0u64;
    for (name, shape) in llama2_tensors() {
        let size = shape.iter().product::<u64>() * 2;
        let s = if used + size <= SHARD1_LIMIT && shards[1].is_empty() {
            0
        } else {
            1
        };
        if s == 0 {
            used += size;
        }
        shards[s].push((name, "F16".to_string(), shape));
    }
    shards
}

/// The virtual files of the declared Llama-2-7B-like repository.
pub fn llama2_file(file: &str) -> Option<FileBody> {
    let shards = llama2_shards();
    match file {
        "config.json" => Some(FileBody::Bytes(Bytes::from(
            json!({
                "architectures": ["LlamaForCausalLM"], "bos_token_id": 1, "eos_token_id": 2,
                "hidden_act": "silu", "hidden_size": 4096, "initializer_range": 0.02,
                "intermediate_size": 11008, "max_position_embeddings": 4096, "model_type": "llama",
                "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 32,
                "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_scaling": null,
                "tie_word_embeddings": false, "torch_dtype": "float16",
                "transformers_version": "4.31.0.dev0", "use_cache": true, "vocab_size": 32000
            })
            .to_string(),
        ))),
        "generation_config.json" => Some(FileBody::Bytes(Bytes::from(
            json!({ "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0, "temperature": 0.6, "top_p": 0.9 }).to_string(),
        ))),
        "model.safetensors.index.json" => {
            let mut map = Map::new();
            let mut total = 0u64;
            for (i, shard) in shards.iter().enumerate() {
                let fname = format!("model-0000{}-of-00002.safetensors", i + 1);
                for (n, d, s) in shard {
                    total += s.iter().product::<u64>() * dtype_size(d);
                    map.insert(n.clone(), Value::String(fname.clone()));
                }
            }
            Some(FileBody::Bytes(Bytes::from(
                json!({ "metadata": { "total_size": total }, "weight_map": map }).to_string(),
            )))
        }
        "model-00001-of-00002.safetensors" | "model-00002-of-00002.safetensors" => {
            let idx = if file.starts_with("model-00001") { 0 } else { 1 };
            let (header, data) = safetensors_header(&shards[idx]);
            let total = header.len() as u64 + data;
            Some(FileBody::Zeros { header, total })
        }
        _ => None,
    }
}

/// Virtual files of a generated model.
pub fn generated_file(m: &SimModel, g: &GenFiles, file: &str) -> Option<FileBody> {
    match file {
        ".gitattributes" => Some(FileBody::Bytes(Bytes::from_static(
            b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n",
        ))),
        "README.md" => {
            let mut s = String::from("---\n");
            if !g.license.is_empty() {
                s.push_str(&format!("license: {}\n", g.license));
            }
            if let Some(p) = &m.pipeline_tag {
                s.push_str(&format!("pipeline_tag: {p}\n"));
            }
            s.push_str(&format!(
                "---\n\n# {}\n\nA generated model of cambrian-hubsim.\n",
                m.id
            ));
            Some(FileBody::Bytes(Bytes::from(s)))
        }
        "config.json" => {
            let mut o = Map::new();
            if let Some(a) = &g.architecture {
                o.insert("architectures".into(), json!([a]));
            }
            if let Some(t) = &g.model_type {
                o.insert("model_type".into(), json!(t));
            }
            Some(FileBody::Bytes(Bytes::from(Value::Object(o).to_string())))
        }
        "model.safetensors" if !g.params.is_empty() => {
            let tensors: Vec<_> = g
                .params
                .iter()
                .map(|(d, n)| {
                    (
                        format!("weight.{}", d.to_ascii_lowercase()),
                        d.clone(),
                        vec![*n],
                    )
                })
                .collect();
            let (header, data) = safetensors_header(&tensors);
            let total = header.len() as u64 + data;
            Some(FileBody::Zeros { header, total })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llama2_counts_and_header() {
        assert_eq!(llama2_param_count(), 6_738_415_616);
        let shards = llama2_shards();
        assert!(!shards[0].is_empty() && !shards[1].is_empty());
        let Some(FileBody::Zeros { header, total }) =
            llama2_file("model-00001-of-00002.safetensors")
        else {
            panic!("shard 1 missing")
        };
        let n = u64::from_le_bytes(header[..8].try_into().unwrap());
        assert_eq!(n as usize + 8, header.len());
        assert_eq!(n % 8, 0);
        assert!(header.len() < 1_000_000);
        let v: Value = serde_json::from_slice(&header[8..]).unwrap();
        let emb = &v["model.embed_tokens.weight"];
        assert_eq!(emb["shape"], json!([32000, 4096]));
        assert_eq!(emb["data_offsets"][0], json!(0));
        assert!(total > 9_000_000_000 && total < 10_100_000_000);
    }
}
