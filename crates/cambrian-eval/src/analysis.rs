//! From runs to a report: classify every (model, item) outcome (correct,
//! wrong, or one of the failure kinds), then compute per-model accuracy with
//! Wilson intervals (two ways), per-field precision/recall, pairwise McNemar
//! + paired bootstrap with Holm correction, latency, cost and the Pareto front.

use crate::item::{CallErrorKind, ItemRun, TestItem};
use crate::scorer::{FieldCounts, Score, ScoreFailure, Scorer};
use crate::stats::{self, BootstrapCi, Proportion};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Version of the report records (`--json`, CSV columns, HTML).
pub const REPORT_VERSION: u32 = 1;

/// Why an item produced no scorable answer. Counted apart from wrong answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// Connection failure, broken stream, HTTP 5xx after retries.
    Transport,
    /// Connect, first-byte or total timeout.
    Timeout,
    /// The server refused the request (4xx), e.g. context length exceeded.
    Rejected,
    /// `finish_reason = "length"` and the answer was not correct.
    Truncated,
    /// A JSON scorer found no JSON value in the answer.
    InvalidJson,
    /// The answer's JSON does not conform to the schema.
    SchemaViolation,
    /// The model declined ("I'm sorry, I can't …") and the answer was not correct.
    Refusal,
    /// No answer text (or only whitespace).
    Empty,
}

impl FailureKind {
    pub const ALL: [FailureKind; 8] = [
        FailureKind::Transport,
        FailureKind::Timeout,
        FailureKind::Rejected,
        FailureKind::Truncated,
        FailureKind::InvalidJson,
        FailureKind::SchemaViolation,
        FailureKind::Refusal,
        FailureKind::Empty,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Transport => "transport",
            FailureKind::Timeout => "timeout",
            FailureKind::Rejected => "rejected",
            FailureKind::Truncated => "truncated",
            FailureKind::InvalidJson => "invalid-json",
            FailureKind::SchemaViolation => "schema-violation",
            FailureKind::Refusal => "refusal",
            FailureKind::Empty => "empty",
        }
    }
}

/// The outcome of one model on one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Correct,
    Wrong,
    Failed,
}

/// Phrases that mark a refusal when they occur in the first 200 characters
/// of a wrong answer (lowercased, ’ folded to ').
const REFUSAL_MARKERS: &[&str] = &[
    "i'm sorry",
    "i am sorry",
    "i apologize",
    "i cannot",
    "i can't",
    "i can not",
    "i won't",
    "i will not",
    "i'm unable",
    "i am unable",
    "i'm not able",
    "i am not able",
    "as an ai",
];

pub fn looks_like_refusal(answer: &str) -> bool {
    let head: String = answer
        .chars()
        .take(200)
        .collect::<String>()
        .to_lowercase()
        .replace('’', "'");
    REFUSAL_MARKERS.iter().any(|m| head.contains(m))
}

/// One row of the per-item report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemResult {
    pub model: String,
    pub item_id: String,
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<FailureKind>,
    pub score: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub answer: Option<String>,
    pub expected: serde_json::Value,
    pub finish_reason: Option<String>,
    pub latency_ms: Option<f64>,
    pub ttft_ms: Option<f64>,
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    pub cached: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip)]
    pub fields: BTreeMap<String, FieldCounts>,
}

/// Classify and score one run.
pub fn classify(run: &ItemRun, expected: &serde_json::Value, scorer: &Scorer) -> ItemResult {
    let mut res = ItemResult {
        model: run.model.clone(),
        item_id: run.item_id.clone(),
        outcome: Outcome::Failed,
        failure: None,
        score: 0.0,
        detail: None,
        answer: run.text.clone(),
        expected: expected.clone(),
        finish_reason: run.finish_reason.clone(),
        latency_ms: run.latency_ms,
        ttft_ms: run.ttft_ms,
        prompt_tokens: run.prompt_tokens,
        completion_tokens: run.completion_tokens,
        cached: run.cached,
        error: run.error.as_ref().map(|e| e.message.clone()),
        fields: BTreeMap::new(),
    };
    let truncated = run.finish_reason.as_deref() == Some("length");
    if let Some(e) = &run.error {
        res.failure = Some(match e.kind {
            CallErrorKind::Transport => FailureKind::Transport,
            CallErrorKind::Timeout => FailureKind::Timeout,
            CallErrorKind::Rejected => FailureKind::Rejected,
        });
        res.fields = scorer_misses(scorer, expected);
        return res;
    }
    let text = run.text.as_deref().unwrap_or("");
    if text.trim().is_empty() {
        res.failure = Some(if truncated {
            FailureKind::Truncated
        } else {
            FailureKind::Empty
        });
        res.fields = scorer_misses(scorer, expected);
        return res;
    }
    let Score {
        correct,
        score,
        failure,
        detail,
        fields,
    } = scorer.score(text, expected);
    res.score = score;
    res.detail = detail;
    res.fields = fields;
    if correct {
        res.outcome = Outcome::Correct;
        return res;
    }
    res.failure = if truncated {
        Some(FailureKind::Truncated)
    } else if looks_like_refusal(text) {
        Some(FailureKind::Refusal)
    } else {
        match failure {
            Some(ScoreFailure::InvalidJson) => Some(FailureKind::InvalidJson),
            Some(ScoreFailure::SchemaViolation) => Some(FailureKind::SchemaViolation),
            None => None,
        }
    };
    if res.failure.is_none() {
        res.outcome = Outcome::Wrong;
    }
    res
}

/// For field extraction, an item without an answer misses every expected field.
fn scorer_misses(scorer: &Scorer, expected: &serde_json::Value) -> BTreeMap<String, FieldCounts> {
    if matches!(scorer.spec, crate::scorer::ScorerSpec::Fields { .. }) {
        scorer.score("", expected).fields
    } else {
        BTreeMap::new()
    }
}

/// How a model's serving is priced.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "basis", rename_all = "kebab-case")]
pub enum CostSpec {
    /// Dedicated hardware, dollars per hour.
    PerHour { usd_per_hour: f64 },
    /// Per million tokens, input and output prices.
    PerMtok {
        usd_per_mtok_input: f64,
        usd_per_mtok_output: f64,
    },
}

impl CostSpec {
    /// Parse `2.5/h`, `$2.5/h`, `0.5/Mtok` or `0.15,0.6/Mtok` (input, output).
    pub fn parse(s: &str) -> Result<CostSpec, String> {
        let t = s.trim().trim_start_matches('$');
        let (num, unit) = t
            .rsplit_once('/')
            .ok_or_else(|| format!("cost `{s}` has no unit: write PRICE/h or PRICE/Mtok"))?;
        let p = |x: &str| -> Result<f64, String> {
            x.trim()
                .trim_start_matches('$')
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| format!("cost `{s}`: `{x}` is not a non-negative number"))
        };
        match unit.trim().to_ascii_lowercase().as_str() {
            "h" | "hr" | "hour" => Ok(CostSpec::PerHour {
                usd_per_hour: p(num)?,
            }),
            "mtok" | "m" | "1m" => match num.split_once(',') {
                Some((i, o)) => Ok(CostSpec::PerMtok {
                    usd_per_mtok_input: p(i)?,
                    usd_per_mtok_output: p(o)?,
                }),
                None => {
                    let v = p(num)?;
                    Ok(CostSpec::PerMtok {
                        usd_per_mtok_input: v,
                        usd_per_mtok_output: v,
                    })
                }
            },
            other => Err(format!(
                "cost `{s}`: unknown unit `{other}` (use /h or /Mtok)"
            )),
        }
    }
}

/// Settings of the analysis.
#[derive(Debug, Clone)]
pub struct AnalysisSettings {
    /// Bootstrap resamples for pairwise intervals.
    pub bootstrap_resamples: u32,
    pub bootstrap_seed: u64,
    /// Family-wise significance level for the pairwise verdicts.
    pub alpha: f64,
    /// Requests in flight per endpoint (for the $/hour cost estimate).
    pub concurrency: usize,
    /// Model label → price.
    pub costs: HashMap<String, CostSpec>,
    /// Model label → warm-up latency (ms), excluded from the latency stats.
    pub warmup_ms: HashMap<String, f64>,
}

impl Default for AnalysisSettings {
    fn default() -> Self {
        AnalysisSettings {
            bootstrap_resamples: 10_000,
            bootstrap_seed: 20_260_101,
            alpha: 0.05,
            concurrency: 1,
            costs: HashMap::new(),
            warmup_ms: HashMap::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldSummary {
    pub field: String,
    pub tp: u64,
    pub fp: u64,
    #[serde(rename = "fn")]
    pub fn_: u64,
    /// tp / (tp + fp), Wilson 95 %.
    pub precision: Proportion,
    /// tp / (tp + fn), Wilson 95 %.
    pub recall: Proportion,
    /// 2·tp / (2·tp + fp + fn).
    pub f1: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Requests with a measured latency (failed requests excluded).
    pub n: u64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub mean_ms: Option<f64>,
    pub ttft_p50_ms: Option<f64>,
    pub ttft_p95_ms: Option<f64>,
    /// Σ completion tokens / Σ latency seconds over requests with both.
    pub output_tokens_per_s: Option<f64>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Answers served from the response cache (their latency is the original one).
    pub cached: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warmup_ms: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostSummary {
    pub spec: CostSpec,
    /// Dollars per 1,000 items; `None` when the inputs are missing (see `formula`).
    pub per_1k_items: Option<f64>,
    /// The formula with its inputs, for `--explain`-style traceability.
    pub formula: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSummary {
    pub model: String,
    pub n: u64,
    pub correct: u64,
    pub wrong: u64,
    pub failed: u64,
    /// Failure counts by kind (kinds with 0 omitted).
    pub failures: BTreeMap<FailureKind, u64>,
    /// correct / n: failures count as wrong (the headline).
    pub accuracy: Proportion,
    /// correct / (n − failed): over answered items only.
    pub answered_accuracy: Proportion,
    /// Mean graded score (F1 for f1/fields scorers; equals accuracy otherwise).
    pub mean_score: f64,
    /// Records whose every field matched (fields scorer only; = accuracy).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub fields: Vec<FieldSummary>,
    pub latency: LatencySummary,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<CostSummary>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    ABetter,
    BBetter,
    NotDistinguishable,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairComparison {
    pub a: String,
    pub b: String,
    /// Items both models were run on.
    pub n: u64,
    pub a_correct: u64,
    pub b_correct: u64,
    /// Discordant pairs: A right and B wrong, and the reverse.
    pub a_only: u64,
    pub b_only: u64,
    /// Exact McNemar p-value (binomial on the discordant pairs).
    pub p_value: f64,
    /// Holm-adjusted across all pairs.
    pub p_holm: f64,
    /// Paired bootstrap 95 % interval of acc(A) − acc(B).
    pub diff: BootstrapCi,
    pub verdict: Verdict,
    /// Human-readable verdict, e.g. "not distinguishable at n = 101".
    pub verdict_text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Domination {
    pub by: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParetoEntry {
    pub model: String,
    pub on_front: bool,
    pub dominated_by: Vec<Domination>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pareto {
    /// The objectives used: accuracy (max), p50 latency (min) and cost per
    /// 1k items (min); a dimension is used only when every model has it.
    pub dimensions: Vec<String>,
    pub entries: Vec<ParetoEntry>,
}

/// The whole analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub version: u32,
    pub scorer: String,
    pub n_items: u64,
    pub models: Vec<ModelSummary>,
    pub pairs: Vec<PairComparison>,
    pub pareto: Pareto,
    pub alpha: f64,
    pub items: Vec<ItemResult>,
}

impl Report {
    pub fn model(&self, name: &str) -> Option<&ModelSummary> {
        self.models.iter().find(|m| m.model == name)
    }
}

/// Score and analyse runs. `models` gives the order of models in the report;
/// runs of other labels and of unknown item ids are ignored.
pub fn analyse(
    items: &[TestItem],
    runs: &[ItemRun],
    models: &[String],
    scorer: &Scorer,
    settings: &AnalysisSettings,
) -> Report {
    let expected: HashMap<&str, &serde_json::Value> =
        items.iter().map(|i| (i.id.as_str(), &i.expected)).collect();
    let order: HashMap<&str, usize> = items
        .iter()
        .enumerate()
        .map(|(i, it)| (it.id.as_str(), i))
        .collect();
    let mut per_model: Vec<Vec<ItemResult>> = vec![Vec::new(); models.len()];
    let model_idx: HashMap<&str, usize> = models
        .iter()
        .enumerate()
        .map(|(i, m)| (m.as_str(), i))
        .collect();
    for run in runs {
        let (Some(&mi), Some(exp)) = (
            model_idx.get(run.model.as_str()),
            expected.get(run.item_id.as_str()),
        ) else {
            continue;
        };
        per_model[mi].push(classify(run, exp, scorer));
    }
    for results in &mut per_model {
        results.sort_by_key(|r| order.get(r.item_id.as_str()).copied().unwrap_or(usize::MAX));
        // At most one result per item (a journal may repeat an item: keep the first).
        results.dedup_by(|a, b| a.item_id == b.item_id);
    }
    let summaries: Vec<ModelSummary> = models
        .iter()
        .zip(&per_model)
        .map(|(m, rs)| summarize(m, rs, settings))
        .collect();
    let pairs = compare_pairs(models, &per_model, settings);
    let pareto = pareto(&summaries, &pairs);
    Report {
        version: REPORT_VERSION,
        scorer: scorer.spec.name(),
        n_items: items.len() as u64,
        models: summaries,
        pairs,
        pareto,
        alpha: settings.alpha,
        items: per_model.into_iter().flatten().collect(),
    }
}

fn summarize(model: &str, rs: &[ItemResult], settings: &AnalysisSettings) -> ModelSummary {
    let n = rs.len() as u64;
    let correct = rs.iter().filter(|r| r.outcome == Outcome::Correct).count() as u64;
    let failed = rs.iter().filter(|r| r.outcome == Outcome::Failed).count() as u64;
    let mut failures = BTreeMap::new();
    for r in rs {
        if let Some(f) = r.failure {
            *failures.entry(f).or_insert(0) += 1;
        }
    }
    let mean_score = if n == 0 {
        0.0
    } else {
        rs.iter().map(|r| r.score).sum::<f64>() / n as f64
    };
    let mut field_counts: BTreeMap<String, FieldCounts> = BTreeMap::new();
    for r in rs {
        for (k, c) in &r.fields {
            let e = field_counts.entry(k.clone()).or_default();
            e.tp += c.tp;
            e.fp += c.fp;
            e.fn_ += c.fn_;
        }
    }
    let fields = field_counts
        .into_iter()
        .map(|(field, c)| FieldSummary {
            field,
            tp: c.tp,
            fp: c.fp,
            fn_: c.fn_,
            precision: Proportion::wilson95(c.tp, c.tp + c.fp),
            recall: Proportion::wilson95(c.tp, c.tp + c.fn_),
            f1: if c.tp + c.fp + c.fn_ == 0 {
                1.0
            } else {
                2.0 * c.tp as f64 / (2 * c.tp + c.fp + c.fn_) as f64
            },
        })
        .collect();
    let latency = latency_summary(rs, settings.warmup_ms.get(model).copied());
    let cost = settings
        .costs
        .get(model)
        .map(|spec| cost_summary(*spec, rs, &latency, settings.concurrency));
    ModelSummary {
        model: model.to_string(),
        n,
        correct,
        wrong: n - correct - failed,
        failed,
        failures,
        accuracy: Proportion::wilson95(correct, n),
        answered_accuracy: Proportion::wilson95(correct, n - failed),
        mean_score,
        fields,
        latency,
        cost,
    }
}

fn latency_summary(rs: &[ItemResult], warmup_ms: Option<f64>) -> LatencySummary {
    let ok: Vec<&ItemResult> = rs.iter().filter(|r| r.error.is_none()).collect();
    let lat: Vec<f64> = ok.iter().filter_map(|r| r.latency_ms).collect();
    let ttft: Vec<f64> = ok.iter().filter_map(|r| r.ttft_ms).collect();
    let (mut tok, mut secs) = (0u64, 0.0f64);
    for r in &ok {
        if let (Some(t), Some(l)) = (r.completion_tokens, r.latency_ms)
            && l > 0.0
        {
            tok += t;
            secs += l / 1000.0;
        }
    }
    LatencySummary {
        n: lat.len() as u64,
        p50_ms: stats::percentile(&lat, 0.5),
        p95_ms: stats::percentile(&lat, 0.95),
        mean_ms: (!lat.is_empty()).then(|| lat.iter().sum::<f64>() / lat.len() as f64),
        ttft_p50_ms: stats::percentile(&ttft, 0.5),
        ttft_p95_ms: stats::percentile(&ttft, 0.95),
        output_tokens_per_s: (secs > 0.0).then(|| tok as f64 / secs),
        prompt_tokens: rs.iter().filter_map(|r| r.prompt_tokens).sum(),
        completion_tokens: rs.iter().filter_map(|r| r.completion_tokens).sum(),
        cached: rs.iter().filter(|r| r.cached).count() as u64,
        warmup_ms,
    }
}

fn cost_summary(
    spec: CostSpec,
    rs: &[ItemResult],
    lat: &LatencySummary,
    concurrency: usize,
) -> CostSummary {
    let n = rs.len();
    match spec {
        CostSpec::PerHour { usd_per_hour } => match lat.mean_ms {
            Some(mean) if n > 0 => {
                let c = concurrency.max(1) as f64;
                let per_1k = usd_per_hour * 1000.0 * (mean / 1000.0) / (c * 3600.0);
                CostSummary {
                    spec,
                    per_1k_items: Some(per_1k),
                    formula: format!(
                        "${usd_per_hour}/h × 1000 items × mean latency {:.1} ms ÷ (concurrency {} × 3600 s/h) = ${per_1k:.4} \
                         (assumes the server is kept busy at that concurrency)",
                        mean,
                        concurrency.max(1)
                    ),
                }
            }
            _ => CostSummary {
                spec,
                per_1k_items: None,
                formula: "no measured latency".into(),
            },
        },
        CostSpec::PerMtok {
            usd_per_mtok_input,
            usd_per_mtok_output,
        } => {
            let with_usage: Vec<&ItemResult> = rs
                .iter()
                .filter(|r| r.prompt_tokens.is_some() && r.completion_tokens.is_some())
                .collect();
            if with_usage.is_empty() {
                return CostSummary {
                    spec,
                    per_1k_items: None,
                    formula: "the server reported no token usage".into(),
                };
            }
            let pin: u64 = with_usage.iter().filter_map(|r| r.prompt_tokens).sum();
            let pout: u64 = with_usage.iter().filter_map(|r| r.completion_tokens).sum();
            let m = with_usage.len() as f64;
            let per_1k =
                (pin as f64 * usd_per_mtok_input + pout as f64 * usd_per_mtok_output) / 1e6 / m
                    * 1000.0;
            CostSummary {
                spec,
                per_1k_items: Some(per_1k),
                formula: format!(
                    "({pin} prompt tok × ${usd_per_mtok_input}/Mtok + {pout} completion tok × ${usd_per_mtok_output}/Mtok) ÷ {} items with usage × 1000 = ${per_1k:.4}",
                    with_usage.len()
                ),
            }
        }
    }
}

fn compare_pairs(
    models: &[String],
    per_model: &[Vec<ItemResult>],
    settings: &AnalysisSettings,
) -> Vec<PairComparison> {
    let maps: Vec<HashMap<&str, bool>> = per_model
        .iter()
        .map(|rs| {
            rs.iter()
                .map(|r| (r.item_id.as_str(), r.outcome == Outcome::Correct))
                .collect()
        })
        .collect();
    let mut pairs = Vec::new();
    for i in 0..models.len() {
        for j in (i + 1)..models.len() {
            // Paired on the items both were run on, in test-set order.
            let (mut xa, mut xb) = (Vec::new(), Vec::new());
            for r in &per_model[i] {
                if let Some(&cb) = maps[j].get(r.item_id.as_str()) {
                    xa.push(r.outcome == Outcome::Correct);
                    xb.push(cb);
                }
            }
            let n = xa.len() as u64;
            let a_only = xa.iter().zip(&xb).filter(|(a, b)| **a && !**b).count() as u64;
            let b_only = xa.iter().zip(&xb).filter(|(a, b)| !**a && **b).count() as u64;
            let diff = stats::paired_bootstrap(
                &xa,
                &xb,
                settings.bootstrap_resamples,
                settings.bootstrap_seed,
            )
            .unwrap_or(BootstrapCi {
                diff: 0.0,
                lower: 0.0,
                upper: 0.0,
                resamples: 0,
                seed: settings.bootstrap_seed,
            });
            pairs.push(PairComparison {
                a: models[i].clone(),
                b: models[j].clone(),
                n,
                a_correct: xa.iter().filter(|x| **x).count() as u64,
                b_correct: xb.iter().filter(|x| **x).count() as u64,
                a_only,
                b_only,
                p_value: stats::mcnemar_exact(a_only, b_only),
                p_holm: 1.0,
                diff,
                verdict: Verdict::NotDistinguishable,
                verdict_text: String::new(),
            });
        }
    }
    let adj = stats::holm(&pairs.iter().map(|p| p.p_value).collect::<Vec<_>>());
    for (p, h) in pairs.iter_mut().zip(adj) {
        p.p_holm = h;
        let significant = h < settings.alpha && p.a_only != p.b_only;
        p.verdict = match (significant, p.a_only > p.b_only) {
            (true, true) => Verdict::ABetter,
            (true, false) => Verdict::BBetter,
            (false, _) => Verdict::NotDistinguishable,
        };
        p.verdict_text = match p.verdict {
            Verdict::ABetter => format!("{} better (Holm p = {}, n = {})", p.a, fmt_p(h), p.n),
            Verdict::BBetter => format!("{} better (Holm p = {}, n = {})", p.b, fmt_p(h), p.n),
            Verdict::NotDistinguishable => {
                format!("not distinguishable at n = {} (Holm p = {})", p.n, fmt_p(h))
            }
        };
    }
    pairs
}

/// p-values: 3 significant digits, `< 1e-4` below that.
pub fn fmt_p(p: f64) -> String {
    if p < 1e-4 {
        "< 0.0001".into()
    } else {
        format!("{:.3}", p)
    }
}

/// A proportion as a percentage with one decimal: `0.125` → `12.5%`.
pub fn fmt_pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// A proportion with its interval: `80.0% [68.2% – 88.1%]`.
pub fn fmt_pct_ci(p: &Proportion) -> String {
    format!(
        "{} [{} – {}]",
        fmt_pct(p.value),
        fmt_pct(p.lower),
        fmt_pct(p.upper)
    )
}

/// Milliseconds, or `–` when unknown.
pub fn fmt_ms(x: Option<f64>) -> String {
    x.map(|v| format!("{v:.0} ms"))
        .unwrap_or_else(|| "–".into())
}

/// Output tokens per second, or `–` when unknown.
pub fn fmt_tokens_per_s(m: &ModelSummary) -> String {
    m.latency
        .output_tokens_per_s
        .map(|v| format!("{v:.1}"))
        .unwrap_or_else(|| "–".into())
}

/// Dollars per 1000 items, or `–` when no price was given.
pub fn fmt_cost_per_1k(m: &ModelSummary) -> String {
    m.cost
        .as_ref()
        .and_then(|c| c.per_1k_items)
        .map(|v| format!("${v:.4}"))
        .unwrap_or_else(|| "–".into())
}

fn pareto(models: &[ModelSummary], pairs: &[PairComparison]) -> Pareto {
    let lat_all = models.iter().all(|m| m.latency.p50_ms.is_some());
    let cost_all = !models.is_empty()
        && models
            .iter()
            .all(|m| m.cost.as_ref().and_then(|c| c.per_1k_items).is_some());
    let mut dims = vec!["accuracy (max)".to_string()];
    if lat_all {
        dims.push("p50 latency (min)".into());
    }
    if cost_all {
        dims.push("cost per 1k items (min)".into());
    }
    // Objectives as "bigger is better".
    let obj = |m: &ModelSummary| -> Vec<f64> {
        let mut v = vec![m.accuracy.value];
        if lat_all {
            v.push(-m.latency.p50_ms.unwrap_or(f64::INFINITY));
        }
        if cost_all {
            v.push(
                -m.cost
                    .as_ref()
                    .and_then(|c| c.per_1k_items)
                    .unwrap_or(f64::INFINITY),
            );
        }
        v
    };
    let mut entries = Vec::new();
    for a in models {
        let oa = obj(a);
        let mut dominated_by = Vec::new();
        for b in models {
            if a.model == b.model {
                continue;
            }
            let ob = obj(b);
            let ge = ob.iter().zip(&oa).all(|(x, y)| x >= y);
            let gt = ob.iter().zip(&oa).any(|(x, y)| x > y);
            if ge && gt {
                let mut parts = vec![format!(
                    "accuracy {:.3} ≥ {:.3}",
                    b.accuracy.value, a.accuracy.value
                )];
                if lat_all {
                    parts.push(format!(
                        "p50 latency {:.0} ms ≤ {:.0} ms",
                        b.latency.p50_ms.unwrap_or(0.0),
                        a.latency.p50_ms.unwrap_or(0.0)
                    ));
                }
                if cost_all {
                    parts.push(format!(
                        "cost ${:.4} ≤ ${:.4} per 1k items",
                        b.cost.as_ref().and_then(|c| c.per_1k_items).unwrap_or(0.0),
                        a.cost.as_ref().and_then(|c| c.per_1k_items).unwrap_or(0.0)
                    ));
                }
                let mut reason = parts.join(", ");
                if b.accuracy.value > a.accuracy.value
                    && let Some(p) = pairs.iter().find(|p| {
                        (p.a == a.model && p.b == b.model) || (p.a == b.model && p.b == a.model)
                    })
                    && p.verdict == Verdict::NotDistinguishable
                {
                    reason.push_str(&format!(" (the accuracy gap is {})", p.verdict_text));
                }
                dominated_by.push(Domination {
                    by: b.model.clone(),
                    reason,
                });
            }
        }
        entries.push(ParetoEntry {
            model: a.model.clone(),
            on_front: dominated_by.is_empty(),
            dominated_by,
        });
    }
    Pareto {
        dimensions: dims,
        entries,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::{CallError, Input};
    use crate::scorer::ScorerSpec;
    use serde_json::json;

    fn run(model: &str, id: &str, text: Option<&str>) -> ItemRun {
        ItemRun {
            model: model.into(),
            item_id: id.into(),
            text: text.map(str::to_string),
            reasoning: None,
            finish_reason: Some("stop".into()),
            prompt_tokens: Some(10),
            completion_tokens: Some(5),
            ttft_ms: None,
            latency_ms: Some(100.0),
            error: None,
            cached: false,
        }
    }

    #[test]
    fn taxonomy() {
        let sc = Scorer::new(ScorerSpec::parse("json").unwrap()).unwrap();
        let exp = json!({"a": 1});
        assert_eq!(
            classify(&run("m", "1", Some("{\"a\":1}")), &exp, &sc).outcome,
            Outcome::Correct
        );
        assert_eq!(
            classify(&run("m", "1", Some("{\"a\":2}")), &exp, &sc).outcome,
            Outcome::Wrong
        );
        assert_eq!(
            classify(&run("m", "1", Some("nope")), &exp, &sc).failure,
            Some(FailureKind::InvalidJson)
        );
        assert_eq!(
            classify(&run("m", "1", Some("I’m sorry, I can’t help")), &exp, &sc).failure,
            Some(FailureKind::Refusal)
        );
        assert_eq!(
            classify(&run("m", "1", Some("  ")), &exp, &sc).failure,
            Some(FailureKind::Empty)
        );
        let mut r = run("m", "1", Some("{\"a\": "));
        r.finish_reason = Some("length".into());
        assert_eq!(
            classify(&r, &exp, &sc).failure,
            Some(FailureKind::Truncated)
        );
        let mut r = run("m", "1", None);
        r.error = Some(CallError {
            kind: CallErrorKind::Timeout,
            message: "total timeout".into(),
            http_status: None,
        });
        assert_eq!(classify(&r, &exp, &sc).failure, Some(FailureKind::Timeout));
    }

    #[test]
    fn costs_parse() {
        assert_eq!(
            CostSpec::parse("$2.5/h").unwrap(),
            CostSpec::PerHour { usd_per_hour: 2.5 }
        );
        assert_eq!(
            CostSpec::parse("0.15,0.6/Mtok").unwrap(),
            CostSpec::PerMtok {
                usd_per_mtok_input: 0.15,
                usd_per_mtok_output: 0.6
            }
        );
        assert!(CostSpec::parse("3").is_err());
        assert!(CostSpec::parse("-1/h").is_err());
        assert!(CostSpec::parse("1/day").is_err());
    }

    #[test]
    fn report_counts_and_pareto() {
        let items: Vec<TestItem> = (0..4)
            .map(|i| TestItem {
                id: i.to_string(),
                input: Input::Text("q".into()),
                expected: json!("yes"),
                metadata: None,
            })
            .collect();
        let mut runs = Vec::new();
        for i in 0..4 {
            runs.push(run("good", &i.to_string(), Some("yes")));
            let mut r = run(
                "slow",
                &i.to_string(),
                Some(if i == 0 { "yes" } else { "no" }),
            );
            r.latency_ms = Some(500.0);
            runs.push(r);
        }
        // A duplicate journal line must not count twice.
        runs.push(run("good", "0", Some("yes")));
        let sc = Scorer::new(ScorerSpec::Exact).unwrap();
        let mut settings = AnalysisSettings {
            bootstrap_resamples: 200,
            ..Default::default()
        };
        settings.costs.insert(
            "good".into(),
            CostSpec::PerMtok {
                usd_per_mtok_input: 1.0,
                usd_per_mtok_output: 2.0,
            },
        );
        settings
            .costs
            .insert("slow".into(), CostSpec::PerHour { usd_per_hour: 3.6 });
        let rep = analyse(
            &items,
            &runs,
            &["good".into(), "slow".into()],
            &sc,
            &settings,
        );
        let g = rep.model("good").unwrap();
        assert_eq!((g.n, g.correct), (4, 4));
        // (40 × 1 + 20 × 2) / 1e6 / 4 × 1000 = 0.02
        assert!((g.cost.as_ref().unwrap().per_1k_items.unwrap() - 0.02).abs() < 1e-12);
        let s = rep.model("slow").unwrap();
        // 3.6 $/h × 1000 × 0.5 s / (1 × 3600) = 0.5
        assert!((s.cost.as_ref().unwrap().per_1k_items.unwrap() - 0.5).abs() < 1e-12);
        assert_eq!(rep.pairs[0].a_only, 3);
        assert_eq!(rep.pairs[0].verdict, Verdict::NotDistinguishable);
        assert!(rep.pareto.entries[0].on_front);
        assert!(!rep.pareto.entries[1].on_front);
        assert!(
            rep.pareto.entries[1].dominated_by[0]
                .reason
                .contains("not distinguishable at n = 4"),
            "{:?}",
            rep.pareto
        );
    }
}
