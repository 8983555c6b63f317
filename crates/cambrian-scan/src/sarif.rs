//! SARIF 2.1.0 log for a scan: one run, one result per finding at or above
//! a minimum level, rules listed in the driver. Levels: dangerous → error,
//! unreadable and suspicious → warning, innocuous and info → note.

use crate::repo::RepoReport;
use crate::{Finding, Level};
use serde_json::{Value, json};

fn sarif_level(l: Level) -> &'static str {
    match l {
        Level::Dangerous => "error",
        Level::Unreadable | Level::Suspicious => "warning",
        Level::Innocuous | Level::Info => "note",
    }
}

/// Percent-encode what may not appear in a URI reference.
pub fn uri(path: &str) -> String {
    let mut s = String::with_capacity(path.len());
    for b in path.bytes() {
        match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'~'
            | b'/'
            | b'@'
            | b'+'
            | b'='
            | b','
            | b'!'
            | b'('
            | b')'
            | b':' => s.push(b as char),
            _ => s.push_str(&format!("%{b:02X}")),
        }
    }
    s
}

fn rule_text(rule: &str) -> &'static str {
    match rule {
        r if r.starts_with("pickle.import") => "Pickle import classified by allow/block lists",
        r if r.starts_with("pickle.unresolved") => {
            "Pickle import that cannot be resolved statically"
        }
        r if r.starts_with("pickle.") => "Pickle stream structure",
        r if r.starts_with("zip.") => "Archive structure",
        r if r.starts_with("template.") => "Chat template sandbox escape",
        r if r.starts_with("keras.") => "Keras Lambda layer",
        r if r.starts_with("onnx.") => "ONNX external data",
        r if r.starts_with("safetensors.") => "safetensors header",
        r if r.starts_with("gguf.") => "GGUF header",
        r if r.starts_with("repo.") => "Repository",
        _ => "cambrian scan finding",
    }
}

fn result(f: &Finding, path: &str) -> Value {
    let mut loc = json!({
        "physicalLocation": { "artifactLocation": { "uri": uri(path) } }
    });
    if let (Some(o), None) = (f.offset, &f.member) {
        loc["physicalLocation"]["region"] = json!({ "byteOffset": o, "byteLength": 1 });
    }
    let mut logical = Vec::new();
    if let Some(m) = &f.member {
        logical.push(json!({ "fullyQualifiedName": m, "kind": "member" }));
    }
    if let Some(s) = &f.symbol {
        logical.push(json!({ "fullyQualifiedName": s, "kind": "function" }));
    }
    if !logical.is_empty() {
        loc["logicalLocations"] = Value::Array(logical);
    }
    let mut props = json!({ "cambrianLevel": f.level.as_str() });
    if let Some(o) = f.offset {
        props["byteOffset"] = json!(o);
    }
    if let Some(o) = &f.opcode {
        props["opcode"] = json!(o);
    }
    if let Some(e) = &f.evidence {
        props["evidence"] = json!(e);
    }
    json!({
        "ruleId": f.rule,
        "level": sarif_level(f.level),
        "message": { "text": f.message },
        "locations": [loc],
        "properties": props,
    })
}

/// Build the SARIF log. Findings below `min` are left out.
pub fn sarif(reports: &[RepoReport], tool_version: &str, min: Level) -> Value {
    let mut results = Vec::new();
    let mut rules: Vec<String> = Vec::new();
    let mut artifacts = Vec::new();
    for r in reports {
        for file in &r.files {
            let path = if reports.len() > 1 {
                format!("{}/{}", r.target, file.path)
            } else {
                file.path.clone()
            };
            artifacts.push(json!({
                "location": { "uri": uri(&path) },
                "length": file.bytes,
                "properties": { "format": file.format, "verdict": file.verdict.as_str() }
            }));
            for f in file.findings.iter().filter(|f| f.level >= min) {
                if !rules.contains(&f.rule) {
                    rules.push(f.rule.clone());
                }
                results.push(result(f, &path));
            }
        }
        for f in r.findings.iter().filter(|f| f.level >= min) {
            if !rules.contains(&f.rule) {
                rules.push(f.rule.clone());
            }
            results.push(result(f, &r.target));
        }
    }
    let rules: Vec<Value> = rules
        .iter()
        .map(|id| json!({ "id": id, "shortDescription": { "text": rule_text(id) } }))
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "cambrian",
                "version": tool_version,
                "informationUri": "https://example.invalid/cambrian",
                "rules": rules,
            }},
            "artifacts": artifacts,
            "results": results,
            "invocations": [{ "executionSuccessful": true }],
            "properties": { "pickleListsVersion": crate::lists::lists().version },
        }]
    })
}
