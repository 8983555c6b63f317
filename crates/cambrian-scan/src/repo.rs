//! Repo-level scans: one file, a directory tree, or the local Hugging Face
//! cache (`<HF_HOME>/hub/models--org--name/snapshots/<rev>/...`), plus the
//! checks that need the whole repo: the model card score and "pickle-only
//! weights, prefer safetensors".

use crate::card::{CardReport, score_card};
use crate::{FileReport, Finding, Level, Limits, ScanError, Verdict, engine};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What to scan on disk.
#[derive(Debug, Clone)]
pub enum ScanTarget {
    /// A file or a directory (walked recursively, `.git` skipped).
    Path(PathBuf),
    /// The hub cache root (`$HF_HOME/hub`), optionally one repo id.
    HfCache {
        hub_dir: PathBuf,
        repo: Option<String>,
    },
}

/// The result of scanning one repo / directory / file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepoReport {
    /// Directory, file, `org/name@rev` for cache snapshots and Hub repos.
    pub target: String,
    pub files: Vec<FileReport>,
    /// Findings about the repo as a whole.
    pub findings: Vec<Finding>,
    pub card: Option<CardReport>,
    pub verdict: Verdict,
}

impl RepoReport {
    /// Build a report: compute repo findings and the overall verdict.
    pub fn assemble(
        target: String,
        files: Vec<FileReport>,
        card: Option<CardReport>,
    ) -> RepoReport {
        let findings = repo_findings(&files);
        let verdict = files
            .iter()
            .map(|f| f.verdict)
            .chain(findings.iter().map(|f| f.level.verdict()))
            .max()
            .unwrap_or(Verdict::Clean);
        RepoReport {
            target,
            files,
            findings,
            card,
            verdict,
        }
    }
}

const WEIGHT_EXT: &[&str] = &[
    "bin",
    "pt",
    "pth",
    "ckpt",
    "pkl",
    "pickle",
    "joblib",
    "h5",
    "keras",
    "npz",
    "npy",
    "safetensors",
    "gguf",
    "onnx",
    "msgpack",
];

fn is_weight_name(p: &str) -> bool {
    let e = p
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    WEIGHT_EXT.contains(&e.as_str())
}

/// Checks across files: pickle-only weights.
pub fn repo_findings(files: &[FileReport]) -> Vec<Finding> {
    let mut out = Vec::new();
    let pickled: Vec<&FileReport> = files
        .iter()
        .filter(|f| {
            matches!(
                f.format.as_str(),
                "pickle" | "pytorch-zip" | "pytorch-legacy"
            ) && is_weight_name(&f.path)
        })
        .collect();
    let safe = files
        .iter()
        .any(|f| f.format == "safetensors" || f.format == "gguf");
    if !pickled.is_empty() && !safe {
        let names: Vec<&str> = pickled.iter().take(5).map(|f| f.path.as_str()).collect();
        out.push(
            Finding::new(
                "repo.prefer-safetensors",
                Level::Info,
                format!(
                    "weights are pickle-only ({}{}): loading them runs the pickle; prefer a safetensors copy (or torch.load(weights_only=True))",
                    names.join(", "),
                    if pickled.len() > 5 { format!(" and {} more", pickled.len() - 5) } else { String::new() }
                ),
            )
            .evidence("no .safetensors or .gguf file beside them"),
        );
    }
    out
}

/// Walk a directory: sorted, `.git` skipped, directory symlinks not
/// followed (no loops), file symlinks followed (HF cache snapshots).
pub fn walk_dir(root: &Path, max_files: usize) -> Result<Vec<PathBuf>, ScanError> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let rd = std::fs::read_dir(&d).map_err(|e| ScanError::Io {
            path: d.display().to_string(),
            source: e,
        })?;
        let mut entries: Vec<_> = rd.filter_map(|e| e.ok()).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries.into_iter().rev() {
            let p = e.path();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                if e.file_name() != ".git" {
                    stack.push(p);
                }
            } else if ft.is_file() || (ft.is_symlink() && p.is_file()) {
                out.push(p);
                if out.len() > max_files {
                    return Err(ScanError::Usage(format!(
                        "more than {max_files} files under {}",
                        root.display()
                    )));
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root)
        .unwrap_or(p)
        .to_string_lossy()
        .replace('\\', "/")
}

/// Scan a directory or a single file as one repo.
pub fn scan_dir(root: &Path, label: &str, limits: &Limits) -> Result<RepoReport, ScanError> {
    let meta =
        std::fs::metadata(root).map_err(|_| ScanError::NotFound(root.display().to_string()))?;
    if meta.is_file() {
        let name = root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let r = engine::scan_file(root, &name, limits).map_err(|e| ScanError::Io {
            path: root.display().to_string(),
            source: e,
        })?;
        let card = (r.format == "model-card")
            .then(|| read_card(root, &name))
            .flatten();
        return Ok(RepoReport::assemble(label.to_string(), vec![r], card));
    }
    let files = walk_dir(root, limits.max_files)?;
    let mut reports = Vec::new();
    for p in &files {
        let name = rel(root, p);
        match engine::scan_file(p, &name, limits) {
            Ok(r) => reports.push(r),
            Err(e) => reports.push(FileReport::new(
                name,
                0,
                "other",
                vec![Finding::new(
                    "io.read",
                    Level::Unreadable,
                    format!("cannot read: {e}"),
                )],
            )),
        }
    }
    let card = ["README.md", "readme.md", "MODEL_CARD.md", "model_card.md"]
        .iter()
        .find_map(|n| {
            let p = root.join(n);
            p.is_file().then(|| read_card(&p, n)).flatten()
        });
    Ok(RepoReport::assemble(label.to_string(), reports, card))
}

fn read_card(p: &Path, name: &str) -> Option<CardReport> {
    let b = std::fs::read(p).ok()?;
    if b.len() > 16 << 20 {
        return None;
    }
    Some(score_card(name, &String::from_utf8_lossy(&b)))
}

/// Snapshots in the HF cache: (repo id, revision, directory).
pub fn cache_snapshots(
    hub_dir: &Path,
    repo: Option<&str>,
) -> Result<Vec<(String, String, PathBuf)>, ScanError> {
    let rd = std::fs::read_dir(hub_dir)
        .map_err(|_| ScanError::NotFound(format!("Hugging Face cache {}", hub_dir.display())))?;
    let mut out = Vec::new();
    let mut dirs: Vec<_> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    dirs.sort();
    for d in dirs {
        let Some(n) = d.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(id) = n.strip_prefix("models--") else {
            continue;
        };
        let id = id.replacen("--", "/", 1);
        if repo.is_some_and(|r| r != id) {
            continue;
        }
        let Ok(snaps) = std::fs::read_dir(d.join("snapshots")) else {
            continue;
        };
        let mut snaps: Vec<_> = snaps
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        snaps.sort();
        for s in snaps {
            let rev = s
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            out.push((id.clone(), rev, s));
        }
    }
    if let Some(r) = repo
        && out.is_empty()
    {
        return Err(ScanError::NotFound(format!(
            "{r} in the Hugging Face cache {}",
            hub_dir.display()
        )));
    }
    Ok(out)
}

/// Scan a target on disk; one report per repo (one for a path).
pub fn scan_path(target: &ScanTarget, limits: &Limits) -> Result<Vec<RepoReport>, ScanError> {
    match target {
        ScanTarget::Path(p) => {
            if !p.exists() {
                return Err(ScanError::NotFound(p.display().to_string()));
            }
            Ok(vec![scan_dir(p, &p.display().to_string(), limits)?])
        }
        ScanTarget::HfCache { hub_dir, repo } => {
            let snaps = cache_snapshots(hub_dir, repo.as_deref())?;
            let mut out = Vec::new();
            for (id, rev, dir) in snaps {
                out.push(scan_dir(&dir, &format!("{id}@{rev}"), limits)?);
            }
            Ok(out)
        }
    }
}
