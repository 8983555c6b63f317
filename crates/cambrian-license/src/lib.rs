//! License knowledge base: verdicts, obligations, citations, lineage.
//!
//! The base is data (`data/licenses.json`, embedded, with a `schema_version`):
//! every license id the Hugging Face Hub accepts plus licenses that are only
//! reachable through `license: other` + `license_name` (the original LLaMA
//! research license, Stability research/non-commercial licenses). Each entry
//! has a scope, typed obligations and citations of the clause it rests on.
//! [`verdict::assess`] turns an entry into a verdict for a user [`Profile`];
//! [`lineage::assess_model`] follows base models. Pure: no I/O.

pub mod kb;
pub mod lineage;
pub mod verdict;

pub use kb::{
    Citation, KnowledgeBase, LicenseClass, LicenseEntry, Obligation, ObligationKind,
    SCHEMA_VERSION, Scope, Trigger,
};
pub use lineage::{Ancestor, ModelAssessment, ModelLicenseInfo, PermissivenessFlag, assess_model};
pub use verdict::{
    AppliedObligation, Assessment, ModelFacts, Profile, Reason, ResolvedBy, Use, Verdict, assess,
    assess_fields, resolve,
};

/// Errors of the license crate.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LicenseError {
    /// The knowledge base file is malformed (a bug in the shipped data).
    #[error("license knowledge base is invalid: {message}")]
    Kb { message: String },
}

impl LicenseError {
    pub fn kind(&self) -> cambrian_types::ErrorKind {
        cambrian_types::ErrorKind::Internal
    }
}

/// Whether a pipeline tag / architecture list indicates a multimodal-input model.
pub fn is_multimodal(pipeline_tag: Option<&str>, architectures: &[String]) -> Option<bool> {
    const MM_TAGS: &[&str] = &[
        "image-text-to-text",
        "visual-question-answering",
        "image-to-text",
        "document-question-answering",
        "video-text-to-text",
        "any-to-any",
        "audio-text-to-text",
        "image-to-image",
        "image-to-video",
    ];
    if architectures.iter().any(|a| {
        let a = a.to_ascii_lowercase();
        a.contains("mllama")
            || a.contains("vision")
            || a.contains("forconditionalgeneration") && a.contains("llama4")
    }) {
        return Some(true);
    }
    match pipeline_tag {
        Some(t) if MM_TAGS.contains(&t) => Some(true),
        Some(_) => Some(false),
        None => None,
    }
}
