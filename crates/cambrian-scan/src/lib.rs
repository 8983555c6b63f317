//! Static risk scanner for model files: pickle (protocols 0–5), PyTorch zip
//! and legacy checkpoints, NumPy `.npy`/`.npz`, joblib, nested archives,
//! safetensors, GGUF, chat templates, Keras Lambda layers, ONNX external
//! data, and model cards.
//!
//! Architecture Invariant: nothing here executes, unpickles, renders or
//! imports anything from the input. Every file is parsed as bytes with
//! bounded memory and time ([`Limits`]); a file that cannot be read to the
//! end is `unreadable`, never `clean`.
//!
//! No printing, no environment variables: the caller passes paths and
//! [`Limits`]; results are plain data ([`FileReport`], [`Finding`]) that
//! serialise as JSON. SARIF 2.1.0 and CycloneDX 1.6 documents are built by
//! [`sarif`] and [`cyclonedx`].

pub mod card;
pub mod cyclonedx;
pub mod engine;
pub mod lists;
pub mod npy;
pub mod onnx;
pub mod pickle;
pub mod repo;
pub mod sarif;
pub mod source;
pub mod template;
pub mod zip;

use serde::{Deserialize, Serialize};

pub use engine::{scan_bytes, scan_file, scan_source};
pub use repo::{RepoReport, ScanTarget, scan_path};

/// The verdict on one file (and, as the maximum, on a whole scan).
/// Ordered: `clean < innocuous < suspicious < unreadable < dangerous`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Nothing that can execute code was found.
    Clean,
    /// Only imports on an allowlist (e.g. `torch._utils._rebuild_tensor_v2`).
    Innocuous,
    /// Imports or constructs on no list, or signs of tampering.
    Suspicious,
    /// Part of the file could not be checked (truncated, encrypted, unknown
    /// compression, over a limit): not known to be safe.
    Unreadable,
    /// Code execution, file/network access, or an escape.
    Dangerous,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Clean => "clean",
            Verdict::Innocuous => "innocuous",
            Verdict::Suspicious => "suspicious",
            Verdict::Unreadable => "unreadable",
            Verdict::Dangerous => "dangerous",
        }
    }
    pub fn parse(s: &str) -> Option<Verdict> {
        Some(match s {
            "clean" => Verdict::Clean,
            "innocuous" => Verdict::Innocuous,
            "suspicious" => Verdict::Suspicious,
            "unreadable" => Verdict::Unreadable,
            "dangerous" => Verdict::Dangerous,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How much one finding weighs. `info` findings never change a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Info,
    Innocuous,
    Suspicious,
    Unreadable,
    Dangerous,
}

impl Level {
    pub fn verdict(self) -> Verdict {
        match self {
            Level::Info => Verdict::Clean,
            Level::Innocuous => Verdict::Innocuous,
            Level::Suspicious => Verdict::Suspicious,
            Level::Unreadable => Verdict::Unreadable,
            Level::Dangerous => Verdict::Dangerous,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Innocuous => "innocuous",
            Level::Suspicious => "suspicious",
            Level::Unreadable => "unreadable",
            Level::Dangerous => "dangerous",
        }
    }
}

/// One piece of evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable rule id, e.g. `pickle.import`, `zip.path-traversal`.
    pub rule: String,
    pub level: Level,
    pub message: String,
    /// `module.name` for imports, a key or layer name otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symbol: Option<String>,
    /// Path inside the file's archive(s), members joined by `!/`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// Byte offset inside the member (or the file when there is no member).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Opcode or structure that carried it (e.g. `STACK_GLOBAL`, `REDUCE`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opcode: Option<String>,
    /// Why: the list entry or pattern that matched, with its sources.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
}

impl Finding {
    pub fn new(rule: &str, level: Level, message: impl Into<String>) -> Finding {
        Finding {
            rule: rule.to_string(),
            level,
            message: message.into(),
            symbol: None,
            member: None,
            offset: None,
            opcode: None,
            evidence: None,
        }
    }
    pub fn symbol(mut self, s: impl Into<String>) -> Self {
        self.symbol = Some(s.into());
        self
    }
    pub fn member(mut self, m: Option<String>) -> Self {
        self.member = m;
        self
    }
    pub fn offset(mut self, o: u64) -> Self {
        self.offset = Some(o);
        self
    }
    pub fn opcode(mut self, o: impl Into<String>) -> Self {
        self.opcode = Some(o.into());
        self
    }
    pub fn evidence(mut self, e: impl Into<String>) -> Self {
        self.evidence = Some(e.into());
        self
    }
}

/// The result for one file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileReport {
    /// Path as given / relative to the scanned root / repo file name.
    pub path: String,
    pub bytes: u64,
    /// Detected format: `pickle`, `pytorch-zip`, `pytorch-legacy`, `numpy`,
    /// `npz`, `zip`, `7z`, `safetensors`, `gguf`, `keras`, `hdf5`, `onnx`,
    /// `tokenizer-config`, `model-card`, `json`, `other`.
    pub format: String,
    pub verdict: Verdict,
    pub findings: Vec<Finding>,
}

impl FileReport {
    pub fn new(
        path: impl Into<String>,
        bytes: u64,
        format: &str,
        findings: Vec<Finding>,
    ) -> FileReport {
        let verdict = verdict_of(&findings);
        FileReport {
            path: path.into(),
            bytes,
            format: format.to_string(),
            verdict,
            findings,
        }
    }
}

/// The verdict implied by a list of findings (max level; clean if none).
pub fn verdict_of(findings: &[Finding]) -> Verdict {
    findings
        .iter()
        .map(|f| f.level.verdict())
        .max()
        .unwrap_or(Verdict::Clean)
}

/// Resource bounds for one scan. Defaults suit multi-GB checkpoints.
#[derive(Debug, Clone)]
pub struct Limits {
    pub pickle: pickle::PickleLimits,
    /// Archive nesting depth (a zip in a zip in a file is depth 2).
    pub max_depth: u32,
    /// Largest single pickle / member read into memory.
    pub max_member_bytes: u64,
    /// Uncompressed bytes read from archives in one file, all members.
    pub max_total_uncompressed: u64,
    /// Compression ratio above which a member is a zip bomb.
    pub max_ratio: u64,
    /// Members per archive.
    pub max_entries: usize,
    /// Files walked in a directory.
    pub max_files: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            pickle: pickle::PickleLimits::default(),
            max_depth: 4,
            max_member_bytes: 1 << 30,
            max_total_uncompressed: 4 << 30,
            max_ratio: 200,
            max_entries: 200_000,
            max_files: 100_000,
        }
    }
}

/// Errors that stop a scan (as opposed to findings about the input).
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{0} does not exist")]
    NotFound(String),
    #[error("{0}")]
    Usage(String),
}

impl ScanError {
    pub fn kind(&self) -> cambrian_types::ErrorKind {
        match self {
            ScanError::Io { .. } => cambrian_types::ErrorKind::BadInput,
            ScanError::NotFound(_) => cambrian_types::ErrorKind::NotFound,
            ScanError::Usage(_) => cambrian_types::ErrorKind::Usage,
        }
    }
}
