//! Shortlisting use cases: license verdicts (`cambrian license`) and the
//! `find` funnel (`cambrian find`).
//!
//! Verdicts come from the license knowledge base in `cambrian-license`;
//! hardware and workload figures from `cambrian-fit`; the candidate list from
//! the latest snapshot in the store, with per-model details fetched on demand
//! through the Hub client and cached in the store (see [`details`]). The
//! HTML report is rendered here too ([`html`]); the CLI only writes it.

pub mod details;
pub mod funnel;
pub mod hardware;
pub mod html;

pub use cambrian_license::{
    Ancestor, AppliedObligation, Assessment, Citation, LicenseEntry, ModelAssessment, ModelFacts,
    ModelLicenseInfo, Obligation, ObligationKind, PermissivenessFlag, Profile, Reason, ResolvedBy,
    Trigger, Use, Verdict,
};
pub use details::{DetailSource, DetailStats, Lookup, ModelDetails, RemoteSettings};
pub use funnel::{
    Candidate, Exclusion, FindReport, FindRequest, Stage, StageSummary, find, run_funnel,
};
pub use html::render_html;

use crate::{Error, Result};
use cambrian_license::KnowledgeBase;
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;

/// How deep `license MODEL` and `find` follow base models.
pub const MAX_LINEAGE_DEPTH: u32 = 6;

pub(crate) fn kb() -> Result<&'static KnowledgeBase> {
    KnowledgeBase::embedded().map_err(|e| Error::internal(e.to_string()).with_source(e))
}

/// The knowledge base's own versions, for reports.
#[derive(Debug, Clone, Serialize)]
pub struct KbVersion {
    pub schema_version: u32,
    pub kb_version: String,
    pub licenses: usize,
}

pub fn kb_version() -> Result<KbVersion> {
    let k = kb()?;
    Ok(KbVersion {
        schema_version: k.schema_version,
        kb_version: k.kb_version.clone(),
        licenses: k.licenses.len(),
    })
}

/// `cambrian license ID`: one license id (or `other` + a license name).
#[derive(Debug, Clone, Serialize)]
pub struct LicenseReport {
    pub profile: Profile,
    pub assessment: Assessment,
    pub kb: KbVersion,
}

/// Explain one license id for a profile. `multimodal` matters only for
/// region clauses (Llama 3.2 / 4 in the EU).
pub fn license_by_id(
    id: &str,
    license_name: Option<&str>,
    profile: &Profile,
    multimodal: Option<bool>,
) -> Result<LicenseReport> {
    let k = kb()?;
    let known = k.get(&id.to_ascii_lowercase()).is_some() || k.by_name(id).is_some();
    if !known && license_name.is_none() {
        let mut close: Vec<&str> = k
            .licenses
            .iter()
            .map(|e| e.id.as_str())
            .filter(|x| x.starts_with(&id.chars().take(3).collect::<String>().to_ascii_lowercase()))
            .collect();
        close.truncate(8);
        let hint = if close.is_empty() {
            "run `cambrian license --all` to list the known ids; a model id has the form owner/name"
                .to_string()
        } else {
            format!(
                "known ids starting alike: {}; `cambrian license --all` lists them all",
                close.join(", ")
            )
        };
        return Err(
            Error::not_found(format!("`{id}` is not a license id in the knowledge base"))
                .with_hint(hint),
        );
    }
    let a = cambrian_license::assess_fields(
        k,
        Some(id),
        license_name,
        profile,
        &ModelFacts { multimodal },
    )
    .ok_or_else(|| Error::internal("knowledge base lacks its `unknown` entry"))?;
    Ok(LicenseReport {
        profile: profile.clone(),
        assessment: a,
        kb: kb_version()?,
    })
}

/// One row of `cambrian license --all`.
#[derive(Debug, Clone, Serialize)]
pub struct LicenseRow {
    pub id: String,
    pub name: String,
    pub hub_listed: bool,
    pub verdict: Verdict,
    pub conditions: Vec<String>,
}

/// Every license in the base with its verdict for the profile.
pub fn license_table(profile: &Profile) -> Result<Vec<LicenseRow>> {
    let k = kb()?;
    let mut rows = Vec::with_capacity(k.licenses.len());
    for e in &k.licenses {
        let a = cambrian_license::assess(e, ResolvedBy::HubId, profile, &ModelFacts::default());
        let conditions = a
            .obligations
            .iter()
            .filter(|o| o.applies && !o.obligation.kind.is_routine_notice())
            .map(|o| o.obligation.kind.name().to_string())
            .collect();
        rows.push(LicenseRow {
            id: e.id.clone(),
            name: e.name.clone(),
            hub_listed: e.hub_listed,
            verdict: a.verdict,
            conditions,
        });
    }
    Ok(rows)
}

/// `cambrian license MODEL`: the model's own license and its lineage.
#[derive(Debug, Clone, Serialize)]
pub struct ModelLicenseReport {
    pub model: String,
    pub license: Option<String>,
    pub license_name: Option<String>,
    pub profile: Profile,
    pub assessment: ModelAssessment,
    /// Where the model's details came from.
    pub details: DetailStats,
    pub kb: KbVersion,
}

pub(crate) fn license_info(d: &ModelDetails) -> ModelLicenseInfo {
    let r = &d.record;
    ModelLicenseInfo {
        id: r.id.clone(),
        license: r.license.clone(),
        license_name: r.license_name.clone(),
        base_models: r.base_models.clone(),
        multimodal: cambrian_license::is_multimodal(r.pipeline_tag.as_deref(), &r.architectures),
    }
}

/// The base models named by `roots` (the first lineage frontier).
pub(crate) fn base_ids<'a>(roots: impl IntoIterator<Item = &'a ModelDetails>) -> Vec<String> {
    roots
        .into_iter()
        .flat_map(|d| d.record.base_models.iter().cloned())
        .collect()
}

/// Fetch the details of every base model reachable from `frontier`
/// (breadth-first, `MAX_LINEAGE_DEPTH` levels), so that lineage can be
/// assessed without I/O.
pub(crate) async fn fetch_lineage(
    src: &mut DetailSource<'_>,
    known: &mut HashMap<String, Lookup>,
    mut frontier: Vec<String>,
    progress: &dyn Fn(u64, u64),
) -> Result<()> {
    for _ in 0..MAX_LINEAGE_DEPTH {
        frontier.retain(|id| !known.contains_key(id));
        frontier.sort();
        frontier.dedup();
        if frontier.is_empty() {
            break;
        }
        let got = src.get_many(&frontier, progress).await?;
        let mut next = Vec::new();
        for (id, l) in got {
            if let Lookup::Found(d) = &l {
                next.extend(d.record.base_models.iter().cloned());
            }
            known.insert(id, l);
        }
        frontier = next;
    }
    Ok(())
}

pub(crate) fn assess_with_lineage(
    root: &ModelDetails,
    known: &HashMap<String, Lookup>,
    profile: &Profile,
) -> Result<ModelAssessment> {
    let k = kb()?;
    let mut lookup = |id: &str| known.get(id).and_then(Lookup::details).map(license_info);
    cambrian_license::assess_model(
        k,
        &license_info(root),
        &mut lookup,
        profile,
        MAX_LINEAGE_DEPTH,
    )
    .ok_or_else(|| Error::internal("knowledge base lacks its `unknown` entry"))
}

/// Explain the license verdict of one model (details from cache or Hub).
pub async fn license_for_model(
    store_dir: &Path,
    remote: &RemoteSettings,
    model: &str,
    profile: &Profile,
    progress: &dyn Fn(u64, u64),
) -> Result<ModelLicenseReport> {
    let mut store = cambrian_store::Store::open(store_dir).map_err(details::store_err)?;
    let mut src = DetailSource::new(&mut store, remote.clone());
    let mut known = src.get_many(&[model.to_string()], progress).await?;
    let root = match known.get(model) {
        Some(Lookup::Found(d)) => d.clone(),
        Some(Lookup::NotFound(m)) => {
            return Err(Error::not_found(m.clone()).with_hint("check the model id (owner/name)"));
        }
        Some(Lookup::Unavailable(m)) => {
            return Err(
                Error::remote(format!("cannot get the details of {model}: {m}")).with_hint(
                    "check the network or HF_ENDPOINT; with --offline only cached details are used",
                ),
            );
        }
        None => return Err(Error::internal("lookup returned nothing")),
    };
    fetch_lineage(&mut src, &mut known, base_ids([&root]), progress).await?;
    let assessment = assess_with_lineage(&root, &known, profile)?;
    Ok(ModelLicenseReport {
        model: root.record.id.clone(),
        license: root.record.license.clone(),
        license_name: root.record.license_name.clone(),
        profile: profile.clone(),
        assessment,
        details: src.stats.clone(),
        kb: kb_version()?,
    })
}
