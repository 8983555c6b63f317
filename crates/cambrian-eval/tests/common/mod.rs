//! Shared fixtures: the shipped quantities test set and hand-made runs of
//! three fictional models on it (answers derived from the labels by fixed
//! rules, so every expected count can be derived independently in a test).
#![allow(dead_code)]

use cambrian_eval::item::{CallError, CallErrorKind, ItemRun, TestItem};
use std::path::PathBuf;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn quantities() -> Vec<TestItem> {
    cambrian_eval::testset::load(&repo_root().join("examples/quantities/tests.jsonl"))
        .expect("load example set")
}

pub fn labels() -> Vec<String> {
    vec!["oracle".into(), "sloppy".into(), "broken".into()]
}

fn ok(model: &str, id: &str, text: String, latency: f64) -> ItemRun {
    ItemRun {
        model: model.into(),
        item_id: id.into(),
        text: Some(text),
        reasoning: None,
        finish_reason: Some("stop".into()),
        prompt_tokens: Some(100),
        completion_tokens: Some(20),
        ttft_ms: Some(latency / 4.0),
        latency_ms: Some(latency),
        error: None,
        cached: false,
    }
}

/// Rules, by 0-based item index i:
/// - oracle: the expected list in a ```json fence (always right), 400 ms.
/// - sloppy: i % 10 == 3 → a refusal; i % 4 == 0 → every unit spelled
///   "meter"; else the expected list as bare JSON. 100 ms.
/// - broken: i % 5 == 0 → transport error; i % 7 == 1 → truncated half
///   JSON (finish_reason length); else the list inside prose. 250 ms.
pub fn three_model_runs(items: &[TestItem]) -> Vec<ItemRun> {
    let mut runs = Vec::new();
    for (i, it) in items.iter().enumerate() {
        let exp = serde_json::to_string(&it.expected).unwrap();
        runs.push(ok(
            "oracle",
            &it.id,
            format!("```json\n{exp}\n```"),
            400.0 + i as f64,
        ));
        let sloppy = if i % 10 == 3 {
            "I'm sorry, but I can't help with that.".to_string()
        } else if i % 4 == 0 {
            let mut v = it.expected.clone();
            if let Some(arr) = v.as_array_mut() {
                for r in arr {
                    r["unit"] = serde_json::json!("meter");
                }
            }
            v.to_string()
        } else {
            exp.clone()
        };
        runs.push(ok("sloppy", &it.id, sloppy, 100.0 + i as f64));
        if i % 5 == 0 {
            runs.push(ItemRun {
                error: Some(CallError {
                    kind: CallErrorKind::Transport,
                    message: "connection reset".into(),
                    http_status: None,
                }),
                text: None,
                finish_reason: None,
                prompt_tokens: None,
                completion_tokens: None,
                ttft_ms: None,
                latency_ms: None,
                ..ok("broken", &it.id, String::new(), 0.0)
            });
        } else if i % 7 == 1 {
            let half: String = exp.chars().take(exp.len() / 2).collect();
            let mut r = ok("broken", &it.id, half, 250.0);
            r.finish_reason = Some("length".into());
            runs.push(r);
        } else {
            runs.push(ok(
                "broken",
                &it.id,
                format!("Here are the quantities: {exp} — hope this helps."),
                250.0,
            ));
        }
    }
    runs
}
