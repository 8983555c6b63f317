//! The client against an in-process cambrian-hubsim on 127.0.0.1: paging,
//! query semantics, retries for every fault kind, rate-limit waits, ranged
//! reads, malformed content and token redaction.

use cambrian_hub::{HubClient, HubConfig, HubError, ListQuery, PageCursor};
use cambrian_hubsim::{FaultKind, RunningSim, SimConfig, start};
use cambrian_types::{ErrorKind, ModelRecord};
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

const SENTINEL: &str = "hf_SENTINELtokenDoNotLeak1234567890";

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/hub")
}

fn client(sim: &RunningSim) -> HubClient {
    HubClient::new(HubConfig {
        endpoint: sim.base_url(),
        token: Some(SENTINEL.into()),
        connect_timeout: Duration::from_secs(5),
        first_byte_timeout: Duration::from_millis(400),
        total_timeout: Duration::from_secs(20),
        max_retries: 40,
        backoff_base: Duration::from_millis(1),
        backoff_cap: Duration::from_millis(10),
        max_rate_limit_wait: Duration::from_secs(5),
        ..HubConfig::default()
    })
    .unwrap()
}

async fn sim(models: usize, faults: &[FaultKind], rate: f64) -> RunningSim {
    start(SimConfig {
        models,
        seed: 7,
        fault_rate: rate,
        faults: faults.to_vec(),
        stall: Duration::from_secs(3),
        ratelimit_reset_secs: 0,
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

async fn list_all(c: &HubClient, q: &ListQuery) -> Result<(Vec<ModelRecord>, usize), HubError> {
    let mut cursor = PageCursor::First(q.clone());
    let mut out = Vec::new();
    let mut pages = 0;
    loop {
        let page = c.list_page(&cursor).await?;
        pages += 1;
        out.extend(page.models);
        match page.next {
            Some(n) => cursor = PageCursor::Next(n),
            None => return Ok((out, pages)),
        }
    }
}

fn by_likes() -> ListQuery {
    ListQuery {
        sort: Some("likes".into()),
        direction: Some(-1),
        limit: Some(50),
        ..Default::default()
    }
}

fn ids(v: &[ModelRecord]) -> Vec<String> {
    v.iter().map(|m| m.id.clone()).collect()
}

#[tokio::test]
async fn paging_follows_link_headers_in_sort_order() {
    let s = sim(2500, &[], 0.0).await;
    let c = client(&s);
    let q = ListQuery {
        limit: Some(100),
        ..by_likes()
    };
    let (got, pages) = list_all(&c, &q).await.unwrap();
    // The expected order, computed here from the population: likes
    // descending, ties by id ascending.
    let mut expected: Vec<(u64, String)> =
        s.models().iter().map(|m| (m.likes, m.id.clone())).collect();
    expected.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let expected: Vec<String> = expected.into_iter().map(|(_, id)| id).collect();
    assert_eq!(expected.len(), 2501); // 2500 generated + the declared 7B repo
    assert_eq!(ids(&got), expected);
    assert_eq!(pages, 26);
    assert_eq!(c.stats().requests, 26);
    assert_eq!(c.stats().retries, 0);
    // Every listed record carries the compact field set.
    assert!(
        got.iter()
            .all(|m| m.likes.is_some() && m.downloads_30d.is_some() && m.trending_score.is_some())
    );
    assert!(
        got.iter()
            .all(|m| m.downloads_all_time.is_none() && m.safetensors.is_none())
    );
    // The token was sent on every request.
    assert_eq!(s.stats().authorized_requests, 26);
}

#[tokio::test]
async fn filters_author_search_pipeline_and_expand() {
    let s = sim(3000, &[], 0.0).await;
    let c = client(&s);
    let q = ListQuery {
        filter: vec!["license:apache-2.0".into(), "transformers".into()],
        pipeline_tag: Some("text-generation".into()),
        expand: vec![
            "downloadsAllTime".into(),
            "safetensors".into(),
            "tags".into(),
        ],
        limit: Some(7),
        ..Default::default()
    };
    let (got, _) = list_all(&c, &q).await.unwrap();
    let mut expected: Vec<String> = s
        .models()
        .iter()
        .filter(|m| {
            m.pipeline_tag.as_deref() == Some("text-generation")
                && m.tags.iter().any(|t| t == "license:apache-2.0")
                && m.tags.iter().any(|t| t == "transformers")
        })
        .map(|m| m.id.clone())
        .collect();
    expected.sort();
    assert!(
        expected.len() > 20,
        "population too small for the test: {}",
        expected.len()
    );
    assert_eq!(ids(&got), expected);
    assert!(
        got.iter()
            .all(|m| m.downloads_all_time.is_some() && m.safetensors.is_some())
    );
    assert!(got.iter().all(|m| m.likes.is_none())); // not expanded
    assert!(
        got.iter()
            .all(|m| m.license.as_deref() == Some("apache-2.0"))
    );

    // author + search
    let author = s.models()[0].author.clone();
    let q = ListQuery {
        author: Some(author.clone()),
        search: Some("B-".into()),
        ..Default::default()
    };
    let (got, _) = list_all(&c, &q).await.unwrap();
    let mut expected: Vec<String> = s
        .models()
        .iter()
        .filter(|m| m.author == author && m.id.to_lowercase().contains("b-"))
        .map(|m| m.id.clone())
        .collect();
    expected.sort();
    assert!(!expected.is_empty());
    assert_eq!(ids(&got), expected);

    // An unknown expand name is a 400, not retried.
    let bad = ListQuery {
        expand: vec!["nope".into()],
        ..Default::default()
    };
    let before = c.stats().requests;
    let e = c.list_page(&PageCursor::First(bad)).await.unwrap_err();
    assert_eq!(e.status(), Some(400));
    assert_eq!(e.kind(), ErrorKind::Remote);
    assert_eq!(c.stats().requests, before + 1);
}

/// A listing through each transient fault kind equals the fault-free one.
#[tokio::test]
async fn every_transient_fault_kind_is_retried_to_the_same_result() {
    let clean_sim = sim(600, &[], 0.0).await;
    let (clean, _) = list_all(&client(&clean_sim), &by_likes()).await.unwrap();
    assert_eq!(clean.len(), 601);
    for kind in [
        FaultKind::RateLimit,
        FaultKind::Status500,
        FaultKind::Status502,
        FaultKind::Status503,
        FaultKind::Reset,
        FaultKind::Stall,
        FaultKind::Truncate,
        FaultKind::InvalidJson,
        FaultKind::UnknownFields,
    ] {
        let s = sim(600, &[kind], 0.35).await;
        let c = client(&s);
        let (got, _) = list_all(&c, &by_likes())
            .await
            .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        assert_eq!(got, clean, "{kind:?}");
        let injected = s.stats().faults.get(kind.name()).copied().unwrap_or(0);
        assert!(injected > 0, "{kind:?}: no fault injected");
        if kind != FaultKind::UnknownFields {
            assert_eq!(
                c.stats().retries,
                injected,
                "{kind:?}: one retry per injected fault"
            );
        }
        if kind == FaultKind::RateLimit {
            assert_eq!(c.stats().rate_limited_waits, injected);
        }
    }
}

/// `list_page_raw` + `parse_page` (what `cambrian sync`'s pipeline does):
/// returns the records and how many pages were refetched.
async fn list_all_raw(c: &HubClient, q: &ListQuery) -> Result<(Vec<ModelRecord>, usize), HubError> {
    let mut cursor = PageCursor::First(q.clone());
    let (mut out, mut refetched) = (Vec::new(), 0);
    loop {
        let raw = c.list_page_raw(&cursor).await?;
        let next = raw.next().map(str::to_string);
        let requests = c.stats().requests;
        // A cut or garbled body is a transient error of `parse`: refetched.
        let page = c.parse_page(raw).await?;
        refetched += usize::from(c.stats().requests > requests);
        assert_eq!(page.next, next, "the Link header is read before the body");
        out.extend(page.models);
        match next {
            Some(n) => cursor = PageCursor::Next(n),
            None => return Ok((out, refetched)),
        }
    }
}

/// Unparsed pages: transport faults are retried by `list_page_raw`, bodies
/// that do not parse are refetched by `parse_page`; the listing equals the
/// fault-free one.
#[tokio::test]
async fn raw_pages_parsed_apart_give_the_same_listing_under_faults() {
    let clean_sim = sim(600, &[], 0.0).await;
    let (clean, refetched) = list_all_raw(&client(&clean_sim), &by_likes())
        .await
        .unwrap();
    assert_eq!((clean.len(), refetched), (601, 0));
    for kind in [
        FaultKind::InvalidJson,
        FaultKind::Truncate,
        FaultKind::Status503,
    ] {
        let s = sim(600, &[kind], 0.35).await;
        let (got, refetched) = list_all_raw(&client(&s), &by_likes())
            .await
            .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        assert_eq!(got, clean, "{kind:?}");
        assert!(
            s.stats().faults.get(kind.name()).copied().unwrap_or(0) > 0,
            "{kind:?}"
        );
        match kind {
            FaultKind::InvalidJson => assert!(refetched > 0, "no garbled body was refetched"),
            FaultKind::Status503 => assert_eq!(refetched, 0, "statuses are retried before parsing"),
            _ => {}
        }
    }
}

#[tokio::test]
async fn repeated_items_across_pages_are_visible_but_nothing_is_lost() {
    let clean_sim = sim(400, &[], 0.0).await;
    let (clean, _) = list_all(&client(&clean_sim), &by_likes()).await.unwrap();
    let s = sim(400, &[FaultKind::Repeat], 0.5).await;
    let (got, _) = list_all(&client(&s), &by_likes()).await.unwrap();
    assert!(got.len() > clean.len(), "expected duplicates");
    let mut seen = HashSet::new();
    let dedup: Vec<ModelRecord> = got
        .into_iter()
        .filter(|m| seen.insert(m.id.clone()))
        .collect();
    assert_eq!(dedup, clean);
}

#[tokio::test]
async fn rate_limit_waits_for_the_announced_reset() {
    let s = start(SimConfig {
        models: 200,
        seed: 3,
        fault_rate: 0.5,
        faults: vec![FaultKind::RateLimit],
        ratelimit_reset_secs: 1,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let c = client(&s);
    let (got, _) = list_all(
        &c,
        &ListQuery {
            limit: Some(40),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(got.len(), 201);
    let st = c.stats();
    assert!(st.rate_limited_waits >= 1);
    // Each 429 announced t=1: the client waited at least 1 s for each.
    assert!(st.wait_ms >= 1000 * st.rate_limited_waits, "{st:?}");
}

#[tokio::test]
async fn persistent_invalid_json_gives_up_naming_url_and_offset() {
    let s = sim(100, &[FaultKind::InvalidJson], 1.0).await;
    let mut cfg = client(&s).config().clone();
    cfg.max_retries = 2;
    let c = HubClient::new(cfg).unwrap();
    let e = c
        .list_page(&PageCursor::First(ListQuery::default()))
        .await
        .unwrap_err();
    match &e {
        HubError::GaveUp {
            attempts,
            last,
            url,
        } => {
            assert_eq!(*attempts, 3);
            assert!(url.starts_with(&s.base_url()));
            assert!(matches!(**last, HubError::InvalidJson { .. }), "{last:?}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(e.kind(), ErrorKind::BadInput);
    let msg = e.to_string();
    assert!(
        msg.contains("/api/models") && msg.contains("at byte"),
        "{msg}"
    );
    assert_eq!(c.stats().requests, 3);
}

#[tokio::test]
async fn persistent_truncation_gives_up_with_a_remote_error() {
    let s = sim(300, &[FaultKind::Truncate], 1.0).await;
    let mut cfg = client(&s).config().clone();
    cfg.max_retries = 3;
    let c = HubClient::new(cfg).unwrap();
    let e = c
        .list_page(&PageCursor::First(ListQuery::default()))
        .await
        .unwrap_err();
    let HubError::GaveUp { last, .. } = &e else {
        panic!("{e:?}")
    };
    assert!(
        matches!(**last, HubError::Body { .. } | HubError::InvalidJson { .. }),
        "{last:?}"
    );
}

/// The first page of 10 of the default listing.
async fn first_ten(c: &HubClient) -> cambrian_hub::ListPage {
    c.list_page(&PageCursor::First(ListQuery {
        limit: Some(10),
        ..Default::default()
    }))
    .await
    .unwrap()
}

#[tokio::test]
async fn wrong_types_and_missing_fields_become_warnings() {
    let s = sim(50, &[FaultKind::WrongTypes], 1.0).await;
    let c = client(&s);
    let page = first_ten(&c).await;
    assert_eq!(page.models.len(), 10);
    let fields: HashSet<&str> = page
        .item_warnings
        .iter()
        .filter_map(|w| w.field.as_deref())
        .collect();
    for f in ["likes", "downloads", "tags", "createdAt"] {
        assert!(fields.contains(f), "{f} not warned: {fields:?}");
    }
    let warned: HashSet<&str> = page
        .item_warnings
        .iter()
        .filter(|w| w.field.as_deref() == Some("likes"))
        .filter_map(|w| w.id.as_deref())
        .collect();
    for m in &page.models {
        if warned.contains(m.id.as_str()) {
            assert_eq!(m.likes, None);
            assert!(m.tags.is_empty());
        }
    }

    let s = sim(50, &[FaultKind::MissingFields], 1.0).await;
    let c = client(&s);
    let page = first_ten(&c).await;
    assert_eq!(page.models.len(), 9); // the first item lost its id and was skipped
    assert_eq!(page.item_warnings.len(), 1);
    assert_eq!(
        (
            page.item_warnings[0].index,
            page.item_warnings[0].field.as_deref()
        ),
        (0, None)
    );
    assert!(
        page.models
            .iter()
            .all(|m| m.likes.is_none() && m.tags.is_empty() && m.created_at.is_none())
    );
}

#[tokio::test]
async fn model_info_revision_and_not_found_on_real_data() {
    let s = start(SimConfig {
        data: Some(testdata()),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    assert_eq!(s.models().len(), 37); // 35 model_info + 2 listing items
    let c = client(&s);
    let info = c
        .model_info("meta-llama/Llama-3.1-8B-Instruct", None, &[])
        .await
        .unwrap();
    let file: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            testdata().join("model_info/meta-llama__Llama-3.1-8B-Instruct.2025-03-21.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(info.record, cambrian_hub::parse_model(&file).unwrap().0);
    assert_eq!(info.raw, file);
    assert_eq!(info.config.as_ref().unwrap()["model_type"], "llama");
    assert_eq!(info.card_data.as_ref().unwrap()["license"], "llama3.1");
    let rev = c
        .model_info(
            "gpt2",
            Some("607a30d783dfa663caf39e06633721c8d4cfcd7e"),
            &["safetensors".into()],
        )
        .await
        .unwrap();
    assert_eq!(rev.record.id, "gpt2");
    assert_eq!(rev.record.safetensors.unwrap().total, 137_022_720);
    assert!(rev.record.tags.is_empty()); // only the expanded field came back

    let before = c.stats().requests;
    let e = c.model_info("nobody/nothing", None, &[]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(c.stats().requests, before + 1, "a 404 is not retried");
    assert!(!format!("{e} {e:?}").contains(SENTINEL));

    // The real listing, sorted by downloads.
    let (got, _) = list_all(
        &c,
        &ListQuery {
            sort: Some("downloads".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(got.len(), 37);
    assert_eq!(got[0].id, "sentence-transformers/all-MiniLM-L6-v2"); // 90,148,743 downloads
    assert!(
        got.windows(2)
            .all(|w| w[0].downloads_30d >= w[1].downloads_30d)
    );

    // Ranged read of a real file under repos/.
    let real = std::fs::read(
        testdata()
            .join("repos/sentence-transformers/all-MiniLM-L6-v2/model.safetensors.header-only"),
    )
    .unwrap();
    let head = c
        .read_range(
            "sentence-transformers/all-MiniLM-L6-v2",
            "main",
            "model.safetensors.header-only",
            0..8,
        )
        .await
        .unwrap();
    assert_eq!(&head[..], &real[..8]);
    let n = u64::from_le_bytes(head[..8].try_into().unwrap());
    assert_eq!(n + 8, real.len() as u64);
    let json = c
        .read_range(
            "sentence-transformers/all-MiniLM-L6-v2",
            "main",
            "model.safetensors.header-only",
            8..8 + n,
        )
        .await
        .unwrap();
    assert_eq!(&json[..], &real[8..]);
    // A range past the end is clamped to the file.
    let tail = c
        .read_range(
            "sentence-transformers/all-MiniLM-L6-v2",
            "main",
            "model.safetensors.header-only",
            n..n + 100,
        )
        .await
        .unwrap();
    assert_eq!(&tail[..], &real[n as usize..]);
}

#[tokio::test]
async fn ranged_header_reads_of_a_sharded_7b_repo_move_under_1mb() {
    let s = sim(10, &[], 0.0).await;
    let c = client(&s);
    let id = cambrian_hubsim::repo::LLAMA2_7B_SIM_ID;
    let index = c
        .read_file(id, "main", "model.safetensors.index.json", 1 << 20)
        .await
        .unwrap();
    let index: serde_json::Value = serde_json::from_slice(&index).unwrap();
    let shards: HashSet<&str> = index["weight_map"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(shards.len(), 2);
    let mut params = 0u64;
    for shard in shards {
        let len = c.read_range(id, "main", shard, 0..8).await.unwrap();
        let n = u64::from_le_bytes(len[..8].try_into().unwrap());
        let header = c.read_range(id, "main", shard, 8..8 + n).await.unwrap();
        let h: serde_json::Value = serde_json::from_slice(&header).unwrap();
        for (name, t) in h.as_object().unwrap() {
            if name != "__metadata__" {
                params += t["shape"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d.as_u64().unwrap())
                    .product::<u64>();
            }
        }
    }
    assert_eq!(params, 6_738_415_616);
    let st = s.stats();
    let moved: u64 = st
        .paths
        .iter()
        .filter(|(p, _)| p.contains("/resolve/"))
        .map(|(_, v)| v.bytes)
        .sum();
    assert!(moved < 1_000_000, "moved {moved} bytes");
    assert_eq!(c.stats().requests, 5);
    // A whole shard is refused from its Content-Length, before its body.
    let e = c
        .read_file(id, "main", "model-00002-of-00002.safetensors", 1 << 20)
        .await
        .unwrap_err();
    assert!(
        matches!(e, HubError::TooLarge { size: Some(s), .. } if s > 3_000_000_000),
        "{e:?}"
    );
    // Missing file: 404, NotFound.
    let e = c
        .read_range(id, "main", "nope.bin", 0..8)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
}

/// A server that ignores `Range` and answers 200 with a huge body: the
/// client keeps only the asked bytes and stops reading.
#[tokio::test]
async fn a_200_answer_to_a_range_request_is_read_only_up_to_the_range_end() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    const BODY: u64 = 512 * 1024 * 1024;
    let server = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = sock.read(&mut buf).await;
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {BODY}\r\n\r\n");
        sock.write_all(head.as_bytes()).await.unwrap();
        let chunk: Vec<u8> = (0..65536u32).map(|i| (i % 251) as u8).collect();
        let mut written = 0u64;
        while written < BODY {
            match sock.write_all(&chunk).await {
                Ok(()) => written += chunk.len() as u64,
                Err(_) => break,
            }
        }
        written
    });
    let c = HubClient::new(HubConfig {
        endpoint: format!("http://{addr}"),
        max_retries: 0,
        ..HubConfig::default()
    })
    .unwrap();
    let got = c
        .read_range("o/m", "main", "f.bin", 100..110)
        .await
        .unwrap();
    let expected: Vec<u8> = (100..110u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(&got[..], &expected[..]);
    drop(c);
    let written = server.await.unwrap();
    assert!(written < BODY / 4, "server wrote {written} bytes");
}

#[tokio::test]
async fn the_token_never_appears_in_errors_or_debug_output() {
    let s = sim(30, &[FaultKind::Status500], 1.0).await;
    let mut cfg = client(&s).config().clone();
    cfg.max_retries = 1;
    let c = HubClient::new(cfg.clone()).unwrap();
    let mut texts = vec![format!("{cfg:?}"), format!("{c:?}")];
    let errors = [
        c.list_page(&PageCursor::First(ListQuery::default()))
            .await
            .unwrap_err(),
        c.model_info("a/b", None, &[]).await.unwrap_err(),
        c.read_range("a/b", "main", "x", 0..4).await.unwrap_err(),
        c.list_page(&PageCursor::Next("not a url".into()))
            .await
            .unwrap_err(),
    ];
    // Connection refused: a port nobody listens on.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let c2 = HubClient::new(HubConfig {
        endpoint: format!("http://{dead}"),
        max_retries: 1,
        backoff_base: Duration::from_millis(1),
        ..cfg.clone()
    })
    .unwrap();
    let refused = c2.model_info("a/b", None, &[]).await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Remote);
    assert!(refused.hint().is_some());
    for e in errors.iter().chain([&refused]) {
        texts.push(format!("{e}"));
        texts.push(format!("{e:?}"));
        let mut src: Option<&dyn std::error::Error> = std::error::Error::source(e);
        while let Some(x) = src {
            texts.push(x.to_string());
            src = x.source();
        }
    }
    for t in &texts {
        assert!(
            !t.contains(SENTINEL) && !t.contains("SENTINEL"),
            "token leaked: {t}"
        );
    }
    // The token was really sent (so the check above is meaningful).
    assert!(s.stats().authorized_requests > 0);
    // A token with a newline is refused without echoing it.
    let e = HubClient::new(HubConfig {
        token: Some(format!("{SENTINEL}\n")),
        ..HubConfig::default()
    })
    .unwrap_err();
    assert!(!format!("{e} {e:?}").contains("SENTINEL"));
}
