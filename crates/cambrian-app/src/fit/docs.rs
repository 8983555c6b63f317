//! `--docs DIR`: real token counts of the user's documents with the model's
//! `tokenizer.json` (Hugging Face `tokenizers`). A deterministic sample of at
//! most N files (every k-th in path order), each read up to 4 MiB.

use crate::{Error, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};

const MAX_FILE_BYTES: u64 = 4 << 20;
const MAX_FILES_LISTED: usize = 1_000_000;
const MAX_DEPTH: usize = 16;

/// Token statistics of the sampled documents.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DocsTokens {
    pub dir: String,
    /// Files found.
    pub files: usize,
    /// Files tokenized.
    pub sampled: usize,
    /// Files cut at 4 MiB.
    pub truncated: usize,
    pub tokenizer: String,
    pub total_tokens: u64,
    pub mean_tokens: f64,
    pub p50_tokens: u64,
    pub p95_tokens: u64,
    pub max_tokens: u64,
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if depth > MAX_DEPTH || out.len() >= MAX_FILES_LISTED {
        return Ok(());
    }
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.filter_map(|e| e.ok()).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        let ft = match e.file_type() {
            Ok(t) => t,
            Err(_) => continue,
        };
        let hidden = e.file_name().to_string_lossy().starts_with('.');
        if hidden || ft.is_symlink() {
            continue;
        }
        if ft.is_dir() {
            walk(&p, depth + 1, out)?;
        } else if ft.is_file() {
            out.push(p);
        }
    }
    Ok(())
}

fn pct(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted.get(i).copied().unwrap_or(0)
}

/// Tokenize a sample of the files under `dir`.
pub fn count(dir: &Path, tokenizer_json: &[u8], sample: usize) -> Result<DocsTokens> {
    let mut tok = tokenizers::Tokenizer::from_bytes(tokenizer_json)
        .map_err(|e| Error::bad_input(format!("tokenizer.json cannot be loaded: {e}")))?;
    // Real lengths: no padding to a fixed size, no truncation at the model's limit.
    tok.with_padding(None);
    tok.with_truncation(None)
        .map_err(|e| Error::bad_input(format!("tokenizer.json: {e}")))?;
    let mut files = Vec::new();
    walk(dir, 0, &mut files)
        .map_err(|e| Error::not_found(format!("cannot read --docs {}: {e}", dir.display())))?;
    if files.is_empty() {
        return Err(
            Error::not_found(format!("--docs {}: no files", dir.display()))
                .with_hint("point --docs at a folder of your documents"),
        );
    }
    let step = files.len().div_ceil(sample).max(1);
    let mut counts = Vec::new();
    let mut truncated = 0;
    for p in files.iter().step_by(step) {
        let f = std::fs::File::open(p)
            .map_err(|e| Error::bad_input(format!("cannot read {}: {e}", p.display())))?;
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        if len > MAX_FILE_BYTES {
            truncated += 1;
        }
        let bytes = cambrian_formats::read_prefix(f, MAX_FILE_BYTES)
            .map_err(|e| Error::bad_input(format!("cannot read {}: {e}", p.display())))?;
        let text = String::from_utf8_lossy(&bytes);
        let enc = tok
            .encode(text.as_ref(), true)
            .map_err(|e| Error::bad_input(format!("tokenizing {} failed: {e}", p.display())))?;
        counts.push(enc.len() as u64);
    }
    let total: u64 = counts.iter().sum();
    let mean = total as f64 / counts.len() as f64;
    let mut sorted = counts.clone();
    sorted.sort_unstable();
    let tokenizer = "the model's tokenizer.json".to_string();
    Ok(DocsTokens {
        dir: dir.display().to_string(),
        files: files.len(),
        sampled: counts.len(),
        truncated,
        tokenizer,
        total_tokens: total,
        mean_tokens: mean,
        p50_tokens: pct(&sorted, 0.5),
        p95_tokens: pct(&sorted, 0.95),
        max_tokens: sorted.last().copied().unwrap_or(0),
    })
}
