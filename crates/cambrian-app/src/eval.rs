//! Use case `eval`: test set → runner → scorer → statistics → reports.
//!
//! [`run_eval`] loads and validates the test set, renders prompts, runs every
//! item on every model through `cambrian_eval::runner` (journal + response
//! cache), scores and analyses the answers, writes the requested CSV/HTML
//! files atomically, and evaluates the gate. [`rescore`] does the same from
//! an existing journal without any server.

use crate::{Error, Result};
use cambrian_eval::analysis::{self, AnalysisSettings, CostSpec, Report};
use cambrian_eval::gate::{Gate, GateError, GateResult};
use cambrian_eval::item::{GenParams, ItemRun, TestItem};
use cambrian_eval::runner::{self, RunConfig, RunError, Target};
use cambrian_eval::scorer::{Scorer, ScorerError, ScorerSpec};
use cambrian_eval::testset::{self, PromptSpec, TestSetError};
use cambrian_types::ErrorKind;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Re-exports for the CLI, which depends on this facade only.
pub use cambrian_eval::runner::{Api, RunEvent, Timeouts};
pub use cambrian_eval::{analysis as analysis_types, config, item, report};

/// One model to evaluate.
#[derive(Clone)]
pub struct ModelSpec {
    /// Label in reports (the `NAME` of `--model NAME=URL`).
    pub label: String,
    /// Model name sent to the server.
    pub model: String,
    /// The server's `/v1` root.
    pub base_url: String,
    pub api: Api,
    pub stream: bool,
    /// The key itself (the CLI reads it from the named env var); never shown.
    pub api_key: Option<String>,
    pub cost: Option<CostSpec>,
}

impl std::fmt::Debug for ModelSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelSpec")
            .field("label", &self.label)
            .field("model", &self.model)
            .field("base_url", &self.base_url)
            .field("api", &self.api)
            .field("stream", &self.stream)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("cost", &self.cost)
            .finish()
    }
}

/// Everything `cambrian eval` needs, as plain data.
#[derive(Debug, Clone)]
pub struct EvalRequest {
    pub tests: PathBuf,
    /// Prompt template file (minijinja).
    pub template: Option<PathBuf>,
    pub system: Option<String>,
    /// `--scorer` text, e.g. `fields:value=number`.
    pub scorer: String,
    pub models: Vec<ModelSpec>,
    pub concurrency: usize,
    pub params: GenParams,
    pub timeouts: Timeouts,
    pub retries: u32,
    pub warmup: bool,
    pub cache_dir: Option<PathBuf>,
    /// Journal file; `None` = `<journal_dir>/<content key>.jsonl`.
    pub journal: Option<PathBuf>,
    /// Where default journals live (the CLI passes `<store>/eval/journals`).
    pub journal_dir: PathBuf,
    /// Continue the journal of an earlier identical run; otherwise it is replaced.
    pub resume: bool,
    pub gate: Option<String>,
    pub csv: Option<PathBuf>,
    pub html: Option<PathBuf>,
    pub bootstrap_resamples: u32,
    pub bootstrap_seed: u64,
    pub alpha: f64,
    /// Determinism audit: re-send this many sampled items twice per model
    /// (bypassing cache and journal) and report the answer flip rate; 0 = off.
    pub audit_sample: usize,
}

/// The outcome of an evaluation.
#[derive(Debug, Clone)]
pub struct EvalResponse {
    pub report: Report,
    pub gate: Option<GateResult>,
    pub journal: PathBuf,
    /// Runs taken from the journal of an earlier run.
    pub resumed: usize,
    /// Runs served from the response cache.
    pub cached: usize,
    /// Files written (CSV, HTML).
    pub written: Vec<PathBuf>,
    /// The determinism audit, when asked for.
    pub determinism: Option<runner::DeterminismReport>,
}

fn testset_error(e: TestSetError) -> Error {
    let hint = e.hint().map(str::to_string);
    let kind = match &e {
        TestSetError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            ErrorKind::NotFound
        }
        _ => ErrorKind::BadInput,
    };
    let mut err = Error::new(kind, e.to_string());
    if let Some(h) = hint {
        err = err.with_hint(h);
    }
    err
}

fn scorer_error(e: ScorerError) -> Error {
    let hint = e.hint.clone();
    Error::usage(e.to_string()).with_hint(hint)
}

fn gate_error(e: GateError) -> Error {
    Error::usage(e.to_string()).with_hint(GateError::HINT)
}

fn run_error(e: RunError) -> Error {
    let hint = e.hint();
    let kind = match &e {
        RunError::InvalidTarget { .. }
        | RunError::DuplicateItem { .. }
        | RunError::JournalMismatch { .. } => ErrorKind::Usage,
        RunError::Journal(_) => ErrorKind::Store,
        RunError::Warmup { .. } => ErrorKind::Remote,
        RunError::Client(_) => ErrorKind::Internal,
    };
    let mut err = Error::new(kind, e.to_string());
    if let Some(h) = hint {
        err = err.with_hint(h);
    }
    err
}

/// Parse and check the gate text early (exit 2 before any request is sent).
pub fn parse_gate(text: &str) -> Result<Gate> {
    Gate::parse(text).map_err(gate_error)
}

/// Build the scorer, reading the JSON Schema file for `json-schema:FILE`.
pub fn build_scorer(text: &str) -> Result<Scorer> {
    let mut spec = ScorerSpec::parse(text).map_err(scorer_error)?;
    if let ScorerSpec::JsonSchema { path, schema } = &mut spec {
        let bytes = std::fs::read(&*path).map_err(|e| {
            Error::new(
                if e.kind() == std::io::ErrorKind::NotFound {
                    ErrorKind::NotFound
                } else {
                    ErrorKind::BadInput
                },
                format!("cannot read JSON Schema {}", path.display()),
            )
            .with_source(e)
        })?;
        let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
            Error::bad_input(format!(
                "{}: invalid JSON at line {}, column {}: {e}",
                path.display(),
                e.line(),
                e.column()
            ))
            .with_hint("the schema file must be a JSON Schema document")
        })?;
        *schema = Some(v);
    }
    Scorer::new(spec).map_err(scorer_error)
}

/// Load the test set and render prompts.
fn load_items(
    req: &EvalRequest,
) -> Result<(
    Vec<TestItem>,
    Vec<cambrian_eval::item::PreparedItem>,
    Vec<u8>,
)> {
    let items = testset::load(&req.tests).map_err(testset_error)?;
    let template = match &req.template {
        Some(p) => Some(std::fs::read_to_string(p).map_err(|e| {
            Error::new(
                if e.kind() == std::io::ErrorKind::NotFound {
                    ErrorKind::NotFound
                } else {
                    ErrorKind::BadInput
                },
                format!("cannot read the prompt template {}", p.display()),
            )
            .with_source(e)
        })?),
        None => None,
    };
    let spec = PromptSpec {
        template: template.clone(),
        system: req.system.clone(),
        completions_prompt: req.models.iter().any(|m| m.api == Api::Completions),
    };
    let prepared = testset::prepare(&items, &spec).map_err(testset_error)?;
    // The content that defines "the same run" for the default journal name.
    let mut key_material = std::fs::read(&req.tests).unwrap_or_default();
    key_material.extend_from_slice(template.unwrap_or_default().as_bytes());
    Ok((items, prepared, key_material))
}

fn default_journal(req: &EvalRequest, key_material: &[u8]) -> PathBuf {
    let mut targets = String::new();
    for m in &req.models {
        targets.push_str(&format!(
            "{}\u{1f}{}\u{1f}{}\u{1f}{:?}\u{1f}{}\u{1e}",
            m.label, m.model, m.base_url, m.api, m.stream
        ));
    }
    let params = serde_json::to_string(&req.params).unwrap_or_default();
    let key = testset::content_key(&[
        key_material,
        req.system.as_deref().unwrap_or("").as_bytes(),
        targets.as_bytes(),
        params.as_bytes(),
    ]);
    req.journal_dir.join(format!("{key}.jsonl"))
}

fn settings(req: &EvalRequest, warmup: &[(String, f64)]) -> AnalysisSettings {
    AnalysisSettings {
        bootstrap_resamples: req.bootstrap_resamples,
        bootstrap_seed: req.bootstrap_seed,
        alpha: req.alpha,
        concurrency: req.concurrency,
        costs: req
            .models
            .iter()
            .filter_map(|m| m.cost.map(|c| (m.label.clone(), c)))
            .collect(),
        warmup_ms: warmup.iter().cloned().collect::<HashMap<_, _>>(),
    }
}

/// Run the evaluation. `on_event` receives runner progress.
pub async fn run_eval(
    req: &EvalRequest,
    on_event: &(dyn Fn(RunEvent) + Sync),
) -> Result<EvalResponse> {
    if req.models.is_empty() {
        return Err(Error::usage("no model to evaluate").with_hint(
            "add --model NAME=BASE_URL (the server's /v1 root), or `models:` in the config file",
        ));
    }
    let gate = req.gate.as_deref().map(parse_gate).transpose()?;
    let scorer = build_scorer(&req.scorer)?;
    let (items, prepared, key_material) = load_items(req)?;
    let journal = req
        .journal
        .clone()
        .unwrap_or_else(|| default_journal(req, &key_material));
    if let Some(dir) = journal.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::store(format!(
                "cannot create the journal directory {}",
                dir.display()
            ))
            .with_source(e)
        })?;
    }
    if !req.resume && journal.exists() {
        std::fs::remove_file(&journal).map_err(|e| {
            Error::store(format!("cannot replace the journal {}", journal.display())).with_source(e)
        })?;
    }
    let cfg = RunConfig {
        targets: req
            .models
            .iter()
            .map(|m| Target {
                label: m.label.clone(),
                model: m.model.clone(),
                base_url: m.base_url.clone(),
                api_key: m.api_key.clone(),
                api: m.api,
                stream: m.stream,
            })
            .collect(),
        concurrency: req.concurrency.max(1),
        params: req.params.clone(),
        cache_dir: req.cache_dir.clone(),
        journal: journal.clone(),
        timeouts: req.timeouts,
        warmup: req.warmup,
        retries: req.retries,
    };
    let out = runner::run(&cfg, &prepared, on_event)
        .await
        .map_err(run_error)?;
    let determinism = if req.audit_sample > 0 {
        Some(
            runner::determinism_audit(&cfg, &prepared, req.audit_sample, req.bootstrap_seed)
                .await
                .map_err(run_error)?,
        )
    } else {
        None
    };
    let labels: Vec<String> = req.models.iter().map(|m| m.label.clone()).collect();
    let report = analysis::analyse(
        &items,
        &out.runs,
        &labels,
        &scorer,
        &settings(req, &out.warmup_ms),
    );
    let mut resp = finish(req, report, gate, journal, out.resumed, out.cached)?;
    resp.determinism = determinism;
    Ok(resp)
}

/// Re-score the answers recorded in a journal (no server needed).
pub fn rescore(req: &EvalRequest) -> Result<EvalResponse> {
    let gate = req.gate.as_deref().map(parse_gate).transpose()?;
    let scorer = build_scorer(&req.scorer)?;
    let (items, _prepared, key_material) = load_items(req)?;
    let journal = req
        .journal
        .clone()
        .unwrap_or_else(|| default_journal(req, &key_material));
    let state = runner::journal::load(&journal).map_err(|e| Error::store(e.to_string()))?;
    if state.runs.is_empty() {
        return Err(Error::not_found(format!("no recorded answers in {}", journal.display()))
            .with_hint("run the evaluation first, with the same --tests, --template, --system and --model values"));
    }
    let mut labels: Vec<String> = req.models.iter().map(|m| m.label.clone()).collect();
    if labels.is_empty() {
        labels = state.targets.iter().map(|t| t.0.clone()).collect();
    }
    let runs: Vec<ItemRun> = last_final_runs(state.runs);
    let n = runs.len();
    let report = analysis::analyse(&items, &runs, &labels, &scorer, &settings(req, &[]));
    finish(req, report, gate, journal, n, 0)
}

/// The journal may hold a retried item twice; keep the last record per (model, item).
fn last_final_runs(runs: Vec<ItemRun>) -> Vec<ItemRun> {
    let mut idx: HashMap<(String, String), usize> = HashMap::new();
    let mut out: Vec<ItemRun> = Vec::new();
    for r in runs {
        let k = (r.model.clone(), r.item_id.clone());
        match idx.get(&k) {
            Some(&i) => out[i] = r,
            None => {
                idx.insert(k, out.len());
                out.push(r);
            }
        }
    }
    out
}

fn finish(
    req: &EvalRequest,
    report: Report,
    gate: Option<Gate>,
    journal: PathBuf,
    resumed: usize,
    cached: usize,
) -> Result<EvalResponse> {
    let gate = match gate {
        Some(g) => Some(g.evaluate(&report).map_err(gate_error)?),
        None => None,
    };
    let mut written = Vec::new();
    if let Some(p) = &req.csv {
        let mut buf = Vec::new();
        cambrian_eval::report::write_csv(&report, &mut buf)
            .map_err(|e| Error::internal(format!("CSV rendering failed: {e}")))?;
        write_atomic(p, &buf)?;
        written.push(p.clone());
    }
    if let Some(p) = &req.html {
        let title = format!(
            "cambrian eval — {}",
            req.tests
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default()
        );
        let html = cambrian_eval::report::html(&report, gate.as_ref(), &title);
        write_atomic(p, html.as_bytes())?;
        written.push(p.clone());
    }
    Ok(EvalResponse {
        report,
        gate,
        journal,
        resumed,
        cached,
        written,
        determinism: None,
    })
}

/// Write a file via a temporary sibling and a rename (never half-written).
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report".into());
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let res = (|| -> std::io::Result<()> {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    res.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::bad_input(format!("cannot write {}", path.display()))
            .with_source(e)
            .with_hint("check that the directory exists and is writable")
    })
}
