//! Lineage: follow a model's base models (recursively, cycle-safe), take the
//! most restrictive verdict along the way, and flag a child whose license is
//! more permissive than its parent's.

use serde::{Deserialize, Serialize};
use std::collections::{HashSet, VecDeque};

use crate::kb::KnowledgeBase;
use crate::verdict::{Assessment, ModelFacts, Profile, Reason, Verdict, assess, resolve};

/// What lineage needs to know about one model.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelLicenseInfo {
    pub id: String,
    pub license: Option<String>,
    pub license_name: Option<String>,
    pub base_models: Vec<String>,
    pub multimodal: Option<bool>,
}

/// One ancestor reached from the root.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ancestor {
    pub id: String,
    /// 1 = a direct base model of the root.
    pub depth: u32,
    /// The child through which it was reached.
    pub child: String,
    /// `None` when the ancestor's record could not be obtained.
    pub license_id: Option<String>,
    pub verdict: Option<Verdict>,
}

/// A child whose license is more permissive than its parent's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissivenessFlag {
    pub child: String,
    pub child_license: String,
    pub parent: String,
    pub parent_license: String,
    pub text: String,
}

/// The verdict for a model, taking its base models into account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelAssessment {
    pub model: String,
    /// The model's own license assessment.
    pub own: Assessment,
    /// The verdict after lineage: the worst of the model's and its ancestors'.
    pub verdict: Verdict,
    /// Extra reasons that come from the lineage (inherited restrictions, unresolved bases).
    pub lineage_reasons: Vec<Reason>,
    pub ancestors: Vec<Ancestor>,
    pub flags: Vec<PermissivenessFlag>,
    /// Edges that would close a cycle (child → parent already visited), reported and not followed.
    pub cycles: Vec<(String, String)>,
    /// Whether the walk stopped at `max_depth` with bases left to follow.
    pub truncated: bool,
    /// Base models whose record could not be obtained: the lineage check is
    /// incomplete for them (the verdict rests on the licenses that were read).
    pub unchecked: Vec<String>,
}

/// Walk the base-model graph breadth-first from `root`. `lookup` returns a
/// model's record or `None` when it cannot be obtained. Each model is
/// visited once; depth is capped at `max_depth`.
pub fn assess_model(
    kb: &KnowledgeBase,
    root: &ModelLicenseInfo,
    lookup: &mut dyn FnMut(&str) -> Option<ModelLicenseInfo>,
    profile: &Profile,
    max_depth: u32,
) -> Option<ModelAssessment> {
    let (entry, by) = resolve(kb, root.license.as_deref(), root.license_name.as_deref())?;
    let own = assess(
        entry,
        by,
        profile,
        &ModelFacts {
            multimodal: root.multimodal,
        },
    );
    let mut verdict = own.verdict;
    let mut lineage_reasons = Vec::new();
    let mut ancestors = Vec::new();
    let mut flags = Vec::new();
    let mut cycles = Vec::new();
    let mut truncated = false;
    let mut unchecked = Vec::new();

    let mut seen: HashSet<String> = HashSet::new();
    seen.insert(root.id.clone());
    // (parent id, depth, child id, child's license id, child's class permissiveness)
    let mut queue: VecDeque<(String, u32, String, String, Option<u8>)> = VecDeque::new();
    let root_perm = entry.class.permissiveness();
    for b in &root.base_models {
        queue.push_back((b.clone(), 1, root.id.clone(), entry.id.clone(), root_perm));
    }
    while let Some((id, depth, child, child_lic, child_perm)) = queue.pop_front() {
        if id == child {
            continue; // a model naming itself as its base: ignore
        }
        if !seen.insert(id.clone()) {
            cycles.push((child.clone(), id.clone()));
            continue;
        }
        if depth > max_depth {
            truncated = true;
            continue;
        }
        let Some(info) = lookup(&id) else {
            // The model's own license still decides; the gap is reported, not guessed.
            ancestors.push(Ancestor {
                id: id.clone(),
                depth,
                child,
                license_id: None,
                verdict: None,
            });
            unchecked.push(id.clone());
            lineage_reasons.push(Reason {
                text: format!(
                    "base model {id}: its license could not be checked (record unavailable)"
                ),
                citation: None,
            });
            continue;
        };
        let Some((pe, pby)) = resolve(kb, info.license.as_deref(), info.license_name.as_deref())
        else {
            continue;
        };
        let pa = assess(
            pe,
            pby,
            profile,
            &ModelFacts {
                multimodal: info.multimodal.or(root.multimodal),
            },
        );
        if pa.verdict.severity() > own.verdict.severity() {
            let why = pa
                .reasons
                .first()
                .map(|r| r.text.clone())
                .unwrap_or_default();
            lineage_reasons.push(Reason {
                text: format!(
                    "inherits from base model {id} (license {}): {} — {why}",
                    pe.id, pa.verdict
                ),
                citation: None,
            });
        }
        verdict = verdict.worst(pa.verdict);
        if let (Some(c), Some(p)) = (child_perm, pe.class.permissiveness())
            && c > p
        {
            flags.push(PermissivenessFlag {
                    child: child.clone(),
                    child_license: child_lic.clone(),
                    parent: id.clone(),
                    parent_license: pe.id.clone(),
                    text: format!(
                        "{child} is published under `{child_lic}`, more permissive than its base {id} (`{}`); the base's terms still apply to the derivative",
                        pe.id
                    ),
                });
        }
        ancestors.push(Ancestor {
            id: id.clone(),
            depth,
            child,
            license_id: Some(pe.id.clone()),
            verdict: Some(pa.verdict),
        });
        for b in &info.base_models {
            queue.push_back((
                b.clone(),
                depth + 1,
                id.clone(),
                pe.id.clone(),
                pe.class.permissiveness(),
            ));
        }
    }
    Some(ModelAssessment {
        model: root.id.clone(),
        own,
        verdict,
        lineage_reasons,
        ancestors,
        flags,
        cycles,
        truncated,
        unchecked,
    })
}
