//! Resolving a model's license fields to a knowledge-base entry and turning
//! the entry into a verdict for one user profile.

use serde::{Deserialize, Serialize};

use crate::kb::{
    Citation, KnowledgeBase, LicenseEntry, Obligation, ObligationKind, Scope, Trigger,
};

/// The answer to "may I use this for my purpose?".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Yes,
    YesWithConditions,
    NeedsReview,
    No,
}

impl Verdict {
    /// 0 (yes) … 3 (no): used to take the worst verdict along a lineage.
    pub fn severity(self) -> u8 {
        match self {
            Verdict::Yes => 0,
            Verdict::YesWithConditions => 1,
            Verdict::NeedsReview => 2,
            Verdict::No => 3,
        }
    }
    pub fn worst(self, other: Verdict) -> Verdict {
        if other.severity() > self.severity() {
            other
        } else {
            self
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Yes => "yes",
            Verdict::YesWithConditions => "yes-with-conditions",
            Verdict::NeedsReview => "needs-review",
            Verdict::No => "no",
        }
    }
    /// Whether a model with this verdict may enter a shortlist.
    pub fn admits(self) -> bool {
        matches!(self, Verdict::Yes | Verdict::YesWithConditions)
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the user intends to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Use {
    /// A product or service that earns money (the default).
    Commercial,
    /// Non-commercial research.
    Research,
    /// Internal use inside a company (still commercial advantage, not distributed).
    Internal,
}

impl Use {
    pub fn parse(s: &str) -> Option<Use> {
        match s.trim().to_ascii_lowercase().as_str() {
            "commercial" => Some(Use::Commercial),
            "research" => Some(Use::Research),
            "internal" => Some(Use::Internal),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Use::Commercial => "commercial",
            Use::Research => "research",
            Use::Internal => "internal",
        }
    }
    fn is_commercial(self) -> bool {
        matches!(self, Use::Commercial | Use::Internal)
    }
}

/// The user's situation; verdicts are specific to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub usage: Use,
    /// Monthly active users of the user's products, when known.
    pub mau: Option<u64>,
    /// Where the user (or their company's principal place of business) is: `EU`, an ISO country code, …
    pub region: Option<String>,
    /// The user distributes the model (or a derivative) to others.
    pub redistribute: bool,
    /// The user trains other models on this model's outputs.
    pub train_on_outputs: bool,
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            usage: Use::Commercial,
            mau: None,
            region: None,
            redistribute: false,
            train_on_outputs: false,
        }
    }
}

/// ISO 3166-1 alpha-2 codes of the EU member states (2026).
const EU_MEMBERS: &[&str] = &[
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV",
    "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
];

/// Whether `region` lies in the region named by `restricted` (`EU` or a country code).
pub fn region_in(region: &str, restricted: &str) -> bool {
    let r = region.trim().to_ascii_uppercase();
    let x = restricted.trim().to_ascii_uppercase();
    if r == x {
        return true;
    }
    x == "EU" && EU_MEMBERS.contains(&r.as_str())
}

/// Facts about the model that some clauses depend on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelFacts {
    /// Whether the model takes images/audio/video as input; `None` = unknown.
    pub multimodal: Option<bool>,
}

/// How a license entry was found from the model's fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "kebab-case")]
pub enum ResolvedBy {
    /// `license:` is a Hub id known to the base.
    HubId,
    /// `license: other` and `license_name` matched an id or alias.
    LicenseName { name: String },
    /// `license:` is not a Hub id but matched an alias.
    Alias { raw: String },
    /// `license: other` without a known `license_name`.
    UnresolvedOther { license_name: Option<String> },
    /// `license:` holds an id the base does not know.
    UnknownId { raw: String },
    /// No license field at all.
    Missing,
}

/// Find the knowledge-base entry for a model's `license` / `license_name`.
/// Unknown or missing licenses resolve to the `unknown` (or `other`) entry,
/// whose verdict is always `needs-review`.
pub fn resolve<'k>(
    kb: &'k KnowledgeBase,
    license: Option<&str>,
    license_name: Option<&str>,
) -> Option<(&'k LicenseEntry, ResolvedBy)> {
    let lic = license.map(str::trim).filter(|s| !s.is_empty());
    let name = license_name.map(str::trim).filter(|s| !s.is_empty());
    match lic {
        None => {
            // A card may carry only license_name.
            if let Some(n) = name
                && let Some(e) = kb.by_name(n)
            {
                return Some((
                    e,
                    ResolvedBy::LicenseName {
                        name: n.to_string(),
                    },
                ));
            }
            kb.get("unknown").map(|e| (e, ResolvedBy::Missing))
        }
        Some(l) if l.eq_ignore_ascii_case("other") => {
            if let Some(n) = name
                && let Some(e) = kb.by_name(n)
                && e.id != "other"
                && e.id != "unknown"
            {
                return Some((
                    e,
                    ResolvedBy::LicenseName {
                        name: n.to_string(),
                    },
                ));
            }
            kb.get("other").map(|e| {
                (
                    e,
                    ResolvedBy::UnresolvedOther {
                        license_name: name.map(str::to_string),
                    },
                )
            })
        }
        Some(l) => {
            if let Some(e) = kb.get(&l.to_ascii_lowercase()) {
                return Some((e, ResolvedBy::HubId));
            }
            if let Some(e) = kb.by_name(l) {
                return Some((e, ResolvedBy::Alias { raw: l.to_string() }));
            }
            kb.get("unknown")
                .map(|e| (e, ResolvedBy::UnknownId { raw: l.to_string() }))
        }
    }
}

/// A statement supporting the verdict; `citation` indexes `Assessment::citations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub citation: Option<usize>,
}

/// An obligation as it applies to this profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppliedObligation {
    #[serde(flatten)]
    pub obligation: Obligation,
    /// Whether its trigger is met by the profile.
    pub applies: bool,
}

/// The verdict for one license and one profile, with its evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    pub license_id: String,
    pub license_name: String,
    pub resolved_by: ResolvedBy,
    pub verdict: Verdict,
    pub reasons: Vec<Reason>,
    pub obligations: Vec<AppliedObligation>,
    pub citations: Vec<Citation>,
    pub notes: String,
    /// The nearest change to the profile (or the choice of model) that would admit it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admit_hint: Option<String>,
}

fn fmt_count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Evaluate one license entry for a profile.
pub fn assess(
    entry: &LicenseEntry,
    resolved_by: ResolvedBy,
    profile: &Profile,
    facts: &ModelFacts,
) -> Assessment {
    let mut reasons = Vec::new();
    let mut verdict = Verdict::Yes;
    let mut admit_hint = None;
    let first_cite = Some(0);

    match entry.scope {
        Scope::Unknown => {
            verdict = Verdict::NeedsReview;
            let what = match &resolved_by {
                ResolvedBy::Missing => "the model states no license".to_string(),
                ResolvedBy::UnknownId { raw } => {
                    format!("license id `{raw}` is not in the knowledge base")
                }
                ResolvedBy::UnresolvedOther {
                    license_name: Some(n),
                } => {
                    format!(
                        "license is `other` with license_name `{n}`, which the knowledge base does not know"
                    )
                }
                ResolvedBy::UnresolvedOther { license_name: None } => {
                    "license is `other` without a license_name".to_string()
                }
                _ => format!("`{}`: {}", entry.id, entry.notes),
            };
            reasons.push(Reason {
                text: format!("{what}: read the license before use"),
                citation: first_cite,
            });
            admit_hint = Some(
                "review the license text and record it (a known license_name resolves it)"
                    .to_string(),
            );
        }
        Scope::NonCommercial | Scope::ResearchOnly => {
            let only = if entry.scope == Scope::ResearchOnly {
                "research purposes only"
            } else {
                "non-commercial purposes only"
            };
            if profile.usage.is_commercial() {
                verdict = Verdict::No;
                reasons.push(Reason {
                    text: format!(
                        "{} grants rights for {only}; {} use is not covered",
                        entry.name,
                        profile.usage.as_str()
                    ),
                    citation: first_cite,
                });
                admit_hint = Some("only for --use research (non-commercial); otherwise pick a model under a commercial-use license".to_string());
            } else {
                verdict = Verdict::YesWithConditions;
                reasons.push(Reason {
                    text: format!("{} allows {only}; keep the use non-commercial", entry.name),
                    citation: first_cite,
                });
            }
        }
        Scope::Any => {}
    }

    let mut obligations = Vec::with_capacity(entry.obligations.len());
    for o in &entry.obligations {
        let applies = match o.trigger {
            Trigger::Always => true,
            Trigger::Distribution | Trigger::DerivativeDistribution => profile.redistribute,
            Trigger::NetworkService => profile.redistribute || profile.usage == Use::Commercial,
            Trigger::OutputTraining => profile.train_on_outputs,
        };
        let cite = Some(o.citation);
        if applies && entry.scope != Scope::Unknown {
            match &o.kind {
                ObligationKind::MauThreshold { max_mau } if profile.usage != Use::Research => {
                    match profile.mau {
                        Some(m) if m > *max_mau => {
                            verdict = verdict.worst(Verdict::No);
                            reasons.push(Reason {
                            text: format!(
                                "your {} monthly active users exceed the license's {} threshold: a separate license from the licensor is required",
                                fmt_count(m),
                                fmt_count(*max_mau)
                            ),
                            citation: cite,
                        });
                            admit_hint.get_or_insert_with(|| {
                                format!(
                                    "obtain a separate license (MAU must be ≤ {})",
                                    fmt_count(*max_mau)
                                )
                            });
                        }
                        Some(m) => reasons.push(Reason {
                            text: format!(
                                "{} monthly active users ≤ the {} threshold",
                                fmt_count(m),
                                fmt_count(*max_mau)
                            ),
                            citation: cite,
                        }),
                        None => {
                            verdict = verdict.worst(Verdict::YesWithConditions);
                            reasons.push(Reason {
                            text: format!("allowed while your products stay at or below {} monthly active users (pass --mau to check)", fmt_count(*max_mau)),
                            citation: cite,
                        });
                        }
                    }
                }
                ObligationKind::MauThreshold { .. } => {}
                ObligationKind::RegionRestriction {
                    regions,
                    applies_to,
                } => {
                    let in_region = profile
                        .region
                        .as_deref()
                        .map(|r| regions.iter().any(|x| region_in(r, x)));
                    let region_list = regions.join(", ");
                    match (in_region, facts.multimodal) {
                        (Some(true), Some(true)) => {
                            verdict = verdict.worst(Verdict::No);
                            reasons.push(Reason {
                                text: format!("rights for {applies_to} models are not granted in {region_list}, and this model is {applies_to}"),
                                citation: cite,
                            });
                            admit_hint.get_or_insert_with(|| format!("a text-only model of the family, or a user outside {region_list}"));
                        }
                        (Some(true), None) => {
                            verdict = verdict.worst(Verdict::NeedsReview);
                            reasons.push(Reason {
                                text: format!("rights for {applies_to} models are not granted in {region_list}; whether this model is {applies_to} is unknown"),
                                citation: cite,
                            });
                        }
                        (Some(true), Some(false)) => reasons.push(Reason {
                            text: format!("the {region_list} restriction covers {applies_to} models only; this model is not {applies_to}"),
                            citation: cite,
                        }),
                        (Some(false), _) => {}
                        (None, _) => {
                            verdict = verdict.worst(Verdict::YesWithConditions);
                            reasons.push(Reason {
                                text: format!("{applies_to} models are not licensed to users in {region_list} (pass --region to check)"),
                                citation: cite,
                            });
                        }
                    }
                }
                ObligationKind::NoOutputTraining { except } => {
                    verdict = verdict.worst(Verdict::No);
                    let exc = except
                        .as_deref()
                        .map(|e| format!(" (except {e})"))
                        .unwrap_or_default();
                    reasons.push(Reason {
                        text: format!(
                            "the license forbids using outputs to improve other models{exc}"
                        ),
                        citation: cite,
                    });
                    admit_hint.get_or_insert_with(|| {
                        "do not train other models on its outputs (drop --train-on-outputs)"
                            .to_string()
                    });
                }
                k if k.is_routine_notice() => {}
                _ => {
                    verdict = verdict.worst(Verdict::YesWithConditions);
                    reasons.push(Reason {
                        text: o.summary.clone(),
                        citation: cite,
                    });
                }
            }
        }
        obligations.push(AppliedObligation {
            obligation: o.clone(),
            applies,
        });
    }
    if verdict == Verdict::Yes {
        reasons.push(Reason {
            text: format!(
                "{}: {} use is allowed; duties are limited to keeping notices when redistributing",
                entry.name,
                profile.usage.as_str()
            ),
            citation: first_cite,
        });
    }
    Assessment {
        license_id: entry.id.clone(),
        license_name: entry.name.clone(),
        resolved_by,
        verdict,
        reasons,
        obligations,
        citations: entry.citations.clone(),
        notes: entry.notes.clone(),
        admit_hint,
    }
}

/// Resolve and assess in one step. Returns `None` only if the knowledge base
/// lacks its `unknown`/`other` entries (a broken data file).
pub fn assess_fields(
    kb: &KnowledgeBase,
    license: Option<&str>,
    license_name: Option<&str>,
    profile: &Profile,
    facts: &ModelFacts,
) -> Option<Assessment> {
    let (entry, by) = resolve(kb, license, license_name)?;
    Some(assess(entry, by, profile, facts))
}
