//! The verdict table over every license id, the seed cases, profile
//! variations, citation quotes checked against the real license texts, and
//! verdicts for the real Hub model_info responses.

use cambrian_license::*;
use std::path::PathBuf;

fn kb() -> &'static KnowledgeBase {
    match KnowledgeBase::embedded() {
        Ok(k) => k,
        Err(e) => panic!("embedded KB does not load: {e}"),
    }
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn verdict(license: Option<&str>, name: Option<&str>, p: &Profile, f: &ModelFacts) -> Verdict {
    assess_fields(kb(), license, name, p, f)
        .map(|a| a.verdict)
        .unwrap_or(Verdict::No)
}

fn commercial() -> Profile {
    Profile::default()
}

const Y: Verdict = Verdict::Yes;
const C: Verdict = Verdict::YesWithConditions;
const N: Verdict = Verdict::No;
const R: Verdict = Verdict::NeedsReview;

/// Every id in the Hub's license list (hub-docs `repositories-licenses.md`
/// plus the ids added since: huggingface_hub's `license` Literal), with the
/// expected verdict for the default profile (commercial, no redistribution)
/// and for research use.
const TABLE: &[(&str, Verdict, Verdict)] = &[
    ("apache-2.0", Y, Y),
    ("mit", Y, Y),
    ("openrail", C, C),
    ("bigscience-openrail-m", C, C),
    ("creativeml-openrail-m", C, C),
    ("bigscience-bloom-rail-1.0", C, C),
    ("bigcode-openrail-m", C, C),
    ("afl-3.0", Y, Y),
    ("artistic-2.0", Y, Y),
    ("bsl-1.0", Y, Y),
    ("bsd", Y, Y),
    ("bsd-2-clause", Y, Y),
    ("bsd-3-clause", Y, Y),
    ("bsd-3-clause-clear", Y, Y),
    ("c-uda", R, R),
    ("cc", R, R),
    ("cc0-1.0", Y, Y),
    ("cc-by-2.0", Y, Y),
    ("cc-by-2.5", Y, Y),
    ("cc-by-3.0", Y, Y),
    ("cc-by-4.0", Y, Y),
    ("cc-by-sa-3.0", Y, Y),
    ("cc-by-sa-4.0", Y, Y),
    ("cc-by-nc-2.0", N, C),
    ("cc-by-nc-3.0", N, C),
    ("cc-by-nc-4.0", N, C),
    ("cc-by-nd-4.0", Y, Y),
    ("cc-by-nc-nd-3.0", N, C),
    ("cc-by-nc-nd-4.0", N, C),
    ("cc-by-nc-sa-2.0", N, C),
    ("cc-by-nc-sa-3.0", N, C),
    ("cc-by-nc-sa-4.0", N, C),
    ("cdla-sharing-1.0", Y, Y),
    ("cdla-permissive-1.0", Y, Y),
    ("cdla-permissive-2.0", Y, Y),
    ("wtfpl", Y, Y),
    ("ecl-2.0", Y, Y),
    ("epl-1.0", Y, Y),
    ("epl-2.0", Y, Y),
    ("etalab-2.0", Y, Y),
    ("eupl-1.1", Y, Y),
    ("eupl-1.2", Y, Y),
    ("agpl-3.0", C, Y),
    ("gfdl", Y, Y),
    ("gpl", Y, Y),
    ("gpl-2.0", Y, Y),
    ("gpl-3.0", Y, Y),
    ("lgpl", Y, Y),
    ("lgpl-2.1", Y, Y),
    ("lgpl-3.0", Y, Y),
    ("isc", Y, Y),
    ("h-research", N, C),
    ("intel-research", N, C),
    ("lppl-1.3c", Y, Y),
    ("ms-pl", Y, Y),
    ("apple-ascl", Y, Y),
    ("apple-amlr", N, C),
    ("mpl-2.0", Y, Y),
    ("odc-by", Y, Y),
    ("odbl", Y, Y),
    ("openmdw-1.0", Y, Y),
    ("openrail++", C, C),
    ("osl-3.0", C, Y),
    ("postgresql", Y, Y),
    ("ofl-1.1", Y, Y),
    ("ncsa", Y, Y),
    ("unlicense", Y, Y),
    ("zlib", Y, Y),
    ("pddl", Y, Y),
    ("lgpl-lr", Y, Y),
    ("deepfloyd-if-license", N, C),
    ("fair-noncommercial-research-license", N, C),
    ("llama2", C, C),
    ("llama3", C, C),
    ("llama3.1", C, C),
    ("llama3.2", C, C),
    ("llama3.3", C, C),
    ("llama4", C, C),
    ("grok2-community", R, R),
    ("gemma", C, C),
    ("unknown", R, R),
    ("other", R, R),
];

#[test]
fn every_hub_license_id_has_an_entry_and_the_expected_verdicts() {
    assert!(TABLE.len() >= 80, "the Hub accepts 80+ ids");
    let research = Profile {
        usage: Use::Research,
        ..Profile::default()
    };
    let mut failures = Vec::new();
    for &(id, want_c, want_r) in TABLE {
        let Some(e) = kb().get(id) else {
            failures.push(format!("{id}: missing from the KB"));
            continue;
        };
        if !e.hub_listed {
            failures.push(format!("{id}: not marked hub_listed"));
        }
        let lic = if id == "other" {
            Some("other")
        } else {
            Some(id)
        };
        let got_c = verdict(lic, None, &commercial(), &ModelFacts::default());
        let got_r = verdict(lic, None, &research, &ModelFacts::default());
        if got_c != want_c {
            failures.push(format!("{id}: commercial {got_c}, want {want_c}"));
        }
        if got_r != want_r {
            failures.push(format!("{id}: research {got_r}, want {want_r}"));
        }
    }
    // And nothing Hub-listed in the KB is missing from the table.
    for id in kb().hub_ids() {
        if !TABLE.iter().any(|(t, _, _)| *t == id) {
            failures.push(format!("{id}: in the KB but not in the table"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn seed_cases() {
    let p = commercial();
    let f = ModelFacts::default();
    // A cc-by-nc-4.0 video model (e.g. a text-to-video release under CC BY-NC) → no.
    let video = ModelFacts {
        multimodal: Some(true),
    };
    assert_eq!(verdict(Some("cc-by-nc-4.0"), None, &p, &video), N);
    // The original LLaMA license (license: other + a LLaMA license_name) → no; llama2 is different.
    assert_eq!(verdict(Some("other"), Some("llama-license"), &p, &f), N);
    assert_eq!(verdict(Some("other"), Some("LLaMA License"), &p, &f), N);
    assert_eq!(verdict(Some("other"), Some("llama"), &p, &f), N);
    // SDXL 0.9's research-only license → no.
    assert_eq!(verdict(Some("other"), Some("sdxl-0.9"), &p, &f), N);
    assert_eq!(
        verdict(Some("other"), Some("SDXL 0.9 Research License"), &p, &f),
        N
    );
    // apache-2.0 (MPT-7B, XGen-7B base) → yes.
    assert_eq!(verdict(Some("apache-2.0"), None, &p, &f), Y);
    // cc-by-nc-sa-4.0 (MPT-7B-chat) → no.
    assert_eq!(verdict(Some("cc-by-nc-sa-4.0"), None, &p, &f), N);
    // llama2 → yes with conditions (700M MAU, AUP).
    let a = assess_fields(kb(), Some("llama2"), None, &p, &f).expect("llama2");
    assert_eq!(a.verdict, C);
    let active: Vec<&str> = a
        .obligations
        .iter()
        .filter(|o| o.applies)
        .map(|o| o.obligation.kind.name())
        .collect();
    assert!(
        active.contains(&"mau-threshold") && active.contains(&"aup-pass-through"),
        "{active:?}"
    );
    assert!(a.obligations.iter().any(|o| o.obligation.kind
        == ObligationKind::MauThreshold {
            max_mau: 700_000_000
        }));
    assert!(
        a.reasons.iter().any(|r| r.text.contains("700,000,000")),
        "{:?}",
        a.reasons
    );
}

#[test]
fn missing_or_unknown_license_is_never_yes() {
    let p = commercial();
    let f = ModelFacts::default();
    for (l, n) in [
        (None, None),
        (Some(""), None),
        (Some("other"), None),
        (Some("other"), Some("acme-weights-license")),
        (Some("not-a-license"), None),
        (Some("unknown"), None),
    ] {
        let a = assess_fields(kb(), l, n, &p, &f).expect("resolves");
        assert_eq!(a.verdict, R, "{l:?}/{n:?}");
    }
    // Resolved by name: `other` + `llama4` (Llama 4 Maverick's card does this).
    let a = assess_fields(kb(), Some("other"), Some("llama4"), &p, &f).expect("llama4");
    assert_eq!(a.license_id, "llama4");
    assert_eq!(
        a.resolved_by,
        ResolvedBy::LicenseName {
            name: "llama4".into()
        }
    );
    // Case and spacing do not matter for ids.
    assert_eq!(verdict(Some("Apache-2.0"), None, &p, &f), Y);
}

#[test]
fn profile_changes_the_verdict() {
    let f = ModelFacts::default();
    let big = Profile {
        mau: Some(800_000_000),
        ..Profile::default()
    };
    assert_eq!(verdict(Some("llama2"), None, &big, &f), N);
    assert_eq!(verdict(Some("llama3.1"), None, &big, &f), N);
    let small = Profile {
        mau: Some(5_000_000),
        ..Profile::default()
    };
    assert_eq!(
        verdict(Some("llama2"), None, &small, &f),
        C,
        "AUP still applies"
    );
    // Outputs used to train other models: forbidden by Llama 2 and 3, allowed (with naming) by 3.1.
    let distil = Profile {
        train_on_outputs: true,
        ..Profile::default()
    };
    assert_eq!(verdict(Some("llama2"), None, &distil, &f), N);
    assert_eq!(verdict(Some("llama3"), None, &distil, &f), N);
    assert_eq!(verdict(Some("llama3.1"), None, &distil, &f), C);
    // Redistribution activates copyleft / no-derivatives conditions.
    let redist = Profile {
        redistribute: true,
        ..Profile::default()
    };
    assert_eq!(verdict(Some("gpl-3.0"), None, &redist, &f), C);
    assert_eq!(verdict(Some("cc-by-nd-4.0"), None, &redist, &f), C);
    assert_eq!(verdict(Some("apache-2.0"), None, &redist, &f), Y);
    let a = assess_fields(kb(), Some("llama3.1"), None, &redist, &f).expect("llama3.1");
    let kinds: Vec<_> = a
        .obligations
        .iter()
        .filter(|o| o.applies)
        .map(|o| &o.obligation.kind)
        .collect();
    assert!(kinds.contains(&&ObligationKind::DisplayAttribution {
        text: "Built with Llama".into()
    }));
    assert!(kinds.contains(&&ObligationKind::DerivedNamePrefix {
        prefix: "Llama".into()
    }));
    // Internal use is still commercial advantage: non-commercial licenses say no.
    let internal = Profile {
        usage: Use::Internal,
        ..Profile::default()
    };
    assert_eq!(verdict(Some("cc-by-nc-4.0"), None, &internal, &f), N);
    assert_eq!(
        verdict(Some("agpl-3.0"), None, &internal, &f),
        Y,
        "internal, not served to others"
    );
}

#[test]
fn llama32_multimodal_eu_restriction() {
    let eu = Profile {
        region: Some("DE".into()),
        ..Profile::default()
    };
    let us = Profile {
        region: Some("US".into()),
        ..Profile::default()
    };
    let mm = ModelFacts {
        multimodal: Some(true),
    };
    let text = ModelFacts {
        multimodal: Some(false),
    };
    assert_eq!(verdict(Some("llama3.2"), None, &eu, &mm), N);
    assert_eq!(verdict(Some("llama3.2"), None, &eu, &text), C);
    assert_eq!(
        verdict(Some("llama3.2"), None, &eu, &ModelFacts::default()),
        R
    );
    assert_eq!(verdict(Some("llama3.2"), None, &us, &mm), C);
    assert_eq!(
        verdict(
            Some("llama4"),
            None,
            &Profile {
                region: Some("eu".into()),
                ..Profile::default()
            },
            &mm
        ),
        N
    );
    // llama3.1 has no such clause.
    assert_eq!(verdict(Some("llama3.1"), None, &eu, &mm), C);
}

fn squash(s: &str) -> String {
    s.replace(['“', '”'], "\"")
        .replace(['’', '‘'], "'")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn quoted_clauses_appear_in_the_license_texts() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for e in &kb().licenses {
        assert!(!e.citations.is_empty(), "{} has no citation", e.id);
        for c in &e.citations {
            assert!(
                !c.url.is_empty() && !c.clause.is_empty(),
                "{}: citation without url/clause",
                e.id
            );
            match (&c.quote, &c.file) {
                (Some(q), Some(f)) => {
                    let path = repo_root().join(f);
                    let text = std::fs::read_to_string(&path)
                        .unwrap_or_else(|err| panic!("{}: {}: {err}", e.id, path.display()));
                    if !squash(&text).contains(&squash(q)) {
                        failures.push(format!("{}: quote not found in {f}: {q}", e.id));
                    }
                    checked += 1;
                }
                (Some(_), None) => failures.push(format!(
                    "{}: quote without a file to check it against",
                    e.id
                )),
                _ => {}
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked >= 20, "only {checked} quotes checked");
}

#[test]
fn kb_rejects_wrong_schema_and_dangling_citations() {
    let bad = KB_JSON_WITH_VERSION.replace("\"schema_version\": 1", "\"schema_version\": 99");
    assert!(KnowledgeBase::from_json(&bad).is_err());
    let dangling = r#"{"schema_version":1,"kb_version":"x","licenses":[{"id":"a","name":"A","hub_listed":true,"class":"permissive","scope":"any","obligations":[{"kind":"share-alike","trigger":"always","summary":"s","citation":3}],"citations":[{"source":"s","url":"u","clause":"c"}],"notes":""}]}"#;
    let err = KnowledgeBase::from_json(dangling)
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(err.contains("cites #3"), "{err}");
    assert!(KnowledgeBase::from_json("{").is_err());
}
const KB_JSON_WITH_VERSION: &str = cambrian_license::kb::KB_JSON;

/// Verdicts for the real Hub responses (2025): `license` from cardData, else the `license:` tag.
#[test]
fn real_model_info_responses() {
    let dir = repo_root().join("testdata/license/model_info");
    let want: &[(&str, Verdict)] = &[
        ("CompVis/stable-diffusion-v1-4", C),
        ("HuggingFaceH4/zephyr-7b-beta", Y),
        ("Salesforce/blip-image-captioning-base", Y),
        ("dbmdz/bert-large-cased-finetuned-conll03-english", R),
        ("deepset/roberta-base-squad2", Y),
        ("meta-llama/Llama-3.1-8B-Instruct", C),
        ("meta-llama/Meta-Llama-3-70B-Instruct", C),
        ("openai/clip-vit-base-patch32", R),
        ("stabilityai/stable-diffusion-2-1", C),
        ("gpt2", Y),
    ];
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("testdata") {
        let path = entry.expect("entry").path();
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
        let id = v["id"].as_str().expect("id");
        let card = &v["cardData"];
        let tag_license = v["tags"].as_array().and_then(|t| {
            t.iter()
                .filter_map(|x| x.as_str())
                .find_map(|x| x.strip_prefix("license:"))
        });
        let license = card["license"].as_str().or(tag_license);
        let name = card["license_name"].as_str();
        let got = verdict(license, name, &commercial(), &ModelFacts::default());
        if let Some((_, w)) = want.iter().find(|(m, _)| *m == id) {
            assert_eq!(got, *w, "{id} ({license:?})");
            seen += 1;
        }
        if license.is_none() {
            assert_eq!(got, R, "{id}: no license must need review");
        }
    }
    assert_eq!(seen, want.len());
}
