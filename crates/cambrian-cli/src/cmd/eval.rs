//! `cambrian eval`: run candidate models on the user's labeled examples and
//! report accuracy with honest statistics, failures, latency and cost.
//!
//! Settings come from flags, then from `--config FILE` (YAML) for anything a
//! flag left unset. API keys are read from the environment variables the
//! user names (`--api-key-env`), never printed.

use crate::cli::Ctx;
use crate::output;
use anyhow::Context as _;
use cambrian_app::Error as AppError;
use cambrian_app::eval::analysis_types::{
    CostSpec, FailureKind, Report, fmt_cost_per_1k, fmt_ms as opt_ms, fmt_p, fmt_pct as pct,
    fmt_pct_ci, fmt_tokens_per_s,
};
use cambrian_app::eval::config::{EvalConfig, ModelConfig};
use cambrian_app::eval::item::GenParams;
use cambrian_app::eval::{Api, EvalRequest, EvalResponse, ModelSpec, RunEvent, Timeouts};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Examples:
  cambrian eval --tests tests.jsonl --model qwen=http://127.0.0.1:8080/v1 --scorer normalized
  cambrian eval --config examples/quantities/eval.yaml --model a=http://h1/v1 --model b=http://h2/v1 \\
      --html report.html --csv items.csv --gate \"accuracy.lower >= 0.8\"

Scorers: exact, normalized, contains, regex:PATTERN, numeric[:abs=X,rel=Y], f1[:threshold=T],
  json-valid, json, json-schema:FILE, fields[:NAME=number|text|exact|date|set,…,abs=X,rel=Y]
Gate: CONDITION [and CONDITION …], CONDITION = [MODEL:]METRIC OP NUMBER[%]; metrics accuracy[.lower|.upper],
  answered_accuracy[.lower|.upper], failure_rate, mean_score, latency.p50|p95|mean, ttft.p50|p95,
  tokens_per_s, cost_per_1k, field.NAME.f1|precision|recall[.lower|.upper]. Unmet gate: exit 1.
Details: docs/eval.md")]
pub struct Args {
    /// Test set: JSON Lines or CSV with id, input, expected[, metadata].
    #[arg(long, value_name = "FILE")]
    pub tests: Option<PathBuf>,
    /// A model to evaluate: NAME=BASE_URL (NAME is the model name sent; BASE_URL the /v1 root). Repeatable.
    #[arg(long = "model", value_name = "NAME=BASE_URL")]
    pub models: Vec<String>,
    /// How answers are scored [default: normalized].
    #[arg(long, value_name = "SCORER")]
    pub scorer: Option<String>,
    /// Prompt template file (minijinja; sees `input`, `id`, `metadata`).
    #[arg(long, value_name = "FILE")]
    pub template: Option<PathBuf>,
    /// System prompt sent before every item.
    #[arg(long, value_name = "TEXT")]
    pub system: Option<String>,
    /// Requests in flight per endpoint [default: 4].
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// API of the --model servers: chat or completions [default: chat].
    #[arg(long, value_name = "API")]
    pub api: Option<String>,
    /// Stream responses (measures time to first token).
    #[arg(long)]
    pub stream: bool,
    /// Environment variable holding the API key for every model without its own.
    #[arg(long, value_name = "VAR")]
    pub api_key_env: Option<String>,
    /// Price of a model: NAME=PRICE/h, NAME=PRICE/Mtok or NAME=IN,OUT/Mtok (dollars). Repeatable.
    #[arg(long = "cost", value_name = "NAME=PRICE")]
    pub costs: Vec<String>,
    /// Sampling temperature [default: 0].
    #[arg(long, value_name = "T")]
    pub temperature: Option<f64>,
    /// Maximum answer tokens [default: 512].
    #[arg(long, value_name = "N")]
    pub max_tokens: Option<u32>,
    /// Sampling seed sent to the server.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Write the per-item CSV here.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Write a self-contained HTML report here.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Pass condition, e.g. "accuracy.lower >= 0.8"; exit 1 when unmet.
    #[arg(long, value_name = "EXPR")]
    pub gate: Option<String>,
    /// YAML file with the same settings (flags win).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Continue the journal of an interrupted identical run instead of starting over.
    #[arg(long)]
    pub resume: bool,
    /// Journal file [default: <store>/eval/journals/<content key>.jsonl].
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// Re-score the answers recorded in the journal; send no request.
    #[arg(long)]
    pub rescore: bool,
    /// Do not read or write the response cache (<store>/eval/cache).
    #[arg(long)]
    pub no_cache: bool,
    /// Skip the warm-up request per model.
    #[arg(long)]
    pub no_warmup: bool,
    /// Retries of a failed request (429/503/5xx/timeouts) [default: 2].
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,
    /// Total timeout per request, seconds [default: 600].
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,
    /// Bootstrap resamples for pairwise intervals [default: 10000].
    #[arg(long, value_name = "N")]
    pub bootstrap: Option<u32>,
    /// With --json: also emit one "item" record per (model, item).
    #[arg(long)]
    pub items: bool,
    /// Determinism audit: re-send N sampled items twice per model and report how often the answer changes.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub audit: usize,
}

fn usage(msg: impl Into<String>, hint: impl Into<String>) -> anyhow::Error {
    AppError::usage(msg).with_hint(hint).into()
}

/// `NAME=BASE_URL`; NAME may itself contain `=` only before `=http`.
fn parse_model_flag(s: &str) -> anyhow::Result<(String, String)> {
    let split = s
        .find("=http://")
        .or_else(|| s.find("=https://"))
        .or_else(|| s.find('='));
    match split {
        Some(i) if i > 0 && i + 1 < s.len() => Ok((s[..i].to_string(), s[i + 1..].to_string())),
        _ => Err(usage(
            format!("--model `{s}` is not NAME=BASE_URL"),
            "e.g. --model qwen2.5:7b=http://127.0.0.1:11434/v1",
        )),
    }
}

fn parse_api(s: &str) -> anyhow::Result<Api> {
    match s.to_ascii_lowercase().as_str() {
        "chat" => Ok(Api::Chat),
        "completions" | "completion" => Ok(Api::Completions),
        _ => Err(usage(
            format!("unknown API `{s}`"),
            "use chat or completions",
        )),
    }
}

fn read_key(var: &str) -> anyhow::Result<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Ok(v),
        _ => Err(usage(
            format!("the environment variable {var} (named for the API key) is not set"),
            format!("export {var}=… or drop --api-key-env"),
        )),
    }
}

fn build_request(args: &Args, ctx: &Ctx) -> anyhow::Result<EvalRequest> {
    let mut cfg = EvalConfig::default();
    if let Some(path) = &args.config {
        let text = std::fs::read_to_string(path).map_err(|e| {
            let kind = if e.kind() == std::io::ErrorKind::NotFound {
                cambrian_types::ErrorKind::NotFound
            } else {
                cambrian_types::ErrorKind::BadInput
            };
            anyhow::Error::from(
                AppError::new(kind, format!("cannot read config {}", path.display()))
                    .with_source(e),
            )
        })?;
        cfg = EvalConfig::parse(&text, path).map_err(|e| {
            anyhow::Error::from(
                AppError::bad_input(e.to_string())
                    .with_hint("see docs/eval.md for the config keys; flags have the same names"),
            )
        })?;
        cfg.resolve_paths(path.parent().unwrap_or(Path::new(".")));
    }
    let tests = args.tests.clone().or(cfg.tests.clone()).ok_or_else(|| {
        usage(
            "no test set",
            "pass --tests FILE (JSONL or CSV) or `tests:` in --config",
        )
    })?;
    let default_api = match &args.api {
        Some(a) => parse_api(a)?,
        None => Api::Chat,
    };
    let global_key_env = args.api_key_env.clone().or(cfg.api_key_env.clone());
    let mut models: Vec<ModelConfig> = cfg.models.clone();
    for m in &args.models {
        let (name, url) = parse_model_flag(m)?;
        let mc = ModelConfig {
            name: name.clone(),
            base_url: url,
            stream: Some(args.stream),
            ..Default::default()
        };
        match models.iter_mut().find(|x| x.name == name) {
            Some(x) => *x = mc,
            None => models.push(mc),
        }
    }
    let mut costs: std::collections::HashMap<String, CostSpec> = std::collections::HashMap::new();
    for m in &models {
        if let Some(c) = &m.cost {
            let spec = CostSpec::parse(c).map_err(|e| {
                usage(
                    format!("model {}: {e}", m.name),
                    "e.g. 2.5/h or 0.15,0.6/Mtok",
                )
            })?;
            costs.insert(m.name.clone(), spec);
        }
    }
    for c in &args.costs {
        let (name, price) = c.split_once('=').ok_or_else(|| {
            usage(
                format!("--cost `{c}` is not NAME=PRICE"),
                "e.g. --cost qwen=2.5/h",
            )
        })?;
        if !models.iter().any(|m| m.name == name) {
            return Err(usage(
                format!("--cost names `{name}`, which is not a --model"),
                "use the NAME of a --model",
            ));
        }
        costs.insert(
            name.to_string(),
            CostSpec::parse(price).map_err(|e| usage(e, "e.g. 2.5/h or 0.15,0.6/Mtok"))?,
        );
    }
    let mut specs = Vec::new();
    for m in &models {
        let key_env = m.api_key_env.clone().or(global_key_env.clone());
        let api_key = match &key_env {
            Some(v) => Some(read_key(v)?),
            None => None,
        };
        let api = match &m.api {
            Some(a) => parse_api(a)?,
            None => default_api,
        };
        specs.push(ModelSpec {
            label: m.name.clone(),
            model: m.model.clone().unwrap_or_else(|| m.name.clone()),
            base_url: m.base_url.clone(),
            api,
            stream: m.stream.unwrap_or(args.stream),
            api_key,
            cost: costs.get(&m.name).copied(),
        });
    }
    let temperature = args.temperature.or(cfg.temperature).unwrap_or(0.0);
    if !(0.0..=10.0).contains(&temperature) {
        return Err(usage(
            format!("temperature {temperature} is out of range"),
            "use a value between 0 and 2",
        ));
    }
    let total = args.timeout.or(cfg.timeout_s).unwrap_or(600.0);
    if !(total.is_finite() && total > 0.0 && total < 1e7) {
        return Err(usage(
            format!("timeout {total} is not a positive number of seconds"),
            "e.g. --timeout 120",
        ));
    }
    let mut timeouts = Timeouts::default();
    timeouts.total = Duration::from_secs_f64(total);
    timeouts.first_byte = timeouts.first_byte.min(timeouts.total);
    let concurrency = args.concurrency.or(cfg.concurrency).unwrap_or(4);
    if concurrency == 0 || concurrency > 4096 {
        return Err(usage(
            format!("concurrency {concurrency} is out of range"),
            "use 1 to 4096",
        ));
    }
    let alpha = cfg.alpha.unwrap_or(0.05);
    if !(alpha > 0.0 && alpha < 1.0) {
        return Err(usage(
            format!("alpha {alpha} must be between 0 and 1"),
            "0.05 is the usual choice",
        ));
    }
    let eval_dir = ctx.store.join("eval");
    Ok(EvalRequest {
        tests,
        template: args.template.clone().or(cfg.template.clone()),
        system: args.system.clone().or(cfg.system.clone()),
        scorer: args
            .scorer
            .clone()
            .or(cfg.scorer.clone())
            .unwrap_or_else(|| "normalized".into()),
        models: specs,
        concurrency,
        params: GenParams {
            temperature,
            max_tokens: args.max_tokens.or(cfg.max_tokens).unwrap_or(512),
            seed: args.seed.or(cfg.seed),
        },
        timeouts,
        retries: args.retries.or(cfg.retries).unwrap_or(2),
        warmup: !args.no_warmup && cfg.warmup.unwrap_or(true),
        cache_dir: if args.no_cache || cfg.cache == Some(false) {
            None
        } else {
            Some(eval_dir.join("cache"))
        },
        journal: args.journal.clone().or(cfg.journal.clone()),
        journal_dir: eval_dir.join("journals"),
        resume: args.resume,
        gate: args.gate.clone().or(cfg.gate.clone()),
        csv: args.csv.clone().or(cfg.csv.clone()),
        html: args.html.clone().or(cfg.html.clone()),
        bootstrap_resamples: args
            .bootstrap
            .or(cfg.bootstrap_resamples)
            .unwrap_or(10_000)
            .clamp(100, 1_000_000),
        bootstrap_seed: cfg.bootstrap_seed.unwrap_or(20_260_101),
        alpha,
        audit_sample: args.audit,
    })
}

pub async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let req = build_request(&args, ctx)?;
    if let Some(g) = &req.gate {
        cambrian_app::eval::parse_gate(g)?;
    }
    let resp = if args.rescore {
        cambrian_app::eval::rescore(&req)?
    } else {
        let pb = if ctx.progress {
            ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} eval {pos}/{len} [{elapsed}] {msg}")
        {
            pb.set_style(style);
        }
        let on_event = |ev: RunEvent| match ev {
            RunEvent::Started {
                total,
                resumed,
                cached,
                ..
            } => {
                pb.set_length(total as u64);
                pb.set_position((resumed + cached) as u64);
                if resumed > 0 {
                    pb.println(format!("resuming: {resumed} answers from the journal"));
                }
            }
            RunEvent::ItemDone { cached: false, .. } => pb.inc(1),
            RunEvent::Retrying {
                target,
                attempt,
                wait_ms,
                reason,
                ..
            } => {
                tracing::info!(model = %target, attempt, wait_ms, "retrying: {reason}");
            }
            RunEvent::JournalTornTail => pb.println(
                "note: the journal's last line was torn (a killed run); it will be re-sent",
            ),
            _ => {}
        };
        let r = cambrian_app::eval::run_eval(&req, &on_event).await;
        pb.finish_and_clear();
        r?
    };
    if ctx.json {
        render_json(&resp, args.items)?;
    } else {
        render_text(&resp)?;
    }
    Ok(match &resp.gate {
        Some(g) if !g.passed => 1,
        _ => 0,
    })
}

fn render_json(resp: &EvalResponse, items: bool) -> anyhow::Result<()> {
    for rec in cambrian_app::eval::report::json_records(&resp.report, resp.gate.as_ref(), items) {
        output::json_line(&rec)?;
    }
    if let Some(d) = &resp.determinism {
        for t in &d.targets {
            output::json_line(&serde_json::json!({
                "type": "determinism", "model": t.label, "sample": d.sample.len(), "seed": d.seed,
                "compared": t.compared, "flipped": t.flipped, "errors": t.errors, "flip_rate": t.flip_rate,
                "flipped_items": t.flipped_items,
            }))?;
        }
    }
    output::json_line(&serde_json::json!({
        "type": "run",
        "journal": resp.journal,
        "resumed": resp.resumed,
        "cached": resp.cached,
        "written": resp.written,
    }))
}

fn render_text(resp: &EvalResponse) -> anyhow::Result<()> {
    let r: &Report = &resp.report;
    output::line(format!(
        "{} items × {} models, scorer {}",
        r.n_items,
        r.models.len(),
        r.scorer
    ))?;
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header([
        "model",
        "n",
        "accuracy [95% CI]",
        "answered acc. [95% CI]",
        "wrong",
        "failed",
        "p50",
        "p95",
        "TTFT p50",
        "tok/s",
        "$/1k items",
    ]);
    for m in &r.models {
        t.add_row([
            m.model.clone(),
            m.n.to_string(),
            fmt_pct_ci(&m.accuracy),
            fmt_pct_ci(&m.answered_accuracy),
            m.wrong.to_string(),
            m.failed.to_string(),
            opt_ms(m.latency.p50_ms),
            opt_ms(m.latency.p95_ms),
            opt_ms(m.latency.ttft_p50_ms),
            fmt_tokens_per_s(m),
            fmt_cost_per_1k(m),
        ]);
    }
    output::line(t.to_string())?;
    output::line(
        "accuracy = correct / n (failures count as wrong); answered = correct / (n − failed); Wilson 95 % intervals",
    )?;
    for m in &r.models {
        if m.failed > 0 {
            let parts: Vec<String> = FailureKind::ALL
                .iter()
                .filter_map(|k| m.failures.get(k).map(|n| format!("{} {n}", k.as_str())))
                .collect();
            output::line(format!("failures {}: {}", m.model, parts.join(", ")))?;
        }
    }
    if r.models.iter().any(|m| !m.fields.is_empty()) {
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED);
        t.set_header([
            "model",
            "field",
            "precision [95% CI]",
            "recall [95% CI]",
            "F1",
        ]);
        for m in &r.models {
            for f in &m.fields {
                t.add_row([
                    m.model.clone(),
                    f.field.clone(),
                    fmt_pct_ci(&f.precision),
                    fmt_pct_ci(&f.recall),
                    format!("{:.3}", f.f1),
                ]);
            }
        }
        output::line(t.to_string())?;
    }
    for p in &r.pairs {
        output::line(format!(
            "{} vs {}: {:+.1} pts [{:+.1}, {:+.1}] (paired bootstrap), McNemar p = {} ({} vs {} discordant), Holm p = {} → {}",
            p.a,
            p.b,
            p.diff.diff * 100.0,
            p.diff.lower * 100.0,
            p.diff.upper * 100.0,
            fmt_p(p.p_value),
            p.a_only,
            p.b_only,
            fmt_p(p.p_holm),
            p.verdict_text
        ))?;
    }
    if r.models.len() > 1 {
        for e in &r.pareto.entries {
            if e.on_front {
                output::line(format!(
                    "pareto: {} is on the front ({})",
                    e.model,
                    r.pareto.dimensions.join(", ")
                ))?;
            } else {
                for d in &e.dominated_by {
                    output::line(format!(
                        "pareto: {} is dominated by {}: {}",
                        e.model, d.by, d.reason
                    ))?;
                }
            }
        }
    }
    for m in &r.models {
        if let Some(c) = &m.cost {
            output::line(format!("cost {}: {}", m.model, c.formula))?;
        }
    }
    if let Some(g) = &resp.gate {
        output::line(format!(
            "gate `{}`: {}",
            g.gate,
            if g.passed { "passed" } else { "FAILED" }
        ))?;
        for c in g.checks.iter().filter(|c| !c.passed) {
            let v = c
                .value
                .map(|v| format!("{v:.4}"))
                .unwrap_or_else(|| "not measured".into());
            output::line(format!("  {}: {} (value {v})", c.model, c.condition))?;
        }
    }
    if let Some(d) = &resp.determinism {
        for t in &d.targets {
            output::line(format!(
                "determinism {}: {} of {} re-asked answers changed ({}), {} errors; sample of {} items, seed {}",
                t.label,
                t.flipped,
                t.compared,
                pct(t.flip_rate),
                t.errors,
                d.sample.len(),
                d.seed
            ))?;
        }
    }
    let mut tail = format!("journal: {}", resp.journal.display());
    if resp.resumed > 0 || resp.cached > 0 {
        tail.push_str(&format!(
            " ({} resumed, {} from cache)",
            resp.resumed, resp.cached
        ));
    }
    output::line(tail)?;
    for w in &resp.written {
        output::line(format!("wrote {}", w.display())).context("writing output")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_flags() {
        assert_eq!(
            parse_model_flag("qwen2.5:7b=http://h:1/v1").unwrap(),
            ("qwen2.5:7b".into(), "http://h:1/v1".into())
        );
        assert_eq!(
            parse_model_flag("a=b=https://x/v1").unwrap(),
            ("a=b".into(), "https://x/v1".into())
        );
        assert!(parse_model_flag("nourl").is_err());
        assert!(parse_model_flag("=http://x").is_err());
    }
}
