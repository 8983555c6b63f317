//! Table-driven over every row of the H200 calibration (testdata/fit/h200_transformers.jsonl,
//! measured with PyTorch + transformers, method in measure_llm_memory.py):
//! weights and KV cache within 1 %, prefill peak within 10 %.
//!
//! The model configs are the rows' own `config` (published config.json values)
//! with the family's defaults, as the measuring script built them.

use cambrian_fit::{
    Engine, FitRequest, KvDtype, ModelSource, ModelSpec, WeightFormat, estimate, parse_gpu,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;

fn rows() -> Vec<Value> {
    let p = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/fit/h200_transformers.jsonl"
    );
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The config the script built: its kwargs plus the class's model_type.
fn config_for(name: &str, kw: &Value) -> Value {
    let mut c = kw.clone();
    let mt = if kw.get("num_local_experts").is_some() {
        "mixtral"
    } else if name.contains("qwen") {
        "qwen2"
    } else if name.contains("mistral") {
        "mistral"
    } else {
        "llama"
    };
    c["model_type"] = json!(mt);
    c
}

struct Model {
    spec: ModelSpec,
    dtype: WeightFormat,
    weight_bytes: f64,
    params: u64,
}

fn request(m: &Model, ctx: u64, batch: u32) -> FitRequest {
    FitRequest {
        context: ctx,
        batch,
        dtype: m.dtype.clone(),
        kv_dtype: KvDtype::Auto,
        engine: Engine::Transformers,
        ..FitRequest::new(parse_gpu("h200").unwrap())
    }
}

fn within(got: f64, want: f64, tol: f64) -> bool {
    (got - want).abs() <= tol * want
}

#[test]
fn every_calibration_row() {
    let mut models: BTreeMap<String, Model> = BTreeMap::new();
    let mut checked = 0;
    let mut failures = Vec::new();
    let mut table = String::new();
    for r in rows() {
        let kind = r["kind"].as_str().unwrap_or("");
        let name = r["model"].as_str().unwrap_or("").to_owned();
        match kind {
            "weights" => {
                let cfg = config_for(&name, &r["config"]);
                let spec = ModelSpec::from_source(&name, ModelSource::Config(cfg)).unwrap();
                let dtype = if r["dtype"] == "float32" {
                    WeightFormat::F32
                } else {
                    WeightFormat::Bf16
                };
                let m = Model {
                    spec,
                    dtype,
                    weight_bytes: r["weight_bytes"].as_f64().unwrap(),
                    params: r["params"].as_u64().unwrap(),
                };
                let rep = estimate(&m.spec, &request(&m, 512, 1));
                let p = rep.params.unwrap();
                table += &format!(
                    "{name} params {p} vs {} | weights {} vs {}\n",
                    m.params, rep.weights_bytes, m.weight_bytes
                );
                if p != m.params {
                    failures.push(format!("{name}: params {p} != measured {}", m.params));
                }
                if !within(rep.weights_bytes as f64, m.weight_bytes, 0.01) {
                    failures.push(format!(
                        "{name}: weights {} vs measured {}",
                        rep.weights_bytes, m.weight_bytes
                    ));
                }
                checked += 1;
                models.insert(name, m);
            }
            "context" | "batch" => {
                let Some(m) = models.get(&name) else {
                    panic!("row before its weights row: {r}")
                };
                let ctx = r["ctx"].as_u64().unwrap();
                let batch = r["batch"].as_u64().unwrap() as u32;
                let rep = estimate(&m.spec, &request(m, ctx, batch));
                let kv = rep.kv_cache_bytes.unwrap() as f64;
                let peak = kv + rep.activation_peak_bytes.unwrap() as f64;
                let measured_peak = r
                    .get("prefill_peak_over_weights")
                    .or_else(|| r.get("peak_over_weights"))
                    .and_then(Value::as_f64)
                    .unwrap();
                let err_peak = (peak - measured_peak) / measured_peak * 100.0;
                let mut line = format!(
                    "{name} {kind} b{batch} ctx{ctx}: peak {peak:.0} vs {measured_peak:.0} ({err_peak:+.2} %)"
                );
                if let Some(mkv) = r.get("kv_and_state_bytes").and_then(Value::as_f64) {
                    line += &format!(
                        " | kv {kv:.0} vs {mkv:.0} ({:+.3} %)",
                        (kv - mkv) / mkv * 100.0
                    );
                    if !within(kv, mkv, 0.01) {
                        failures.push(format!("{name} ctx {ctx}: KV {kv} vs measured {mkv}"));
                    }
                }
                if !within(peak, measured_peak, 0.10) {
                    failures.push(format!("{name} {kind} batch {batch} ctx {ctx}: prefill peak {peak} vs measured {measured_peak} ({err_peak:+.1} %)"));
                }
                table += &line;
                table += "\n";
                checked += 1;
            }
            _ => {}
        }
    }
    println!("{table}");
    assert!(checked >= 30, "only {checked} rows checked");
    assert!(failures.is_empty(), "{}\n{table}", failures.join("\n"));
}

#[test]
fn roofline_rows_are_consistent_with_catalog() {
    // The measured copy rate and matmul rate stay below the H200's datasheet peaks.
    let h200 = parse_gpu("h200").unwrap();
    for r in rows().iter().filter(|r| r["kind"] == "roofline") {
        let v = r["value"].as_f64().unwrap();
        match r["what"].as_str().unwrap() {
            "d2d_copy_read_plus_write_bytes_per_s" => {
                assert!(v < h200.bandwidth.unwrap() && v > 0.8 * h200.bandwidth.unwrap())
            }
            "bf16_matmul_flop_per_s" => {
                assert!(v < h200.flops.unwrap() && v > 0.5 * h200.flops.unwrap())
            }
            _ => {}
        }
    }
    let env = rows().into_iter().find(|r| r["kind"] == "env").unwrap();
    assert_eq!(env["total_memory"].as_u64().unwrap(), h200.memory_bytes);
}

/// The held-back architectures of measure_llm_memory.py (configs in the script):
/// parameter counts equal the published safetensors totals, and the estimate
/// is printed for comparison with the held-back measurements.
#[test]
fn held_back_architectures_parameter_counts() {
    let cases = [
        (
            "llama-2-13b",
            json!({"model_type":"llama","hidden_size":5120,"intermediate_size":13824,"num_hidden_layers":40,"num_attention_heads":40,"num_key_value_heads":40,"vocab_size":32000,"max_position_embeddings":4096}),
            13_015_864_320u64,
        ),
        (
            "qwen2.5-32b",
            json!({"model_type":"qwen2","hidden_size":5120,"intermediate_size":27648,"num_hidden_layers":64,"num_attention_heads":40,"num_key_value_heads":8,"vocab_size":152064,"max_position_embeddings":32768,"tie_word_embeddings":false}),
            32_763_876_352,
        ),
        (
            "mixtral-8x7b",
            json!({"model_type":"mixtral","hidden_size":4096,"intermediate_size":14336,"num_hidden_layers":32,"num_attention_heads":32,"num_key_value_heads":8,"vocab_size":32000,"max_position_embeddings":32768,"num_local_experts":8,"num_experts_per_tok":2}),
            46_702_792_704,
        ),
    ];
    for (name, cfg, want) in cases {
        let spec = ModelSpec::from_source(name, ModelSource::Config(cfg)).unwrap();
        assert_eq!(spec.params, Some(want), "{name}");
        for ctx in [512u64, 8192] {
            let m = Model {
                spec: spec.clone(),
                dtype: WeightFormat::Bf16,
                weight_bytes: 0.0,
                params: want,
            };
            let r = estimate(&m.spec, &request(&m, ctx, 1));
            println!(
                "{name} ctx {ctx}: weights {} kv {} peak-over-weights {}",
                r.weights_bytes,
                r.kv_cache_bytes.unwrap(),
                r.kv_cache_bytes.unwrap() + r.activation_peak_bytes.unwrap()
            );
        }
    }
    // Mixtral: 12.9 B parameters active per token (2 of 8 experts).
    let spec = ModelSpec::from_source("m", ModelSource::Config(json!({"model_type":"mixtral","hidden_size":4096,"intermediate_size":14336,"num_hidden_layers":32,"num_attention_heads":32,"num_key_value_heads":8,"vocab_size":32000,"num_local_experts":8,"num_experts_per_tok":2}))).unwrap();
    assert_eq!(
        spec.params_active,
        Some(46_702_792_704 - 6 * 3 * 4096 * 14336 * 32)
    );
}
