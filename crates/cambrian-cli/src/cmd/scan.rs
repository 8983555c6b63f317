//! `cambrian scan`: static risk scan of files, directories, the local
//! Hugging Face cache or a Hub repo. Reads `HF_HOME` / `HF_HUB_CACHE` /
//! `XDG_CACHE_HOME` / `HOME` (cache location) and `HF_ENDPOINT` / `HF_TOKEN`
//! (Hub) here; the facade never reads the environment.
//!
//! Exit codes: 0 nothing at or above `--fail-on`, 1 a finding at or above
//! it, 2 bad usage or input, 3 nothing found, 4 Hub failure.

use crate::cli::Ctx;
use crate::output;
use cambrian_app::Error as AppError;
use cambrian_app::scan::{self as uc, Target};
use cambrian_app::scan::{Finding, Level, Limits, ScanRepoReport as RepoReport, Verdict};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Human-readable table (default; `--json` selects JSON Lines).
    Table,
    /// JSON Lines: `file`, `repo`, `card` and `summary` records.
    Json,
    /// SARIF 2.1.0 log (one JSON document).
    Sarif,
    /// CycloneDX 1.6 ML-BOM (one JSON document).
    Cyclonedx,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    Innocuous,
    Suspicious,
    Unreadable,
    Dangerous,
    Never,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files or directories to scan.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Scan the local Hugging Face cache ($HF_HUB_CACHE, else $HF_HOME/hub,
    /// else ~/.cache/huggingface/hub); optionally only this repo id.
    #[arg(long, value_name = "REPO", num_args = 0..=1, default_missing_value = "")]
    pub hf_cache: Option<String>,
    /// Scan a Hub model repo (owner/name) by fetching only what is needed.
    #[arg(long, value_name = "REPO")]
    pub hub: Vec<String>,
    /// Hub revision (branch, tag or commit) for --hub [default: the repo's main commit].
    #[arg(long)]
    pub revision: Option<String>,
    /// Hub endpoint [env: HF_ENDPOINT; default: https://huggingface.co].
    #[arg(long)]
    pub endpoint: Option<String>,
    /// Output format (`--json` is the same as `--format json`).
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Exit 1 when any file or repo verdict is at or above this level.
    #[arg(long, value_enum, default_value = "suspicious")]
    pub fail_on: FailOn,
    /// Write the SARIF / CycloneDX / JSON document to this file (atomically) instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Show every finding, including innocuous imports and notes.
    #[arg(long, short)]
    pub verbose: bool,
    /// Archive nesting depth scanned.
    #[arg(long, default_value_t = 4)]
    pub max_depth: u32,
    /// Largest pickle / archive member read into memory, in MiB.
    #[arg(long, default_value_t = 1024)]
    pub max_member_mib: u64,
}

fn fail_level(f: FailOn) -> Option<Verdict> {
    match f {
        FailOn::Innocuous => Some(Verdict::Innocuous),
        FailOn::Suspicious => Some(Verdict::Suspicious),
        FailOn::Unreadable => Some(Verdict::Unreadable),
        FailOn::Dangerous => Some(Verdict::Dangerous),
        FailOn::Never => None,
    }
}

/// The hub cache folder, from the environment (huggingface_hub's rules).
fn hub_cache_dir() -> PathBuf {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(p) = env("HF_HUB_CACHE") {
        return p;
    }
    if let Some(p) = env("HF_HOME") {
        return p.join("hub");
    }
    if let Some(p) = env("XDG_CACHE_HOME") {
        return p.join("huggingface/hub");
    }
    env("HOME")
        .map(|h| h.join(".cache/huggingface/hub"))
        .unwrap_or_else(|| PathBuf::from(".cache/huggingface/hub"))
}

pub async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let format = if ctx.json && args.format == Format::Table {
        Format::Json
    } else {
        args.format
    };
    if args.max_member_mib == 0 || args.max_member_mib > 64 * 1024 {
        return Err(AppError::usage("--max-member-mib must be between 1 and 65536").into());
    }
    let mut targets: Vec<Target> = args.paths.iter().cloned().map(Target::Path).collect();
    if let Some(r) = &args.hf_cache {
        targets.push(Target::HfCache {
            hub_dir: hub_cache_dir(),
            repo: (!r.is_empty()).then(|| r.clone()),
        });
    }
    for r in &args.hub {
        targets.push(Target::Hub {
            repo: r.clone(),
            revision: args.revision.clone(),
        });
    }
    if targets.is_empty() {
        return Err(AppError::usage("nothing to scan")
            .with_hint("give a file or directory, --hf-cache [REPO], or --hub OWNER/NAME")
            .into());
    }
    let hub = if args.hub.is_empty() {
        None
    } else {
        let endpoint = args
            .endpoint
            .clone()
            .or_else(|| std::env::var("HF_ENDPOINT").ok().filter(|s| !s.is_empty()))
            .unwrap_or_else(|| "https://huggingface.co".to_string());
        Some(uc::HubConfig {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            token: std::env::var("HF_TOKEN").ok().filter(|s| !s.is_empty()),
            ..Default::default()
        })
    };
    let limits = Limits {
        max_depth: args.max_depth,
        max_member_bytes: args.max_member_mib << 20,
        ..Limits::default()
    };
    let resp = uc::scan(uc::ScanRequest {
        targets,
        limits,
        hub,
    })
    .await?;
    let code = match fail_level(args.fail_on) {
        Some(at) if resp.fails(at) => 1,
        _ => 0,
    };
    match format {
        Format::Sarif => {
            let min = if args.verbose {
                Level::Info
            } else {
                Level::Suspicious
            };
            write_doc(&uc::sarif(&resp, min), args.output.as_ref())?;
        }
        Format::Cyclonedx => write_doc(
            &uc::cyclonedx(&resp, &uc::now_rfc3339()),
            args.output.as_ref(),
        )?,
        Format::Json => json_lines(&resp, &args, code)?,
        Format::Table => table(&resp, &args, code)?,
    }
    Ok(code)
}

fn write_doc(doc: &serde_json::Value, out: Option<&PathBuf>) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(doc)?;
    match out {
        None => output::line(text),
        Some(p) => output::write_atomic(p, text.as_bytes()).map_err(|e| {
            AppError::bad_input(format!("cannot write {}: {e}", p.display()))
                .with_hint("check that the folder exists and is writable")
                .into()
        }),
    }
}

fn json_lines(resp: &uc::ScanResponse, args: &Args, code: u8) -> anyhow::Result<()> {
    use serde_json::json;
    for r in &resp.reports {
        for f in &r.files {
            let findings: Vec<&Finding> = f
                .findings
                .iter()
                .filter(|x| args.verbose || x.level > Level::Info)
                .collect();
            output::json_line(&json!({
                "type": "file",
                "target": r.target,
                "path": f.path,
                "format": f.format,
                "bytes": f.bytes,
                "verdict": f.verdict,
                "findings": findings,
            }))?;
        }
        output::json_line(&json!({
            "type": "repo",
            "target": r.target,
            "verdict": r.verdict,
            "files": r.files.len(),
            "findings": r.findings,
        }))?;
        if let Some(c) = &r.card {
            output::json_line(&json!({
                "type": "card",
                "target": r.target,
                "path": c.path,
                "score": c.score,
                "passed": c.passed,
                "total": c.total,
                "checks": c.checks,
                "problems": c.problems,
                "formula": c.formula,
            }))?;
        }
    }
    output::json_line(&summary_json(resp, args, code))?;
    Ok(())
}

fn counts(resp: &uc::ScanResponse) -> [(Verdict, usize); 5] {
    let mut c = [
        (Verdict::Clean, 0),
        (Verdict::Innocuous, 0),
        (Verdict::Suspicious, 0),
        (Verdict::Unreadable, 0),
        (Verdict::Dangerous, 0),
    ];
    for r in &resp.reports {
        for f in &r.files {
            if let Some(x) = c.iter_mut().find(|(v, _)| *v == f.verdict) {
                x.1 += 1;
            }
        }
    }
    c
}

fn summary_json(resp: &uc::ScanResponse, args: &Args, code: u8) -> serde_json::Value {
    let mut by = serde_json::Map::new();
    for (v, n) in counts(resp) {
        by.insert(v.as_str().into(), n.into());
    }
    serde_json::json!({
        "type": "summary",
        "files": resp.files(),
        "verdict": resp.verdict,
        "by_verdict": by,
        "fail_on": format!("{:?}", args.fail_on).to_lowercase(),
        "exit_code": code,
        "pickle_lists_version": uc::lists_version(),
    })
}

fn evidence_line(f: &Finding) -> String {
    let mut s = format!("{:<10} {}", f.level.as_str(), f.message);
    let mut loc = Vec::new();
    if let Some(m) = &f.member {
        loc.push(format!("member {m}"));
    }
    if let Some(o) = f.offset {
        loc.push(format!("byte {o}"));
    }
    if let Some(o) = &f.opcode {
        loc.push(o.clone());
    }
    if !loc.is_empty() {
        s.push_str(&format!(" [{}]", loc.join(", ")));
    }
    if let Some(e) = &f.evidence {
        s.push_str(&format!("\n{:>13}why: {e}", ""));
    }
    s
}

fn table(resp: &uc::ScanResponse, args: &Args, code: u8) -> anyhow::Result<()> {
    for r in &resp.reports {
        render_repo(r, args)?;
    }
    let c = counts(resp);
    let parts: Vec<String> = c
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(v, n)| format!("{n} {v}"))
        .collect();
    output::line(format!(
        "\n{} files scanned: {}. Overall verdict: {}. {}",
        resp.files(),
        if parts.is_empty() {
            "none".to_string()
        } else {
            parts.join(", ")
        },
        resp.verdict,
        match (fail_level(args.fail_on), code) {
            (None, _) => "(--fail-on never)".to_string(),
            (Some(v), 1) => format!("Exit 1: at or above --fail-on {v}."),
            (Some(v), _) => format!("Nothing at or above --fail-on {v}."),
        }
    ))?;
    Ok(())
}

fn render_repo(r: &RepoReport, args: &Args) -> anyhow::Result<()> {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    t.set_header(vec!["verdict", "file", "format", "top evidence"]);
    for f in &r.files {
        let top = f
            .findings
            .iter()
            .filter(|x| x.level > Level::Info)
            .max_by_key(|x| x.level);
        let ev = match top {
            Some(x) => {
                let mut s = x.symbol.clone().unwrap_or_else(|| x.rule.clone());
                if let Some(o) = x.offset {
                    s.push_str(&format!(" @{o}"));
                }
                s
            }
            None => String::new(),
        };
        t.add_row(vec![
            f.verdict.as_str().to_string(),
            f.path.clone(),
            f.format.clone(),
            ev,
        ]);
    }
    output::line(format!("{} — verdict: {}", r.target, r.verdict))?;
    output::line(t.to_string())?;
    for f in &r.files {
        let shown: Vec<&Finding> = f
            .findings
            .iter()
            .filter(|x| args.verbose || x.level >= Level::Suspicious)
            .collect();
        if shown.is_empty() {
            continue;
        }
        output::line(format!("{}:", f.path))?;
        for x in shown {
            output::line(format!("  {}", evidence_line(x)))?;
        }
    }
    for x in &r.findings {
        output::line(format!("repo: {}", evidence_line(x)))?;
    }
    if let Some(c) = &r.card {
        output::line(format!(
            "card {}: transparency {}/100 ({} of {} checks; {})",
            c.path, c.score, c.passed, c.total, c.formula
        ))?;
        for ch in &c.checks {
            output::line(format!(
                "  [{}] {:<13} {}",
                if ch.passed { "x" } else { " " },
                ch.check,
                ch.evidence
            ))?;
        }
        for p in &c.problems {
            output::line(format!("  problem: {p}"))?;
        }
    }
    Ok(())
}
