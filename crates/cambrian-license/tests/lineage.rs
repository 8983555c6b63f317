//! Lineage: recursive, cycle-safe walks; inherited restrictions; the
//! "child more permissive than parent" flag.

use cambrian_license::*;
use std::collections::HashMap;

fn kb() -> &'static KnowledgeBase {
    KnowledgeBase::embedded().unwrap_or_else(|e| panic!("{e}"))
}

fn m(id: &str, lic: Option<&str>, bases: &[&str]) -> ModelLicenseInfo {
    ModelLicenseInfo {
        id: id.into(),
        license: lic.map(Into::into),
        license_name: None,
        base_models: bases.iter().map(|s| s.to_string()).collect(),
        multimodal: Some(false),
    }
}

fn run(root: &ModelLicenseInfo, others: &[ModelLicenseInfo]) -> ModelAssessment {
    let map: HashMap<String, ModelLicenseInfo> =
        others.iter().map(|o| (o.id.clone(), o.clone())).collect();
    let mut calls = 0usize;
    let mut lookup = |id: &str| {
        calls += 1;
        assert!(calls < 100, "lookup called too often: not cycle-safe");
        map.get(id).cloned()
    };
    assess_model(kb(), root, &mut lookup, &Profile::default(), 8).expect("assess")
}

#[test]
fn apache_finetune_of_noncommercial_base_is_flagged_and_inherits_no() {
    let a = run(
        &m("acme/chat", Some("apache-2.0"), &["lab/base"]),
        &[m("lab/base", Some("cc-by-nc-4.0"), &[])],
    );
    assert_eq!(a.own.verdict, Verdict::Yes);
    assert_eq!(a.verdict, Verdict::No);
    assert_eq!(a.flags.len(), 1);
    assert_eq!(a.flags[0].parent_license, "cc-by-nc-4.0");
    assert!(
        a.lineage_reasons
            .iter()
            .any(|r| r.text.contains("lab/base"))
    );
}

#[test]
fn apache_finetune_of_llama_is_flagged_and_takes_llama_conditions() {
    let a = run(
        &m(
            "acme/llama-ft",
            Some("mit"),
            &["meta-llama/Llama-3.1-8B-Instruct"],
        ),
        &[
            m(
                "meta-llama/Llama-3.1-8B-Instruct",
                Some("llama3.1"),
                &["meta-llama/Llama-3.1-8B"],
            ),
            m("meta-llama/Llama-3.1-8B", Some("llama3.1"), &[]),
        ],
    );
    assert_eq!(a.verdict, Verdict::YesWithConditions);
    assert_eq!(a.flags.len(), 1, "{:?}", a.flags);
    assert_eq!(a.ancestors.len(), 2);
    assert_eq!(a.ancestors[1].depth, 2);
}

#[test]
fn equally_permissive_child_is_not_flagged() {
    // HuggingFaceH4/zephyr-7b-beta (mit) from mistralai/Mistral-7B-v0.1 (apache-2.0).
    let a = run(
        &m(
            "HuggingFaceH4/zephyr-7b-beta",
            Some("mit"),
            &["mistralai/Mistral-7B-v0.1"],
        ),
        &[m("mistralai/Mistral-7B-v0.1", Some("apache-2.0"), &[])],
    );
    assert_eq!(a.verdict, Verdict::Yes);
    assert!(a.flags.is_empty());
}

#[test]
fn cycles_terminate_and_are_reported() {
    let a = run(
        &m("x/a", Some("mit"), &["x/b"]),
        &[
            m("x/b", Some("mit"), &["x/c"]),
            m("x/c", Some("mit"), &["x/a", "x/b"]),
        ],
    );
    assert_eq!(a.verdict, Verdict::Yes);
    assert_eq!(a.ancestors.len(), 2);
    assert_eq!(a.cycles.len(), 2, "{:?}", a.cycles);
    // Self-reference is ignored.
    let s = run(&m("x/self", Some("mit"), &["x/self"]), &[]);
    assert!(s.ancestors.is_empty() && s.cycles.is_empty());
}

#[test]
fn unavailable_base_is_reported_not_guessed() {
    let a = run(&m("x/child", Some("apache-2.0"), &["gone/base"]), &[]);
    assert_eq!(a.verdict, Verdict::Yes, "the model's own license decides");
    assert_eq!(a.ancestors[0].license_id, None);
    assert_eq!(a.unchecked, vec!["gone/base".to_string()]);
    assert!(
        a.lineage_reasons
            .iter()
            .any(|r| r.text.contains("gone/base") && r.text.contains("could not be checked"))
    );
    // A child with an unknown license stays needs-review whatever its bases say.
    let b = run(
        &m("x/child2", None, &["x/p"]),
        &[m("x/p", Some("mit"), &[])],
    );
    assert_eq!(b.verdict, Verdict::NeedsReview);
}

#[test]
fn depth_limit_truncates() {
    let chain: Vec<ModelLicenseInfo> = (1..20)
        .map(|i| m(&format!("c/{i}"), Some("mit"), &[&format!("c/{}", i + 1)]))
        .collect();
    let root = m("c/0", Some("mit"), &["c/1"]);
    let map: HashMap<String, ModelLicenseInfo> =
        chain.iter().map(|o| (o.id.clone(), o.clone())).collect();
    let mut lookup = |id: &str| map.get(id).cloned();
    let a = assess_model(kb(), &root, &mut lookup, &Profile::default(), 5).expect("assess");
    assert!(a.truncated);
    assert_eq!(a.ancestors.len(), 5);
}
