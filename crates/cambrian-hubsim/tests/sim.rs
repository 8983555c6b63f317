//! The simulator over HTTP: format, determinism, listing semantics, ranges,
//! stats, the binary's first stdout line.

use cambrian_hubsim::{FaultKind, SimConfig, start};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/hub")
}

async fn get(url: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let r = reqwest::get(url).await.unwrap();
    let s = r.status().as_u16();
    let h = r.headers().clone();
    (s, h, r.text().await.unwrap())
}

fn population(models: usize, seed: u64) -> SimConfig {
    SimConfig {
        models,
        seed,
        ..SimConfig::default()
    }
}

#[tokio::test]
async fn compact_items_have_the_real_listing_field_set() {
    let s = start(population(50, 1)).await.unwrap();
    let (st, _, body) = get(&format!("{}/api/models?limit=5", s.base_url())).await;
    assert_eq!(st, 200);
    let items: Vec<Value> = serde_json::from_str(&body).unwrap();
    let real: Vec<Value> = serde_json::from_slice(
        &std::fs::read(testdata().join("listing_excerpts/api_models_two_items_2025-11.json"))
            .unwrap(),
    )
    .unwrap();
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(items.len(), 5);
    for it in &items {
        assert_eq!(
            keys(it),
            keys(&real[0]),
            "same fields, same order as the real listing"
        );
    }
}

#[tokio::test]
async fn same_seed_same_population_other_seed_other_population() {
    let a = start(population(500, 9)).await.unwrap();
    let b = start(population(500, 9)).await.unwrap();
    let c = start(population(500, 10)).await.unwrap();
    let q = "/api/models?sort=downloads&limit=1000&expand[]=safetensors&expand[]=createdAt&expand[]=downloadsAllTime&expand[]=trendingScore&expand[]=tags";
    let ba = get(&format!("{}{q}", a.base_url())).await.2;
    let bb = get(&format!("{}{q}", b.base_url())).await.2;
    let bc = get(&format!("{}{q}", c.base_url())).await.2;
    assert_eq!(ba, bb);
    assert_ne!(ba, bc);
    // Model i does not depend on N except through popularity ranks: ids are stable.
    let small = start(population(100, 9)).await.unwrap();
    let ids_a: Vec<&str> = a.models().iter().take(100).map(|m| m.id.as_str()).collect();
    let ids_s: Vec<&str> = small
        .models()
        .iter()
        .take(100)
        .map(|m| m.id.as_str())
        .collect();
    assert_eq!(ids_a, ids_s);
}

#[tokio::test]
async fn generated_fields_are_complete_and_plausible() {
    let s = start(population(20_000, 5)).await.unwrap();
    let mut pipelines: HashMap<String, usize> = HashMap::new();
    let mut placeholder = 0;
    for m in s.models().iter().take(20_000) {
        *pipelines
            .entry(m.pipeline_tag.clone().unwrap_or_default())
            .or_default() += 1;
        assert!(m.downloads_all_time >= m.downloads, "{}", m.id);
        assert!(m.tags.iter().any(|t| t == "region:us"));
        for f in [
            "downloadsAllTime",
            "trendingScore",
            "createdAt",
            "lastModified",
            "sha",
            "author",
        ] {
            assert!(m.field(f).is_some(), "{} lacks {f}", m.id);
        }
        if m.field("createdAt") == Some("\"2022-03-02T23:29:04.000Z\"") {
            placeholder += 1;
        }
    }
    // text-generation is the most common pipeline in the real snapshots
    // (151 of 573 = 26 %); the generated share is close to it.
    let tg = pipelines["text-generation"] as f64 / 20_000.0;
    assert!(
        (tg - 151.0 / 573.0).abs() < 0.02,
        "text-generation share {tg}"
    );
    assert!(
        placeholder > 500 && placeholder < 1500,
        "placeholder createdAt count {placeholder}"
    );
    // Heavy tail: the top model has orders of magnitude more likes than the median.
    let mut likes: Vec<u64> = s.models().iter().map(|m| m.likes).collect();
    likes.sort_unstable();
    let median = likes[likes.len() / 2];
    assert!(
        *likes.last().unwrap() > 100 * median.max(1),
        "max {} median {median}",
        likes.last().unwrap()
    );
}

#[tokio::test]
async fn listing_semantics() {
    let s = start(population(3000, 2)).await.unwrap();
    let base = s.base_url();
    // limit is capped at 1000
    let (_, h, body) = get(&format!("{base}/api/models?limit=5000")).await;
    assert_eq!(
        serde_json::from_str::<Vec<Value>>(&body).unwrap().len(),
        1000
    );
    let link = h.get("link").unwrap().to_str().unwrap().to_string();
    assert!(
        link.starts_with(&format!("<{base}/api/models?limit=5000&cursor="))
            && link.ends_with(">; rel=\"next\""),
        "{link}"
    );
    // sort without direction is descending; with direction=1 ascending
    let v: Vec<Value> = serde_json::from_str(
        &get(&format!("{base}/api/models?sort=likes&limit=50"))
            .await
            .2,
    )
    .unwrap();
    assert!(
        v.windows(2)
            .all(|w| w[0]["likes"].as_u64() >= w[1]["likes"].as_u64())
    );
    let v: Vec<Value> = serde_json::from_str(
        &get(&format!(
            "{base}/api/models?sort=createdAt&direction=1&limit=50&expand=createdAt"
        ))
        .await
        .2,
    )
    .unwrap();
    assert!(
        v.windows(2)
            .all(|w| w[0]["createdAt"].as_str() <= w[1]["createdAt"].as_str())
    );
    // plain `expand=` (huggingface_hub's spelling) works like `expand[]=`
    let a = get(&format!("{base}/api/models?limit=3&expand=sha"))
        .await
        .2;
    let b = get(&format!("{base}/api/models?limit=3&expand%5B%5D=sha"))
        .await
        .2;
    assert_eq!(a, b);
    assert!(
        serde_json::from_str::<Vec<Value>>(&a)
            .unwrap()
            .iter()
            .all(|m| m.as_object().unwrap().len() == 3)
    );
    // errors
    assert_eq!(get(&format!("{base}/api/models?cursor=zz")).await.0, 400);
    assert_eq!(get(&format!("{base}/api/models?sort=nope")).await.0, 400);
    assert_eq!(get(&format!("{base}/api/models?limit=0")).await.0, 400);
    assert_eq!(
        get(&format!("{base}/api/models?expand[]=nope")).await.0,
        400
    );
    // last page has no Link
    let (_, h, body) = get(&format!("{base}/api/models?search=zzzz-no-such")).await;
    assert_eq!(body, "[]");
    assert!(h.get("link").is_none());
    // model info: full record without the expand-only fields
    let id = s.models()[0].id.clone();
    let (st, _, body) = get(&format!("{base}/api/models/{id}")).await;
    assert_eq!(st, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["id"], id.as_str());
    assert!(
        v.get("siblings").is_some()
            && v.get("cardData").is_some()
            && v.get("trendingScore").is_none()
    );
    let (st, h, _) = get(&format!("{base}/api/models/no/such")).await;
    assert_eq!(st, 404);
    assert_eq!(h.get("x-error-code").unwrap(), "RepoNotFound");
}

#[tokio::test]
async fn resolve_ranges_and_stats() {
    let s = start(population(10, 2)).await.unwrap();
    let base = s.base_url();
    let id = cambrian_hubsim::repo::LLAMA2_7B_SIM_ID;
    let url = format!("{base}/{id}/resolve/main/model-00001-of-00002.safetensors");
    let http = reqwest::Client::new();
    let r = http
        .get(&url)
        .header("Range", "bytes=0-7")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 206);
    let total: u64 = r.headers()["content-range"]
        .to_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(total > 9_000_000_000);
    assert_eq!(r.bytes().await.unwrap().len(), 8);
    // The tail of the data region is zeros.
    let r = http
        .get(&url)
        .header("Range", "bytes=-16")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["content-range"].to_str().unwrap(),
        format!("bytes {}-{}/{total}", total - 16, total - 1)
    );
    assert_eq!(&r.bytes().await.unwrap()[..], &[0u8; 16]);
    let r = http
        .get(&url)
        .header("Range", format!("bytes={total}-"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 416);
    // A generated model's config and card
    let m = &s.models()[0];
    let (st, _, card) = get(&format!("{base}/{}/resolve/main/README.md", m.id)).await;
    assert_eq!(st, 200);
    assert!(card.starts_with("---\n"));
    let stats: Value = serde_json::from_str(&get(&format!("{base}/_sim/stats")).await.2).unwrap();
    let p = &stats["paths"][format!("/{id}/resolve/main/model-00001-of-00002.safetensors")];
    assert_eq!(p["requests"], 3);
    assert_eq!(p["bytes"], 24);
}

#[tokio::test]
async fn faults_are_seeded_and_counted() {
    let run = || async {
        let s = start(SimConfig {
            models: 50,
            seed: 4,
            fault_rate: 0.5,
            faults: vec![FaultKind::Status500, FaultKind::Status503],
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let mut codes = Vec::new();
        for _ in 0..40 {
            codes.push(get(&format!("{}/api/models?limit=1", s.base_url())).await.0);
        }
        (codes, s.stats())
    };
    let (a, sa) = run().await;
    let (b, _) = run().await;
    assert_eq!(a, b, "same seed, same sequence of faults");
    let n500 = a.iter().filter(|c| **c == 500).count() as u64;
    let n503 = a.iter().filter(|c| **c == 503).count() as u64;
    assert!(n500 > 0 && n503 > 0);
    assert_eq!(sa.faults.get("500").copied().unwrap_or(0), n500);
    assert_eq!(sa.faults.get("503").copied().unwrap_or(0), n503);
    assert_eq!(sa.requests, 40);
}

#[test]
fn fault_lists_parse() {
    assert_eq!(
        FaultKind::parse_list("transient").unwrap(),
        FaultKind::TRANSIENT.to_vec()
    );
    assert_eq!(
        FaultKind::parse_list("reset,500,reset").unwrap(),
        vec![FaultKind::Status500, FaultKind::Reset]
    );
    assert_eq!(
        FaultKind::parse_list("all").unwrap().len(),
        FaultKind::ALL.len()
    );
    let e = FaultKind::parse_list("boom").unwrap_err().to_string();
    assert!(
        e.contains("unknown fault kind `boom`") && e.contains("ratelimit"),
        "{e}"
    );
}

#[tokio::test]
async fn real_data_directory_population() {
    let s = start(SimConfig {
        data: Some(testdata()),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let ids: BTreeSet<&str> = s.models().iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids.len(), 37);
    assert!(ids.contains("moonshotai/Kimi-K2-Thinking") && ids.contains("gpt2"));
    // The 7B declared repo is resolvable in every population.
    let (st, _, _) = get(&format!(
        "{}/{}/resolve/main/config.json",
        s.base_url(),
        cambrian_hubsim::repo::LLAMA2_7B_SIM_ID
    ))
    .await;
    assert_eq!(st, 200);
    // Path traversal is refused.
    let (st, _, _) = get(&format!(
        "{}/a/b/resolve/main/..%2F..%2Fetc%2Fpasswd",
        s.base_url()
    ))
    .await;
    assert!(st == 400 || st == 404, "{st}");
}

#[test]
fn binary_prints_its_base_url_first() {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cambrian-hubsim"))
        .args(["--models", "100", "--seed", "1", "--fault-rate", "0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let url = line.trim();
    assert!(url.starts_with("http://127.0.0.1:"), "{line:?}");
    assert!(url[17..].parse::<u16>().unwrap() > 0);
}

/// The listing `cambrian sync` asks for is served from bytes serialised at
/// start-up; they must be exactly what the per-request projection gives
/// (compared item by item with `GET /api/models/{id}?expand[]=…`), whatever
/// the order and spelling of the expand parameters.
#[tokio::test]
async fn preserialised_listing_items_equal_the_projection() {
    let s = start(population(300, 3)).await.unwrap();
    let mut set: Vec<&str> = cambrian_hubsim::PRESERIALISED_EXPAND.to_vec();
    set.reverse();
    let brackets: String = set.iter().map(|e| format!("&expand[]={e}")).collect();
    let plain: String = set.iter().rev().map(|e| format!("&expand={e}")).collect();
    let (_, _, a) = get(&format!(
        "{}/api/models?sort=likes&limit=50{brackets}",
        s.base_url()
    ))
    .await;
    let (_, _, b) = get(&format!(
        "{}/api/models?sort=likes&limit=50{plain}",
        s.base_url()
    ))
    .await;
    assert_eq!(a, b);
    let items: Vec<Value> = serde_json::from_str(&a).unwrap();
    assert_eq!(items.len(), 50);
    for it in &items {
        let id = it["id"].as_str().unwrap();
        let (st, _, info) = get(&format!(
            "{}/api/models/{id}?{}",
            s.base_url(),
            &brackets[1..]
        ))
        .await;
        assert_eq!(st, 200);
        let info: Value = serde_json::from_str(&info).unwrap();
        assert_eq!(it, &info, "{id}");
        assert!(
            it.get("downloadsAllTime").is_some() && it.get("sha").is_some(),
            "{id}"
        );
    }
    // One field fewer: not the preserialised set, still served (projected).
    let fewer: String = set
        .iter()
        .skip(1)
        .map(|e| format!("&expand[]={e}"))
        .collect();
    let (_, _, c) = get(&format!(
        "{}/api/models?sort=likes&limit=5{fewer}",
        s.base_url()
    ))
    .await;
    let items: Vec<Value> = serde_json::from_str(&c).unwrap();
    assert!(
        items
            .iter()
            .all(|i| i.get(set[0]).is_none() && i.get("id").is_some())
    );
}
