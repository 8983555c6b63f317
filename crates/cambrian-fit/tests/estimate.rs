//! Verdicts, reasons, suggestions, engines, tensor parallel, params-only
//! models, speed and workloads.

use cambrian_fit::*;
use serde_json::{Value, json};

fn preset(name: &str) -> Value {
    let p = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/fit/configs/mlc_llm_model_presets.json"
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    v["presets"][name].clone()
}

fn spec(name: &str) -> ModelSpec {
    ModelSpec::from_source(name, ModelSource::Config(preset(name))).unwrap()
}

fn req(gpu: &str) -> FitRequest {
    FitRequest::new(parse_gpu(gpu).unwrap())
}

#[test]
fn seven_b_fits_on_one_h100_and_not_on_a_t4() {
    let m = spec("llama3_1_8b");
    let r = estimate(
        &m,
        &FitRequest {
            context: 8192,
            ..req("h100")
        },
    );
    assert_eq!(r.verdict, Verdict::Fits, "{:?}", r.reasons);
    assert_eq!(r.weights_bytes, 2 * 8_030_261_248);
    // 2 × 32 layers × 8 KV heads × 128 × 8192 tokens × 2 B = 1 GiB.
    assert_eq!(r.kv_cache_bytes, Some(1 << 30));
    assert!(r.total_bytes > r.weights_bytes + (1 << 30));
    assert!(
        r.explain
            .iter()
            .any(|e| e.figure == "KV cache" && e.formula.contains("8 KV heads"))
    );
    let r = estimate(&m, &req("t4"));
    assert_eq!(r.verdict, Verdict::DoesNotFit);
    assert!(r.reasons[0].contains("needs"), "{:?}", r.reasons);
    // Nearest change: a quantized format or another GPU, with the resulting size.
    let near = r.nearest_change.clone().unwrap();
    assert!(near.contains("--dtype") || near.contains("--gpu"), "{near}");
    for s in &r.suggestions {
        assert!(matches!(s.verdict, Verdict::Fits | Verdict::Tight), "{s:?}");
    }
    assert!(r.suggestions.iter().any(|s| s.change == "--dtype int4"));
}

#[test]
fn seventy_b_needs_several_gpus_unless_quantized() {
    let m = spec("llama3_1_70b");
    let one = estimate(&m, &req("h100"));
    assert_eq!(one.verdict, Verdict::DoesNotFit);
    assert!(
        one.suggestions
            .iter()
            .any(|s| s.change == "--gpus 2" || s.change == "--gpus 3"),
        "{:?}",
        one.suggestions
    );
    let two = estimate(
        &m,
        &FitRequest {
            gpus: 2,
            ..req("h100")
        },
    );
    assert_ne!(two.verdict, Verdict::DoesNotFit, "{:?}", two.reasons);
    let q = estimate(
        &m,
        &FitRequest {
            dtype: WeightFormat::Int4,
            ..req("h100")
        },
    );
    assert_eq!(q.verdict, Verdict::Fits);
    // int4: 4.25 bits for linear weights, embeddings and LM head stay 16-bit.
    let emb = 2.0 * 128256.0 * 8192.0;
    let want = (70_553_706_496.0 - emb) * 4.25 / 8.0 + emb * 2.0;
    assert!((q.weights_bytes as f64 - want).abs() < 1e3);
}

#[test]
fn kv_dtype_and_context_suggestions() {
    let m = spec("llama3_1_8b");
    // 24 GB card, 128k context: the KV cache (16 GiB at fp16) does not fit.
    let r = estimate(
        &m,
        &FitRequest {
            context: 131072,
            ..req("rtx 4090")
        },
    );
    assert_eq!(r.verdict, Verdict::DoesNotFit);
    let ctx = r
        .suggestions
        .iter()
        .find(|s| s.change.starts_with("--context"))
        .expect("context suggestion");
    assert_ne!(ctx.verdict, Verdict::DoesNotFit);
    let fp8 = estimate(
        &m,
        &FitRequest {
            context: 131072,
            kv_dtype: KvDtype::Fp8,
            ..req("rtx 4090")
        },
    );
    assert_eq!(fp8.kv_cache_bytes.unwrap() * 2, r.kv_cache_bytes.unwrap());
    assert!(r.max_context_that_fits.unwrap() < 131072);
}

#[test]
fn params_only_gets_weights_and_says_what_is_unknown() {
    let m = ModelSpec::from_source(
        "x",
        ModelSource::ParamsOnly {
            total: 7_000_000_000,
            per_dtype: [("BF16".to_string(), 7_000_000_000)].into(),
        },
    )
    .unwrap();
    let r = estimate(&m, &req("h100"));
    assert_eq!(r.weights_bytes, 14_000_000_000);
    assert_eq!(r.kv_cache_bytes, None);
    assert_eq!(r.verdict, Verdict::FitsWeightsOnly);
    assert!(
        r.unknowns.iter().any(|u| u.contains("KV cache")),
        "{:?}",
        r.unknowns
    );
    let big = ModelSpec::from_source(
        "y",
        ModelSource::ParamsOnly {
            total: 13_000_000_000,
            per_dtype: Default::default(),
        },
    )
    .unwrap();
    let r = estimate(&big, &req("t4"));
    assert_eq!(r.verdict, Verdict::DoesNotFit);
    assert!(
        r.explain
            .iter()
            .any(|e| e.formula.contains("16-bit assumed"))
    );
    let j = serde_json::to_value(&r).unwrap();
    for k in [
        "params",
        "weights_bytes",
        "kv_cache_bytes",
        "activation_peak_bytes",
        "overhead_bytes",
        "total_bytes",
        "verdict",
        "reasons",
    ] {
        assert!(j.get(k).is_some(), "{k}");
    }
    assert_eq!(j["verdict"], "does-not-fit");
}

#[test]
fn engines_differ_as_documented() {
    let m = spec("mistral_7b");
    let t = estimate(&m, &req("l4"));
    let v = estimate(
        &m,
        &FitRequest {
            engine: Engine::Vllm,
            ..req("l4")
        },
    );
    // vLLM may use 90 % of the card.
    assert_eq!(v.capacity_bytes, (t.capacity_bytes as f64 * 0.9) as u64);
    assert!(v.speed.as_ref().unwrap().max_concurrent_sequences.is_some());
    let l = estimate(
        &m,
        &FitRequest {
            engine: Engine::Llamacpp,
            dtype: WeightFormat::Gguf("Q4_K_M".into()),
            ..req("l4")
        },
    );
    assert_eq!(l.verdict, Verdict::Fits);
    // Q4_K nominal 4.5 bits per weight.
    assert_eq!(l.weights_bytes, (7_241_732_096f64 * 4.5 / 8.0) as u64);
    // llama.cpp default KV cache is fp16 even for an fp32 model.
    assert_eq!(l.kv_cache_bytes, t.kv_cache_bytes);
}

#[test]
fn llamacpp_layer_offload_reason() {
    let m = spec("llama3_1_70b");
    let r = estimate(
        &m,
        &FitRequest {
            engine: Engine::Llamacpp,
            dtype: WeightFormat::Gguf("Q4_K_M".into()),
            ..req("rtx 4090")
        },
    );
    assert_eq!(r.verdict, Verdict::DoesNotFit);
    assert!(
        r.reasons.iter().any(|x| x.contains("-ngl")),
        "{:?}",
        r.reasons
    );
}

#[test]
fn tensor_parallel_splits_weights() {
    let m = spec("llama2_13b");
    let one = estimate(&m, &req("a100-40gb"));
    let two = estimate(
        &m,
        &FitRequest {
            gpus: 2,
            ..req("a100-40gb")
        },
    );
    assert!(two.total_bytes < one.total_bytes);
    assert!((two.total_bytes as f64) > one.weights_bytes as f64 / 2.0);
    let s1 = one.speed.unwrap();
    let s2 = two.speed.unwrap();
    assert!(s2.decode_tok_s_single > s1.decode_tok_s_single);
}

#[test]
fn speed_is_bandwidth_bound_at_batch_1_and_compute_bound_at_large_batch() {
    let m = spec("llama3_1_8b");
    let v1 = estimate(
        &m,
        &FitRequest {
            engine: Engine::Vllm,
            context: 1024,
            ..req("h100")
        },
    )
    .speed
    .unwrap();
    assert_eq!(v1.decode_bound, "memory bandwidth");
    // 16.06 GB / (3.35 TB/s × 0.8) ≈ 6 ms per step → ~167 tok/s.
    assert!(
        (v1.decode_tok_s_single - 3.35e12 * 0.8 / 16.06e9).abs() < 10.0,
        "{}",
        v1.decode_tok_s_single
    );
    let vb = estimate(
        &m,
        &FitRequest {
            engine: Engine::Vllm,
            context: 128,
            batch: 512,
            ..req("h100")
        },
    )
    .speed
    .unwrap();
    assert_eq!(vb.decode_bound, "compute");
    assert!(vb.decode_tok_s_batch > 20.0 * v1.decode_tok_s_single);
    // Eager transformers: launch-bound at batch 1 (calibration: ~18 ms/step for 8B on H200).
    let h200 = estimate(
        &m,
        &FitRequest {
            context: 512,
            ..req("h200")
        },
    )
    .speed
    .unwrap();
    assert_eq!(h200.decode_bound, "kernel launches");
    let ms = 1000.0 / h200.decode_tok_s_single;
    assert!((15.0..25.0).contains(&ms), "{ms} ms (measured 18.8)");
}

#[test]
fn custom_gpu_has_no_speed_and_says_so() {
    let m = spec("llama3_2_1b");
    let r = estimate(&m, &req("24GB"));
    assert!(r.speed.is_none());
    assert!(r.unknowns.iter().any(|u| u.contains("bandwidth")));
    assert_eq!(r.verdict, Verdict::Fits);
}

#[test]
fn workload_hours_and_cost() {
    let m = spec("llama3_1_8b");
    let w = parse_workload("1000000 docs x 1500 in / 200 out").unwrap();
    let r = estimate(
        &m,
        &FitRequest {
            engine: Engine::Vllm,
            workload: Some(w.clone()),
            ..req("h100")
        },
    );
    let est = r.workload.unwrap();
    let o = est.requested.unwrap();
    assert!(o.hours > 0.5 && o.hours < 200.0, "{}", o.hours);
    assert!((o.usd.unwrap() - o.hours * 2.99).abs() < 1e-6);
    assert!(!est.options.is_empty());
    // Cheapest first.
    for pair in est.options.windows(2) {
        assert!(pair[0].usd.unwrap() <= pair[1].usd.unwrap());
    }
    // No option on a GPU where the model does not fit.
    assert!(est.options.iter().all(|o| o.verdict != Verdict::DoesNotFit));
    assert!(r.explain.iter().any(|e| e.figure.starts_with("workload")));
}

#[test]
fn weight_formats_parse() {
    assert_eq!("bf16".parse::<WeightFormat>().unwrap(), WeightFormat::Bf16);
    assert_eq!(
        "q4_k_m".parse::<WeightFormat>().unwrap(),
        WeightFormat::Gguf("Q4_K_M".into())
    );
    assert_eq!(gguf_main_type("Q4_K_M").unwrap().name, "Q4_K");
    assert_eq!(gguf_main_type("IQ3_M").unwrap().name, "IQ3_S");
    assert!("q9_z".parse::<WeightFormat>().is_err());
    assert!("fp4".parse::<KvDtype>().is_err());
    assert!("tensorrt".parse::<Engine>().is_err());
}

#[test]
fn moe_speed_reads_only_active_experts_at_batch_1() {
    let m = spec("Mixtral-8x7B-v0.1");
    let r = estimate(
        &m,
        &FitRequest {
            engine: Engine::Vllm,
            context: 1024,
            ..req("h200")
        },
    );
    let s = r.speed.unwrap();
    // Bandwidth-bound on ~12.9 B active params (25.8 GB), not 46.7 B.
    let dense_equiv = 4.8e12 * 0.8 / (2.0 * 46.7e9);
    assert!(
        s.decode_tok_s_single > 2.5 * dense_equiv,
        "{}",
        s.decode_tok_s_single
    );
    let _ = json!({});
}

#[test]
fn gguf_file_weights_are_exact() {
    let p = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/fit/llama-2-tiny-random.gguf"
    );
    let b = std::fs::read(p).unwrap();
    let h = cambrian_formats::gguf::parse(&b, Some(b.len() as u64), &Default::default())
        .unwrap()
        .complete()
        .unwrap();
    let bytes = h.data_bytes();
    let m = ModelSpec::from_source("tiny", ModelSource::Gguf(Box::new(h))).unwrap();
    let r = estimate(
        &m,
        &FitRequest {
            engine: Engine::Llamacpp,
            context: 4096,
            ..req("t4")
        },
    );
    assert_eq!(r.weights_bytes, bytes);
    // 2 × 1 layer × 2 KV heads × 4 head_dim × 4096 × 2 B.
    assert_eq!(r.kv_cache_bytes, Some(2 * 2 * 4 * 4096 * 2));
    assert_eq!(r.max_context, Some(4096));
}
