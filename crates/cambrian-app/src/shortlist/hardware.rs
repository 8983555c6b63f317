//! The hardware and workload stages of `find`, on top of `cambrian-fit`:
//! every model gets a memory estimate for the requested GPUs and context
//! (weights from the Hub's parameter counts, KV cache and activations from
//! the config when it is known) and, with `--workload`, hours and cost.

use super::details::ModelDetails;
use super::funnel::FindRequest;
use crate::{Error, Result};
use cambrian_fit::{Engine, FitRequest, ModelSource, ModelSpec, Verdict as FitVerdict};
use serde::Serialize;

/// Context used for the memory estimate when `--context` is not given.
pub const DEFAULT_CONTEXT: u64 = 4096;

/// Workload time and cost on the chosen GPUs.
#[derive(Debug, Clone, Serialize)]
pub struct WorkloadOutcome {
    pub hours: f64,
    pub cost_usd: Option<f64>,
    /// Inputs and formula.
    pub basis: String,
}

/// The fit estimate for one model.
#[derive(Debug, Clone, Serialize)]
pub struct HwOutcome {
    pub fits: bool,
    /// The estimator's verdict (`fits`, `tight`, `does-not-fit`, `fits-weights-only`).
    pub verdict: String,
    pub gpu_label: String,
    /// Per GPU.
    pub total_bytes: u64,
    pub available_bytes: u64,
    pub weights_bytes: u64,
    pub kv_cache_bytes: Option<u64>,
    /// Why, with the numbers.
    pub reason: String,
    pub nearest_change: Option<String>,
    pub workload: Option<WorkloadOutcome>,
    pub caveats: Vec<String>,
    /// How the parameter count was obtained.
    pub params_source: String,
    /// The estimator's derivations (figure = value: formula); empty when the model does not fit.
    pub explain: Vec<String>,
}

/// A validated hardware request.
pub struct HwCheck {
    base: FitRequest,
    label: String,
}

fn fit_err(e: cambrian_fit::FitError) -> Error {
    Error::usage(e.to_string())
        .with_hint("`cambrian fit --list-gpus` lists the GPU names; a size such as 24GB also works")
}

fn has_dims(cfg: &serde_json::Value) -> bool {
    cambrian_fit::Arch::from_config(cfg).is_ok()
}

/// The estimator's view of a model from its details.
pub(crate) fn model_spec(d: &ModelDetails) -> std::result::Result<ModelSpec, String> {
    let r = &d.record;
    let mut v = serde_json::json!({ "id": r.id });
    if let Some(s) = &r.safetensors {
        v["safetensors"] = serde_json::to_value(s).unwrap_or_default();
    }
    if let Some(g) = &r.gguf {
        v["gguf"] = serde_json::to_value(g).unwrap_or_default();
    }
    // The estimator uses `config` only when it has dimensions; skip copying one that has none.
    if let Some(c) = d.config.as_ref().filter(|c| has_dims(c)) {
        v["config"] = c.clone();
    }
    let spec =
        ModelSpec::from_source(&r.id, ModelSource::HubModelInfo(v)).map_err(|e| e.to_string())?;
    if spec.params.is_none() && spec.arch.is_none() {
        return Err("parameter count unknown (no safetensors/gguf count on the Hub and no config with dimensions): memory cannot be estimated".into());
    }
    Ok(spec)
}

impl HwCheck {
    /// `None` when no GPU was given (the stage is inactive).
    pub fn new(req: &FindRequest) -> Result<Option<HwCheck>> {
        let Some(g) = &req.gpu else {
            if req.workload.is_some() {
                return Err(Error::usage("--workload needs --gpu").with_hint("add e.g. --gpu 24GB"));
            }
            return Ok(None);
        };
        let gpu = cambrian_fit::parse_gpu(g).map_err(fit_err)?;
        let mut base = FitRequest::new(gpu);
        base.gpus = req.gpus.max(1);
        base.context = req.context.unwrap_or(DEFAULT_CONTEXT).max(1);
        base.engine = match req.engine.as_deref() {
            None => Engine::Transformers,
            Some(e) => e.parse::<Engine>().map_err(|e| {
                Error::usage(e.to_string()).with_hint("engines: transformers, vllm, llamacpp")
            })?,
        };
        if let Some(w) = &req.workload {
            base.workload = Some(cambrian_fit::parse_workload(w).map_err(fit_err)?);
        }
        let label = format!("{} × {}", base.gpus, base.gpu.name);
        Ok(Some(HwCheck { base, label }))
    }

    /// Estimate one model. `Err` when nothing can be estimated (the reason).
    pub fn check(
        &self,
        d: &ModelDetails,
        _params: Option<u64>,
    ) -> std::result::Result<HwOutcome, String> {
        let spec = model_spec(d)?;
        let rep = cambrian_fit::estimate(&spec, &self.base);
        let fits = !matches!(rep.verdict, FitVerdict::DoesNotFit);
        let verdict = serde_json::to_value(rep.verdict)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| rep.verdict.to_string());
        let mut caveats: Vec<String> = rep
            .unknowns
            .iter()
            .map(|u| format!("not estimated: {u}"))
            .collect();
        if rep.verdict == FitVerdict::Tight {
            caveats.push(format!(
                "memory is tight: {}",
                rep.reasons.first().cloned().unwrap_or_default()
            ));
        }
        let reason = if fits {
            rep.reasons.first().cloned().unwrap_or_default()
        } else {
            format!(
                "does not fit {}: {}",
                self.label,
                rep.reasons
                    .iter()
                    .take(3)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        };
        let workload = rep.workload.as_ref().and_then(|w| {
            w.requested.as_ref().map(|o| WorkloadOutcome {
                hours: o.hours,
                cost_usd: o.usd,
                basis: w
                    .explain
                    .first()
                    .map(|e| e.formula.clone())
                    .unwrap_or_default(),
            })
        });
        if self.base.workload.is_some() && workload.is_none() && fits {
            caveats.push("workload time unknown (speed needs the architecture)".into());
        }
        Ok(HwOutcome {
            fits,
            verdict,
            gpu_label: self.label.clone(),
            total_bytes: rep.total_bytes,
            available_bytes: rep.capacity_bytes,
            weights_bytes: rep.weights_bytes,
            kv_cache_bytes: rep.kv_cache_bytes,
            reason,
            nearest_change: rep.nearest_change.clone(),
            workload,
            caveats,
            params_source: rep.params_source.clone(),
            // The derivations are kept for shortlisted models only (an excluded one shows its reason).
            explain: if fits {
                rep.explain
                    .iter()
                    .map(|e| format!("{} = {}: {}", e.figure, e.value, e.formula))
                    .collect()
            } else {
                Vec::new()
            },
        })
    }
}

/// Parameter count computed from `config` when the Hub gives none.
pub fn params_from_config(d: &ModelDetails) -> Option<u64> {
    let cfg = d.config.as_ref().filter(|c| has_dims(c))?;
    ModelSpec::from_source(&d.record.id, ModelSource::Config(cfg.clone()))
        .ok()
        .and_then(|s| s.params)
}

/// Whether a config carries the architecture dimensions (else `config.json` is worth fetching).
pub fn config_has_dims(cfg: Option<&serde_json::Value>) -> bool {
    cfg.is_some_and(has_dims)
}
