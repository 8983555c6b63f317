//! `cambrian sync`: capture the Hub listing into a store snapshot (resumable), with a
//! progress bar on stderr and a summary on stdout. Reads `HF_ENDPOINT` / `HF_TOKEN` here
//! (the facade never reads the environment); the token is never printed.

use crate::cli::Ctx;
use crate::output;
use cambrian_app::tracking::{self, SyncProgress, SyncRequest};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Stop after this many distinct models [default: the whole listing].
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Only models with this tag (repeatable; all must match).
    #[arg(long, value_name = "TAG")]
    pub filter: Vec<String>,
    /// Only models with this pipeline tag, e.g. text-generation.
    #[arg(long, value_name = "TASK")]
    pub pipeline_tag: Option<String>,
    /// Only models whose id contains this text.
    #[arg(long)]
    pub search: Option<String>,
    /// Only models of this author or organisation.
    #[arg(long)]
    pub author: Option<String>,
    /// Sort key: trendingScore, likes, downloads, createdAt, lastModified, id.
    #[arg(long, default_value = "trendingScore", value_name = "KEY")]
    pub sort: String,
    /// Sort ascending instead of descending.
    #[arg(long)]
    pub ascending: bool,
    /// Fields to expand (repeatable) [default: a compact set, see docs/tracking.md].
    #[arg(long, value_name = "FIELD")]
    pub expand: Vec<String>,
    /// Models per page (the Hub caps it at 1000).
    #[arg(long, default_value_t = tracking::DEFAULT_PAGE_SIZE, value_name = "N")]
    pub page_size: u32,
    /// Hub endpoint [env: HF_ENDPOINT; default: https://huggingface.co].
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// Retries per request after the first attempt.
    #[arg(long, default_value_t = 6, value_name = "N")]
    pub max_retries: u32,
    /// Seconds to wait for response headers (per attempt).
    #[arg(long, default_value_t = 30.0, value_name = "SECS")]
    pub first_byte_timeout: f64,
    /// Base of the exponential retry backoff, in milliseconds.
    #[arg(long, default_value_t = 250, value_name = "MS")]
    pub retry_base_ms: u64,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    report: &'a tracking::SyncReport,
}

fn secs(v: f64, what: &str) -> anyhow::Result<Duration> {
    if !(v.is_finite() && v > 0.0 && v < 1e6) {
        return Err(cambrian_app::Error::usage(format!(
            "{what} must be a positive number of seconds"
        ))
        .into());
    }
    Ok(Duration::from_secs_f64(v))
}

pub async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let endpoint = args
        .endpoint
        .clone()
        .or_else(|| std::env::var("HF_ENDPOINT").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "https://huggingface.co".to_string());
    let endpoint = endpoint.trim_end_matches('/').to_string();
    let token = std::env::var("HF_TOKEN").ok().filter(|s| !s.is_empty());
    if args.page_size == 0 || args.page_size > 1000 {
        return Err(cambrian_app::Error::usage("--page-size must be between 1 and 1000").into());
    }
    let mut query = tracking::default_query();
    query.filter = args.filter.clone();
    query.pipeline_tag = args.pipeline_tag.clone();
    query.search = args.search.clone();
    query.author = args.author.clone();
    query.sort = Some(args.sort.clone());
    query.direction = Some(if args.ascending { 1 } else { -1 });
    query.limit = Some(args.page_size);
    if !args.expand.is_empty() {
        query.expand = args.expand.clone();
    }
    let hub = cambrian_app::tracking::hub_config(
        endpoint,
        token,
        args.max_retries,
        secs(args.first_byte_timeout, "--first-byte-timeout")?,
        Duration::from_millis(args.retry_base_ms),
    );
    let req = SyncRequest {
        hub,
        query,
        max_models: args.limit,
    };

    let bar = if ctx.progress {
        let b = match args.limit {
            Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr()),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
        };
        let style = if args.limit.is_some() {
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} models {msg}",
            )
        } else {
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {pos} models {msg}")
        };
        if let Ok(s) = style {
            b.set_style(s);
        }
        b.enable_steady_tick(Duration::from_millis(200));
        b
    } else {
        ProgressBar::hidden()
    };
    let on_progress = |p: &SyncProgress| {
        bar.set_position(p.models);
        let rate = if p.elapsed_secs > 0.0 {
            p.models as f64 / p.elapsed_secs
        } else {
            0.0
        };
        bar.set_message(format!(
            "· {} pages · {:.0}/s · {} retries · {} rate-limit waits{}",
            p.pages,
            rate,
            p.retries,
            p.rate_limited_waits,
            if p.resumed { " · resumed" } else { "" }
        ));
    };
    let result = tracking::sync(&ctx.store, &req, &on_progress).await;
    bar.finish_and_clear();
    let report = result?;

    if ctx.json {
        output::json_line(&JsonReport {
            kind: "sync",
            report: &report,
        })?;
        return Ok(0);
    }
    for w in report.warnings.iter().take(10) {
        eprintln!(
            "warning: item {} {}{}: {}",
            w.index,
            w.id.as_deref().unwrap_or("(no id)"),
            w.field
                .as_deref()
                .map(|f| format!(" field {f}"))
                .unwrap_or_default(),
            w.reason
        );
    }
    if report.warning_count > 10 {
        eprintln!(
            "warning: … {} more tolerated problems (see --json)",
            report.warning_count - 10
        );
    }
    let s = &report.snapshot;
    output::line(format!(
        "snapshot {} complete: {} models from {} [{}]",
        s.id, s.models, s.source, s.query
    ))?;
    if report.resumed {
        output::line(format!(
            "  resumed an interrupted sync: {} models were already stored",
            report.resumed_rows
        ))?;
    }
    output::line(format!(
        "  {} pages · {} items received · {} duplicates collapsed · {} tolerated problems",
        report.pages, report.items_received, report.duplicates_collapsed, report.warning_count
    ))?;
    output::line(format!(
        "  {} requests · {} retries · {} rate-limit waits · {:.1} MB · {:.2} s · {:.0} models/s",
        report.requests,
        report.retries,
        report.rate_limited_waits,
        report.bytes_received as f64 / 1e6,
        report.elapsed_secs,
        report.models_per_sec
    ))?;
    Ok(0)
}
