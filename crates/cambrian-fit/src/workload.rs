//! Workloads (`"1000000 docs x 1500 in / 200 out"`) → hours and cost per GPU option.

use crate::{
    Engine, Explain, FitError, FitRequest, ModelSpec, Verdict, gpu_catalog, quick, quick_speed,
};
use serde::Serialize;

/// A batch job: `docs` documents of `input_tokens` in and `output_tokens` out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Workload {
    pub docs: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// Time and cost of a workload on one GPU option.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkloadOption {
    pub gpu: String,
    pub gpus: u32,
    pub verdict: Verdict,
    /// Sequences processed concurrently.
    pub concurrency: u64,
    pub hours: f64,
    pub usd: Option<f64>,
}

/// The workload estimate for the requested GPU and the catalog alternatives.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkloadEstimate {
    pub workload: Workload,
    /// The requested configuration (None when it does not fit or speed is unknown).
    pub requested: Option<WorkloadOption>,
    /// Catalog GPUs on which the model fits, cheapest first.
    pub options: Vec<WorkloadOption>,
    pub explain: Vec<Explain>,
}

fn parse_count(s: &str, input: &str) -> Result<u64, FitError> {
    let t = s.trim().replace(['_', ','], "");
    let (num, mult) = match t.chars().last().map(|c| c.to_ascii_lowercase()) {
        Some('k') => (&t[..t.len() - 1], 1e3),
        Some('m') => (&t[..t.len() - 1], 1e6),
        Some('b') | Some('g') => (&t[..t.len() - 1], 1e9),
        _ => (t.as_str(), 1.0),
    };
    let v: f64 = num.trim().parse().map_err(|_| FitError::Workload {
        input: input.into(),
        detail: format!("{s:?} is not a number (e.g. 1000000, 1.5k, 2M)"),
    })?;
    let r = v * mult;
    if !(r.is_finite() && (1.0..1e15).contains(&r)) {
        return Err(FitError::Workload {
            input: input.into(),
            detail: format!("{s:?} must be between 1 and 10^15"),
        });
    }
    Ok(r.round() as u64)
}

/// Parse `"N docs x IN in / OUT out"` (also `×`, `*`, `k`/`M` suffixes).
pub fn parse_workload(s: &str) -> Result<Workload, FitError> {
    let norm = s.replace(['×', '*'], " x ");
    let (left, right) = norm.split_once(" x ").ok_or_else(|| FitError::Workload {
        input: s.into(),
        detail: "expected \"N docs x IN in / OUT out\"".into(),
    })?;
    let docs = left
        .trim()
        .trim_end_matches("documents")
        .trim_end_matches("docs")
        .trim_end_matches("doc");
    let (inp, out) = right.split_once('/').ok_or_else(|| FitError::Workload {
        input: s.into(),
        detail: "expected \"IN in / OUT out\" after the x".into(),
    })?;
    let inp = inp
        .trim()
        .trim_end_matches("tokens")
        .trim()
        .trim_end_matches("in")
        .trim();
    let out = out
        .trim()
        .trim_end_matches("tokens")
        .trim()
        .trim_end_matches("out")
        .trim();
    Ok(Workload {
        docs: parse_count(docs, s)?,
        input_tokens: parse_count(inp, s)?,
        output_tokens: parse_count(out, s)?,
    })
}

fn run(model: &ModelSpec, req: &FitRequest, w: &Workload) -> Option<(WorkloadOption, String)> {
    let ctx = w.input_tokens + w.output_tokens;
    let base = FitRequest {
        context: ctx,
        batch: 1,
        ..req.clone()
    };
    let (_, v) = quick(model, &base);
    if v == Verdict::DoesNotFit {
        return None;
    }
    let s1 = quick_speed(model, &base)?;
    let cap = match req.engine {
        Engine::Vllm => crate::VLLM_MAX_NUM_SEQS,
        _ => req.batch.max(1) as u64,
    };
    let conc = s1
        .max_concurrent_sequences
        .unwrap_or(1)
        .clamp(1, cap.max(1));
    let r = FitRequest {
        batch: conc as u32,
        ..base
    };
    let s = quick_speed(model, &r)?;
    let prefill_s = (w.docs * w.input_tokens) as f64 / s.prefill_tok_s;
    let decode_s = (w.docs * w.output_tokens) as f64 / s.decode_tok_s_batch;
    let hours = (prefill_s + decode_s) / 3600.0;
    let usd = req
        .gpu
        .usd_per_hour
        .map(|p| p * hours * req.gpus.max(1) as f64);
    let f = format!(
        "({} docs × {} in) / {:.0} prefill tok/s + ({} docs × {} out) / {:.1} decode tok/s at {conc} concurrent sequences = {hours:.2} h{}",
        w.docs,
        w.input_tokens,
        s.prefill_tok_s,
        w.docs,
        w.output_tokens,
        s.decode_tok_s_batch,
        req.gpu
            .usd_per_hour
            .map(|p| format!(" × ${p}/h × {} GPU(s)", req.gpus.max(1)))
            .unwrap_or_default()
    );
    Some((
        WorkloadOption {
            gpu: req.gpu.name.clone(),
            gpus: req.gpus.max(1),
            verdict: v,
            concurrency: conc,
            hours,
            usd,
        },
        f,
    ))
}

pub(crate) fn estimate_workload(
    model: &ModelSpec,
    req: &FitRequest,
    w: &Workload,
) -> WorkloadEstimate {
    let mut explain = Vec::new();
    let requested = run(model, req, w).map(|(o, f)| {
        explain.push(Explain {
            figure: format!("workload on {} × {}", o.gpus, o.gpu),
            value: format!("{:.2} h", o.hours),
            formula: f,
        });
        o
    });
    let mut options = Vec::new();
    for g in gpu_catalog() {
        if g.usd_per_hour.is_none() {
            continue;
        }
        for n in [1u32, 2, 4, 8] {
            let r = FitRequest {
                gpu: g.clone(),
                gpus: n,
                ..req.clone()
            };
            if let Some((o, _)) = run(model, &r, w) {
                options.push(o);
                break;
            }
        }
    }
    options.sort_by(|a, b| {
        a.usd
            .unwrap_or(f64::MAX)
            .total_cmp(&b.usd.unwrap_or(f64::MAX))
    });
    WorkloadEstimate {
        workload: w.clone(),
        requested,
        options,
        explain,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_workloads() {
        let w = parse_workload("1000000 docs x 1500 in / 200 out").unwrap();
        assert_eq!(
            w,
            Workload {
                docs: 1_000_000,
                input_tokens: 1500,
                output_tokens: 200
            }
        );
        let w = parse_workload("1M docs × 1.5k in / 200 out").unwrap();
        assert_eq!(
            w,
            Workload {
                docs: 1_000_000,
                input_tokens: 1500,
                output_tokens: 200
            }
        );
        assert!(parse_workload("lots of docs").is_err());
        assert!(parse_workload("10 docs x abc in / 2 out").is_err());
        assert!(parse_workload("0 docs x 1 in / 2 out").is_err());
    }
}
