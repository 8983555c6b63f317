//! Report renderings of an [`analysis::Report`]: JSON Lines records, the
//! per-item CSV, and a self-contained HTML page (tables + inline SVG, no
//! network: a Content-Security-Policy forbids every fetch).

use crate::analysis::{
    FailureKind, ModelSummary, Outcome, Report, Verdict, fmt_cost_per_1k, fmt_ms as ms, fmt_p,
    fmt_pct as pct, fmt_tokens_per_s,
};
use crate::gate::GateResult;
use serde_json::{Value, json};
use std::fmt::Write as _;

/// The JSON Lines records of a report, each with a `"type"`:
/// `eval` (header), `model`, `field` (per model and field), `pair`,
/// `pareto`, `item` (when `with_items`), and `gate` (when given).
pub fn json_records(report: &Report, gate: Option<&GateResult>, with_items: bool) -> Vec<Value> {
    let mut out = Vec::new();
    out.push(json!({
        "type": "eval",
        "version": report.version,
        "scorer": report.scorer,
        "n_items": report.n_items,
        "models": report.models.iter().map(|m| m.model.clone()).collect::<Vec<_>>(),
        "alpha": report.alpha,
        "methods": METHODS,
    }));
    for m in &report.models {
        let mut v = serde_json::to_value(m).unwrap_or(Value::Null);
        if let Value::Object(o) = &mut v {
            o.remove("fields");
            o.insert("type".into(), json!("model"));
        }
        out.push(v);
        for f in &m.fields {
            let mut v = serde_json::to_value(f).unwrap_or(Value::Null);
            if let Value::Object(o) = &mut v {
                o.insert("type".into(), json!("field"));
                o.insert("model".into(), json!(m.model));
            }
            out.push(v);
        }
    }
    for p in &report.pairs {
        let mut v = serde_json::to_value(p).unwrap_or(Value::Null);
        if let Value::Object(o) = &mut v {
            o.insert("type".into(), json!("pair"));
        }
        out.push(v);
    }
    for e in &report.pareto.entries {
        out.push(json!({"type": "pareto", "dimensions": report.pareto.dimensions, "model": e.model, "on_front": e.on_front, "dominated_by": e.dominated_by}));
    }
    if with_items {
        for it in &report.items {
            let mut v = serde_json::to_value(it).unwrap_or(Value::Null);
            if let Value::Object(o) = &mut v {
                o.insert("type".into(), json!("item"));
            }
            out.push(v);
        }
    }
    if let Some(g) = gate {
        let mut v = serde_json::to_value(g).unwrap_or(Value::Null);
        if let Value::Object(o) = &mut v {
            o.insert("type".into(), json!("gate"));
        }
        out.push(v);
    }
    out
}

/// How each number is computed (also shown in the HTML report).
pub const METHODS: &str = "accuracy = correct / n with failures counted as wrong; answered accuracy = correct / (n - failed); \
intervals: Wilson score 95 % (z = 1.95996); pairs: exact McNemar p = min(1, 2·P[X ≤ min(b,c)]), X ~ Bin(b+c, 1/2), \
Holm step-down across pairs, verdict at family-wise alpha; accuracy difference: paired percentile bootstrap 95 % \
(ChaCha8, fixed seed); latency percentiles: linear interpolation over requests without transport errors (warm-up excluded); \
tokens/s = sum completion tokens / sum latency seconds; cost per 1k items: $/Mtok × tokens used, or $/h × mean latency ÷ concurrency.";

pub const CSV_HEADER: [&str; 15] = [
    "model",
    "item_id",
    "outcome",
    "failure",
    "score",
    "detail",
    "answer",
    "expected",
    "finish_reason",
    "latency_ms",
    "ttft_ms",
    "prompt_tokens",
    "completion_tokens",
    "cached",
    "error",
];

/// Write the per-item CSV.
pub fn write_csv<W: std::io::Write>(report: &Report, w: W) -> Result<(), csv::Error> {
    let mut wr = csv::Writer::from_writer(w);
    wr.write_record(CSV_HEADER)?;
    let opt = |v: Option<f64>| v.map(|x| format!("{x:.3}")).unwrap_or_default();
    let optu = |v: Option<u64>| v.map(|x| x.to_string()).unwrap_or_default();
    for it in &report.items {
        let expected = match &it.expected {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        wr.write_record([
            it.model.as_str(),
            it.item_id.as_str(),
            outcome_str(it.outcome),
            it.failure.map(FailureKind::as_str).unwrap_or(""),
            &format!("{}", it.score),
            it.detail.as_deref().unwrap_or(""),
            it.answer.as_deref().unwrap_or(""),
            &expected,
            it.finish_reason.as_deref().unwrap_or(""),
            &opt(it.latency_ms),
            &opt(it.ttft_ms),
            &optu(it.prompt_tokens),
            &optu(it.completion_tokens),
            if it.cached { "true" } else { "false" },
            it.error.as_deref().unwrap_or(""),
        ])?;
    }
    wr.flush()?;
    Ok(())
}

fn outcome_str(o: Outcome) -> &'static str {
    match o {
        Outcome::Correct => "correct",
        Outcome::Wrong => "wrong",
        Outcome::Failed => "failed",
    }
}

/// HTML-escape text.
pub use cambrian_types::html::escape as esc;

/// Most per-item rows shown in the HTML (the CSV has all of them).
pub const HTML_MAX_ITEM_ROWS: usize = 5_000;

/// A self-contained HTML report. `title` is shown in the heading.
pub fn html(report: &Report, gate: Option<&GateResult>, title: &str) -> String {
    let mut h = String::with_capacity(64 * 1024);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{}</style></head><body>\n",
        esc(title),
        CSS
    );
    let _ = write!(
        h,
        "<h1>{}</h1>\n<p class=\"meta\">scorer <code>{}</code> · {} items · {} models · report format v{}</p>\n",
        esc(title),
        esc(&report.scorer),
        report.n_items,
        report.models.len(),
        report.version
    );
    if let Some(g) = gate {
        let _ = writeln!(
            h,
            "<p class=\"gate {}\" id=\"gate\">gate <code>{}</code>: <b>{}</b></p>",
            if g.passed { "pass" } else { "fail" },
            esc(&g.gate),
            if g.passed { "passed" } else { "FAILED" }
        );
    }
    // Models table.
    h.push_str("<h2>Models</h2>\n<table class=\"sortable\" id=\"models\"><thead><tr><th>model</th><th>n</th><th>accuracy (95% CI)</th><th>answered accuracy (95% CI)</th><th>mean score</th><th>wrong</th><th>failed</th><th>p50</th><th>p95</th><th>TTFT p50</th><th>tok/s</th><th>$ / 1k items</th></tr></thead><tbody>\n");
    for m in &report.models {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td data-v=\"{}\">{} [{} – {}]</td><td data-v=\"{}\">{} [{} – {}]</td><td>{:.3}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&m.model),
            m.n,
            m.accuracy.value,
            pct(m.accuracy.value),
            pct(m.accuracy.lower),
            pct(m.accuracy.upper),
            m.answered_accuracy.value,
            pct(m.answered_accuracy.value),
            pct(m.answered_accuracy.lower),
            pct(m.answered_accuracy.upper),
            m.mean_score,
            m.wrong,
            m.failed,
            ms(m.latency.p50_ms),
            ms(m.latency.p95_ms),
            ms(m.latency.ttft_p50_ms),
            fmt_tokens_per_s(m),
            fmt_cost_per_1k(m),
        );
    }
    h.push_str("</tbody></table>\n");
    h.push_str(&accuracy_svg(&report.models));
    // Failures.
    h.push_str("<h2>Failures</h2>\n<p>Counted apart from wrong answers. Accuracy above counts them as wrong; answered accuracy leaves them out.</p>\n<table id=\"failures\"><thead><tr><th>model</th>");
    for k in FailureKind::ALL {
        let _ = write!(h, "<th>{}</th>", k.as_str());
    }
    h.push_str("</tr></thead><tbody>\n");
    for m in &report.models {
        let _ = write!(h, "<tr><td>{}</td>", esc(&m.model));
        for k in FailureKind::ALL {
            let _ = write!(h, "<td>{}</td>", m.failures.get(&k).copied().unwrap_or(0));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody></table>\n");
    // Pairs.
    if !report.pairs.is_empty() {
        let _ = write!(
            h,
            "<h2>Pairwise comparisons</h2>\n<p>Exact McNemar test on the items both models answered, Holm-corrected across {} pair(s) at α = {}; difference interval by paired bootstrap.</p>\n<table id=\"pairs\"><thead><tr><th>A</th><th>B</th><th>n</th><th>A only right</th><th>B only right</th><th>acc(A) − acc(B) (95% CI)</th><th>McNemar p</th><th>Holm p</th><th>verdict</th></tr></thead><tbody>\n",
            report.pairs.len(),
            report.alpha
        );
        for p in &report.pairs {
            let cls = if p.verdict == Verdict::NotDistinguishable {
                "nd"
            } else {
                "sig"
            };
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:+.1} pts [{:+.1}, {:+.1}]</td><td>{}</td><td>{}</td><td class=\"{cls}\">{}</td></tr>",
                esc(&p.a),
                esc(&p.b),
                p.n,
                p.a_only,
                p.b_only,
                p.diff.diff * 100.0,
                p.diff.lower * 100.0,
                p.diff.upper * 100.0,
                fmt_p(p.p_value),
                fmt_p(p.p_holm),
                esc(&p.verdict_text)
            );
        }
        h.push_str("</tbody></table>\n");
    }
    // Pareto.
    let _ = write!(
        h,
        "<h2>Accuracy × latency × cost</h2>\n<p>Objectives: {}.</p>\n",
        esc(&report.pareto.dimensions.join(", "))
    );
    h.push_str(&pareto_svg(report));
    h.push_str("<ul id=\"pareto\">\n");
    for e in &report.pareto.entries {
        if e.on_front {
            let _ = writeln!(h, "<li><b>{}</b>: on the Pareto front</li>", esc(&e.model));
        } else {
            for d in &e.dominated_by {
                let _ = writeln!(
                    h,
                    "<li><b>{}</b>: dominated by {} — {}</li>",
                    esc(&e.model),
                    esc(&d.by),
                    esc(&d.reason)
                );
            }
        }
    }
    h.push_str("</ul>\n");
    // Fields.
    if report.models.iter().any(|m| !m.fields.is_empty()) {
        h.push_str("<h2>Per-field extraction</h2>\n<table class=\"sortable\" id=\"fields\"><thead><tr><th>model</th><th>field</th><th>tp</th><th>fp</th><th>fn</th><th>precision (95% CI)</th><th>recall (95% CI)</th><th>F1</th></tr></thead><tbody>\n");
        for m in &report.models {
            for f in &m.fields {
                let _ = writeln!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} [{} – {}]</td><td>{} [{} – {}]</td><td>{:.3}</td></tr>",
                    esc(&m.model),
                    esc(&f.field),
                    f.tp,
                    f.fp,
                    f.fn_,
                    pct(f.precision.value),
                    pct(f.precision.lower),
                    pct(f.precision.upper),
                    pct(f.recall.value),
                    pct(f.recall.lower),
                    pct(f.recall.upper),
                    f.f1
                );
            }
        }
        h.push_str("</tbody></table>\n");
    }
    // Cost formulas.
    if report.models.iter().any(|m| m.cost.is_some()) {
        h.push_str("<h2>Cost</h2>\n<ul>\n");
        for m in &report.models {
            if let Some(c) = &m.cost {
                let _ = writeln!(h, "<li><b>{}</b>: {}</li>", esc(&m.model), esc(&c.formula));
            }
        }
        h.push_str("</ul>\n");
    }
    // Items.
    let _ = write!(
        h,
        "<h2>Items</h2>\n<p>{} rows{}.</p>\n<table class=\"sortable\" id=\"items\"><thead><tr><th>model</th><th>item</th><th>outcome</th><th>score</th><th>answer</th><th>expected</th><th>latency</th></tr></thead><tbody>\n",
        report.items.len(),
        if report.items.len() > HTML_MAX_ITEM_ROWS {
            format!(", the first {HTML_MAX_ITEM_ROWS} shown (all are in the CSV)")
        } else {
            String::new()
        }
    );
    for it in report.items.iter().take(HTML_MAX_ITEM_ROWS) {
        let outcome = match it.failure {
            Some(f) if it.outcome == Outcome::Failed => format!("failed: {}", f.as_str()),
            _ => outcome_str(it.outcome).to_string(),
        };
        let answer: String = it
            .answer
            .as_deref()
            .unwrap_or_else(|| it.error.as_deref().unwrap_or(""))
            .chars()
            .take(300)
            .collect();
        let expected: String = match &it.expected {
            Value::String(s) => s.clone(),
            v => v.to_string(),
        }
        .chars()
        .take(300)
        .collect();
        let _ = writeln!(
            h,
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{:.3}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            outcome_str(it.outcome),
            esc(&it.model),
            esc(&it.item_id),
            esc(&outcome),
            it.score,
            esc(&answer),
            esc(&expected),
            ms(it.latency_ms)
        );
    }
    h.push_str("</tbody></table>\n");
    let _ = write!(
        h,
        "<h2>Methods</h2>\n<p class=\"methods\">{}</p>\n",
        esc(METHODS)
    );
    let _ = write!(h, "<script>{}</script>\n</body></html>\n", SCRIPT);
    h
}

const CSS: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}\
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}\
th{background:#f3f3f3;cursor:pointer}tr.correct td:nth-child(3){color:#176b2c}tr.failed td:nth-child(3){color:#a15c00}\
tr.wrong td:nth-child(3){color:#b00020}.gate.pass b{color:#176b2c}.gate.fail b{color:#b00020}td.sig{font-weight:bold}\
.meta,.methods{color:#555}svg text{font:12px system-ui,sans-serif}code{background:#f6f6f6;padding:0 3px}";

/// Click a header of a `.sortable` table to sort by that column.
const SCRIPT: &str = "(function(){\
document.querySelectorAll('table.sortable').forEach(function(t){\
t.querySelectorAll('th').forEach(function(th,i){th.addEventListener('click',function(){\
var b=t.tBodies[0],rows=Array.prototype.slice.call(b.rows),asc=th.dataset.asc!=='1';th.dataset.asc=asc?'1':'0';\
rows.sort(function(x,y){var a=x.cells[i],c=y.cells[i];var va=a.dataset.v||a.textContent,vc=c.dataset.v||c.textContent;\
var na=parseFloat(va),nc=parseFloat(vc);var r=(!isNaN(na)&&!isNaN(nc))?na-nc:va.localeCompare(vc);return asc?r:-r;});\
rows.forEach(function(r){b.appendChild(r);});});});});\
document.body.setAttribute('data-report-ready','1');})();";

fn accuracy_svg(models: &[ModelSummary]) -> String {
    let row = 28.0;
    let left = 160.0;
    let width = 520.0;
    let height = 30.0 + row * models.len() as f64;
    let x = |v: f64| left + v.clamp(0.0, 1.0) * width;
    let mut s = format!(
        "<svg id=\"accuracy-chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" role=\"img\" aria-label=\"accuracy with 95% Wilson intervals\">\n",
        left + width + 40.0,
        height
    );
    for t in 0..=10 {
        let v = t as f64 / 10.0;
        let _ = writeln!(
            s,
            "<line x1=\"{0:.1}\" y1=\"0\" x2=\"{0:.1}\" y2=\"{1:.1}\" stroke=\"#eee\"/><text x=\"{0:.1}\" y=\"{2:.1}\" text-anchor=\"middle\">{3}</text>",
            x(v),
            height - 18.0,
            height - 4.0,
            (v * 100.0).round()
        );
    }
    for (i, m) in models.iter().enumerate() {
        let y = 8.0 + row * i as f64;
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\
<rect x=\"{left}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"14\" fill=\"#7aa6d6\"/>\
<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#123\" stroke-width=\"2\"/>\
<line x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#123\"/><line x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#123\"/>",
            left - 8.0,
            y + 12.0,
            esc(&m.model),
            x(m.accuracy.value) - left,
            x(m.accuracy.lower),
            y + 7.0,
            x(m.accuracy.upper),
            y + 7.0,
            x(m.accuracy.lower),
            x(m.accuracy.lower),
            y + 14.0,
            x(m.accuracy.upper),
            x(m.accuracy.upper),
            y + 14.0
        );
    }
    s.push_str("</svg>\n");
    s
}

fn pareto_svg(report: &Report) -> String {
    let pts: Vec<(&ModelSummary, f64)> = report
        .models
        .iter()
        .filter_map(|m| m.latency.p50_ms.map(|l| (m, l)))
        .collect();
    if pts.is_empty() {
        return "<p>(no latency measured: no chart)</p>\n".into();
    }
    let (w, h, pad) = (560.0, 320.0, 50.0);
    let max_l = pts.iter().map(|p| p.1).fold(0.0f64, f64::max).max(1.0) * 1.1;
    let xs = |l: f64| pad + l / max_l * (w - 2.0 * pad);
    let ys = |a: f64| h - pad - a.clamp(0.0, 1.0) * (h - 2.0 * pad);
    let mut s = format!(
        "<svg id=\"pareto-chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"accuracy against p50 latency\">\n\
<line x1=\"{pad}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\" stroke=\"#333\"/><line x1=\"{pad}\" y1=\"{pad}\" x2=\"{pad}\" y2=\"{0}\" stroke=\"#333\"/>\n\
<text x=\"{2}\" y=\"{3}\" text-anchor=\"middle\">p50 latency (ms)</text><text x=\"12\" y=\"{4}\" transform=\"rotate(-90 12 {4})\" text-anchor=\"middle\">accuracy</text>\n",
        h - pad,
        w - pad,
        w / 2.0,
        h - 10.0,
        h / 2.0
    );
    for t in 0..=4 {
        let a = t as f64 / 4.0;
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{:.0}%</text>",
            pad - 4.0,
            ys(a) + 4.0,
            a * 100.0
        );
        let l = max_l * t as f64 / 4.0;
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{:.0}</text>",
            xs(l),
            h - pad + 16.0,
            l
        );
    }
    for (m, l) in &pts {
        let front = report
            .pareto
            .entries
            .iter()
            .any(|e| e.model == m.model && e.on_front);
        let _ = writeln!(
            s,
            "<line x1=\"{0:.1}\" y1=\"{1:.1}\" x2=\"{0:.1}\" y2=\"{2:.1}\" stroke=\"#888\"/><circle cx=\"{0:.1}\" cy=\"{3:.1}\" r=\"5\" fill=\"{4}\"/><text x=\"{5:.1}\" y=\"{6:.1}\">{7}</text>",
            xs(*l),
            ys(m.accuracy.lower),
            ys(m.accuracy.upper),
            ys(m.accuracy.value),
            if front { "#176b2c" } else { "#aaa" },
            xs(*l) + 8.0,
            ys(m.accuracy.value) - 6.0,
            esc(&m.model)
        );
    }
    s.push_str("</svg>\n");
    s
}
