//! The `find` funnel: the latest snapshot's models pass through stages
//! (task → downloads → gated → license → size → hardware → context →
//! workload); every model that drops out gets the stage, the reason with its
//! numbers, and the nearest change that would admit it. Survivors are ranked
//! by an explained, lexicographic key.

use super::details::{DetailSource, DetailStats, Lookup, ModelDetails, RemoteSettings, store_err};
use super::hardware::{self, HwCheck, HwOutcome};
use super::{
    KbVersion, Profile, Verdict, assess_with_lineage, base_ids, fetch_lineage, kb_version,
};
use crate::{Error, Result};
use cambrian_store::Store;
use cambrian_types::ModelRecord;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;

/// What the user asks `find` for.
#[derive(Debug, Clone, Serialize)]
pub struct FindRequest {
    /// Required `pipeline_tag`, e.g. `text-generation`.
    pub task: Option<String>,
    pub profile: Profile,
    /// GPU spec as `cambrian fit` accepts it (`24GB`, `A100-80GB`, `rtx4090`, …).
    pub gpu: Option<String>,
    pub gpus: u32,
    /// Inference engine profile for the estimate: transformers (default), vllm, llamacpp.
    pub engine: Option<String>,
    /// Context length the workload needs (tokens).
    pub context: Option<u64>,
    /// Largest parameter count accepted.
    pub max_params: Option<u64>,
    /// Workload description (`"1000000 docs x 1500 in / 200 out"`), as `cambrian fit --workload`.
    pub workload: Option<String>,
    /// Deadline for the workload, hours.
    pub deadline_hours: Option<f64>,
    /// Budget for the workload, USD.
    pub budget_usd: Option<f64>,
    pub min_downloads: Option<u64>,
    /// Keep gated models (access must be requested on the Hub).
    pub include_gated: bool,
    /// Keep models whose license verdict is `needs-review` (listed as such).
    pub include_review: bool,
    /// Snapshot id; default the latest complete snapshot.
    pub snapshot: Option<i64>,
}

impl Default for FindRequest {
    fn default() -> Self {
        FindRequest {
            task: None,
            profile: Profile::default(),
            gpu: None,
            gpus: 1,
            engine: None,
            context: None,
            max_params: None,
            workload: None,
            deadline_hours: None,
            budget_usd: None,
            min_downloads: None,
            include_gated: false,
            include_review: false,
            snapshot: None,
        }
    }
}

/// A funnel stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    Task,
    Downloads,
    Details,
    Gated,
    License,
    Size,
    Hardware,
    Context,
    Workload,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Task => "task",
            Stage::Downloads => "downloads",
            Stage::Details => "details",
            Stage::Gated => "gated",
            Stage::License => "license",
            Stage::Size => "size",
            Stage::Hardware => "hardware",
            Stage::Context => "context",
            Stage::Workload => "workload",
        }
    }
    pub const ALL: [Stage; 9] = [
        Stage::Task,
        Stage::Downloads,
        Stage::Details,
        Stage::Gated,
        Stage::License,
        Stage::Size,
        Stage::Hardware,
        Stage::Context,
        Stage::Workload,
    ];
}

/// Counts per stage.
#[derive(Debug, Clone, Serialize)]
pub struct StageSummary {
    pub stage: Stage,
    /// Whether the stage filtered anything (it is skipped when its option is absent).
    pub active: bool,
    pub input: usize,
    pub excluded: usize,
    pub passed: usize,
    /// What the stage checks, with the user's numbers.
    pub rule: String,
}

/// A model that dropped out.
#[derive(Debug, Clone, Serialize)]
pub struct Exclusion {
    pub id: String,
    pub stage: Stage,
    /// Why, with the numbers.
    pub reason: String,
    /// The nearest change to the request that would admit it at this stage
    /// (later stages may still exclude it).
    pub nearest_change: Option<String>,
    pub license: Option<String>,
    pub verdict: Option<Verdict>,
    pub downloads_30d: Option<u64>,
}

/// A model on the shortlist.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    pub rank: usize,
    pub id: String,
    pub pipeline_tag: Option<String>,
    pub license: Option<String>,
    pub license_id: String,
    pub verdict: Verdict,
    /// The conditions that apply to the user's profile (license obligations and lineage).
    pub conditions: Vec<String>,
    /// Lineage warnings (a child more permissive than its base, …).
    pub lineage_flags: Vec<String>,
    pub params: Option<u64>,
    pub params_source: Option<String>,
    pub max_context: Option<u64>,
    pub hardware: Option<HwOutcome>,
    pub downloads_30d: Option<u64>,
    pub likes: Option<u64>,
    pub gated: bool,
    /// The values of the ranking key, in order, as text.
    pub rank_basis: String,
    /// What could not be checked for this model.
    pub caveats: Vec<String>,
}

/// The snapshot the funnel ran over.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotRef {
    pub id: i64,
    pub taken_at: DateTime<Utc>,
    pub source: String,
    pub query: String,
    pub models: u64,
}

/// Everything `find` found.
#[derive(Debug, Clone, Serialize)]
pub struct FindReport {
    pub snapshot: Option<SnapshotRef>,
    pub request: FindRequest,
    pub stages: Vec<StageSummary>,
    pub shortlist: Vec<Candidate>,
    pub excluded: Vec<Exclusion>,
    /// How the shortlist is ordered.
    pub ranking: String,
    pub details: DetailStats,
    pub kb: KbVersion,
    /// When the snapshot was chosen by default (the newest) and a snapshot
    /// of another series taken within [`LARGER_SNAPSHOT_WINDOW_DAYS`] of it
    /// lists at least twice as many models: that one (`--snapshot ID`).
    pub larger_snapshot: Option<SnapshotRef>,
}

/// How far back from the newest snapshot `find` looks for a larger one to
/// point out.
pub const LARGER_SNAPSHOT_WINDOW_DAYS: i64 = 7;

fn snapshot_ref(s: &cambrian_store::SnapshotInfo) -> SnapshotRef {
    SnapshotRef {
        id: s.id.0,
        taken_at: s.taken_at,
        source: s.source.clone(),
        query: s.query.clone(),
        models: s.models,
    }
}

/// The largest snapshot taken within the window before `chosen` (ties: the
/// newest), if it lists at least twice as many models as `chosen`.
fn larger_snapshot(
    snaps: &[cambrian_store::SnapshotInfo],
    chosen: &cambrian_store::SnapshotInfo,
) -> Option<SnapshotRef> {
    let since = chosen.taken_at - chrono::Duration::days(LARGER_SNAPSHOT_WINDOW_DAYS);
    snaps
        .iter()
        .filter(|s| {
            s.id != chosen.id
                && s.taken_at >= since
                && s.models >= chosen.models.saturating_mul(2).max(1)
        })
        .max_by_key(|s| (s.models, s.taken_at, s.id.0))
        .map(snapshot_ref)
}

/// Parse a parameter count: `7B`, `7.5b`, `350M`, `1.2T`, `125000000`.
pub fn parse_count(s: &str) -> Result<u64> {
    let t = s.trim().replace('_', "");
    let (num, mult) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&t[..t.len() - 1], 1e3),
        Some('M') => (&t[..t.len() - 1], 1e6),
        Some('B') | Some('G') => (&t[..t.len() - 1], 1e9),
        Some('T') => (&t[..t.len() - 1], 1e12),
        _ => (t.as_str(), 1.0),
    };
    let v: f64 = num.trim().parse().map_err(|_| {
        Error::usage(format!("`{s}` is not a parameter count"))
            .with_hint("write e.g. 8B, 350M or 7000000000")
    })?;
    if !(v.is_finite() && v > 0.0 && v * mult < 1e16) {
        return Err(
            Error::usage(format!("`{s}` is out of range for a parameter count"))
                .with_hint("write e.g. 8B, 350M"),
        );
    }
    Ok((v * mult).round() as u64)
}

/// Parse a duration in hours: `24h`, `90m`, `2d`, `1.5` (hours).
pub fn parse_hours(s: &str) -> Result<f64> {
    let t = s.trim().to_ascii_lowercase();
    let (num, mult) = if let Some(x) = t.strip_suffix('h') {
        (x, 1.0)
    } else if let Some(x) = t.strip_suffix('m') {
        (x, 1.0 / 60.0)
    } else if let Some(x) = t.strip_suffix('d') {
        (x, 24.0)
    } else if let Some(x) = t.strip_suffix('w') {
        (x, 168.0)
    } else {
        (t.as_str(), 1.0)
    };
    let v: f64 = num.trim().parse().map_err(|_| {
        Error::usage(format!("`{s}` is not a duration")).with_hint("write e.g. 24h, 90m or 2d")
    })?;
    if !(v.is_finite() && v > 0.0) {
        return Err(
            Error::usage(format!("`{s}` must be a positive duration")).with_hint("write e.g. 24h")
        );
    }
    Ok(v * mult)
}

/// Parse a budget in USD: `500`, `$500`, `500usd`.
pub fn parse_usd(s: &str) -> Result<f64> {
    let t = s
        .trim()
        .trim_start_matches('$')
        .trim_end_matches("usd")
        .trim_end_matches("USD")
        .trim();
    let v: f64 = t.parse().map_err(|_| {
        Error::usage(format!("`{s}` is not an amount")).with_hint("write e.g. 500 (US dollars)")
    })?;
    if !(v.is_finite() && v > 0.0) {
        return Err(Error::usage(format!("`{s}` must be a positive amount")));
    }
    Ok(v)
}

pub(crate) fn human_count(n: u64) -> String {
    let f = n as f64;
    if f >= 1e12 {
        format!("{:.2}T", f / 1e12)
    } else if f >= 1e9 {
        format!("{:.2}B", f / 1e9)
    } else if f >= 1e6 {
        format!("{:.1}M", f / 1e6)
    } else if f >= 1e3 {
        format!("{:.1}K", f / 1e3)
    } else {
        n.to_string()
    }
}

fn get_u64(v: &serde_json::Value, keys: &[&str]) -> Option<u64> {
    keys.iter().find_map(|k| {
        v.get(*k).and_then(|x| {
            x.as_u64().or_else(|| {
                x.as_f64()
                    .filter(|f| *f > 0.0 && *f < 1e12)
                    .map(|f| f as u64)
            })
        })
    })
}

/// The model's maximum context in tokens and where it was read.
pub(crate) fn max_context(d: &ModelDetails) -> Option<(u64, &'static str)> {
    const KEYS: &[&str] = &[
        "max_position_embeddings",
        "n_positions",
        "max_seq_len",
        "seq_length",
        "max_sequence_length",
        "n_ctx",
    ];
    if let Some(cfg) = &d.config {
        if let Some(v) = get_u64(cfg, KEYS) {
            return Some((v, "config"));
        }
        if let Some(v) = cfg.get("text_config").and_then(|t| get_u64(t, KEYS)) {
            return Some((v, "config.text_config"));
        }
    }
    d.record
        .gguf
        .as_ref()
        .and_then(|g| g.context_length)
        .map(|c| (c, "gguf.context_length"))
}

/// The model's parameter count and its source.
pub(crate) fn param_count(d: &ModelDetails) -> Option<(u64, &'static str)> {
    if let Some(s) = &d.record.safetensors
        && s.total > 0
    {
        return Some((s.total, "Hub safetensors.total"));
    }
    d.record
        .gguf
        .as_ref()
        .and_then(|g| g.total)
        .filter(|t| *t > 0)
        .map(|t| (t, "Hub gguf.total"))
}

fn is_gated(r: &ModelRecord) -> bool {
    r.gated
        .as_deref()
        .is_some_and(|g| !g.is_empty() && g != "false")
}

struct Funnel<'a> {
    req: &'a FindRequest,
    stages: HashMap<Stage, (usize, usize)>,
    excluded: Vec<Exclusion>,
}

impl<'a> Funnel<'a> {
    fn exclude(
        &mut self,
        r: &ModelRecord,
        stage: Stage,
        reason: String,
        nearest: Option<String>,
        license: Option<String>,
        verdict: Option<Verdict>,
    ) {
        self.excluded.push(Exclusion {
            id: r.id.clone(),
            stage,
            reason,
            nearest_change: nearest,
            license,
            verdict,
            downloads_30d: r.downloads_30d,
        });
        self.stages.entry(stage).or_default().1 += 1;
    }
    fn enter(&mut self, stage: Stage, n: usize) {
        self.stages.entry(stage).or_default().0 += n;
    }
}

/// Stage 1 (listing fields only): task and downloads. Returns the
/// survivors' positions in `models`, in order.
fn cheap_stages(f: &mut Funnel<'_>, models: &[ModelRecord]) -> Vec<usize> {
    let req = f.req;
    f.enter(Stage::Task, models.len());
    let mut out = Vec::new();
    // Most of a snapshot is excluded here, with a few dozen distinct tags:
    // format each tag's reason once and copy it (formatting per model was
    // a tenth of a listing-only run over 100k models).
    let mut texts: HashMap<Option<&str>, (String, Option<String>)> = HashMap::new();
    for (i, r) in models.iter().enumerate() {
        if let Some(task) = &req.task
            && r.pipeline_tag.as_deref() != Some(task.as_str())
        {
            let (reason, nearest) =
                texts
                    .entry(r.pipeline_tag.as_deref())
                    .or_insert_with(|| match &r.pipeline_tag {
                        Some(t) => (
                            format!("pipeline_tag is `{t}`, not `{task}`"),
                            Some(format!("--task {t}")),
                        ),
                        None => (format!("no pipeline_tag (need `{task}`)"), None),
                    });
            let (reason, nearest) = (reason.clone(), nearest.clone());
            f.exclude(r, Stage::Task, reason, nearest, r.license.clone(), None);
            continue;
        }
        out.push(i);
    }
    f.enter(Stage::Downloads, out.len());
    let mut out2 = Vec::with_capacity(out.len());
    for i in out {
        let r = &models[i];
        if let Some(min) = req.min_downloads {
            match r.downloads_30d {
                Some(d) if d >= min => {}
                Some(d) => {
                    f.exclude(
                        r,
                        Stage::Downloads,
                        format!("{d} downloads in 30 days < --min-downloads {min}"),
                        Some(format!("--min-downloads {d}")),
                        r.license.clone(),
                        None,
                    );
                    continue;
                }
                None => {
                    f.exclude(
                        r,
                        Stage::Downloads,
                        format!("download count unknown (need ≥ {min})"),
                        Some("drop --min-downloads".into()),
                        r.license.clone(),
                        None,
                    );
                    continue;
                }
            }
        }
        out2.push(i);
    }
    out2
}

/// Merge the listing record into fetched details, in place: details win
/// where present, the listing's counters (same snapshot) are kept.
fn apply_listing(rec: &mut ModelRecord, listing: &ModelRecord) {
    rec.downloads_30d = listing.downloads_30d.or(rec.downloads_30d);
    rec.likes = listing.likes.or(rec.likes);
    if rec.pipeline_tag.is_none() {
        rec.pipeline_tag = listing.pipeline_tag.clone();
    }
    if rec.gated.is_none() {
        rec.gated = listing.gated.clone();
    }
    if rec.safetensors.is_none() {
        rec.safetensors = listing.safetensors.clone();
    }
}

/// Merge the listing into the details of every model that passed the
/// listing-only stages (the details of base models stay as fetched, except
/// when a base model is itself such a survivor).
fn apply_listings(details: &mut HashMap<String, Lookup>, survivors: &[&ModelRecord]) {
    for r in survivors {
        if let Some(Lookup::Found(d)) = details.get_mut(&r.id) {
            apply_listing(&mut d.record, r);
        }
    }
}

const RANKING: &str = "ranked by: (1) license verdict — yes before yes-with-conditions before needs-review; (2) with --workload, lower estimated cost; (3) 30-day downloads, higher first; (4) likes, higher first; (5) model id";

/// Run the funnel over `models` (a snapshot, in rank order) with `details`
/// already looked up for the models that pass the listing-only stages and
/// for their base models. Pure: no I/O.
pub fn run_funnel(
    models: &[ModelRecord],
    details: &HashMap<String, Lookup>,
    req: &FindRequest,
) -> Result<(Vec<StageSummary>, Vec<Candidate>, Vec<Exclusion>)> {
    let hw_check = HwCheck::new(req)?;
    let mut f = Funnel {
        req,
        stages: HashMap::new(),
        excluded: Vec::new(),
    };
    let survivors: Vec<&ModelRecord> = cheap_stages(&mut f, models)
        .into_iter()
        .map(|i| &models[i])
        .collect();
    let mut details = details.clone();
    apply_listings(&mut details, &survivors);
    detail_stages(f, &survivors, &details, hw_check)
}

/// Where a survivor's details are: the looked-up map, or its listing record alone.
enum Src<'d> {
    Map(&'d ModelDetails),
    Listing(usize),
}

/// The stages from `details` on, over the survivors of [`cheap_stages`];
/// `details` already carry the listing's counters ([`apply_listings`]).
/// Works on references into `details`: nothing is cloned per model except
/// for models whose details are missing.
fn detail_stages(
    mut f: Funnel<'_>,
    survivors: &[&ModelRecord],
    details: &HashMap<String, Lookup>,
    hw_check: Option<HwCheck>,
) -> Result<(Vec<StageSummary>, Vec<Candidate>, Vec<Exclusion>)> {
    let req = f.req;
    // Details.
    f.enter(Stage::Details, survivors.len());
    let mut listing_only: Vec<ModelDetails> = Vec::new();
    // Each survivor's details, its caveats, and why its details are missing (if they are).
    let mut srcs: Vec<(Src<'_>, Vec<String>, Option<String>)> = Vec::with_capacity(survivors.len());
    for r in survivors {
        let mut caveats = Vec::new();
        let missing = match details.get(&r.id) {
            Some(Lookup::Found(d)) => {
                srcs.push((Src::Map(d), caveats, None));
                continue;
            }
            Some(Lookup::NotFound(m)) => {
                f.exclude(
                    r,
                    Stage::Details,
                    format!("{m}; the snapshot lists it but the Hub no longer has it"),
                    None,
                    r.license.clone(),
                    None,
                );
                continue;
            }
            Some(Lookup::Unavailable(m)) => format!("details unavailable ({m})"),
            None => "details not looked up".to_string(),
        };
        caveats.push(format!("{missing}; using the listing fields only"));
        let missing = Some(missing);
        srcs.push((Src::Listing(listing_only.len()), caveats, missing));
        listing_only.push(ModelDetails {
            record: (*r).clone(),
            config: None,
        });
    }
    let with_details: Vec<(&ModelDetails, Vec<String>, Option<String>)> = srcs
        .into_iter()
        .filter_map(|(s, cav, missing)| match s {
            Src::Map(d) => Some((d, cav, None)),
            Src::Listing(i) => listing_only.get(i).map(|d| (d, cav, missing)),
        })
        .collect();

    // Gated.
    f.enter(Stage::Gated, with_details.len());
    let mut stage_in = Vec::with_capacity(with_details.len());
    for (d, cav, missing) in with_details {
        if is_gated(&d.record) && !req.include_gated {
            let mode = d.record.gated.clone().unwrap_or_default();
            f.exclude(
                &d.record,
                Stage::Gated,
                format!("gated (access mode `{mode}`): weights need approval on the Hub"),
                Some("--include-gated (and request access on the Hub)".into()),
                d.record.license.clone(),
                None,
            );
            continue;
        }
        stage_in.push((d, cav, missing));
    }

    // License (with lineage).
    f.enter(Stage::License, stage_in.len());
    struct Lic<'d> {
        d: &'d ModelDetails,
        cav: Vec<String>,
        license_id: String,
        verdict: Verdict,
        conditions: Vec<String>,
        flags: Vec<String>,
    }
    let mut lic_pass = Vec::with_capacity(stage_in.len());
    for (d, mut cav, missing) in stage_in {
        let a = assess_with_lineage(d, details, &req.profile)?;
        let license_id = a.own.license_id.clone();
        let reason_text = || {
            let mut parts: Vec<String> = a
                .own
                .reasons
                .iter()
                .filter(|_| a.own.verdict == a.verdict)
                .map(|r| {
                    let cite = r
                        .citation
                        .and_then(|i| a.own.citations.get(i))
                        .map(|c| format!(" [{} {}]", c.source, c.clause))
                        .unwrap_or_default();
                    format!("{}{cite}", r.text)
                })
                .collect();
            parts.extend(a.lineage_reasons.iter().map(|r| r.text.clone()));
            parts.join("; ")
        };
        let admit = match a.verdict {
            Verdict::No => a.own.admit_hint.clone().or_else(|| {
                Some("a model whose own license and base models' licenses allow the use".into())
            }),
            Verdict::NeedsReview => {
                Some("--include-review (then read the license yourself)".into())
            }
            _ => None,
        };
        let shown_license = match (&d.record.license, &d.record.license_name) {
            (Some(l), Some(n)) if l == "other" => format!("other ({n})"),
            (Some(l), _) => l.clone(),
            (None, _) if missing.is_some() => "unknown".into(),
            (None, _) => "none stated".into(),
        };
        match a.verdict {
            Verdict::No => {
                f.exclude(
                    &d.record,
                    Stage::License,
                    format!(
                        "license {shown_license} → {} for {} use: {}",
                        a.verdict,
                        req.profile.usage.as_str(),
                        reason_text()
                    ),
                    admit,
                    d.record.license.clone(),
                    Some(a.verdict),
                );
                continue;
            }
            // No license in the listing and no details to read it from: say
            // so, rather than "the model states no license".
            Verdict::NeedsReview
                if !req.include_review && d.record.license.is_none() && missing.is_some() =>
            {
                let why = missing.as_deref().unwrap_or_default();
                f.exclude(
                    &d.record,
                    Stage::License,
                    format!("license unknown → needs-review: {why}, and the listing carries no license"),
                    Some("fetch the details (run without --offline, or check the network / HF_ENDPOINT); or --include-review".into()),
                    None,
                    Some(a.verdict),
                );
                continue;
            }
            Verdict::NeedsReview if !req.include_review => {
                f.exclude(
                    &d.record,
                    Stage::License,
                    format!("license {shown_license} → needs-review: {}", reason_text()),
                    admit,
                    d.record.license.clone(),
                    Some(a.verdict),
                );
                continue;
            }
            Verdict::NeedsReview => cav.push(format!("license needs review: {}", reason_text())),
            _ => {}
        }
        let mut conditions: Vec<String> = a
            .own
            .obligations
            .iter()
            .filter(|o| o.applies && !o.obligation.kind.is_routine_notice())
            .map(|o| o.obligation.summary.clone())
            .collect();
        conditions.extend(
            a.lineage_reasons
                .iter()
                .filter(|r| !r.text.contains("could not be checked"))
                .map(|r| r.text.clone()),
        );
        cav.extend(a.unchecked.iter().map(|b| {
            format!("base model {b}: its license could not be checked (record unavailable)")
        }));
        if a.truncated {
            cav.push(format!(
                "lineage deeper than {} levels was not followed",
                super::MAX_LINEAGE_DEPTH
            ));
        }
        let flags = a.flags.iter().map(|x| x.text.clone()).collect();
        lic_pass.push(Lic {
            d,
            cav,
            license_id,
            verdict: a.verdict,
            conditions,
            flags,
        });
    }

    // Size.
    f.enter(Stage::Size, lic_pass.len());
    let mut size_pass = Vec::with_capacity(lic_pass.len());
    for mut l in lic_pass {
        let pc = param_count(l.d)
            .or_else(|| hardware::params_from_config(l.d).map(|p| (p, "computed from config")));
        if let Some(max) = req.max_params {
            match pc {
                Some((p, _)) if p > max => {
                    f.exclude(
                        &l.d.record,
                        Stage::Size,
                        format!(
                            "{} parameters > --max-params {}",
                            human_count(p),
                            human_count(max)
                        ),
                        Some(format!("--max-params {}", human_count(p))),
                        l.d.record.license.clone(),
                        Some(l.verdict),
                    );
                    continue;
                }
                Some(_) => {}
                None => l
                    .cav
                    .push("parameter count unknown: --max-params not checked".into()),
            }
        }
        size_pass.push((l, pc));
    }

    // Hardware.
    f.enter(Stage::Hardware, size_pass.len());
    let mut hw_pass = Vec::with_capacity(size_pass.len());
    for (mut l, pc) in size_pass {
        let mut outcome = None;
        if let Some(check) = &hw_check {
            match check.check(l.d, pc.map(|x| x.0)) {
                Ok(o) if o.fits => outcome = Some(o),
                Ok(o) => {
                    let reason = o.reason.clone();
                    let nearest = o.nearest_change.clone();
                    f.exclude(
                        &l.d.record,
                        Stage::Hardware,
                        reason,
                        nearest,
                        l.d.record.license.clone(),
                        Some(l.verdict),
                    );
                    continue;
                }
                Err(why) => {
                    f.exclude(
                        &l.d.record,
                        Stage::Hardware,
                        why,
                        Some("a model with a published parameter count or config".into()),
                        l.d.record.license.clone(),
                        Some(l.verdict),
                    );
                    continue;
                }
            }
            if let Some(o) = &outcome {
                l.cav.extend(o.caveats.iter().cloned());
            }
        }
        hw_pass.push((l, pc, outcome));
    }

    // Context.
    f.enter(Stage::Context, hw_pass.len());
    let mut ctx_pass = Vec::with_capacity(hw_pass.len());
    for (mut l, pc, hw) in hw_pass {
        let mc = max_context(l.d);
        if let Some(need) = req.context {
            match mc {
                Some((m, src)) if m < need => {
                    f.exclude(
                        &l.d.record,
                        Stage::Context,
                        format!("maximum context {m} tokens ({src}) < --context {need}"),
                        Some(format!("--context {m}")),
                        l.d.record.license.clone(),
                        Some(l.verdict),
                    );
                    continue;
                }
                Some(_) => {}
                None => l.cav.push(format!(
                    "maximum context unknown (no config): --context {need} not verified"
                )),
            }
        }
        ctx_pass.push((l, pc, hw, mc));
    }

    // Workload.
    f.enter(Stage::Workload, ctx_pass.len());
    let mut out = Vec::with_capacity(ctx_pass.len());
    for (l, pc, hw, mc) in ctx_pass {
        if let (Some(o), true) = (&hw, req.workload.is_some())
            && let Some(w) = &o.workload
        {
            if let Some(dl) = req.deadline_hours
                && w.hours > dl
            {
                f.exclude(
                    &l.d.record,
                    Stage::Workload,
                    format!(
                        "workload takes {:.1} h on {} > --deadline {:.1} h ({})",
                        w.hours, o.gpu_label, dl, w.basis
                    ),
                    Some(format!(
                        "--deadline {}h, or more GPUs (--gpus {})",
                        w.hours.ceil(),
                        req.gpus
                            .saturating_mul(((w.hours / dl).ceil() as u32).max(2))
                    )),
                    l.d.record.license.clone(),
                    Some(l.verdict),
                );
                continue;
            }
            if let (Some(b), Some(cost)) = (req.budget_usd, w.cost_usd)
                && cost > b
            {
                f.exclude(
                    &l.d.record,
                    Stage::Workload,
                    format!(
                        "workload costs ${cost:.0} on {} > --budget ${b:.0} ({})",
                        o.gpu_label, w.basis
                    ),
                    Some(format!("--budget {}", cost.ceil())),
                    l.d.record.license.clone(),
                    Some(l.verdict),
                );
                continue;
            }
        }
        out.push((l, pc, hw, mc));
    }

    // Rank.
    out.sort_by(|a, b| {
        let ka = a.0.verdict.severity();
        let kb = b.0.verdict.severity();
        let ca =
            a.2.as_ref()
                .and_then(|h| h.workload.as_ref())
                .and_then(|w| w.cost_usd)
                .unwrap_or(f64::INFINITY);
        let cb =
            b.2.as_ref()
                .and_then(|h| h.workload.as_ref())
                .and_then(|w| w.cost_usd)
                .unwrap_or(f64::INFINITY);
        ka.cmp(&kb)
            .then(ca.partial_cmp(&cb).unwrap_or(std::cmp::Ordering::Equal))
            .then(
                b.0.d
                    .record
                    .downloads_30d
                    .unwrap_or(0)
                    .cmp(&a.0.d.record.downloads_30d.unwrap_or(0)),
            )
            .then(
                b.0.d
                    .record
                    .likes
                    .unwrap_or(0)
                    .cmp(&a.0.d.record.likes.unwrap_or(0)),
            )
            .then(a.0.d.record.id.cmp(&b.0.d.record.id))
    });
    let shortlist: Vec<Candidate> = out
        .into_iter()
        .enumerate()
        .map(|(i, (l, pc, hw, mc))| {
            let r = &l.d.record;
            let mut basis = vec![l.verdict.as_str().to_string()];
            if let Some(c) = hw
                .as_ref()
                .and_then(|h| h.workload.as_ref())
                .and_then(|w| w.cost_usd)
            {
                basis.push(format!("${c:.0} workload"));
            }
            basis.push(format!(
                "{} downloads/30d",
                r.downloads_30d
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| "?".into())
            ));
            basis.push(format!(
                "{} likes",
                r.likes.map(|d| d.to_string()).unwrap_or_else(|| "?".into())
            ));
            Candidate {
                rank: i + 1,
                id: r.id.clone(),
                pipeline_tag: r.pipeline_tag.clone(),
                license: r.license.clone(),
                license_id: l.license_id,
                verdict: l.verdict,
                conditions: l.conditions,
                lineage_flags: l.flags,
                params: pc.map(|x| x.0),
                params_source: pc.map(|x| x.1.to_string()),
                max_context: mc.map(|x| x.0),
                hardware: hw,
                downloads_30d: r.downloads_30d,
                likes: r.likes,
                gated: is_gated(r),
                rank_basis: basis.join("; "),
                caveats: l.cav,
            }
        })
        .collect();

    let rule = |s: Stage| -> (bool, String) {
        match s {
            Stage::Task => (
                req.task.is_some(),
                req.task
                    .as_ref()
                    .map(|t| format!("pipeline_tag = {t}"))
                    .unwrap_or_else(|| "any task".into()),
            ),
            Stage::Downloads => (
                req.min_downloads.is_some(),
                req.min_downloads
                    .map(|m| format!("30-day downloads ≥ {m}"))
                    .unwrap_or_else(|| "no minimum".into()),
            ),
            Stage::Details => (
                true,
                "model details (license, base models, config) from cache or Hub".into(),
            ),
            Stage::Gated => (
                !req.include_gated,
                if req.include_gated {
                    "gated models kept".into()
                } else {
                    "not gated".into()
                },
            ),
            Stage::License => (
                true,
                format!(
                    "verdict for use={} is yes or yes-with-conditions{}",
                    req.profile.usage.as_str(),
                    if req.include_review {
                        " (needs-review kept)"
                    } else {
                        ""
                    }
                ),
            ),
            Stage::Size => (
                req.max_params.is_some(),
                req.max_params
                    .map(|m| format!("parameters ≤ {}", human_count(m)))
                    .unwrap_or_else(|| "any size".into()),
            ),
            Stage::Hardware => (
                req.gpu.is_some(),
                req.gpu
                    .as_ref()
                    .map(|g| {
                        format!(
                            "fits {} × {g} at context {}",
                            req.gpus.max(1),
                            req.context.unwrap_or(hardware::DEFAULT_CONTEXT)
                        )
                    })
                    .unwrap_or_else(|| "no GPU given".into()),
            ),
            Stage::Context => (
                req.context.is_some(),
                req.context
                    .map(|c| format!("maximum context ≥ {c}"))
                    .unwrap_or_else(|| "any context".into()),
            ),
            Stage::Workload => (
                req.workload.is_some(),
                req.workload
                    .as_ref()
                    .map(|w| {
                        format!(
                            "`{w}` within deadline {:?} h and budget {:?} USD",
                            req.deadline_hours, req.budget_usd
                        )
                    })
                    .unwrap_or_else(|| "no workload".into()),
            ),
        }
    };
    let stages = Stage::ALL
        .iter()
        .map(|&s| {
            let (input, excluded) = f.stages.get(&s).copied().unwrap_or((0, 0));
            let (active, rule) = rule(s);
            StageSummary {
                stage: s,
                active,
                input,
                excluded,
                passed: input - excluded.min(input),
                rule,
            }
        })
        .collect();
    Ok((stages, shortlist, f.excluded))
}

/// Progress of `find` (for a progress bar).
#[derive(Debug, Clone, Copy)]
pub struct FindProgress {
    pub done: u64,
    pub total: u64,
}

/// `cambrian find`: load the snapshot, fetch details on demand (cached in
/// the store), run the funnel.
pub async fn find(
    store_dir: &Path,
    remote: &RemoteSettings,
    req: &FindRequest,
    progress: &dyn Fn(FindProgress),
) -> Result<FindReport> {
    // Validate what can be validated before touching the store or the network.
    let hw_check = HwCheck::new(req)?;
    let mut store = Store::open(store_dir).map_err(store_err)?;
    let snaps = store.snapshots().map_err(store_err)?;
    let snap = match req.snapshot {
        Some(id) => snaps
            .iter()
            .find(|s| s.id.0 == id)
            .cloned()
            .ok_or_else(|| {
                Error::not_found(format!("no complete snapshot with id {id}"))
                    .with_hint("`cambrian snapshots` lists them")
            })?,
        None => snaps.last().cloned().ok_or_else(|| {
            Error::not_found("the store has no snapshot to search")
                .with_hint("run `cambrian sync` or `cambrian import` first")
        })?,
    };
    // Listing-only stages first, on the lean listing (no tags, siblings or
    // header fields decoded); full records and details are read only for
    // their survivors.
    let mut listing = store.snapshot_listing(snap.id).map_err(store_err)?;
    let mut f = Funnel {
        req,
        stages: HashMap::new(),
        excluded: Vec::new(),
    };
    let keep = cheap_stages(&mut f, &listing.records);
    // The excluded models' listing records are done with (their exclusions
    // own what they show): free them before the details arrive.
    let mut kept = keep.iter().peekable();
    for (i, r) in listing.records.iter_mut().enumerate() {
        if kept.next_if(|&&k| k == i).is_none() {
            *r = ModelRecord::default();
        }
    }
    let wanted: Vec<String> = keep
        .iter()
        .map(|&i| listing.records[i].id.clone())
        .collect();
    let mut src = DetailSource::new(&mut store, remote.clone()).without_tags();
    let cb = |done: u64, total: u64| progress(FindProgress { done, total });
    let mut details = src.get_many(&wanted, &cb).await?;
    let bases = base_ids(
        wanted
            .iter()
            .filter_map(|id| details.get(id).and_then(Lookup::details)),
    );
    fetch_lineage(&mut src, &mut details, bases, &cb).await?;
    let stats = src.stats.clone();
    drop(src);
    // The full snapshot record only where the details do not cover what the
    // later stages read from the listing: models without details (their
    // listing stands in for them) and details without a parameter count
    // (the listing's safetensors fill it in). Everywhere else the lean
    // listing record carries all that is merged (counters, task, gated).
    let need_full: Vec<usize> = keep
        .iter()
        .copied()
        .filter(|&i| match details.get(&listing.records[i].id) {
            Some(Lookup::Found(d)) => d.record.safetensors.is_none(),
            Some(Lookup::NotFound(_)) => false,
            _ => true,
        })
        .collect();
    let full = store
        .listing_full_records(&listing, &need_full)
        .map_err(store_err)?;
    let mut full_at = need_full.iter().zip(&full).peekable();
    let survivors: Vec<&ModelRecord> = keep
        .iter()
        .map(|&i| match full_at.next_if(|(j, _)| **j == i) {
            Some((_, r)) => r,
            None => &listing.records[i],
        })
        .collect();
    apply_listings(&mut details, &survivors);
    let (stages, shortlist, excluded) = detail_stages(f, &survivors, &details, hw_check)?;
    Ok(FindReport {
        snapshot: Some(snapshot_ref(&snap)),
        request: req.clone(),
        stages,
        shortlist,
        excluded,
        ranking: RANKING.to_string(),
        details: stats,
        kb: kb_version()?,
        larger_snapshot: if req.snapshot.is_none() {
            larger_snapshot(&snaps, &snap)
        } else {
            None
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(id: &str, task: &str, dl: u64) -> ModelRecord {
        ModelRecord {
            id: id.into(),
            pipeline_tag: Some(task.into()),
            downloads_30d: Some(dl),
            likes: Some(dl / 10),
            ..Default::default()
        }
    }

    fn found(id: &str, license: &str, dl: u64) -> Lookup {
        Lookup::Found(ModelDetails {
            record: ModelRecord {
                id: id.into(),
                license: Some(license.into()),
                downloads_30d: Some(dl),
                ..Default::default()
            },
            config: None,
        })
    }

    #[test]
    fn every_model_is_accounted_for_and_the_listing_counters_win() {
        let models = vec![
            listing("a/apache", "text-generation", 500),
            listing("b/nc", "text-generation", 900),
            listing("c/gone", "text-generation", 50),
            listing("d/offline", "text-generation", 40),
            listing("e/image", "text-to-image", 10_000),
        ];
        let mut details = HashMap::new();
        // The cached details carry older counters; the snapshot's (listing) counters must win.
        details.insert("a/apache".to_string(), found("a/apache", "apache-2.0", 1));
        details.insert("b/nc".to_string(), found("b/nc", "cc-by-nc-4.0", 1));
        details.insert(
            "c/gone".to_string(),
            Lookup::NotFound("the Hub has no model c/gone (HTTP 404)".into()),
        );
        details.insert(
            "d/offline".to_string(),
            Lookup::Unavailable("not cached, and --offline forbids fetching".into()),
        );
        let req = FindRequest {
            task: Some("text-generation".into()),
            include_review: true,
            ..FindRequest::default()
        };
        let (stages, short, excl) = run_funnel(&models, &details, &req).expect("funnel");
        assert_eq!(short.len() + excl.len(), models.len());
        let stage_of = |id: &str| excl.iter().find(|e| e.id == id).map(|e| e.stage);
        assert_eq!(stage_of("e/image"), Some(Stage::Task));
        assert_eq!(stage_of("c/gone"), Some(Stage::Details));
        assert_eq!(stage_of("b/nc"), Some(Stage::License));
        let a = short
            .iter()
            .find(|c| c.id == "a/apache")
            .expect("apache shortlisted");
        assert_eq!(a.downloads_30d, Some(500));
        assert_eq!(a.likes, Some(50));
        assert_eq!(a.verdict, Verdict::Yes);
        // No license in the listing and no details: kept only because --include-review, with caveats.
        let d = short
            .iter()
            .find(|c| c.id == "d/offline")
            .expect("offline model kept for review");
        assert_eq!(d.verdict, Verdict::NeedsReview);
        assert!(
            d.caveats.iter().any(|c| c.contains("details unavailable")),
            "{:?}",
            d.caveats
        );
        // Ranking: yes before needs-review.
        assert_eq!(short.first().map(|c| c.id.as_str()), Some("a/apache"));
        let st = |s: Stage| {
            stages
                .iter()
                .find(|x| x.stage == s)
                .map(|x| (x.input, x.excluded, x.passed))
        };
        assert_eq!(st(Stage::Task), Some((5, 1, 4)));
        assert_eq!(st(Stage::Details), Some((4, 1, 3)));
        assert_eq!(st(Stage::License), Some((3, 1, 2)));
    }

    #[test]
    fn a_larger_recent_snapshot_of_another_series_is_pointed_out() {
        use cambrian_store::{SnapshotId, SnapshotInfo, SnapshotStatus};
        use chrono::TimeZone;
        let at = |d: u32, h: u32| {
            Utc.with_ymd_and_hms(2026, 8, d, h, 0, 0)
                .single()
                .expect("date")
        };
        let snap = |id: i64, taken_at, models| SnapshotInfo {
            id: SnapshotId(id),
            taken_at,
            source: format!("s{id}"),
            query: String::new(),
            status: SnapshotStatus::Complete,
            models,
            completed_at: None,
        };
        let newest = snap(4, at(22, 12), 10);
        let snaps = vec![
            snap(1, at(10, 1), 5000),
            snap(2, at(21, 1), 529),
            snap(3, at(22, 1), 529),
            newest.clone(),
        ];
        // Snapshot 1 is larger but older than the window; 2 and 3 tie on size: the newer wins.
        assert_eq!(larger_snapshot(&snaps, &newest).map(|s| s.id), Some(3));
        // Less than twice as many models: nothing to point out.
        let big = snap(5, at(22, 13), 300);
        assert!(larger_snapshot(&[snap(3, at(22, 1), 529), big.clone()], &big).is_none());
    }

    #[test]
    fn a_missing_license_without_details_is_called_unknown_not_unstated() {
        let models = vec![
            listing("d/offline", "text-generation", 40),
            listing("n/none", "text-generation", 30),
        ];
        let mut details = HashMap::new();
        details.insert(
            "d/offline".to_string(),
            Lookup::Unavailable("not cached, and --offline forbids fetching".into()),
        );
        // Details read, and they state no license: that is the model's own doing.
        details.insert(
            "n/none".to_string(),
            Lookup::Found(ModelDetails {
                record: ModelRecord {
                    id: "n/none".into(),
                    ..Default::default()
                },
                config: None,
            }),
        );
        let req = FindRequest {
            task: Some("text-generation".into()),
            ..FindRequest::default()
        };
        let (_, short, excl) = run_funnel(&models, &details, &req).expect("funnel");
        assert!(short.is_empty());
        let off = excl
            .iter()
            .find(|e| e.id == "d/offline")
            .expect("offline model excluded");
        assert_eq!(
            (off.stage, off.verdict),
            (Stage::License, Some(Verdict::NeedsReview))
        );
        assert!(
            off.reason.starts_with("license unknown")
                && off.reason.contains("details unavailable (not cached"),
            "{}",
            off.reason
        );
        assert!(
            off.nearest_change
                .as_deref()
                .is_some_and(|n| n.contains("--offline")),
            "{:?}",
            off.nearest_change
        );
        let none = excl
            .iter()
            .find(|e| e.id == "n/none")
            .expect("unlicensed model excluded");
        assert!(
            none.reason
                .starts_with("license none stated → needs-review"),
            "{}",
            none.reason
        );
    }
}
