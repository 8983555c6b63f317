//! The license knowledge base: its data model and the embedded, versioned
//! data file (`data/licenses.json`).

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::OnceLock;

use crate::LicenseError;

/// The schema version of `data/licenses.json` this code understands.
pub const SCHEMA_VERSION: u32 = 1;

/// The embedded knowledge base file.
pub const KB_JSON: &str = include_str!("../data/licenses.json");

/// Broad family of a license, used to compare permissiveness along a lineage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LicenseClass {
    PublicDomain,
    Permissive,
    WeakCopyleft,
    Copyleft,
    NoDerivatives,
    /// OpenRAIL family: permissive grant plus use-based restrictions.
    ResponsibleAi,
    /// Vendor community licenses (Llama, Gemma): commercial use with conditions.
    Community,
    NonCommercial,
    ResearchOnly,
    Unknown,
}

impl LicenseClass {
    /// Higher is more permissive. `None` when the class says nothing (unknown).
    pub fn permissiveness(self) -> Option<u8> {
        Some(match self {
            LicenseClass::PublicDomain => 6,
            LicenseClass::Permissive => 5,
            LicenseClass::WeakCopyleft => 4,
            LicenseClass::Copyleft | LicenseClass::NoDerivatives => 3,
            LicenseClass::ResponsibleAi | LicenseClass::Community => 2,
            LicenseClass::NonCommercial => 1,
            LicenseClass::ResearchOnly => 0,
            LicenseClass::Unknown => return None,
        })
    }
}

/// Which uses the license grants at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// Any purpose, commercial included (possibly with conditions).
    Any,
    /// Non-commercial purposes only.
    NonCommercial,
    /// Research purposes only (non-commercial).
    ResearchOnly,
    /// Not known: needs review.
    Unknown,
}

/// When an obligation applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    /// Whenever the model is used.
    Always,
    /// When the model (or a derivative) is distributed or made available.
    Distribution,
    /// When a derived model is distributed or made available.
    DerivativeDistribution,
    /// When a (modified) model is offered to users over a network.
    NetworkService,
    /// When the model's outputs are used to train or improve another model.
    OutputTraining,
}

/// A typed obligation or restriction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ObligationKind {
    /// Keep copyright/attribution notices; `notice` is the exact text when the license gives one.
    Attribution {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        notice: Option<String>,
    },
    /// Give recipients a copy of the license.
    IncludeLicense,
    /// Mark modified files as changed.
    StateChanges,
    /// Prominently display an attribution string such as "Built with Llama".
    DisplayAttribution { text: String },
    /// Derived models must have a name starting with `prefix`.
    DerivedNamePrefix { prefix: String },
    /// An acceptable-use policy is incorporated and binds the user.
    AupPassThrough {
        policy: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
    },
    /// Use-based restrictions (OpenRAIL); `pass_through`: they must be imposed on downstream users.
    UseRestrictions { pass_through: bool },
    /// Above `max_mau` monthly active users a separate license is needed.
    MauThreshold { max_mau: u64 },
    /// Rights not granted in `regions` for the models named by `applies_to` (e.g. "multimodal").
    RegionRestriction {
        regions: Vec<String>,
        applies_to: String,
    },
    /// Derivatives must carry the same license.
    ShareAlike,
    /// Copyleft; `network` when network use counts as distribution.
    Copyleft { network: bool },
    /// Modified versions may not be shared.
    NoDerivatives,
    /// Outputs may not be used to improve other models (except the named family).
    NoOutputTraining {
        #[serde(default, rename = "except", skip_serializing_if = "Option::is_none")]
        except: Option<String>,
    },
}

impl ObligationKind {
    /// The kebab-case kind name (as in the data file).
    pub fn name(&self) -> &'static str {
        match self {
            ObligationKind::Attribution { .. } => "attribution",
            ObligationKind::IncludeLicense => "include-license",
            ObligationKind::StateChanges => "state-changes",
            ObligationKind::DisplayAttribution { .. } => "display-attribution",
            ObligationKind::DerivedNamePrefix { .. } => "derived-name-prefix",
            ObligationKind::AupPassThrough { .. } => "aup-pass-through",
            ObligationKind::UseRestrictions { .. } => "use-restrictions",
            ObligationKind::MauThreshold { .. } => "mau-threshold",
            ObligationKind::RegionRestriction { .. } => "region-restriction",
            ObligationKind::ShareAlike => "share-alike",
            ObligationKind::Copyleft { .. } => "copyleft",
            ObligationKind::NoDerivatives => "no-derivatives",
            ObligationKind::NoOutputTraining { .. } => "no-output-training",
        }
    }

    /// Notice-keeping duties (attribution, license copy, change notes) are
    /// routine and do not turn a `yes` into `yes-with-conditions`; every
    /// other kind does when it applies.
    pub fn is_routine_notice(&self) -> bool {
        matches!(
            self,
            ObligationKind::Attribution { .. }
                | ObligationKind::IncludeLicense
                | ObligationKind::StateChanges
        )
    }
}

/// One obligation of a license, with the citation it rests on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Obligation {
    #[serde(flatten)]
    pub kind: ObligationKind,
    pub trigger: Trigger,
    /// One-sentence statement for people.
    pub summary: String,
    /// Index into the entry's `citations`.
    pub citation: usize,
}

/// Where a statement comes from: the license text and the clause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Citation {
    /// The document (license name, version).
    pub source: String,
    pub url: String,
    /// Section/clause reference.
    pub clause: String,
    /// Verbatim clause text, when the text is in the repository (see `file`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
    /// Repository path of the license text the quote was checked against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

/// One license in the knowledge base.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LicenseEntry {
    /// Hub license id (or a cambrian id for licenses only reachable via `license_name`).
    pub id: String,
    pub name: String,
    /// Whether `id` is one of the ids the Hub accepts in `license:`.
    pub hub_listed: bool,
    /// Other spellings accepted in `license_name` (compared normalised).
    #[serde(default)]
    pub aliases: Vec<String>,
    pub class: LicenseClass,
    pub scope: Scope,
    pub obligations: Vec<Obligation>,
    pub citations: Vec<Citation>,
    pub notes: String,
}

/// The whole knowledge base.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KnowledgeBase {
    pub schema_version: u32,
    pub kb_version: String,
    #[serde(default)]
    pub description: String,
    pub licenses: Vec<LicenseEntry>,
    #[serde(skip)]
    index: HashMap<String, usize>,
    #[serde(skip)]
    names: HashMap<String, usize>,
}

/// Normalise a license id or name for lookup: lowercase, trimmed, runs of
/// whitespace and underscores as one `-`.
pub fn normalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_dash = false;
    for ch in s.trim().chars() {
        if ch.is_whitespace() || ch == '_' || ch == '-' {
            pending_dash = true;
            continue;
        }
        if pending_dash && !out.is_empty() {
            out.push('-');
        }
        pending_dash = false;
        out.extend(ch.to_lowercase());
    }
    out
}

impl KnowledgeBase {
    /// Parse and validate a knowledge base file.
    pub fn from_json(text: &str) -> Result<KnowledgeBase, LicenseError> {
        let mut kb: KnowledgeBase = serde_json::from_str(text).map_err(|e| LicenseError::Kb {
            message: format!("line {}, column {}: {e}", e.line(), e.column()),
        })?;
        if kb.schema_version != SCHEMA_VERSION {
            return Err(LicenseError::Kb {
                message: format!(
                    "schema_version {} is not supported (this build reads {SCHEMA_VERSION})",
                    kb.schema_version
                ),
            });
        }
        for (i, e) in kb.licenses.iter().enumerate() {
            if e.citations.is_empty() {
                return Err(LicenseError::Kb {
                    message: format!("license `{}` has no citation", e.id),
                });
            }
            for o in &e.obligations {
                if o.citation >= e.citations.len() {
                    return Err(LicenseError::Kb {
                        message: format!(
                            "license `{}`: obligation `{}` cites #{} of {}",
                            e.id,
                            o.kind.name(),
                            o.citation,
                            e.citations.len()
                        ),
                    });
                }
            }
            if kb.index.insert(e.id.clone(), i).is_some() {
                return Err(LicenseError::Kb {
                    message: format!("license `{}` appears twice", e.id),
                });
            }
        }
        for (i, e) in kb.licenses.iter().enumerate() {
            kb.names.entry(normalize(&e.id)).or_insert(i);
            for a in &e.aliases {
                kb.names.entry(normalize(a)).or_insert(i);
            }
        }
        Ok(kb)
    }

    /// The knowledge base compiled into this binary.
    pub fn embedded() -> Result<&'static KnowledgeBase, LicenseError> {
        static KB: OnceLock<Result<KnowledgeBase, LicenseError>> = OnceLock::new();
        KB.get_or_init(|| KnowledgeBase::from_json(KB_JSON))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Exact lookup by id.
    pub fn get(&self, id: &str) -> Option<&LicenseEntry> {
        self.index.get(id).and_then(|&i| self.licenses.get(i))
    }

    /// Lookup by id or alias, normalised (used for `license_name`).
    pub fn by_name(&self, name: &str) -> Option<&LicenseEntry> {
        self.names
            .get(&normalize(name))
            .and_then(|&i| self.licenses.get(i))
    }

    /// All Hub-listed ids, in file order.
    pub fn hub_ids(&self) -> impl Iterator<Item = &str> {
        self.licenses
            .iter()
            .filter(|e| e.hub_listed)
            .map(|e| e.id.as_str())
    }
}
