//! `cambrian fit`: will a model fit my GPUs, how fast, at what cost?
//!
//! Reads `HF_ENDPOINT` / `HF_TOKEN` here (the facade never reads the
//! environment); the token is never printed. Exit codes: 0 fits or tight,
//! 1 does not fit, 2 bad input, 3 not found, 4 Hub failure.

use crate::cli::Ctx;
use crate::output;
use cambrian_app::fit::{FitArgs, FitOutcome, FitTarget, HubAccess, Verdict, gpu_catalog};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Hub model id (owner/name), model directory, .safetensors/.gguf file, or config.json.
    #[arg(value_name = "MODEL")]
    pub model: Option<String>,
    /// A Hugging Face config.json (instead of MODEL).
    #[arg(long, value_name = "FILE", conflicts_with = "model")]
    pub config: Option<PathBuf>,
    /// GPU: a catalog name (T4, L4, A10G, RTX 4090, A100 80GB, H100, H200, MI300X, M2 Ultra …) or a size like 24GB[@936GB/s].
    #[arg(long, default_value = "H100 80GB")]
    pub gpu: String,
    /// Number of GPUs (tensor parallel).
    #[arg(long, default_value_t = 1)]
    pub gpus: u32,
    /// Tokens per sequence (prompt + output) [default: min(4096, model maximum), or the workload's in + out].
    #[arg(long)]
    pub context: Option<u64>,
    /// Concurrent sequences.
    #[arg(long, default_value_t = 1)]
    pub batch: u32,
    /// Weight format: auto (as stored), fp32, fp16, bf16, fp8, int8, int4, or a GGUF type (Q4_K_M, Q8_0, …).
    #[arg(long, default_value = "auto")]
    pub dtype: String,
    /// KV cache format: auto, fp16, fp8, q8_0, q4_0.
    #[arg(long, default_value = "auto")]
    pub kv_dtype: String,
    /// Engine profile: transformers, vllm, llamacpp.
    #[arg(long, default_value = "transformers")]
    pub engine: String,
    /// A batch job, e.g. "1000000 docs x 1500 in / 200 out": hours and cost per GPU option.
    #[arg(long)]
    pub workload: Option<String>,
    /// Count real input tokens on a sample of the files in DIR with the model's tokenizer.json.
    #[arg(long, value_name = "DIR")]
    pub docs: Option<PathBuf>,
    /// Files sampled from --docs at most.
    #[arg(long, default_value_t = 200)]
    pub docs_sample: usize,
    /// Print each figure's inputs and formula.
    #[arg(long)]
    pub explain: bool,
    /// Hub revision (branch, tag or commit).
    #[arg(long)]
    pub revision: Option<String>,
    /// Hub endpoint [env: HF_ENDPOINT; default: https://huggingface.co].
    #[arg(long)]
    pub endpoint: Option<String>,
    /// List the built-in GPU catalog and exit.
    #[arg(long)]
    pub list_gpus: bool,
}

fn gb(b: u64) -> String {
    format!("{:.2} GB", b as f64 / 1e9)
}

pub async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    if args.list_gpus {
        for g in gpu_catalog() {
            if ctx.json {
                let mut v = serde_json::to_value(g)?;
                v["type"] = "gpu".into();
                output::json_line(&v)?;
            } else {
                output::line(format!(
                    "{:22} {:>9}  {:>10}  {:>12}  {:>8}  {}",
                    g.name,
                    gb(g.memory_bytes),
                    g.bandwidth
                        .map(|b| format!("{:.0} GB/s", b / 1e9))
                        .unwrap_or_default(),
                    g.flops
                        .map(|f| format!("{:.0} TFLOP/s", f / 1e12))
                        .unwrap_or_default(),
                    g.usd_per_hour
                        .map(|p| format!("${p:.2}/h"))
                        .unwrap_or("-".into()),
                    g.source
                ))?;
            }
        }
        return Ok(0);
    }
    let target = match (&args.model, &args.config) {
        (_, Some(c)) => FitTarget::Config(c.clone()),
        (Some(m), None) => FitTarget::from_arg(m, args.revision.clone()),
        (None, None) => {
            return Err(cambrian_app::Error::usage("no model given")
                .with_hint("cambrian fit MODEL_ID | DIR | FILE, or --config config.json")
                .into());
        }
    };
    let endpoint = args
        .endpoint
        .clone()
        .or_else(|| std::env::var("HF_ENDPOINT").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "https://huggingface.co".into());
    let token = std::env::var("HF_TOKEN").ok().filter(|s| !s.is_empty());
    let out = cambrian_app::fit::fit(FitArgs {
        target,
        gpu: args.gpu.clone(),
        gpus: args.gpus,
        context: args.context,
        batch: args.batch,
        dtype: args.dtype.clone(),
        kv_dtype: args.kv_dtype.clone(),
        engine: args.engine.clone(),
        workload: args.workload.clone(),
        docs: args.docs.clone(),
        docs_sample: args.docs_sample,
        hub: HubAccess { endpoint, token },
    })
    .await?;
    if ctx.json {
        render_json(&out)?;
    } else {
        render_text(&out, args.explain)?;
    }
    Ok(if out.report.verdict == Verdict::DoesNotFit {
        1
    } else {
        0
    })
}

fn render_json(out: &FitOutcome) -> anyhow::Result<()> {
    let mut v = serde_json::to_value(&out.report)?;
    if let Some(o) = v.as_object_mut() {
        let mut m = serde_json::Map::new();
        m.insert("type".into(), "fit".into());
        m.insert("source".into(), out.source.clone().into());
        for (k, val) in std::mem::take(o) {
            m.insert(k, val);
        }
        if let Some(t) = &out.transfer {
            m.insert("transfer".into(), serde_json::to_value(t)?);
        }
        if let Some(d) = &out.docs {
            m.insert("docs".into(), serde_json::to_value(d)?);
        }
        *o = m;
    }
    output::json_line(&v)
}

fn render_text(out: &FitOutcome, explain: bool) -> anyhow::Result<()> {
    let r = &out.report;
    output::line(format!(
        "{} on {} × {} ({}), context {}, batch {}: {}",
        r.model,
        r.gpus,
        r.gpu,
        r.engine,
        r.context,
        r.batch,
        r.verdict.to_string().to_uppercase()
    ))?;
    output::line(format!("  source        {}", out.source))?;
    output::line(format!(
        "  params        {}{}",
        r.params
            .map(|p| format!("{:.3} B", p as f64 / 1e9))
            .unwrap_or("unknown".into()),
        match (r.params, r.params_active) {
            (Some(p), Some(a)) if a < p => format!(" ({:.3} B active per token)", a as f64 / 1e9),
            _ => String::new(),
        }
    ))?;
    output::line(format!(
        "  weights       {} ({})",
        gb(r.weights_bytes),
        r.weights_format
    ))?;
    output::line(format!(
        "  KV cache      {}",
        r.kv_cache_bytes.map(gb).unwrap_or("unknown".into())
    ))?;
    output::line(format!(
        "  activations   {}",
        r.activation_peak_bytes.map(gb).unwrap_or("unknown".into())
    ))?;
    output::line(format!("  overhead      {}", gb(r.overhead_bytes)))?;
    output::line(format!(
        "  total/GPU     {} of {}",
        gb(r.total_bytes),
        gb(r.capacity_bytes)
    ))?;
    if let Some(mc) = r.max_context {
        output::line(format!(
            "  context       model maximum {mc}{}",
            r.max_context_that_fits
                .map(|c| format!(", largest that fits here {c}"))
                .unwrap_or_default()
        ))?;
    }
    if let Some(s) = &r.speed {
        output::line(format!(
            "  speed         decode {:.1} tok/s (1 seq), {:.1} tok/s at batch {} ({}-bound); prefill {:.0} tok/s{}",
            s.decode_tok_s_single,
            s.decode_tok_s_batch,
            r.batch,
            s.decode_bound,
            s.prefill_tok_s,
            s.max_concurrent_sequences
                .map(|m| format!("; up to {m} concurrent sequences"))
                .unwrap_or_default()
        ))?;
    }
    for reason in &r.reasons {
        output::line(format!("  - {reason}"))?;
    }
    for s in &r.suggestions {
        output::line(format!(
            "  try {:28} → {} per GPU ({})",
            s.change,
            gb(s.total_bytes_per_gpu),
            s.verdict
        ))?;
    }
    for u in &r.unknowns {
        output::line(format!("  unknown: {u}"))?;
    }
    for n in &r.notes {
        output::line(format!("  note: {n}"))?;
    }
    if let Some(w) = &r.workload {
        output::line(format!(
            "  workload      {} docs × {} in / {} out",
            w.workload.docs, w.workload.input_tokens, w.workload.output_tokens
        ))?;
        if let Some(o) = &w.requested {
            output::line(format!(
                "    requested   {} × {}: {:.1} h{}",
                o.gpus,
                o.gpu,
                o.hours,
                o.usd.map(|u| format!(", ${u:.0}")).unwrap_or_default()
            ))?;
        }
        for o in w.options.iter().take(8) {
            output::line(format!(
                "    {:2} × {:18} {:>9.1} h  {:>10}  ({} concurrent)",
                o.gpus,
                o.gpu,
                o.hours,
                o.usd.map(|u| format!("${u:.0}")).unwrap_or("-".into()),
                o.concurrency
            ))?;
        }
    }
    if let Some(d) = &out.docs {
        output::line(format!(
            "  docs          {} files, {} sampled: mean {:.0} tokens (p50 {}, p95 {}, max {})",
            d.files, d.sampled, d.mean_tokens, d.p50_tokens, d.p95_tokens, d.max_tokens
        ))?;
    }
    if let Some(t) = &out.transfer {
        output::line(format!(
            "  transfer      {} requests, {} bytes",
            t.requests, t.bytes
        ))?;
    }
    if explain {
        output::line("explain:")?;
        for e in &r.explain {
            output::line(format!("  {} = {}\n      {}", e.figure, e.value, e.formula))?;
        }
    }
    Ok(())
}
