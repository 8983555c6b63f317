//! Model-card transparency score. Eight checks, one point each, every one
//! with its evidence (line numbers in the card):
//!
//! 1. `license` in the front matter (or `license_name`),
//! 2. `datasets` (non-empty),
//! 3. `base_model`,
//! 4. evaluation results: `model-index` with results, or a table with
//!    numbers in an evaluation/results section,
//! 5. to 8. non-empty, non-placeholder sections "Training Data",
//!    "Limitations", "Evaluation", "Out-of-Scope" (matched on heading text,
//!    see [`SECTIONS`]).
//!
//! score = round(100 × passed / 8). A malformed front matter is reported
//! with its line and the front-matter checks fail.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardCheck {
    /// `license`, `datasets`, `base_model`, `eval_results`,
    /// `training_data`, `limitations`, `evaluation`, `out_of_scope`.
    pub check: String,
    pub passed: bool,
    /// What was found (or not), with line numbers.
    pub evidence: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CardReport {
    pub path: String,
    /// 0–100.
    pub score: u32,
    pub passed: u32,
    pub total: u32,
    pub checks: Vec<CardCheck>,
    /// Problems with the card itself (malformed front matter).
    pub problems: Vec<String>,
    pub formula: String,
}

/// Heading keywords (lower-case, matched as substrings) per section check.
pub const SECTIONS: &[(&str, &[&str])] = &[
    (
        "training_data",
        &["training data", "training dataset", "training datasets"],
    ),
    ("limitations", &["limitation"]),
    ("evaluation", &["evaluation", "results", "benchmark"]),
    ("out_of_scope", &["out-of-scope", "out of scope"]),
];

const PLACEHOLDERS: &[&str] = &[
    "more information needed",
    "[more information needed]",
    "tbd",
    "todo",
    "n/a",
    "coming soon",
    "to be added",
    "to be updated",
    "none",
    "[optional]",
];

struct Heading {
    line: usize,
    level: usize,
    text: String,
    body: String,
}

fn headings(body: &str, first_line: usize) -> Vec<Heading> {
    let mut out: Vec<Heading> = Vec::new();
    let mut fence = false;
    for (i, l) in body.lines().enumerate() {
        let t = l.trim_start();
        if t.starts_with("```") || t.starts_with("~~~") {
            fence = !fence;
        }
        if !fence && t.starts_with('#') {
            let level = t.chars().take_while(|&c| c == '#').count();
            let rest = &t[level..];
            if level <= 6 && (rest.starts_with(' ') || rest.is_empty()) {
                let text = rest
                    .trim()
                    .trim_matches(|c| c == '*' || c == '_' || c == ' ')
                    .to_string();
                out.push(Heading {
                    line: first_line + i,
                    level,
                    text,
                    body: String::new(),
                });
                continue;
            }
        }
        // Body text belongs to every open heading of lower level (nested
        // subsections count toward their parent).
        let mut min_level = usize::MAX;
        for h in out.iter_mut().rev() {
            if h.level < min_level {
                h.body.push_str(l);
                h.body.push('\n');
                min_level = h.level;
            }
        }
    }
    out
}

fn substantive(body: &str) -> bool {
    let t: String = body
        .lines()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty() && !l.starts_with("<!--"))
        .collect::<Vec<_>>()
        .join(" ");
    let plain = t
        .trim_matches(|c: char| c == '*' || c == '_' || c == '[' || c == ']' || c.is_whitespace())
        .to_lowercase();
    if plain.len() < 20 {
        return !plain.is_empty()
            && !PLACEHOLDERS.contains(&plain.as_str())
            && plain.split_whitespace().count() >= 3;
    }
    let template_variable = plain.starts_with("{{") && plain.ends_with("}}");
    !(PLACEHOLDERS.iter().any(|p| plain == *p) || template_variable)
}

fn yaml_nonempty(v: &serde_yaml::Value) -> bool {
    match v {
        serde_yaml::Value::Null => false,
        serde_yaml::Value::String(s) => !s.trim().is_empty(),
        serde_yaml::Value::Sequence(s) => !s.is_empty(),
        serde_yaml::Value::Mapping(m) => !m.is_empty(),
        _ => true,
    }
}

fn line_of_key(fm: &str, key: &str) -> usize {
    fm.lines()
        .position(|l| l.starts_with(&format!("{key}:")))
        .map(|i| i + 2)
        .unwrap_or(0)
}

/// Score a model card's text.
pub fn score_card(path: &str, text: &str) -> CardReport {
    let mut problems = Vec::new();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let (fm, body, body_line) = split_front_matter(text, &mut problems);
    let yaml: Option<serde_yaml::Value> = match fm {
        Some(ref s) => match serde_yaml::from_str::<serde_yaml::Value>(s) {
            Ok(serde_yaml::Value::Mapping(m)) => Some(serde_yaml::Value::Mapping(m)),
            Ok(serde_yaml::Value::Null) => None,
            Ok(_) => {
                problems.push("front matter is not a YAML mapping".into());
                None
            }
            Err(e) => {
                let at = e
                    .location()
                    .map(|l| format!(" at line {}", l.line() + 1))
                    .unwrap_or_default();
                problems.push(format!("front matter is not valid YAML{at}: {e}"));
                None
            }
        },
        None => None,
    };
    let get = |k: &str| {
        yaml.as_ref()
            .and_then(|y| y.get(k))
            .filter(|v| yaml_nonempty(v))
    };
    let fm_s = fm.clone().unwrap_or_default();
    let mut checks = Vec::new();
    let mut fm_check = |name: &str, keys: &[&str]| {
        for k in keys {
            if let Some(v) = get(k) {
                let shown = match v {
                    serde_yaml::Value::String(s) => s.chars().take(60).collect::<String>(),
                    serde_yaml::Value::Sequence(s) => format!("{} entries", s.len()),
                    _ => "present".into(),
                };
                checks.push(CardCheck {
                    check: name.into(),
                    passed: true,
                    evidence: format!(
                        "front matter `{k}` (line {}): {shown}",
                        line_of_key(&fm_s, k)
                    ),
                });
                return;
            }
        }
        let why = if fm.is_none() {
            "no front matter".to_string()
        } else if yaml.is_none() {
            "front matter unreadable".into()
        } else {
            format!("no `{}` in front matter", keys.join("`/`"))
        };
        checks.push(CardCheck {
            check: name.into(),
            passed: false,
            evidence: why,
        });
    };
    fm_check("license", &["license", "license_name"]);
    fm_check("datasets", &["datasets"]);
    fm_check("base_model", &["base_model"]);
    let hs = headings(body, body_line);
    // Evaluation results: model-index results or a numeric table.
    let mi = get("model-index")
        .and_then(|v| v.as_sequence())
        .map(|s| {
            s.iter()
                .filter(|m| m.get("results").is_some_and(yaml_nonempty))
                .count()
        })
        .unwrap_or(0);
    let table = hs.iter().find(|h| {
        let t = h.text.to_lowercase();
        (t.contains("evaluation")
            || t.contains("result")
            || t.contains("benchmark")
            || t.contains("metric"))
            && h.body
                .lines()
                .any(|l| l.trim_start().starts_with('|') && l.chars().any(|c| c.is_ascii_digit()))
    });
    checks.push(match (mi, table) {
        (n, _) if n > 0 => CardCheck {
            check: "eval_results".into(),
            passed: true,
            evidence: format!("front matter `model-index` with results ({n} models)"),
        },
        (_, Some(h)) => CardCheck {
            check: "eval_results".into(),
            passed: true,
            evidence: format!("table with numbers under \"{}\" (line {})", h.text, h.line),
        },
        _ => CardCheck {
            check: "eval_results".into(),
            passed: false,
            evidence:
                "no model-index results and no numeric table in an evaluation/results section"
                    .into(),
        },
    });
    for (name, keys) in SECTIONS {
        let found: Vec<&Heading> = hs
            .iter()
            .filter(|h| {
                let t = h.text.to_lowercase();
                keys.iter().any(|k| t.contains(k))
            })
            .collect();
        let good = found.iter().find(|h| substantive(&h.body));
        checks.push(match (good, found.first()) {
            (Some(h), _) => CardCheck {
                check: (*name).into(),
                passed: true,
                evidence: format!(
                    "section \"{}\" (line {}), {} words",
                    h.text,
                    h.line,
                    h.body.split_whitespace().count()
                ),
            },
            (None, Some(h)) => CardCheck {
                check: (*name).into(),
                passed: false,
                evidence: format!(
                    "section \"{}\" (line {}) is empty or a placeholder",
                    h.text, h.line
                ),
            },
            (None, None) => CardCheck {
                check: (*name).into(),
                passed: false,
                evidence: format!(
                    "no heading containing {}",
                    keys.iter()
                        .map(|k| format!("\"{k}\""))
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            },
        });
    }
    let passed = checks.iter().filter(|c| c.passed).count() as u32;
    let total = checks.len() as u32;
    CardReport {
        path: path.to_string(),
        score: (100 * passed + total / 2) / total.max(1),
        passed,
        total,
        checks,
        problems,
        formula: "score = round(100 × passed checks / 8); checks: license, datasets, base_model, eval_results, training_data, limitations, evaluation, out_of_scope".into(),
    }
}

/// (front matter text, body, 1-based line where the body starts).
fn split_front_matter<'a>(
    text: &'a str,
    problems: &mut Vec<String>,
) -> (Option<String>, &'a str, usize) {
    let Some(rest) = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
    else {
        return (None, text, 1);
    };
    let mut off = 0;
    for (i, l) in rest.split_inclusive('\n').enumerate() {
        if l.trim_end() == "---" {
            let fm = rest[..off].to_string();
            let body = &rest[off + l.len()..];
            return (Some(fm), body, i + 3);
        }
        off += l.len();
    }
    problems.push("front matter opened with `---` on line 1 is never closed".into());
    (None, rest, 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_sections_fail() {
        let card = "---\nlicense: mit\n---\n# Training Data\n\n[More Information Needed]\n\n# Limitations\n\nThe model hallucinates facts and was not tested on code.\n";
        let r = score_card("README.md", card);
        let get = |n: &str| r.checks.iter().find(|c| c.check == n).map(|c| c.passed);
        assert_eq!(get("license"), Some(true));
        assert_eq!(get("training_data"), Some(false));
        assert_eq!(get("limitations"), Some(true));
        assert_eq!(r.passed, 2);
        assert_eq!(r.score, 25);
    }

    #[test]
    fn unclosed_front_matter_is_a_problem() {
        let r = score_card("README.md", "---\nlicense: mit\n# Title\n");
        assert!(!r.problems.is_empty());
        assert!(!r.checks[0].passed);
    }
}
