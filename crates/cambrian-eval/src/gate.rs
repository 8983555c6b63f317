//! `--gate`: a small pass/fail expression over report metrics.
//!
//! Grammar (whitespace-insensitive):
//! ```text
//! gate      := condition (("and" | "&&" | ",") condition)*
//! condition := [MODEL ":"] metric op number ["%"]
//! op        := ">=" | "<=" | ">" | "<" | "==" | "!="
//! metric    := accuracy[.lower|.upper|.value]            (failures count as wrong)
//!            | answered_accuracy[.lower|.upper|.value]   (over answered items)
//!            | failure_rate | mean_score
//!            | latency.p50 | latency.p95 | latency.mean | ttft.p50 | ttft.p95   (ms)
//!            | tokens_per_s | cost_per_1k                                       ($)
//!            | field.NAME.(f1 | precision | recall)[.lower|.upper|.value]
//! ```
//! Without a `MODEL:` prefix a condition must hold for every model. A
//! metric that was not measured (e.g. no latency) fails its condition.

use crate::analysis::{ModelSummary, Report};
use crate::stats::Proportion;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("bad gate `{gate}`: {message}")]
pub struct GateError {
    pub gate: String,
    pub message: String,
}

impl GateError {
    pub const HINT: &'static str = "write e.g. --gate \"accuracy.lower >= 0.8 and latency.p95 <= 2000\"; metrics: accuracy[.lower|.upper], \
answered_accuracy[.lower|.upper], failure_rate, mean_score, latency.p50|p95|mean, ttft.p50|p95, tokens_per_s, cost_per_1k, \
field.NAME.f1|precision|recall[.lower|.upper]; prefix MODEL: to test one model";
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "==")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
}

impl Op {
    fn apply(self, a: f64, b: f64) -> bool {
        match self {
            Op::Ge => a >= b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Lt => a < b,
            Op::Eq => (a - b).abs() <= 1e-12 * b.abs().max(1.0),
            Op::Ne => (a - b).abs() > 1e-12 * b.abs().max(1.0),
        }
    }
    fn as_str(self) -> &'static str {
        match self {
            Op::Ge => ">=",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Lt => "<",
            Op::Eq => "==",
            Op::Ne => "!=",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    pub model: Option<String>,
    pub metric: String,
    pub op: Op,
    pub threshold: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gate {
    pub text: String,
    pub conditions: Vec<Condition>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateCheck {
    pub model: String,
    pub condition: String,
    pub value: Option<f64>,
    pub passed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateResult {
    pub gate: String,
    pub passed: bool,
    pub checks: Vec<GateCheck>,
}

const PROPORTION_METRICS: &[&str] = &["accuracy", "answered_accuracy"];
const PLAIN_METRICS: &[&str] = &[
    "failure_rate",
    "mean_score",
    "latency.p50",
    "latency.p95",
    "latency.mean",
    "ttft.p50",
    "ttft.p95",
    "tokens_per_s",
    "cost_per_1k",
];

fn metric_ok(m: &str) -> bool {
    if PLAIN_METRICS.contains(&m) {
        return true;
    }
    let base = m
        .strip_suffix(".lower")
        .or_else(|| m.strip_suffix(".upper"))
        .or_else(|| m.strip_suffix(".value"))
        .unwrap_or(m);
    if PROPORTION_METRICS.contains(&base) {
        return true;
    }
    if let Some(rest) = base.strip_prefix("field.") {
        if let Some(name) = rest
            .strip_suffix(".precision")
            .or_else(|| rest.strip_suffix(".recall"))
        {
            return !name.is_empty();
        }
        // f1 has no interval.
        if let Some(name) = m.strip_prefix("field.").and_then(|r| r.strip_suffix(".f1")) {
            return !name.is_empty();
        }
    }
    false
}

impl Gate {
    pub fn parse(text: &str) -> Result<Gate, GateError> {
        let err = |m: String| GateError {
            gate: text.to_string(),
            message: m,
        };
        let normalized = text.replace("&&", " and ").replace(',', " and ");
        let mut conditions = Vec::new();
        for part in normalized.split(" and ") {
            let part = part.trim();
            if part.is_empty() {
                return Err(err("empty condition".into()));
            }
            let op_pos = ["!=", ">=", "<=", "==", ">", "<"]
                .iter()
                .filter_map(|o| part.find(o).map(|p| (p, *o)))
                .min_by_key(|(p, o)| (*p, std::cmp::Reverse(o.len())));
            let Some((pos, op_s)) = op_pos else {
                return Err(err(format!(
                    "`{part}` has no comparison (>=, <=, >, <, ==, !=)"
                )));
            };
            let lhs = part[..pos].trim();
            let rhs = part[pos + op_s.len()..].trim();
            let op = match op_s {
                ">=" => Op::Ge,
                "<=" => Op::Le,
                ">" => Op::Gt,
                "<" => Op::Lt,
                "==" => Op::Eq,
                _ => Op::Ne,
            };
            let (model, metric) = match lhs.rsplit_once(':') {
                Some((m, x)) if !m.trim().is_empty() => (Some(m.trim().to_string()), x.trim()),
                Some(_) => return Err(err(format!("`{lhs}`: empty model name before `:`"))),
                None => (None, lhs),
            };
            if !metric_ok(metric) {
                return Err(err(format!("unknown metric `{metric}`")));
            }
            let (num, pct) = match rhs.strip_suffix('%') {
                Some(n) => (n.trim(), true),
                None => (rhs, false),
            };
            let threshold = num
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| err(format!("`{rhs}` is not a number")))?;
            conditions.push(Condition {
                model,
                metric: metric.to_string(),
                op,
                threshold: if pct { threshold / 100.0 } else { threshold },
            });
        }
        Ok(Gate {
            text: text.to_string(),
            conditions,
        })
    }

    /// Evaluate against a report. A condition naming a model absent from the
    /// report is an error.
    pub fn evaluate(&self, report: &Report) -> Result<GateResult, GateError> {
        let mut checks = Vec::new();
        for c in &self.conditions {
            let targets: Vec<&ModelSummary> = match &c.model {
                Some(m) => vec![report.model(m).ok_or_else(|| GateError {
                    gate: self.text.clone(),
                    message: format!(
                            "no model `{m}` in this run (models: {})",
                            report
                                .models
                                .iter()
                                .map(|m| m.model.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                })?],
                None => report.models.iter().collect(),
            };
            for m in targets {
                let value = metric_value(m, &c.metric);
                checks.push(GateCheck {
                    model: m.model.clone(),
                    condition: format!("{} {} {}", c.metric, c.op.as_str(), c.threshold),
                    value,
                    passed: value.is_some_and(|v| c.op.apply(v, c.threshold)),
                });
            }
        }
        Ok(GateResult {
            gate: self.text.clone(),
            passed: !checks.is_empty() && checks.iter().all(|c| c.passed),
            checks,
        })
    }
}

fn prop(p: &Proportion, part: &str) -> Option<f64> {
    match part {
        "lower" => Some(p.lower),
        "upper" => Some(p.upper),
        "value" | "" => (p.n > 0).then_some(p.value),
        _ => None,
    }
}

/// The value of a metric for one model (`None` when not measured).
pub fn metric_value(m: &ModelSummary, metric: &str) -> Option<f64> {
    let (base, part) = match metric.rsplit_once('.') {
        Some((b, p @ ("lower" | "upper" | "value"))) => (b, p),
        _ => (metric, ""),
    };
    match base {
        "accuracy" => prop(&m.accuracy, part),
        "answered_accuracy" => prop(&m.answered_accuracy, part),
        "failure_rate" => (m.n > 0).then(|| m.failed as f64 / m.n as f64),
        "mean_score" => (m.n > 0).then_some(m.mean_score),
        "latency.p50" => m.latency.p50_ms,
        "latency.p95" => m.latency.p95_ms,
        "latency.mean" => m.latency.mean_ms,
        "ttft.p50" => m.latency.ttft_p50_ms,
        "ttft.p95" => m.latency.ttft_p95_ms,
        "tokens_per_s" => m.latency.output_tokens_per_s,
        "cost_per_1k" => m.cost.as_ref().and_then(|c| c.per_1k_items),
        _ => {
            let rest = base.strip_prefix("field.")?;
            let (name, what) = rest.rsplit_once('.')?;
            let f = m.fields.iter().find(|f| f.field == name)?;
            match what {
                "f1" => Some(f.f1),
                "precision" => prop(&f.precision, part),
                "recall" => prop(&f.recall, part),
                _ => None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        let g =
            Gate::parse("accuracy.lower >= 0.8 and qwen:7b:latency.p95<=2000 && failure_rate < 5%")
                .unwrap();
        assert_eq!(g.conditions.len(), 3);
        assert_eq!(g.conditions[1].model.as_deref(), Some("qwen:7b"));
        assert_eq!(g.conditions[1].op, Op::Le);
        assert!((g.conditions[2].threshold - 0.05).abs() < 1e-15);
        assert!(Gate::parse("field.unit.recall.lower >= 0.5").is_ok());
        assert!(Gate::parse("field.unit.f1 >= 0.5").is_ok());
        assert!(
            Gate::parse("acc >= 0.8")
                .unwrap_err()
                .message
                .contains("unknown metric `acc`")
        );
        assert!(Gate::parse("accuracy.lower 0.8").is_err());
        assert!(Gate::parse("accuracy >= high").is_err());
        assert!(Gate::parse("accuracy >= 0.8 and").is_err());
    }
}
