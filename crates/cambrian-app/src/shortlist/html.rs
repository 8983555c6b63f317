//! The `find` report as one self-contained HTML page (inline CSS, no
//! scripts, no external resources). The facade renders; the CLI only writes
//! the string to a file.

use super::funnel::{Candidate, FindReport};

// Model ids, license names and reasons come from the Hub: untrusted text, escaped
// the same way in every report.
use cambrian_types::html::escape as esc;

/// A count as the tables show it: `7.2B`, `350.0M`, `12.3K`, `?` when unknown.
pub fn human(n: Option<u64>) -> String {
    match n {
        None => "?".into(),
        Some(n) => {
            let f = n as f64;
            if f >= 1e9 {
                format!("{:.1}B", f / 1e9)
            } else if f >= 1e6 {
                format!("{:.1}M", f / 1e6)
            } else if f >= 1e3 {
                format!("{:.1}K", f / 1e3)
            } else {
                n.to_string()
            }
        }
    }
}

fn gib(b: u64) -> String {
    format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64)
}

/// The fit cell: estimator verdict, memory needed / available per GPU.
pub fn hw_cell(c: &Candidate) -> String {
    match &c.hardware {
        Some(h) => format!(
            "{} {} / {}",
            h.verdict,
            gib(h.total_bytes),
            gib(h.available_bytes)
        ),
        None => "-".into(),
    }
}

/// Render the report: snapshot and profile, the funnel (counts and a bar per
/// stage), the ranked shortlist with conditions/warnings/caveats, and every
/// excluded model with its stage, reason and nearest change.
pub fn render_html(rep: &FindReport) -> String {
    let mut h = String::with_capacity(4096 + 256 * (rep.shortlist.len() + rep.excluded.len()));
    h.push_str("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>cambrian find</title><style>");
    h.push_str("body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f3f3f3}.no{color:#a00}.ok{color:#060}.warn{color:#a60}small{color:#666}.bar{background:#4a7;height:12px;display:inline-block}");
    h.push_str("</style></head><body><h1>cambrian find</h1>");
    if let Some(s) = &rep.snapshot {
        h.push_str(&format!(
            "<p>Snapshot {} taken {} — {} models, source <code>{}</code>.</p>",
            s.id,
            esc(&s.taken_at.to_rfc3339()),
            s.models,
            esc(&s.source)
        ));
    }
    let p = &rep.request.profile;
    h.push_str(&format!(
        "<p>Profile: use <b>{}</b>, MAU {}, region {}, redistribute {}, train on outputs {}. License knowledge base {}.</p>",
        p.usage.as_str(),
        p.mau.map(|m| m.to_string()).unwrap_or_else(|| "unknown".into()),
        esc(p.region.as_deref().unwrap_or("unknown")),
        p.redistribute,
        p.train_on_outputs,
        esc(&rep.kb.kb_version)
    ));
    h.push_str("<h2>Funnel</h2><table><tr><th>stage</th><th>rule</th><th>in</th><th>excluded</th><th>passed</th><th></th></tr>");
    let max_in = rep.stages.iter().map(|s| s.input).max().unwrap_or(1).max(1);
    for s in &rep.stages {
        // Bar width: models passing the stage relative to the largest stage input, 300 px full scale.
        let w = (s.passed as f64 / max_in as f64 * 300.0).round();
        h.push_str(&format!(
            "<tr><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><span class=\"bar\" style=\"width:{w}px\"></span></td></tr>",
            s.stage.as_str(),
            if s.active { "" } else { " <small>(off)</small>" },
            esc(&s.rule),
            s.input,
            s.excluded,
            s.passed
        ));
    }
    h.push_str("</table>");
    h.push_str(&format!(
        "<h2>Shortlist ({})</h2><p><small>{}</small></p>",
        rep.shortlist.len(),
        esc(&rep.ranking)
    ));
    h.push_str("<table><tr><th>#</th><th>model</th><th>license</th><th>verdict</th><th>params</th><th>context</th><th>fit</th><th>downloads 30d</th><th>likes</th><th>conditions, warnings, caveats</th></tr>");
    for c in &rep.shortlist {
        let mut notes = Vec::new();
        notes.extend(
            c.conditions
                .iter()
                .map(|x| format!("condition: {}", esc(x))),
        );
        notes.extend(
            c.lineage_flags
                .iter()
                .map(|x| format!("<span class=\"warn\">warning: {}</span>", esc(x))),
        );
        notes.extend(c.caveats.iter().map(|x| format!("caveat: {}", esc(x))));
        if let Some(w) = c.hardware.as_ref().and_then(|h| h.workload.as_ref()) {
            notes.push(format!(
                "workload: {:.1} h{} ({})",
                w.hours,
                w.cost_usd.map(|c| format!(", ${c:.0}")).unwrap_or_default(),
                esc(&w.basis)
            ));
        }
        h.push_str(&format!(
            "<tr><td>{}</td><td><a href=\"https://huggingface.co/{}\">{}</a></td><td>{}</td><td class=\"ok\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            c.rank,
            esc(&c.id),
            esc(&c.id),
            esc(c.license.as_deref().unwrap_or("-")),
            c.verdict,
            human(c.params),
            c.max_context.map(|x| x.to_string()).unwrap_or_else(|| "?".into()),
            esc(&hw_cell(c)),
            human(c.downloads_30d),
            human(c.likes),
            notes.join("<br>")
        ));
    }
    h.push_str("</table>");
    h.push_str(&format!("<h2>Excluded ({})</h2><table><tr><th>model</th><th>stage</th><th>reason</th><th>nearest change</th></tr>", rep.excluded.len()));
    for e in &rep.excluded {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td class=\"no\">{}</td><td>{}</td></tr>",
            esc(&e.id),
            e.stage.as_str(),
            esc(&e.reason),
            esc(e.nearest_change.as_deref().unwrap_or("-"))
        ));
    }
    h.push_str("</table><p><small>Generated by cambrian find. Verdicts cite the license clause they rest on; run <code>cambrian license MODEL</code> for the citations.</small></p></body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shortlist::funnel::{Exclusion, FindRequest, Stage, StageSummary};
    use crate::shortlist::{DetailStats, KbVersion};

    fn report() -> FindReport {
        FindReport {
            snapshot: None,
            request: FindRequest::default(),
            stages: vec![StageSummary {
                stage: Stage::Task,
                active: true,
                input: 2,
                excluded: 1,
                passed: 1,
                rule: "pipeline_tag = text-generation".into(),
            }],
            shortlist: Vec::new(),
            excluded: vec![Exclusion {
                id: "evil/<script>alert(1)</script>".into(),
                stage: Stage::Task,
                reason: "pipeline_tag is `a&b`, not `text-generation`".into(),
                nearest_change: Some("--task a&b".into()),
                license: None,
                verdict: None,
                downloads_30d: Some(5),
            }],
            ranking: "ranked by: id".into(),
            details: DetailStats::default(),
            kb: KbVersion {
                schema_version: 1,
                kb_version: "test".into(),
                licenses: 0,
            },
            larger_snapshot: None,
        }
    }

    #[test]
    fn untrusted_text_is_escaped_and_the_page_has_no_script() {
        let h = render_html(&report());
        assert!(!h.contains("<script"), "{h}");
        assert!(h.contains("evil/&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(h.contains("--task a&amp;b"));
        assert!(
            h.contains("<h2>Funnel</h2>")
                && h.contains("<h2>Excluded (1)</h2>")
                && h.contains("<h2>Shortlist (0)</h2>")
        );
        // The bar of a stage passing half of the largest input is 150 px wide.
        assert!(h.contains("width:150px"), "{h}");
    }

    #[test]
    fn counts_are_abbreviated_like_the_tables() {
        assert_eq!(human(Some(7_241_732_096)), "7.2B");
        assert_eq!(human(Some(999)), "999");
        assert_eq!(human(None), "?");
    }
}
