//! CycloneDX 1.6 ML-BOM for a scan: one `machine-learning-model` component
//! per scanned repo (with a `modelCard` and the card-transparency checks as
//! properties), its files as nested `file` components carrying their
//! verdicts, and findings at or above `suspicious` as `vulnerabilities`.

use crate::repo::RepoReport;
use crate::{Level, Verdict};
use serde_json::{Value, json};
use std::hash::{Hash, Hasher};

fn severity(l: Level) -> &'static str {
    match l {
        Level::Dangerous => "critical",
        Level::Unreadable => "medium",
        Level::Suspicious => "medium",
        Level::Innocuous => "info",
        Level::Info => "none",
    }
}

/// A stable urn:uuid derived from the content (no randomness, no clock).
fn urn(seed: &str) -> String {
    let mut parts = [0u64; 2];
    for (i, p) in parts.iter_mut().enumerate() {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (i, seed).hash(&mut h);
        *p = h.finish();
    }
    let a = parts[0];
    let b = parts[1];
    format!(
        "urn:uuid:{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        (a >> 32) as u32,
        (a >> 16) as u16,
        (a & 0x0fff) as u16,
        ((b >> 48) as u16 & 0x3fff) | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

fn prop(name: &str, value: impl ToString) -> Value {
    json!({ "name": name, "value": value.to_string() })
}

/// Build the BOM. `timestamp` is RFC 3339 (the caller owns the clock).
pub fn bom(reports: &[RepoReport], tool_version: &str, timestamp: &str) -> Value {
    let mut components = Vec::new();
    let mut vulns = Vec::new();
    let seed: String = reports
        .iter()
        .map(|r| format!("{}:{:?};", r.target, r.verdict))
        .collect();
    for (ri, r) in reports.iter().enumerate() {
        let model_ref = format!("model-{ri}");
        let mut files = Vec::new();
        for (fi, f) in r.files.iter().enumerate() {
            let fref = format!("{model_ref}-file-{fi}");
            files.push(json!({
                "type": "file",
                "bom-ref": fref,
                "name": f.path,
                "properties": [
                    prop("cambrian:scan:format", &f.format),
                    prop("cambrian:scan:verdict", f.verdict.as_str()),
                    prop("cambrian:scan:bytes", f.bytes),
                ],
            }));
            for (k, x) in f
                .findings
                .iter()
                .enumerate()
                .filter(|(_, x)| x.level >= Level::Suspicious)
            {
                let mut detail = x.message.clone();
                if let Some(m) = &x.member {
                    detail.push_str(&format!(" [member {m}]"));
                }
                if let Some(o) = x.offset {
                    detail.push_str(&format!(" [byte {o}]"));
                }
                vulns.push(json!({
                    "bom-ref": format!("{fref}-finding-{k}"),
                    "id": x.rule,
                    "source": { "name": "cambrian" },
                    "ratings": [{ "source": { "name": "cambrian" }, "severity": severity(x.level), "method": "other" }],
                    "description": detail,
                    "detail": x.evidence.clone().unwrap_or_default(),
                    "affects": [{ "ref": fref }],
                }));
            }
        }
        let mut props = vec![prop("cambrian:scan:verdict", r.verdict.as_str())];
        for x in &r.findings {
            props.push(prop(&format!("cambrian:repo:{}", x.rule), &x.message));
        }
        let mut card = json!({ "bom-ref": format!("{model_ref}-card") });
        let mut limitations = Vec::new();
        if let Some(c) = &r.card {
            props.push(prop("cambrian:card:score", c.score));
            props.push(prop("cambrian:card:formula", &c.formula));
            let mut cprops = Vec::new();
            for ch in &c.checks {
                cprops.push(prop(
                    &format!("cambrian:card:{}", ch.check),
                    format!(
                        "{}: {}",
                        if ch.passed { "pass" } else { "fail" },
                        ch.evidence
                    ),
                ));
                if ch.check == "limitations" && ch.passed {
                    limitations.push(format!("documented in the model card: {}", ch.evidence));
                }
            }
            for p in &c.problems {
                cprops.push(prop("cambrian:card:problem", p));
            }
            card["properties"] = Value::Array(cprops);
        }
        if r.verdict >= Verdict::Suspicious {
            limitations.push(format!(
                "static scan verdict: {} (see vulnerabilities)",
                r.verdict
            ));
        }
        if !limitations.is_empty() {
            card["considerations"] = json!({ "technicalLimitations": limitations });
        }
        components.push(json!({
            "type": "machine-learning-model",
            "bom-ref": model_ref,
            "name": r.target,
            "modelCard": card,
            "properties": props,
            "components": files,
        }));
    }
    let mut doc = json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": urn(&seed),
        "version": 1,
        "metadata": {
            "timestamp": timestamp,
            "tools": { "components": [{ "type": "application", "name": "cambrian", "version": tool_version }] },
            "properties": [prop("cambrian:pickle-lists:version", &crate::lists::lists().version)],
        },
        "components": components,
    });
    if !vulns.is_empty() {
        doc["vulnerabilities"] = Value::Array(vulns);
    }
    doc
}
