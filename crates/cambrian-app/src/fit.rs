//! `fit` use case: resolve a model (Hub id, directory, file, or config.json)
//! into a [`cambrian_fit::ModelSpec`] — reading only file *headers*, locally
//! or through HTTP Range requests — then run the estimator, optionally with
//! real token counts of the user's documents (`--docs`).
//!
//! Remote reads are bounded: `config.json`, `model.safetensors.index.json`,
//! then one ranged read of the first 64 KiB of each shard (a second read only
//! when that header is longer).

mod docs;
mod local;
mod remote;

pub use cambrian_fit::{FitReport, GpuSpec, Verdict, gpu_catalog};
pub use docs::DocsTokens;

use crate::{Error, Result};
use cambrian_fit::{
    Engine, FitError, FitRequest, KvDtype, ModelSpec, WeightFormat, parse_gpu, parse_workload,
};
use cambrian_types::ErrorKind;
use serde::Serialize;
use std::path::PathBuf;

/// Where the Hub is and how to authenticate (filled in by the caller).
#[derive(Clone, Default)]
pub struct HubAccess {
    pub endpoint: String,
    pub token: Option<String>,
}

impl std::fmt::Debug for HubAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubAccess")
            .field("endpoint", &self.endpoint)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// What to fit.
#[derive(Debug, Clone, PartialEq)]
pub enum FitTarget {
    /// A Hub repository id (`owner/name`).
    Hub {
        id: String,
        revision: Option<String>,
    },
    /// A local model directory or file (`.safetensors`, `.gguf`, `config.json`,
    /// `model.safetensors.index.json`).
    Path(PathBuf),
    /// A `config.json` given with `--config`.
    Config(PathBuf),
}

impl FitTarget {
    /// An existing path is a local target; anything else a Hub id.
    pub fn from_arg(s: &str, revision: Option<String>) -> FitTarget {
        let p = PathBuf::from(s);
        if p.exists() {
            FitTarget::Path(p)
        } else {
            FitTarget::Hub {
                id: s.to_owned(),
                revision,
            }
        }
    }
}

/// The request: plain strings for the formats so the CLI stays thin.
#[derive(Debug, Clone)]
pub struct FitArgs {
    pub target: FitTarget,
    pub gpu: String,
    pub gpus: u32,
    /// `None`: min(4096, the model's maximum context).
    pub context: Option<u64>,
    pub batch: u32,
    pub dtype: String,
    pub kv_dtype: String,
    pub engine: String,
    pub workload: Option<String>,
    /// Directory of the user's documents for real token counts.
    pub docs: Option<PathBuf>,
    /// Files sampled from `docs` at most.
    pub docs_sample: usize,
    pub hub: HubAccess,
}

/// Bytes and requests a remote fit used.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transfer {
    pub requests: u64,
    pub bytes: u64,
    /// (file, bytes read) per file.
    pub files: Vec<(String, u64)>,
}

/// The response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FitOutcome {
    pub report: FitReport,
    /// What was read to describe the model.
    pub source: String,
    pub transfer: Option<Transfer>,
    pub docs: Option<DocsTokens>,
}

pub(crate) fn fit_err(e: FitError) -> Error {
    let hint = match &e {
        FitError::Gpu { .. } => {
            Some("use a catalog name (see `cambrian fit --list-gpus`) or a size such as 24GB")
        }
        FitError::Workload { .. } => Some("write it as \"1000000 docs x 1500 in / 200 out\""),
        FitError::Value { .. } => None,
        FitError::Config { .. } => {
            Some("pass a Hugging Face config.json (or the model directory that holds it)")
        }
        FitError::Unknown { .. } => Some(
            "pass --config config.json or a directory with config.json and safetensors/GGUF files",
        ),
    };
    let kind = match &e {
        FitError::Gpu { .. } | FitError::Workload { .. } | FitError::Value { .. } => {
            ErrorKind::Usage
        }
        _ => ErrorKind::BadInput,
    };
    let mut err = Error::new(kind, e.to_string());
    if let Some(h) = hint {
        err = err.with_hint(h);
    }
    err
}

/// Run the fit use case.
pub async fn fit(args: FitArgs) -> Result<FitOutcome> {
    // Validate cheap inputs before any I/O.
    let gpu = parse_gpu(&args.gpu).map_err(fit_err)?;
    let dtype: WeightFormat = args.dtype.parse().map_err(fit_err)?;
    let kv_dtype: KvDtype = args.kv_dtype.parse().map_err(fit_err)?;
    let engine: Engine = args.engine.parse().map_err(fit_err)?;
    let mut workload = args
        .workload
        .as_deref()
        .map(parse_workload)
        .transpose()
        .map_err(fit_err)?;
    if args.gpus == 0 || args.gpus > 1024 {
        return Err(Error::usage(format!(
            "--gpus {} must be between 1 and 1024",
            args.gpus
        )));
    }
    if args.batch == 0 {
        return Err(Error::usage("--batch must be at least 1"));
    }
    if args.context == Some(0) {
        return Err(Error::usage("--context must be at least 1 token"));
    }

    let resolved = match &args.target {
        FitTarget::Path(p) => local::resolve(p)?,
        FitTarget::Config(p) => local::resolve_config(p)?,
        FitTarget::Hub { id, revision } => {
            remote::resolve(id, revision.as_deref(), &args.hub, args.docs.is_some()).await?
        }
    };
    let spec: ModelSpec = resolved.spec;
    let docs = match &args.docs {
        Some(dir) => {
            let tok = resolved.tokenizer.as_ref().ok_or_else(|| {
                Error::not_found(format!(
                    "no tokenizer.json found for {} (needed by --docs)",
                    spec.name
                ))
                .with_hint("pass a model directory or Hub id that has tokenizer.json")
            })?;
            let d = docs::count(dir, tok, args.docs_sample.max(1))?;
            if let Some(w) = workload.as_mut() {
                w.input_tokens = d.mean_tokens.round().max(1.0) as u64;
            }
            Some(d)
        }
        None => None,
    };
    let max_ctx = spec
        .arch
        .as_ref()
        .and_then(|a| a.max_context_scaled.or(a.max_context));
    let context = match (args.context, &workload) {
        (Some(c), _) => c,
        (None, Some(w)) => w.input_tokens + w.output_tokens,
        (None, None) => max_ctx.map(|m| m.min(4096)).unwrap_or(4096),
    };
    let req = FitRequest {
        gpu,
        gpus: args.gpus,
        context,
        batch: args.batch,
        dtype,
        kv_dtype,
        engine,
        workload,
    };
    let mut report = cambrian_fit::estimate(&spec, &req);
    if let Some(d) = &docs {
        report.explain.push(cambrian_fit::Explain {
            figure: "input tokens per document".into(),
            value: format!("{:.0}", d.mean_tokens),
            formula: format!(
                "mean over {} sampled of {} files in {} tokenized with {} (p50 {}, p95 {}, max {})",
                d.sampled, d.files, d.dir, d.tokenizer, d.p50_tokens, d.p95_tokens, d.max_tokens
            ),
        });
    }
    Ok(FitOutcome {
        report,
        source: resolved.source,
        transfer: resolved.transfer,
        docs,
    })
}

/// A resolved model.
pub(crate) struct Resolved {
    pub spec: ModelSpec,
    pub source: String,
    pub transfer: Option<Transfer>,
    /// `tokenizer.json` bytes when available.
    pub tokenizer: Option<Vec<u8>>,
}
