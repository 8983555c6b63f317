//! `cambrian find`: the shortlist funnel over the latest snapshot —
//! task, downloads, gated, license, size, hardware, context, workload —
//! with a ranked shortlist and, for every excluded model, the stage, the
//! reason with its numbers and the nearest change that would admit it.
//! Output: tables (default), `--json` (JSON Lines), `--csv`, `--html FILE`.

use crate::cli::Ctx;
use crate::cmd::license::{ProfileArgs, RemoteArgs, progress_bar};
use crate::output;
use cambrian_app::shortlist::funnel::{
    Candidate, Exclusion, FindReport, FindRequest, StageSummary, parse_count, parse_hours,
    parse_usd,
};
use cambrian_app::shortlist::{self};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde::Serialize;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Required pipeline tag, e.g. text-generation.
    #[arg(long, value_name = "TASK")]
    pub task: Option<String>,
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// GPU: a catalog name (rtx4090, a100-80gb, …) or a memory size (24GB).
    #[arg(long, value_name = "GPU")]
    pub gpu: Option<String>,
    /// Number of GPUs (tensor parallel).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub gpus: u32,
    /// Engine profile for memory and speed: transformers (default), vllm, llamacpp.
    #[arg(long, value_name = "ENGINE")]
    pub engine: Option<String>,
    /// Context length you need, in tokens.
    #[arg(long, value_name = "TOKENS")]
    pub context: Option<u64>,
    /// Largest model, e.g. 8B or 350M.
    #[arg(long, value_name = "COUNT")]
    pub max_params: Option<String>,
    /// Workload, e.g. "1000000 docs x 1500 in / 200 out" (needs --gpu).
    #[arg(long, value_name = "SPEC", requires = "gpu")]
    pub workload: Option<String>,
    /// Deadline for the workload: 24h, 90m, 2d.
    #[arg(long, value_name = "DURATION", requires = "workload")]
    pub deadline: Option<String>,
    /// Budget for the workload in USD.
    #[arg(long, value_name = "USD", requires = "workload")]
    pub budget: Option<String>,
    /// Minimum 30-day downloads.
    #[arg(long, value_name = "N")]
    pub min_downloads: Option<u64>,
    /// Keep gated models.
    #[arg(long)]
    pub include_gated: bool,
    /// Keep models whose license needs review (marked as such).
    #[arg(long)]
    pub include_review: bool,
    /// Snapshot id [default: the latest].
    #[arg(long, value_name = "ID")]
    pub snapshot: Option<i64>,
    /// Shortlist rows to show in the table [default: 20; --json/--csv/--html have all].
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub top: usize,
    /// Excluded models to list in the table [default: 30; --json/--csv/--html have all].
    #[arg(long, default_value_t = 30, value_name = "N")]
    pub show_excluded: usize,
    /// Write CSV (one row per model: shortlisted or excluded) to stdout.
    #[arg(long, conflicts_with = "html")]
    pub csv: bool,
    /// Write a self-contained HTML report to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

fn request(args: &Args) -> anyhow::Result<FindRequest> {
    if args.gpus == 0 {
        return Err(cambrian_app::Error::usage("--gpus must be at least 1").into());
    }
    Ok(FindRequest {
        task: args.task.clone(),
        profile: args.profile.profile(),
        gpu: args.gpu.clone(),
        gpus: args.gpus,
        engine: args.engine.clone(),
        context: args.context,
        max_params: args.max_params.as_deref().map(parse_count).transpose()?,
        workload: args.workload.clone(),
        deadline_hours: args.deadline.as_deref().map(parse_hours).transpose()?,
        budget_usd: args.budget.as_deref().map(parse_usd).transpose()?,
        min_downloads: args.min_downloads,
        include_gated: args.include_gated,
        include_review: args.include_review,
        snapshot: args.snapshot,
    })
}

#[derive(Serialize)]
struct Typed<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    inner: &'a T,
}

#[derive(Serialize)]
struct Summary<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    snapshot: &'a Option<shortlist::funnel::SnapshotRef>,
    /// A larger recent snapshot of another series, when the default (newest) one was used.
    larger_snapshot: &'a Option<shortlist::funnel::SnapshotRef>,
    request: &'a FindRequest,
    shortlisted: usize,
    excluded: usize,
    ranking: &'a str,
    details: &'a shortlist::DetailStats,
    kb_version: &'a str,
}

use cambrian_app::shortlist::html::{human, hw_cell};

/// The first `n` exclusions in table order: later stages first (those models were closest
/// to making it), then more downloads, ties in report order — what a full stable sort gives,
/// selected in linear time (a 100k-model run excludes most of the snapshot).
fn shown_exclusions(excluded: &[Exclusion], n: usize) -> Vec<&Exclusion> {
    let key = |(i, e): &(usize, &Exclusion)| {
        (
            std::cmp::Reverse(e.stage),
            std::cmp::Reverse(e.downloads_30d.unwrap_or(0)),
            *i,
        )
    };
    let mut ex: Vec<(usize, &Exclusion)> = excluded.iter().enumerate().collect();
    if n < ex.len() {
        ex.select_nth_unstable_by_key(n, key);
        ex.truncate(n);
    }
    ex.sort_unstable_by_key(key);
    ex.into_iter().map(|(_, e)| e).collect()
}

fn print_tables(rep: &FindReport, args: &Args) -> anyhow::Result<()> {
    if let Some(s) = &rep.snapshot {
        output::line(format!(
            "snapshot {} taken {} ({} models, source {})",
            s.id,
            s.taken_at.format("%Y-%m-%d %H:%M UTC"),
            s.models,
            s.source
        ))?;
    }
    if let Some(l) = &rep.larger_snapshot {
        output::line(format!(
            "note: snapshot {} taken {} lists {} models (source {}); run with --snapshot {} to search it",
            l.id,
            l.taken_at.format("%Y-%m-%d %H:%M UTC"),
            l.models,
            l.source,
            l.id
        ))?;
    }
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(vec!["stage", "rule", "in", "excluded", "passed"]);
    for s in &rep.stages {
        let name = if s.active {
            s.stage.as_str().to_string()
        } else {
            format!("{} (off)", s.stage.as_str())
        };
        t.add_row(vec![
            name,
            s.rule.clone(),
            s.input.to_string(),
            s.excluded.to_string(),
            s.passed.to_string(),
        ]);
    }
    output::line("funnel:")?;
    output::line(t.to_string())?;

    output::line(format!(
        "shortlist ({} models; {}):",
        rep.shortlist.len(),
        rep.ranking
    ))?;
    if rep.shortlist.is_empty() {
        output::line("  (empty: see the exclusions below for the nearest changes)")?;
    } else {
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED);
        t.set_header(vec![
            "#",
            "model",
            "license",
            "verdict",
            "params",
            "context",
            "fit (need/have)",
            "downloads",
            "likes",
        ]);
        for c in rep.shortlist.iter().take(args.top) {
            t.add_row(vec![
                c.rank.to_string(),
                c.id.clone(),
                c.license.clone().unwrap_or_else(|| "-".into()),
                c.verdict.to_string(),
                human(c.params),
                c.max_context
                    .map(|x| x.to_string())
                    .unwrap_or_else(|| "?".into()),
                hw_cell(c),
                human(c.downloads_30d),
                human(c.likes),
            ]);
        }
        output::line(t.to_string())?;
        if rep.shortlist.len() > args.top {
            output::line(format!(
                "  … {} more (raise --top, or use --json/--csv/--html)",
                rep.shortlist.len() - args.top
            ))?;
        }
        for c in rep.shortlist.iter().take(args.top) {
            if c.conditions.is_empty()
                && c.lineage_flags.is_empty()
                && c.caveats.is_empty()
                && c.hardware
                    .as_ref()
                    .and_then(|h| h.workload.as_ref())
                    .is_none()
            {
                continue;
            }
            output::line(format!("  {}. {}", c.rank, c.id))?;
            if let Some(w) = c.hardware.as_ref().and_then(|h| h.workload.as_ref()) {
                output::line(format!(
                    "     workload: {:.1} h{} ({})",
                    w.hours,
                    w.cost_usd.map(|c| format!(", ${c:.0}")).unwrap_or_default(),
                    w.basis
                ))?;
            }
            for x in &c.conditions {
                output::line(format!("     condition: {x}"))?;
            }
            for x in &c.lineage_flags {
                output::line(format!("     warning: {x}"))?;
            }
            for x in &c.caveats {
                output::line(format!("     caveat: {x}"))?;
            }
        }
    }
    output::line(format!("excluded ({} models):", rep.excluded.len()))?;
    if !rep.excluded.is_empty() {
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED);
        t.set_header(vec!["model", "stage", "reason", "nearest change"]);
        // Later stages first: those models were closest to making it.
        for e in shown_exclusions(&rep.excluded, args.show_excluded) {
            t.add_row(vec![
                e.id.clone(),
                e.stage.as_str().to_string(),
                e.reason.clone(),
                e.nearest_change.clone().unwrap_or_else(|| "-".into()),
            ]);
        }
        output::line(t.to_string())?;
        if rep.excluded.len() > args.show_excluded {
            output::line(format!(
                "  … {} more (raise --show-excluded, or use --json/--csv/--html)",
                rep.excluded.len() - args.show_excluded
            ))?;
        }
    }
    let d = &rep.details;
    output::line(format!(
        "details: {} from cache, {} fetched, {} not on the Hub, {} unavailable",
        d.from_cache, d.fetched, d.not_found, d.failed
    ))?;
    Ok(())
}

const CSV_HEADER: [&str; 14] = [
    "status",
    "rank",
    "model",
    "stage",
    "reason",
    "nearest_change",
    "license",
    "verdict",
    "params",
    "max_context",
    "fit",
    "downloads_30d",
    "likes",
    "conditions",
];

fn write_csv(rep: &FindReport) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(std::io::stdout().lock());
    w.write_record(CSV_HEADER)?;
    let o = |x: Option<u64>| x.map(|v| v.to_string()).unwrap_or_default();
    for c in &rep.shortlist {
        w.write_record([
            "shortlisted".to_string(),
            c.rank.to_string(),
            c.id.clone(),
            String::new(),
            c.rank_basis.clone(),
            String::new(),
            c.license.clone().unwrap_or_default(),
            c.verdict.to_string(),
            o(c.params),
            o(c.max_context),
            c.hardware
                .as_ref()
                .map(|h| format!("{} {}/{}", h.verdict, h.total_bytes, h.available_bytes))
                .unwrap_or_default(),
            o(c.downloads_30d),
            o(c.likes),
            c.conditions.join(" | "),
        ])?;
    }
    for e in &rep.excluded {
        w.write_record([
            "excluded".to_string(),
            String::new(),
            e.id.clone(),
            e.stage.as_str().to_string(),
            e.reason.clone(),
            e.nearest_change.clone().unwrap_or_default(),
            e.license.clone().unwrap_or_default(),
            e.verdict.map(|v| v.to_string()).unwrap_or_default(),
            String::new(),
            String::new(),
            String::new(),
            o(e.downloads_30d),
            String::new(),
            String::new(),
        ])?;
    }
    w.flush()?;
    Ok(())
}

fn write_file_atomic(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    output::write_atomic(path, text.as_bytes()).map_err(|e| {
        cambrian_app::Error::bad_input(format!("cannot write {}: {e}", path.display()))
            .with_hint("check that the directory exists and is writable")
            .into()
    })
}

pub async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let req = request(&args)?;
    let pb = progress_bar(ctx, "fetching model details");
    let cb = |p: shortlist::funnel::FindProgress| {
        pb.set_length(p.total);
        pb.set_position(p.done);
    };
    let rep = shortlist::find(&ctx.store, &args.remote.settings(), &req, &cb).await;
    pb.finish_and_clear();
    let rep = rep?;
    if let Some(path) = &args.html {
        write_file_atomic(path, &shortlist::render_html(&rep))?;
        if !ctx.json {
            eprintln!("wrote {}", path.display());
        }
    }
    if ctx.json {
        output::json_line(&Summary {
            kind: "find.summary",
            snapshot: &rep.snapshot,
            larger_snapshot: &rep.larger_snapshot,
            request: &rep.request,
            shortlisted: rep.shortlist.len(),
            excluded: rep.excluded.len(),
            ranking: &rep.ranking,
            details: &rep.details,
            kb_version: &rep.kb.kb_version,
        })?;
        for s in &rep.stages {
            output::json_line(&Typed::<StageSummary> {
                kind: "find.stage",
                inner: s,
            })?;
        }
        for c in &rep.shortlist {
            output::json_line(&Typed::<Candidate> {
                kind: "find.candidate",
                inner: c,
            })?;
        }
        for e in &rep.excluded {
            output::json_line(&Typed::<Exclusion> {
                kind: "find.excluded",
                inner: e,
            })?;
        }
    } else if args.csv {
        write_csv(&rep)?;
    } else if args.html.is_none() {
        print_tables(&rep, &args)?;
    } else {
        output::line(format!(
            "{} shortlisted, {} excluded",
            rep.shortlist.len(),
            rep.excluded.len()
        ))?;
    }
    // An empty shortlist is "nothing found" (exit 3).
    let code = if rep.shortlist.is_empty() { 3 } else { 0 };
    // The process ends right after this command: freeing the report's
    // ~100k small allocations one by one cost ~7% of a 100k-model run
    // (bench/find); the OS reclaims the memory at exit instead.
    std::mem::forget(rep);
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cambrian_app::shortlist::Stage;

    #[test]
    fn shown_exclusions_equal_a_full_stable_sort() {
        // Many ties (stage, downloads) so that the order of equal keys matters.
        let stages = [Stage::Task, Stage::License, Stage::Hardware, Stage::Context];
        let ex: Vec<Exclusion> = (0..500u64)
            .map(|i| Exclusion {
                id: format!("m{i}"),
                stage: stages[(i * 7 % 4) as usize],
                reason: String::new(),
                nearest_change: None,
                license: None,
                verdict: None,
                downloads_30d: if i % 11 == 0 { None } else { Some(i * 13 % 17) },
            })
            .collect();
        let mut full: Vec<&Exclusion> = ex.iter().collect();
        full.sort_by(|a, b| {
            b.stage.cmp(&a.stage).then(
                b.downloads_30d
                    .unwrap_or(0)
                    .cmp(&a.downloads_30d.unwrap_or(0)),
            )
        });
        for n in [0, 1, 30, 499, 500, 10_000] {
            let got: Vec<&str> = shown_exclusions(&ex, n)
                .iter()
                .map(|e| e.id.as_str())
                .collect();
            let want: Vec<&str> = full.iter().take(n).map(|e| e.id.as_str()).collect();
            assert_eq!(got, want, "n = {n}");
        }
    }
}
