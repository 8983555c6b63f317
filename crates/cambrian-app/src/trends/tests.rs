//! Trend reports over the real archives in `testdata/trends/` (expected
//! figures computed independently by `testdata/trends/expected.py` from the
//! raw files) and over small synthetic stores for the edge cases.

use super::*;
use cambrian_store::{ImportOutcome, NewSnapshot};
use cambrian_types::ModelRecord;
use chrono::TimeZone;
use std::path::{Path, PathBuf};

/// A directory under the system temp dir, removed on drop (the app crate has
/// no `tempfile` dev-dependency).
struct TempDir(PathBuf);
impl TempDir {
    fn new() -> TempDir {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let p = std::env::temp_dir().join(format!(
            "cambrian-trends-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/trends")
}

fn imported(parts: &[&str]) -> (TempDir, Store) {
    let dir = TempDir::new();
    let mut store = Store::open(dir.path()).unwrap();
    for p in parts {
        crate::tracking::import_path(&mut store, &testdata().join(p)).unwrap();
    }
    (dir, store)
}

fn req(dir: &Path) -> TrendsRequest {
    TrendsRequest::new(dir.to_path_buf())
}

fn share_of<'a>(r: &'a TrendsReport, cat: &str) -> &'a CategoryTrend {
    r.categories
        .iter()
        .find(|c| c.category.as_deref() == Some(cat))
        .unwrap()
}

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-9, "{a} != {b}");
}

#[test]
fn daily_top_text_generation_share_and_likes_gainers_match_the_raw_files() {
    let (dir, store) = imported(&["daily_top_by_likes_and_downloads"]);
    let r = report(&store, &req(dir.path())).unwrap();
    assert_eq!(r.snapshots.len(), 16);
    assert_eq!(r.from.taken_at.date_naive().to_string(), "2026-08-07");
    assert_eq!(r.to.taken_at.date_naive().to_string(), "2026-08-22");
    assert_eq!((r.from.models, r.to.models), (531, 529));
    // Presence: 143 of 531 on 08-07, 142 of 529 on 08-22.
    let tg = share_of(&r, "text-generation");
    close(tg.from_share.unwrap(), 143.0 / 531.0);
    close(tg.to_share.unwrap(), 142.0 / 529.0);
    close(
        tg.change_pp.unwrap(),
        (142.0 / 529.0 - 143.0 / 531.0) * 100.0,
    );
    close(
        tg.relative_change.unwrap(),
        (142.0 / 529.0) / (143.0 / 531.0) - 1.0,
    );
    // Likes-weighted: 237796 / 704621 on 08-07.
    let r_likes = report(
        &store,
        &TrendsRequest {
            weight: Weight::Likes,
            ..req(dir.path())
        },
    )
    .unwrap();
    close(
        share_of(&r_likes, "text-generation").from_share.unwrap(),
        237796.0 / 704621.0,
    );
    close(
        share_of(&r_likes, "text-generation").to_share.unwrap(),
        238925.0 / 729077.0,
    );
    // Library dimension: transformers 313/531, none 42/531.
    let r_lib = report(
        &store,
        &TrendsRequest {
            dimension: Dimension::Library,
            ..req(dir.path())
        },
    )
    .unwrap();
    close(
        share_of(&r_lib, "transformers").from_share.unwrap(),
        313.0 / 531.0,
    );
    let none = r_lib
        .categories
        .iter()
        .find(|c| c.category.is_none())
        .unwrap();
    close(none.from_share.unwrap(), 42.0 / 531.0);
    // Movers.
    let gains: Vec<(&str, f64)> = r
        .movers
        .likes_gained
        .iter()
        .take(5)
        .map(|m| (m.model.as_str(), m.value))
        .collect();
    assert_eq!(
        gains,
        [
            ("MiniMaxAI/MiniMax-H3", 1429.0),
            ("deepseek-ai/DeepSeek-V4-Flash-0731", 900.0),
            ("moonshotai/Kimi-K3", 664.0),
            ("Comfy-Org/MiniMax-H3", 592.0),
            (
                "DavidAU/Qwen3.6-27B-Fable-Fusion-711-Uncensored-Heretic-NM-DAU-NEO-MAX-MTP-GGUF",
                520.0
            ),
        ]
    );
    assert_eq!(
        (r.movers.new_entries_total, r.movers.dropped_total),
        (38, 40)
    );
    let climb: Vec<(&str, f64)> = r
        .movers
        .rank_up
        .iter()
        .take(3)
        .map(|m| (m.model.as_str(), m.value))
        .collect();
    assert_eq!(
        climb,
        [
            ("Comfy-Org/MiniMax-H3", 207.0),
            ("google-t5/t5-base", 149.0),
            ("google/siglip2-giant-opt-patch16-384", 101.0)
        ]
    );
    // Honest downloads: this archive has no downloadsAllTime, so no interval
    // figure at all; the rolling 30-day figures are listed as such.
    assert!(r.movers.downloads_interval.is_empty());
    assert_eq!(r.movers.with_all_time_both, 0);
    let roll: Vec<(&str, f64)> = r
        .movers
        .downloads_rolling_30d
        .iter()
        .take(3)
        .map(|m| (m.model.as_str(), m.value))
        .collect();
    assert_eq!(
        roll,
        [
            ("sentence-transformers/all-MiniLM-L6-v2", 257827147.0),
            ("google-bert/bert-base-uncased", 102706264.0),
            ("cross-encoder/ms-marco-MiniLM-L6-v2", 88610759.0)
        ]
    );
    assert!(r.method.iter().any(|m| m.contains("rolling 30-day")));
    // Lines: one per top gainer, one point per snapshot.
    assert_eq!(r.lines.len(), 5);
    assert!(r.lines.iter().all(|l| l.likes.len() == 16));
}

#[test]
fn api_trending_weekly_bucket_is_the_mean_of_daily_shares() {
    let (dir, store) = imported(&["api_trending_daily", "daily_top_by_likes_and_downloads"]);
    // Default series: the one with most rows (daily top); ask for trending explicitly.
    let r = report(&store, &req(dir.path())).unwrap();
    assert_eq!(r.series.source, crate::tracking::archive::SOURCE_DAILY_TOP);
    assert_eq!(r.available.len(), 2);
    let q = TrendsRequest {
        source: Some(crate::tracking::archive::SOURCE_API_TRENDING.into()),
        bucket: Bucket::Week,
        ..req(dir.path())
    };
    let r = report(&store, &q).unwrap();
    assert_eq!(r.snapshots.len(), 143);
    let w = r
        .buckets
        .iter()
        .position(|b| b.label == "2026-W32")
        .unwrap();
    assert_eq!(r.buckets[w].snapshots, 4); // 08-03, 08-04, 08-05, 08-07
    close(share_of(&r, "image-text-to-text").shares[w].unwrap(), 0.45);
    let bad = TrendsRequest {
        source: Some("nope".into()),
        ..req(dir.path())
    };
    let err = report(&store, &bad).unwrap_err();
    assert_eq!(err.kind, cambrian_types::ErrorKind::NotFound);
    assert!(err.hint.unwrap().contains("archive:api-trending"));
}

#[test]
fn rank_only_feed_gives_rank_movers_and_no_likes() {
    let (dir, store) = imported(&["trending_page_rank_feed_2025.jsonl"]);
    let r = report(&store, &req(dir.path())).unwrap();
    assert!(r.movers.likes_gained.is_empty());
    assert!(r.movers.downloads_interval.is_empty() && r.movers.downloads_rolling_30d.is_empty());
    assert!(!r.movers.rank_up.is_empty() || !r.movers.new_entries.is_empty());
    // No likes: likes weight yields no shares at all (not zeros).
    let rl = report(
        &store,
        &TrendsRequest {
            weight: Weight::Likes,
            ..req(dir.path())
        },
    )
    .unwrap();
    assert!(rl.buckets.iter().all(|b| b.total.is_none()));
}

// ---- synthetic edge cases -------------------------------------------------

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, day, hour, 0, 0).unwrap()
}

fn m(id: &str, likes: u64, tag: Option<&str>) -> ModelRecord {
    ModelRecord {
        id: id.into(),
        likes: Some(likes),
        downloads_30d: Some(likes * 100),
        pipeline_tag: tag.map(String::from),
        ..Default::default()
    }
}

fn put(store: &mut Store, day: u32, hour: u32, models: &[ModelRecord]) {
    let s = NewSnapshot {
        taken_at: at(day, hour),
        source: "syn".into(),
        query: "q".into(),
    };
    assert!(matches!(
        store.import_snapshot(&s, models).unwrap(),
        ImportOutcome::Imported(_)
    ));
}

#[test]
fn edge_cases_disappear_return_changed_tag_missing_tag_empty_out_of_order_same_day() {
    let dir = TempDir::new();
    let mut s = Store::open(dir.path()).unwrap();
    // Imported out of date order; day 3 has two snapshots; day 4 is empty.
    put(
        &mut s,
        5,
        12,
        &[
            m("a", 50, Some("text-generation")),
            m("b", 30, Some("text-to-image")),
            m("c", 8, None),
        ],
    );
    put(
        &mut s,
        1,
        12,
        &[
            m("a", 10, Some("text-generation")),
            m("b", 20, Some("text-generation")),
            m("c", 5, None),
        ],
    );
    put(&mut s, 4, 12, &[]);
    put(
        &mut s,
        3,
        6,
        &[m("a", 30, Some("text-generation")), m("c", 6, None)],
    ); // b disappears
    put(
        &mut s,
        3,
        18,
        &[
            m("a", 31, Some("text-generation")),
            m("c", 7, None),
            m("d", 1, Some("text-to-image")),
        ],
    );
    put(
        &mut s,
        2,
        12,
        &[
            m("a", 20, Some("text-generation")),
            m("b", 25, Some("text-generation")),
            m("c", 5, None),
        ],
    );
    let r = report(&s, &req(dir.path())).unwrap();
    let days: Vec<String> = r
        .snapshots
        .iter()
        .map(|x| x.taken_at.format("%d/%H").to_string())
        .collect();
    assert_eq!(days, ["01/12", "02/12", "03/06", "03/18", "04/12", "05/12"]);
    // Per snapshot: the empty snapshot has no share (a gap), never a zero.
    let tg = share_of(&r, "text-generation");
    assert_eq!(tg.shares.len(), 6);
    close(tg.shares[0].unwrap(), 2.0 / 3.0);
    close(tg.shares[2].unwrap(), 0.5);
    close(tg.shares[3].unwrap(), 1.0 / 3.0);
    assert_eq!(tg.shares[4], None);
    assert_eq!(r.buckets[4].empty_snapshots, 1);
    // b changed its pipeline_tag (text-generation -> text-to-image): it counts where it is each day.
    close(tg.shares[5].unwrap(), 1.0 / 3.0);
    close(share_of(&r, "text-to-image").shares[5].unwrap(), 1.0 / 3.0);
    // Missing tag: its own "(none)" category.
    let none = r.categories.iter().find(|c| c.category.is_none()).unwrap();
    close(none.shares[0].unwrap(), 1.0 / 3.0);
    // Change first -> last: text-generation 2/3 -> 1/3.
    close(tg.change_pp.unwrap(), (1.0 / 3.0 - 2.0 / 3.0) * 100.0);
    close(tg.relative_change.unwrap(), -0.5);
    // text-to-image is absent on day 1 (share 0 there): relative change undefined.
    let tti = share_of(&r, "text-to-image");
    assert_eq!(tti.from_share, Some(0.0));
    assert_eq!(tti.relative_change, None);
    // Day buckets: the two snapshots of day 3 are averaged.
    let rd = report(
        &s,
        &TrendsRequest {
            bucket: Bucket::Day,
            ..req(dir.path())
        },
    )
    .unwrap();
    assert_eq!(rd.buckets.len(), 5);
    assert_eq!(rd.buckets[2].snapshots, 2);
    close(
        share_of(&rd, "text-generation").shares[2].unwrap(),
        (0.5 + 1.0 / 3.0) / 2.0,
    );
    assert_eq!(share_of(&rd, "text-generation").shares[3], None);
    // b disappeared and came back: present at both ends, so a mover, and its
    // history line has gaps where it was absent.
    let b = r
        .movers
        .likes_gained
        .iter()
        .find(|x| x.model == "b")
        .unwrap();
    assert_eq!(b.value, 10.0);
    assert_eq!(r.movers.likes_gained[0].model, "a");
    let line = r.lines.iter().find(|l| l.model == "b").unwrap();
    assert_eq!(
        line.likes,
        [Some(20.0), Some(25.0), None, None, None, Some(30.0)]
    );
    // d is new at the end? No: d appeared on day 3 and left again -> neither new nor dropped.
    assert_eq!((r.movers.new_entries_total, r.movers.dropped_total), (0, 0));
    // A range that ends on day 3 sees d as new.
    let r3 = report(
        &s,
        &TrendsRequest {
            to: NaiveDate::from_ymd_opt(2026, 1, 3),
            ..req(dir.path())
        },
    )
    .unwrap();
    assert_eq!(
        r3.movers
            .new_entries
            .iter()
            .map(|x| x.model.as_str())
            .collect::<Vec<_>>(),
        ["d"]
    );
    assert_eq!(
        r3.movers
            .dropped
            .iter()
            .map(|x| x.model.as_str())
            .collect::<Vec<_>>(),
        ["b"]
    );
    // An inverted range is a usage error; an empty range is "not found".
    let e = report(
        &s,
        &TrendsRequest {
            from: NaiveDate::from_ymd_opt(2026, 1, 4),
            to: NaiveDate::from_ymd_opt(2026, 1, 2),
            ..req(dir.path())
        },
    )
    .unwrap_err();
    assert_eq!(e.kind, cambrian_types::ErrorKind::Usage);
    let e = report(
        &s,
        &TrendsRequest {
            from: NaiveDate::from_ymd_opt(2027, 1, 1),
            ..req(dir.path())
        },
    )
    .unwrap_err();
    assert_eq!(e.kind, cambrian_types::ErrorKind::NotFound);
}

#[test]
fn downloads_all_time_difference_and_rolling_figure_are_never_mixed() {
    let dir = TempDir::new();
    let mut s = Store::open(dir.path()).unwrap();
    let with = |id: &str, all: Option<u64>, d30: u64| ModelRecord {
        id: id.into(),
        downloads_all_time: all,
        downloads_30d: Some(d30),
        ..Default::default()
    };
    put(
        &mut s,
        1,
        0,
        &[
            with("x", Some(1000), 500),
            with("y", None, 900),
            with("z", Some(10), 5),
        ],
    );
    put(
        &mut s,
        2,
        0,
        &[
            with("x", Some(1600), 700),
            with("y", Some(5000), 990_000),
            with("z", Some(30), 6),
        ],
    );
    let r = report(&s, &req(dir.path())).unwrap();
    let interval: Vec<(&str, f64)> = r
        .movers
        .downloads_interval
        .iter()
        .map(|m| (m.model.as_str(), m.value))
        .collect();
    assert_eq!(interval, [("x", 600.0), ("z", 20.0)]);
    // y lacks downloadsAllTime at `from`: only its rolling 30-day figure, in its own list.
    let rolling: Vec<(&str, f64)> = r
        .movers
        .downloads_rolling_30d
        .iter()
        .map(|m| (m.model.as_str(), m.value))
        .collect();
    assert_eq!(rolling, [("y", 990_000.0)]);
    assert_eq!((r.movers.with_all_time_both, r.movers.rolling_only), (2, 1));
}

#[test]
fn missing_store_is_not_found_with_a_hint() {
    let dir = TempDir::new();
    let e = trends(&req(&dir.path().join("nothing"))).unwrap_err();
    assert_eq!(e.kind, cambrian_types::ErrorKind::NotFound);
    assert!(e.hint.is_some());
}

/// Render the real daily report to HTML and open it in headless Chromium:
/// fails on console errors or an empty chart. The screenshot is kept under
/// the target directory (`trends-artifacts/`).
#[test]
fn html_report_renders_in_headless_chromium() {
    let (dir, store) = imported(&["daily_top_by_likes_and_downloads"]);
    let r = report(
        &store,
        &TrendsRequest {
            bucket: Bucket::Day,
            ..req(dir.path())
        },
    )
    .unwrap();
    let html = html::render(&r);
    // Structural checks that do not need a browser.
    assert!(
        html.contains("id=\"chart-share\"")
            && html.contains("id=\"chart-likes\"")
            && html.contains("id=\"chart-lines\"")
    );
    assert!(
        !html.contains("src=") && !html.contains("href=") && !html.contains("url("),
        "no external resources"
    );
    assert!(!html.contains("<script"), "no script needed");
    let artefacts = artefacts_dir();
    std::fs::create_dir_all(&artefacts).unwrap();
    let page = artefacts.join("trends-daily.html");
    std::fs::write(&page, &html).unwrap();
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    let Some(chromium) = chromium else {
        if std::env::var_os("CI").is_some() {
            panic!(
                "chromium is required in CI (apt-get install chromium) to check the HTML report"
            );
        }
        eprintln!(
            "\n\n*** SKIPPED html_report_renders_in_headless_chromium: /usr/bin/chromium not found (set CI=1 to make this a failure) ***\n\n"
        );
        return;
    };
    let profile = TempDir::new();
    let shot = artefacts.join("trends-daily.png");
    let _ = std::fs::remove_file(&shot);
    let url = format!("file://{}", page.display());
    let common = |extra: &[String]| {
        let mut c = std::process::Command::new(&chromium);
        c.args(cambrian_types::html::HEADLESS_CHROMIUM_ARGS)
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(extra)
            .arg(&url);
        c.output().unwrap()
    };
    let dom = common(&["--dump-dom".to_string()]);
    assert!(
        dom.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    let stderr = String::from_utf8_lossy(&dom.stderr);
    let console_errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
        .collect();
    assert!(
        console_errors.is_empty(),
        "console errors: {console_errors:?}"
    );
    // The charts survived parsing and are not empty.
    let layers = attr_num(&dom_text, "chart-share", "data-layers");
    let points = attr_num(&dom_text, "chart-share", "data-points");
    assert!(
        layers >= 5 && points == 16,
        "share chart: {layers} layers, {points} points"
    );
    assert!(dom_text.matches("class=\"layer\"").count() >= 5);
    assert!(dom_text.matches("class=\"bar\"").count() >= 5);
    assert!(dom_text.matches("class=\"line\"").count() == 5);
    let out = common(&[
        format!("--screenshot={}", shot.display()),
        "--window-size=1200,2400".into(),
    ]);
    assert!(
        out.status.success(),
        "screenshot failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "screenshot too small ({} bytes): blank page?",
        png.len()
    );
}

fn attr_num(dom: &str, id: &str, attr: &str) -> usize {
    let at = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in the rendered DOM"));
    let tag_end = dom[at..].find('>').map(|e| at + e).unwrap();
    let tag_start = dom[..at].rfind('<').unwrap();
    let tag = &dom[tag_start..tag_end];
    let k = tag
        .find(&format!("{attr}=\""))
        .unwrap_or_else(|| panic!("no {attr} on #{id}"));
    tag[k + attr.len() + 2..]
        .split('"')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// `<target>/trends-artifacts`, found from the test binary's location (`<target>/debug/deps/...`).
fn artefacts_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors()
        .nth(3)
        .map(|t| t.join("trends-artifacts"))
        .unwrap_or_else(|| std::env::temp_dir().join("trends-artifacts"))
}
