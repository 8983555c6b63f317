//! Architecture reader over the real configs in testdata/fit/configs: every
//! family listed in the issue, old and new Falcon keys, MPT training YAMLs,
//! MoE, MLA, sliding windows, rope_scaling and GGUF metadata.

use cambrian_fit::{Arch, ModelSource, ModelSpec};
use serde_json::{Value, json};

fn td(p: &str) -> String {
    format!("{}/../../testdata/fit/{p}", env!("CARGO_MANIFEST_DIR"))
}

fn json_file(p: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(td(p)).unwrap()).unwrap()
}

fn preset(name: &str) -> Value {
    json_file("configs/mlc_llm_model_presets.json")["presets"][name].clone()
}

fn params(cfg: Value) -> u64 {
    ModelSpec::from_source("t", ModelSource::Config(cfg))
        .unwrap()
        .params
        .unwrap()
}

#[test]
fn print_all_presets() {
    let all = json_file("configs/mlc_llm_model_presets.json");
    for (k, v) in all["presets"].as_object().unwrap() {
        match Arch::from_config(v) {
            Ok(a) => {
                let (t, act) = a.param_count();
                println!(
                    "{k:28} {:14} total {t:>15} active {act:>15} ctx {:?}/{:?} kv {} {}",
                    a.family,
                    a.max_context,
                    a.max_context_scaled,
                    a.attention_kind(),
                    a.notes.join("; ")
                );
            }
            Err(e) => println!("{k:28} ERROR {e}"),
        }
    }
}

/// Published totals (safetensors `total` on the Hub) for presets in the data set.
#[test]
fn family_parameter_counts() {
    let cases: &[(&str, u64)] = &[
        ("llama2_7b", 6_738_415_616),
        ("llama2_13b", 13_015_864_320),
        ("llama2_70b", 68_976_648_192),
        ("codellama_7b", 6_738_546_688),
        ("tinyllama_1b_chat_v1.0", 1_100_048_384),
        ("mistral_7b", 7_241_732_096),
        ("mistral_7b_v03", 7_248_023_552),
        ("Mixtral-8x7B-v0.1", 46_702_792_704),
        ("gpt2", 124_439_808),
        ("gpt2_medium", 354_823_168),
        ("redpajama_3b_v1", 2_775_864_320),
        ("phi-1_5", 1_418_270_720),
        ("phi-2", 2_779_683_840),
        ("phi-3_5", 3_821_079_552),
        ("phi-4", 3_836_021_760), // the preset is Phi-4-mini (tied embeddings)
        ("qwen2_0_5b", 494_032_768),
        ("qwen2_1_5b", 1_543_714_304),
        ("qwen2_7b", 7_615_616_512),
        ("qwen2.5_3b", 3_085_938_688),
        ("qwen3_0.6b", 596_049_920),
        ("qwen3_1.7b", 1_720_574_976),
        ("qwen2moe", 14_315_784_192),
        ("gemma_2b", 2_506_172_416),
        ("gemma2_2b", 2_614_341_888),
        ("gemma2_9b", 9_241_705_984),
        ("gemma2_27b", 27_227_128_320),
        ("gemma3_1b_it", 999_885_952),
        ("llama3_1_8b", 8_030_261_248),
        ("llama3_1_70b", 70_553_706_496),
        ("llama3_2_1b", 1_235_814_400),
        ("llama3_2_3b", 3_212_749_824),
        ("starcoder2", 7_173_923_840),
        ("olmo2_7b", 7_298_617_344),
        ("deepseek_v2_lite", 15_706_484_224),
        ("smollm_135m", 134_515_008),
        ("smollm_360m", 361_821_120),
        ("smollm_1_7b", 1_711_376_384),
        ("gpt_j", 6_050_882_784),
        ("snowflake-arctic-embed-m", 109_482_240),
    ];
    let mut bad = Vec::new();
    for (name, want) in cases {
        let got = params(preset(name));
        if (got as f64 - *want as f64).abs() > 0.005 * *want as f64 {
            bad.push(format!("{name}: {got} vs {want}"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn moe_and_mla() {
    let a = Arch::from_config(&preset("Mixtral-8x7B-v0.1")).unwrap();
    let m = a.moe.as_ref().unwrap();
    assert_eq!((m.experts, m.active), (8, 2));
    let a = Arch::from_config(&preset("deepseek_v2_lite")).unwrap();
    let mla = a.mla.as_ref().unwrap();
    assert_eq!(mla.kv_lora_rank, 512);
    // MLA cache: compressed latent (vLLM/llama.cpp) vs decompressed K,V (eager transformers).
    assert_eq!(a.kv_elems_per_token_layer(true), 512 + 64);
    assert_eq!(
        a.kv_elems_per_token_layer(false),
        16 * (128 + 64) + 16 * 128
    );
    let m = a.moe.as_ref().unwrap();
    assert_eq!(
        (m.experts, m.active, m.first_dense, m.shared_intermediate),
        (64, 6, 1, 2 * 1408)
    );
    // MiniCPM3: MLA with q_lora_rank, v_head_dim = hidden / heads.
    let a = Arch::from_config(&json_file(
        "configs/ollama-testdata_minicpm3-4b.config.json",
    ))
    .unwrap();
    let mla = a.mla.as_ref().unwrap();
    assert_eq!(
        (mla.q_lora_rank, mla.kv_lora_rank, mla.v_head_dim),
        (Some(768), 256, 64)
    );
    let (t, _) = a.param_count();
    // MiniCPM3-4B is published as 4.07 B parameters (tied embeddings, as the MiniCPM family).
    assert!((t as f64 - 4.07e9).abs() < 0.01 * 4.07e9, "{t}");
    assert_eq!(a.max_context, Some(32768));
}

#[test]
fn sliding_windows_and_layer_types() {
    // Gemma 2: alternate local (4096) and global layers.
    let a = Arch::from_config(&preset("gemma2_2b")).unwrap();
    assert_eq!(a.sliding_window, Some(4096));
    assert_eq!(a.full_attention_layers(), 13);
    // Gemma 3: 5 local layers per global one.
    let a = Arch::from_config(&preset("gemma3_1b_it")).unwrap();
    assert_eq!(a.sliding_window, Some(512));
    assert_eq!(a.full_attention_layers(), 4); // layers 6, 12, 18, 24 of 26
    // Qwen: use_sliding_window false → no window.
    let a = Arch::from_config(&preset("qwen3_0.6b")).unwrap();
    assert_eq!(a.sliding_window, None);
    // Explicit layer_types.
    let mut c = preset("llama3_2_1b");
    let n = c["num_hidden_layers"].as_u64().unwrap() as usize;
    c["sliding_window"] = json!(1024);
    c["layer_types"] = json!(
        (0..n)
            .map(|i| if i % 4 == 3 {
                "full_attention"
            } else {
                "sliding_attention"
            })
            .collect::<Vec<_>>()
    );
    let a = Arch::from_config(&c).unwrap();
    assert_eq!(a.full_attention_layers(), (n / 4) as u64);
    // Mistral v0.1-style window on every layer.
    let mut c = preset("mistral_7b");
    c["sliding_window"] = json!(4096);
    let a = Arch::from_config(&c).unwrap();
    assert_eq!(a.full_attention_layers(), 0);
}

#[test]
fn rope_scaling_contexts() {
    let a = Arch::from_config(&json_file("configs/ollama-testdata_llama3.1.config.json")).unwrap();
    assert_eq!(a.max_context, Some(8192));
    assert_eq!(a.max_context_scaled, Some(65536));
    assert_eq!(a.kv_heads, 8);
    let a = Arch::from_config(&preset("llama3_1_8b")).unwrap();
    assert_eq!(a.max_context, Some(131072));
    let a = Arch::from_config(&json_file("configs/ollama-testdata_phi3.config.json")).unwrap();
    assert!(
        a.notes.iter().any(|n| n.contains("longrope")),
        "{:?}",
        a.notes
    );
    let mut c = preset("qwen2_7b");
    c["rope_scaling"] =
        json!({"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768});
    let a = Arch::from_config(&c).unwrap();
    assert_eq!(a.max_context_scaled, Some(131072));
}

#[test]
fn falcon_old_and_new_keys() {
    // Old RW keys (trimmed config: hidden_size, n_head, n_layer; architectures only).
    let old = json!({"architectures": ["RWForCausalLM"], "hidden_size": 4544, "n_head": 71, "n_layer": 32, "vocab_size": 65024});
    let a = Arch::from_config(&old).unwrap();
    assert_eq!((a.layers, a.heads, a.kv_heads, a.head_dim), (32, 71, 1, 64));
    let p = a.param_count().0;
    assert_eq!(p, 6_921_720_704); // Falcon-7B
    // New keys, as in transformers' FalconConfig (falcon-40b style, GQA via num_kv_heads).
    let new = json!({"model_type": "falcon", "hidden_size": 8192, "num_attention_heads": 128, "num_hidden_layers": 60,
        "num_kv_heads": 8, "new_decoder_architecture": true, "parallel_attn": true, "bias": false, "vocab_size": 65024});
    let a = Arch::from_config(&new).unwrap();
    assert_eq!((a.kv_heads, a.norms_per_layer), (8, 2));
    assert!((a.param_count().0 as f64 - 41.3e9).abs() < 0.01 * 41.3e9);
}

/// MPT field names from llm-foundry's training YAMLs (d_model, n_heads, n_layers, expansion_ratio, max_seq_len).
#[test]
fn mpt_yaml_fields() {
    fn yaml_model(p: &str) -> Value {
        let text = std::fs::read_to_string(td(p)).unwrap();
        let mut m = serde_json::Map::new();
        let mut in_model = false;
        let mut max_seq = None;
        for line in text.lines() {
            if line.starts_with("model:") {
                in_model = true;
                continue;
            }
            if in_model && !line.starts_with("  ") && !line.trim().is_empty() {
                in_model = false;
            }
            let t = line.trim();
            if let Some(v) = t.strip_prefix("max_seq_len:")
                && let Ok(n) = v.trim().parse::<u64>()
            {
                max_seq = Some(n);
            }
            if in_model
                && let Some((k, v)) = t.split_once(':')
                && let Ok(n) = v.trim().parse::<u64>()
            {
                m.insert(k.trim().into(), json!(n));
            }
        }
        m.insert("model_type".into(), json!("mpt"));
        m.entry("max_seq_len").or_insert(json!(max_seq));
        Value::Object(m)
    }
    let c7 = yaml_model("configs/mpt-7b.yaml");
    let a = Arch::from_config(&c7).unwrap();
    assert_eq!(
        (a.hidden, a.heads, a.layers, a.intermediate, a.vocab),
        (4096, 32, 32, 16384, 50368)
    );
    assert_eq!(a.max_context, Some(2048));
    // MPT-7B on the Hub: 6.65 B with its padded 50432 vocabulary; the YAML's 50368 gives 0.004 % less.
    assert!((a.param_count().0 as f64 - 6_649_286_656.0).abs() < 0.005 * 6.65e9);
    let a = Arch::from_config(&yaml_model("configs/mpt-30b.yaml")).unwrap();
    assert_eq!((a.hidden, a.layers), (7168, 48));
    assert!((a.param_count().0 as f64 - 29.96e9).abs() < 0.005 * 29.96e9);
}

fn gguf_from_json(p: &str) -> cambrian_formats::gguf::GgufHeader {
    use cambrian_formats::gguf::{GgufHeader, GgufValue};
    let v = json_file(p);
    let metadata = v
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let s = v.as_str().unwrap_or("").to_owned();
            let val = if let Ok(n) = s.parse::<u64>() {
                GgufValue::U64(n)
            } else if let Ok(f) = s.parse::<f64>() {
                GgufValue::F64(f)
            } else {
                GgufValue::String(s)
            };
            (k.clone(), val)
        })
        .collect();
    GgufHeader {
        version: 3,
        metadata,
        tensors: vec![],
        alignment: 32,
        header_end: 0,
        data_start: 0,
        issues: vec![],
    }
}

#[test]
fn gguf_metadata_of_real_models() {
    let a = Arch::from_gguf(&gguf_from_json(
        "configs/gguf_metadata/Mixtral-8x7B-Instruct-v0.1.json",
    ))
    .unwrap();
    assert_eq!(
        (a.layers, a.hidden, a.heads, a.kv_heads, a.max_context),
        (32, 4096, 32, 8, Some(32768))
    );
    assert_eq!(a.moe.as_ref().map(|m| (m.experts, m.active)), Some((8, 2)));
    let a = Arch::from_gguf(&gguf_from_json(
        "configs/gguf_metadata/Meta-Llama-3-8B-Instruct.json",
    ))
    .unwrap();
    assert_eq!((a.layers, a.kv_heads, a.intermediate), (32, 8, 14336));
    for f in std::fs::read_dir(td("configs/gguf_metadata")).unwrap() {
        let p = f.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if name == "INDEX.json" {
            continue;
        }
        let h = gguf_from_json(&format!("configs/gguf_metadata/{name}"));
        match Arch::from_gguf(&h) {
            Ok(a) => assert!(a.layers > 0 && a.hidden > 0, "{name}"),
            // Some ollama fixtures hold only a few keys: the error names the missing one.
            Err(e) => assert!(
                e.to_string().contains("missing from the GGUF metadata"),
                "{name}: {e}"
            ),
        }
    }
}

#[test]
fn bad_configs_are_clear_errors() {
    assert!(Arch::from_config(&json!([1, 2])).is_err());
    let e = Arch::from_config(&json!({"model_type": "llama", "hidden_size": 4096})).unwrap_err();
    assert!(e.to_string().contains("num_hidden_layers"), "{e}");
    let e = Arch::from_config(&json!({"model_type": "llama", "hidden_size": -5, "num_hidden_layers": 2, "num_attention_heads": 2, "vocab_size": 10})).unwrap_err();
    assert!(e.to_string().contains("hidden"), "{e}");
    let e = Arch::from_config(&json!({"model_type": "llama", "hidden_size": 1e300, "num_hidden_layers": 2, "num_attention_heads": 2, "vocab_size": 10})).unwrap_err();
    assert!(e.to_string().contains("hidden"), "{e}");
}
