//! The `cambrian eval --config FILE` format (YAML), parsed from text. The
//! caller reads the file; relative paths in it are resolved against the
//! file's directory by [`EvalConfig::resolve_paths`].
//!
//! ```yaml
//! tests: tests.jsonl
//! template: prompt.j2
//! system: "Answer with JSON only."
//! scorer: "fields:value=number,unit=text"
//! models:
//!   - name: qwen                       # label in reports
//!     base_url: http://127.0.0.1:8080/v1
//!     model: Qwen/Qwen2.5-7B-Instruct   # name sent to the server (default: name)
//!     api: chat                         # or completions
//!     stream: true
//!     api_key_env: OPENAI_API_KEY
//!     cost: "2.5/h"                     # or "0.15,0.6/Mtok"
//! concurrency: 8
//! temperature: 0
//! max_tokens: 256
//! seed: 1
//! gate: "accuracy.lower >= 0.8"
//! csv: out.csv
//! html: out.html
//! ```

use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalConfig {
    pub tests: Option<PathBuf>,
    pub template: Option<PathBuf>,
    pub system: Option<String>,
    pub scorer: Option<String>,
    #[serde(default)]
    pub models: Vec<ModelConfig>,
    pub concurrency: Option<usize>,
    pub temperature: Option<f64>,
    pub max_tokens: Option<u32>,
    pub seed: Option<u64>,
    pub api_key_env: Option<String>,
    pub gate: Option<String>,
    pub csv: Option<PathBuf>,
    pub html: Option<PathBuf>,
    pub journal: Option<PathBuf>,
    pub cache: Option<bool>,
    pub warmup: Option<bool>,
    pub retries: Option<u32>,
    pub timeout_s: Option<f64>,
    pub bootstrap_resamples: Option<u32>,
    pub bootstrap_seed: Option<u64>,
    pub alpha: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub name: String,
    pub base_url: String,
    pub model: Option<String>,
    pub api: Option<String>,
    pub stream: Option<bool>,
    pub api_key_env: Option<String>,
    pub cost: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    pub path: PathBuf,
    pub message: String,
}

impl EvalConfig {
    /// Parse YAML text; `path` is used in error messages only.
    pub fn parse(text: &str, path: &Path) -> Result<EvalConfig, ConfigError> {
        serde_yaml::from_str::<EvalConfig>(text).map_err(|e| {
            let at = e
                .location()
                .map(|l| format!("line {}, column {}: ", l.line(), l.column()))
                .unwrap_or_default();
            ConfigError {
                path: path.to_path_buf(),
                message: format!("{at}{e}"),
            }
        })
    }

    /// Make relative paths relative to `dir` (the config file's directory).
    pub fn resolve_paths(&mut self, dir: &Path) {
        for p in [
            &mut self.tests,
            &mut self.template,
            &mut self.csv,
            &mut self.html,
            &mut self.journal,
        ]
        .into_iter()
        .flatten()
        {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        }
        if let Some(s) = &mut self.scorer
            && let Some(rest) = s.strip_prefix("json-schema:")
            && Path::new(rest).is_relative()
        {
            *s = format!("json-schema:{}", dir.join(rest).display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_resolves() {
        let text = "tests: t.jsonl\nscorer: \"json-schema:s.json\"\nmodels:\n  - name: a\n    base_url: http://x/v1\n    cost: 2/h\nconcurrency: 4\n";
        let mut c = EvalConfig::parse(text, Path::new("c.yaml")).unwrap();
        c.resolve_paths(Path::new("/d"));
        assert_eq!(c.tests.as_deref(), Some(Path::new("/d/t.jsonl")));
        assert_eq!(c.scorer.as_deref(), Some("json-schema:/d/s.json"));
        assert_eq!(c.models[0].cost.as_deref(), Some("2/h"));
        let e = EvalConfig::parse("tests: a\nconcurency: 3\n", Path::new("c.yaml")).unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        assert!(e.to_string().contains("concurency"), "{e}");
    }
}
