//! `cambrian license ID|MODEL`: explain a license verdict for the user's
//! profile, with obligations and citations; for a model, follow its base
//! models. Also holds the profile and Hub options shared with `find`.

use crate::cli::Ctx;
use crate::output;
use cambrian_app::shortlist::{
    self, AppliedObligation, Citation, Profile, Reason, RemoteSettings, Trigger, Use, Verdict,
};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

/// Who is asking: verdicts are specific to this profile.
#[derive(Debug, Clone, clap::Args)]
pub struct ProfileArgs {
    /// Intended use: commercial, research (non-commercial) or internal (inside a company, not distributed).
    #[arg(long = "use", default_value = "commercial", value_name = "USE", value_parser = ["commercial", "research", "internal"])]
    pub usage: String,
    /// Monthly active users of your products (checks MAU clauses such as Llama's 700M).
    #[arg(long, value_name = "N")]
    pub mau: Option<u64>,
    /// Where you (or your company's principal place of business) are: EU or an ISO country code.
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// You distribute the model or a derivative to others.
    #[arg(long)]
    pub redistribute: bool,
    /// You train other models on this model's outputs.
    #[arg(long)]
    pub train_on_outputs: bool,
}

impl ProfileArgs {
    pub fn profile(&self) -> Profile {
        Profile {
            usage: Use::parse(&self.usage).unwrap_or(Use::Commercial),
            mau: self.mau,
            region: self.region.clone().filter(|r| !r.trim().is_empty()),
            redistribute: self.redistribute,
            train_on_outputs: self.train_on_outputs,
        }
    }
}

/// How model details are obtained.
#[derive(Debug, Clone, clap::Args)]
pub struct RemoteArgs {
    /// Hub endpoint [env: HF_ENDPOINT; default: https://huggingface.co].
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// Use only details cached in the store; never contact the Hub.
    #[arg(long)]
    pub offline: bool,
    /// Re-fetch cached details older than this many days.
    #[arg(long, default_value_t = 7, value_name = "DAYS")]
    pub max_age_days: u32,
    /// Concurrent Hub requests for details.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub concurrency: usize,
}

impl RemoteArgs {
    pub fn settings(&self) -> RemoteSettings {
        let endpoint = self
            .endpoint
            .clone()
            .or_else(|| std::env::var("HF_ENDPOINT").ok().filter(|s| !s.is_empty()))
            .unwrap_or_else(|| "https://huggingface.co".to_string());
        RemoteSettings {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            token: std::env::var("HF_TOKEN").ok().filter(|s| !s.is_empty()),
            offline: self.offline,
            max_age_days: self.max_age_days,
            concurrency: self.concurrency.max(1),
            ..RemoteSettings::default()
        }
    }
}

pub fn progress_bar(ctx: &Ctx, what: &'static str) -> ProgressBar {
    let pb = if ctx.progress {
        ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    if let Ok(style) =
        ProgressStyle::with_template(&format!("{{spinner}} {what} {{pos}}/{{len}} [{{elapsed}}]"))
    {
        pb.set_style(style);
    }
    pb
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A license id (apache-2.0, llama3.1, cc-by-nc-4.0, …) or a model id (owner/name).
    #[arg(value_name = "ID|MODEL", required_unless_present = "all")]
    pub subject: Option<String>,
    /// With `other`: the card's license_name (resolved by name when known).
    #[arg(long, value_name = "NAME")]
    pub license_name: Option<String>,
    /// The model takes images/video/audio (matters for the Llama 3.2/4 EU clause).
    #[arg(long)]
    pub multimodal: bool,
    /// List every license in the knowledge base with its verdict for the profile.
    #[arg(long, conflicts_with = "subject")]
    pub all: bool,
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

#[derive(Serialize)]
struct Typed<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    inner: &'a T,
}

/// The `--json` record for one license.
#[derive(Serialize)]
struct LicenseRecord<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    name: &'a str,
    verdict: Verdict,
    profile: &'a Profile,
    resolved_by: &'a shortlist::ResolvedBy,
    reasons: &'a [Reason],
    obligations: &'a [AppliedObligation],
    citations: &'a [Citation],
    notes: &'a str,
    admit_hint: &'a Option<String>,
    kb_version: &'a str,
    schema_version: u32,
}

/// The `--json` record for a model.
#[derive(Serialize)]
struct ModelRecordOut<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    license: &'a Option<String>,
    license_name: &'a Option<String>,
    license_id: &'a str,
    /// After lineage.
    verdict: Verdict,
    own_verdict: Verdict,
    profile: &'a Profile,
    reasons: &'a [Reason],
    lineage_reasons: &'a [Reason],
    obligations: &'a [AppliedObligation],
    citations: &'a [Citation],
    ancestors: &'a [shortlist::Ancestor],
    flags: &'a [shortlist::PermissivenessFlag],
    cycles: &'a [(String, String)],
    notes: &'a str,
    admit_hint: &'a Option<String>,
    kb_version: &'a str,
    schema_version: u32,
}

fn yn(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn profile_line(p: &Profile) -> String {
    format!(
        "use={}, mau={}, region={}, redistribute={}, train-on-outputs={}",
        p.usage.as_str(),
        p.mau
            .map(|m| m.to_string())
            .unwrap_or_else(|| "unknown".into()),
        p.region.clone().unwrap_or_else(|| "unknown".into()),
        yn(p.redistribute),
        yn(p.train_on_outputs)
    )
}

fn trigger_text(o: &shortlist::Obligation) -> &'static str {
    match o.trigger {
        Trigger::Always => "always",
        Trigger::Distribution => "when you distribute",
        Trigger::DerivativeDistribution => "when you distribute a derived model",
        Trigger::NetworkService => "when you serve it over a network",
        Trigger::OutputTraining => "when you train on its outputs",
    }
}

fn print_assessment(a: &shortlist::Assessment, extra_reasons: &[Reason]) -> anyhow::Result<()> {
    output::line("reasons:")?;
    for r in a.reasons.iter().chain(extra_reasons) {
        let c = r
            .citation
            .map(|i| format!(" [{}]", i + 1))
            .unwrap_or_default();
        output::line(format!("  - {}{c}", r.text))?;
    }
    let (on, off): (Vec<&AppliedObligation>, Vec<&AppliedObligation>) =
        a.obligations.iter().partition(|o| o.applies);
    for (heading, list) in [
        ("obligations that apply to you:", on),
        (
            "obligations that would apply (not triggered by your profile):",
            off,
        ),
    ] {
        if list.is_empty() {
            continue;
        }
        output::line(heading)?;
        for o in list {
            output::line(format!(
                "  - {} ({}): {} [{}]",
                o.obligation.kind.name(),
                trigger_text(&o.obligation),
                o.obligation.summary,
                o.obligation.citation + 1
            ))?;
        }
    }
    output::line("citations:")?;
    for (i, c) in a.citations.iter().enumerate() {
        output::line(format!(
            "  [{}] {} — {} <{}>",
            i + 1,
            c.source,
            c.clause,
            c.url
        ))?;
        if let Some(q) = &c.quote {
            output::line(format!("      \"{q}\""))?;
        }
        if let Some(f) = &c.file {
            output::line(format!("      (quote checked against {f})"))?;
        }
    }
    if !a.notes.is_empty() {
        output::line(format!("notes: {}", a.notes))?;
    }
    if let Some(h) = &a.admit_hint {
        output::line(format!("what would change it: {h}"))?;
    }
    Ok(())
}

fn exit_for(v: Verdict) -> u8 {
    // A `no` or `needs-review` is a finding (exit 1), like a failed gate.
    if v.admits() { 0 } else { 1 }
}

pub async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let profile = args.profile.profile();
    if args.all {
        let rows = shortlist::license_table(&profile)?;
        if ctx.json {
            for r in &rows {
                output::json_line(&Typed {
                    kind: "license.row",
                    inner: r,
                })?;
            }
        } else {
            let mut t = Table::new();
            t.load_preset(UTF8_FULL_CONDENSED);
            t.set_header(vec!["id", "name", "verdict", "conditions"]);
            for r in &rows {
                t.add_row(vec![
                    format!("{}{}", r.id, if r.hub_listed { "" } else { " *" }),
                    r.name.clone(),
                    r.verdict.to_string(),
                    r.conditions.join(", "),
                ]);
            }
            output::line(format!("profile: {}", profile_line(&profile)))?;
            output::line(t.to_string())?;
            output::line("* not a Hub id: reached through `license: other` + license_name")?;
        }
        return Ok(0);
    }
    let Some(subject) = args.subject.clone() else {
        return Err(
            cambrian_app::Error::usage("give a license id or a model id")
                .with_hint("or --all for the whole table")
                .into(),
        );
    };
    if subject.contains('/') {
        let pb = progress_bar(ctx, "fetching details");
        let cb = |done: u64, total: u64| {
            pb.set_length(total);
            pb.set_position(done);
        };
        let rep = shortlist::license_for_model(
            &ctx.store,
            &args.remote.settings(),
            &subject,
            &profile,
            &cb,
        )
        .await;
        pb.finish_and_clear();
        let rep = rep?;
        let a = &rep.assessment;
        if ctx.json {
            output::json_line(&ModelRecordOut {
                kind: "license.model",
                id: &rep.model,
                license: &rep.license,
                license_name: &rep.license_name,
                license_id: &a.own.license_id,
                verdict: a.verdict,
                own_verdict: a.own.verdict,
                profile: &rep.profile,
                reasons: &a.own.reasons,
                lineage_reasons: &a.lineage_reasons,
                obligations: &a.own.obligations,
                citations: &a.own.citations,
                ancestors: &a.ancestors,
                flags: &a.flags,
                cycles: &a.cycles,
                notes: &a.own.notes,
                admit_hint: &a.own.admit_hint,
                kb_version: &rep.kb.kb_version,
                schema_version: rep.kb.schema_version,
            })?;
        } else {
            output::line(format!("model: {}", rep.model))?;
            let lic = match (&rep.license, &rep.license_name) {
                (Some(l), Some(n)) => format!("{l} (license_name: {n})"),
                (Some(l), None) => l.clone(),
                (None, _) => "none stated".into(),
            };
            output::line(format!(
                "license: {lic} → {} ({})",
                a.own.license_id, a.own.license_name
            ))?;
            output::line(format!("profile: {}", profile_line(&rep.profile)))?;
            output::line(format!(
                "verdict: {} (own license: {})",
                a.verdict, a.own.verdict
            ))?;
            if !a.ancestors.is_empty() {
                output::line("lineage:")?;
                for an in &a.ancestors {
                    output::line(format!(
                        "  {}{} (base of {}): {} → {}",
                        "  ".repeat(an.depth.saturating_sub(1) as usize),
                        an.id,
                        an.child,
                        an.license_id
                            .clone()
                            .unwrap_or_else(|| "unavailable".into()),
                        an.verdict
                            .map(|v| v.to_string())
                            .unwrap_or_else(|| "unknown".into())
                    ))?;
                }
            }
            for fl in &a.flags {
                output::line(format!("warning: {}", fl.text))?;
            }
            for (c, p) in &a.cycles {
                output::line(format!("note: base-model cycle {c} → {p} not followed"))?;
            }
            print_assessment(&a.own, &a.lineage_reasons)?;
        }
        return Ok(exit_for(a.verdict));
    }
    let multimodal = if args.multimodal { Some(true) } else { None };
    let rep =
        shortlist::license_by_id(&subject, args.license_name.as_deref(), &profile, multimodal)?;
    let a = &rep.assessment;
    if ctx.json {
        output::json_line(&LicenseRecord {
            kind: "license",
            id: &a.license_id,
            name: &a.license_name,
            verdict: a.verdict,
            profile: &rep.profile,
            resolved_by: &a.resolved_by,
            reasons: &a.reasons,
            obligations: &a.obligations,
            citations: &a.citations,
            notes: &a.notes,
            admit_hint: &a.admit_hint,
            kb_version: &rep.kb.kb_version,
            schema_version: rep.kb.schema_version,
        })?;
    } else {
        output::line(format!("license: {} — {}", a.license_id, a.license_name))?;
        output::line(format!("profile: {}", profile_line(&rep.profile)))?;
        output::line(format!("verdict: {}", a.verdict))?;
        print_assessment(a, &[])?;
    }
    Ok(exit_for(a.verdict))
}
