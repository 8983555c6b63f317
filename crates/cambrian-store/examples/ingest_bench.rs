//! Benchmark driver for `bench/ingest`: times the store's two write paths on
//! N realistic [`ModelRecord`]s (default 200,000), excluding HTTP and JSON
//! parsing:
//!
//! * `sync`: `begin_snapshot`, `append_batch` in pages of 1000 records with a
//!   checkpoint each (what `cambrian sync` does per listing page),
//!   `complete_snapshot`;
//! * `import`: one `import_snapshot` call (what `cambrian import` does per file).
//!
//! The clock runs only inside store calls (`Store::open` included); for
//! `sync`, each page is cloned just before its `append_batch`, outside the
//! clock, as a freshly parsed page would be.
//!
//! Each path runs twice on its own fresh store: day 1 (every model new) and
//! day 2 in a newly opened `Store` (a new process, as the next day's sync
//! would be) with grown counters, a shuffled listing order, 0.5 % of models
//! replaced by new ones and 3 % with a changed detail (new sha + lastModified).
//! The record population follows the shape of hubsim's generated population
//! (8-12 tags incl. `base_model:*` and `license:*`, sha, dates, siblings,
//! safetensors parameters for most).
//!
//! `cargo run --release -p cambrian-store --example ingest_bench -- DIR [N] [PAGE] [sync|import]`
//! (env `INGEST_DRIFT`: how far day 2's listing order drifts from day 1's)
//! Prints `key=value` lines: records/s (wall) per path and day.

use cambrian_store::{ImportOutcome, NewSnapshot, Store};

/// The allocator of the `cambrian` binary (mimalloc), so that the store is
/// measured as the product runs it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use cambrian_types::{ModelRecord, SafetensorsInfo};
use chrono::{Duration, TimeZone, Utc};
use std::time::Instant;

mod bench_util;
use bench_util::{Rng, cpu, proc_cpu};

const PIPELINES: &[&str] = bench_util::PIPELINES.split_at(21).0;
const LIBRARIES: &[&str] = bench_util::LIBRARIES.split_at(15).0;
const MODEL_TYPES: &[&str] = &[
    "llama", "qwen2", "mistral", "gemma2", "bert", "t5", "whisper", "clip", "phi3", "gpt2",
];
const EXTRA_TAGS: &[&str] = &[
    "conversational",
    "text-generation-inference",
    "endpoints_compatible",
    "autotrain_compatible",
    "4-bit",
    "gguf",
    "lora",
    "trl",
    "sft",
    "generated_from_trainer",
];
const LANGS: &[&str] = &[
    "en",
    "zh",
    "fr",
    "de",
    "es",
    "ja",
    "ko",
    "ru",
    "multilingual",
];
const LICENSES: &[&str] = &[
    "apache-2.0",
    "mit",
    "llama3.1",
    "other",
    "cc-by-nc-4.0",
    "gemma",
    "openrail",
    "",
];
const BASES: &[&str] = bench_util::BASES.split_at(11).0;

fn sha(r: &mut Rng) -> String {
    format!("{:016x}{:016x}{:08x}", r.next(), r.next(), r.next() as u32)
}

fn new_model(r: &mut Rng, n: u64) -> ModelRecord {
    let author = format!("org{}", r.below(40_000));
    let pipeline = (r.below(10) < 9).then(|| PIPELINES[r.skewed(PIPELINES.len())].to_string());
    let library = (r.below(10) < 8).then(|| LIBRARIES[r.skewed(LIBRARIES.len())].to_string());
    let model_type = MODEL_TYPES[r.skewed(MODEL_TYPES.len())];
    let license = LICENSES[r.below(LICENSES.len() as u64) as usize];
    let base = (r.below(10) < 4).then(|| BASES[r.skewed(BASES.len())].to_string());
    let mut tags = Vec::with_capacity(12);
    if let Some(l) = &library {
        tags.push(l.clone());
    }
    let st = r.below(10) < 7;
    if st {
        tags.push("safetensors".into());
    }
    tags.push(model_type.into());
    if let Some(p) = &pipeline {
        tags.push(p.clone());
    }
    for t in EXTRA_TAGS {
        if r.below(5) == 0 {
            tags.push((*t).into());
        }
    }
    tags.push(LANGS[r.skewed(LANGS.len())].into());
    if let Some(b) = &base {
        tags.push(format!("base_model:{b}"));
        tags.push(format!("base_model:finetune:{b}"));
    }
    if !license.is_empty() {
        tags.push(format!("license:{license}"));
    }
    tags.push("region:us".into());
    let created = Utc.with_ymd_and_hms(2023, 1, 1, 0, 0, 0).unwrap()
        + Duration::seconds(r.below(90_000_000) as i64);
    let pop = (r.f().powi(6) * 3000.0) as u64;
    let params = 100_000_000 + r.below(8_000_000_000);
    let mut siblings = vec![
        ".gitattributes".to_string(),
        "README.md".to_string(),
        "config.json".to_string(),
    ];
    if st {
        siblings.push("model.safetensors".into());
    }
    if library.as_deref() == Some("transformers") {
        siblings.push("tokenizer.json".into());
        siblings.push("tokenizer_config.json".into());
    }
    ModelRecord {
        id: format!("{author}/model-{n}"),
        author: Some(author),
        sha: Some(sha(r)),
        created_at: Some(created),
        last_modified: Some(created + Duration::seconds(r.below(5_000_000) as i64)),
        downloads_30d: Some(pop * 90 + r.below(500)),
        downloads_all_time: Some(pop * 900 + r.below(20_000)),
        likes: Some(pop + r.below(3)),
        trending_score: Some((pop as f64 / 10.0).floor()),
        pipeline_tag: pipeline,
        library_name: library,
        tags,
        license: (!license.is_empty()).then(|| license.to_string()),
        gated: Some("false".into()),
        safetensors: st.then(|| SafetensorsInfo {
            parameters: [("BF16".to_string(), params)].into_iter().collect(),
            total: params,
        }),
        architectures: vec![format!("{}ForCausalLM", model_type)],
        model_type: Some(model_type.into()),
        base_models: base.into_iter().collect(),
        siblings,
        ..Default::default()
    }
}

/// Day 2: counters grow, 0.5 % replaced, 3 % new sha/lastModified, order
/// shuffled a little (each record swapped with one up to `INGEST_DRIFT`,
/// default 50, places later; 200000 ≈ a listing in no relation to the keys).
fn next_day(r: &mut Rng, day1: &[ModelRecord], next_id: &mut u64) -> Vec<ModelRecord> {
    let mut out: Vec<ModelRecord> = day1
        .iter()
        .map(|m| {
            if r.below(200) == 0 {
                *next_id += 1;
                return new_model(r, *next_id);
            }
            let mut m = m.clone();
            m.likes = m.likes.map(|x| x + r.below(3));
            m.downloads_30d = m.downloads_30d.map(|x| x + r.below(100));
            m.downloads_all_time = m.downloads_all_time.map(|x| x + r.below(1000));
            if r.below(100) < 3 {
                m.sha = Some(sha(r));
                m.last_modified = m.last_modified.map(|t| t + Duration::hours(20));
            }
            m
        })
        .collect();
    // Local shuffle: swap neighbours within a window of 50 (listing order drifts).
    let w = std::env::var("SHUF")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50u64);
    for i in 0..out.len() {
        let j = (i + r.below(w) as usize).min(out.len() - 1);
        out.swap(i, j);
    }
    out
}

/// One sync: the clock (wall and CPU) runs only inside store calls. Each
/// page is cloned just before its `append_batch`, outside the clock: in
/// `cambrian sync` the page was just parsed from HTTP, so its records are
/// fresh in memory, not 200 MB-old as in a pre-generated vector.
/// Wall and CPU time accumulated over the calls it runs.
#[derive(Default)]
struct Clock {
    wall: f64,
    cpu: f64,
}

impl Clock {
    fn run<T>(&mut self, f: impl FnOnce() -> T) -> T {
        let (t, c) = (Instant::now(), cpu());
        let out = f();
        self.wall += t.elapsed().as_secs_f64();
        self.cpu += cpu() - c;
        out
    }
}

fn sync_day(dir: &std::path::Path, recs: &[ModelRecord], page: usize, day: i64) -> (f64, f64, f64) {
    let mut clock = Clock::default();
    // INGEST_NO_CLONE=1: hand the pre-generated records to append_batch directly.
    let no_clone = std::env::var_os("INGEST_NO_CLONE").is_some();
    let (p0, mut clone_cpu) = (proc_cpu(), 0.0);
    let mut store = clock.run(|| Store::open(dir).expect("open store"));
    let opened = clock.wall;
    let taken = Utc.with_ymd_and_hms(2026, 8, 7, 6, 0, 0).unwrap() + Duration::days(day);
    let snap = NewSnapshot {
        taken_at: taken,
        source: "hub:http://127.0.0.1:8080".into(),
        query: "sort=trendingScore&limit=1000".into(),
    };
    let id = clock.run(|| store.begin_snapshot(&snap).expect("begin"));
    let mut first = 0.0;
    for (i, chunk) in recs.chunks(page).enumerate() {
        let cp = format!(
            "http://127.0.0.1:8080/api/models?sort=trendingScore&limit=1000&cursor=page-{}",
            i + 1
        );
        if no_clone {
            clock.run(|| store.append_batch(id, chunk, Some(&cp)).expect("append"));
        } else {
            let c = cpu();
            let fresh: Vec<ModelRecord> = chunk.to_vec();
            clone_cpu += cpu() - c;
            clock.run(|| store.append_batch(id, &fresh, Some(&cp)).expect("append"));
            drop(fresh);
        }
        if i == 0 {
            first = clock.cpu;
        }
    }
    let before_complete = clock.cpu;
    let info = clock.run(|| store.complete_snapshot(id).expect("complete"));
    let before_close = clock.cpu;
    // Closing checkpoints the WAL into the database file: work the ingest caused, so it is timed.
    clock.run(|| drop(store));
    // All threads' CPU over the day, minus the (main-thread) cloning outside the clock.
    let all_threads = proc_cpu() - p0 - clone_cpu;
    eprintln!(
        "  sync day {day}: main-thread CPU: open+begin+first batch (incl. loading the model dictionary) {first:.3} s, other batches {:.3} s, completion {:.3} s, close {:.3} s; all threads {all_threads:.2} s",
        before_complete - first,
        before_close - before_complete,
        clock.cpu - before_close
    );
    assert_eq!(info.models as usize, recs.len());
    (clock.wall, opened, all_threads)
}

fn import_day(dir: &std::path::Path, recs: &[ModelRecord], day: i64) -> (f64, f64, f64) {
    let (t0, c0) = (Instant::now(), proc_cpu());
    let mut store = Store::open(dir).expect("open store");
    let opened = t0.elapsed().as_secs_f64();
    let taken = Utc.with_ymd_and_hms(2026, 8, 7, 6, 0, 0).unwrap() + Duration::days(day);
    let out = store
        .import_snapshot(
            &NewSnapshot {
                taken_at: taken,
                source: "import:bench".into(),
                query: "sort=trendingScore".into(),
            },
            recs,
        )
        .expect("import");
    assert!(matches!(out, ImportOutcome::Imported(ref i) if i.models as usize == recs.len()));
    // Closing (WAL checkpoint) is timed, as for the sync.
    drop(store);
    (t0.elapsed().as_secs_f64(), opened, proc_cpu() - c0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(dir) = args.get(1).map(std::path::PathBuf::from) else {
        eprintln!("usage: ingest_bench DIR [N] [PAGE]");
        std::process::exit(2);
    };
    let n: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(200_000);
    let page: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let only = args.get(4).cloned().unwrap_or_default();
    let mut rng = Rng(0x001A_6E57);
    let t = Instant::now();
    let day1: Vec<ModelRecord> = (1..=n).map(|i| new_model(&mut rng, i)).collect();
    let mut next_id = n;
    let day2 = next_day(&mut rng, &day1, &mut next_id);
    eprintln!(
        "generated 2 x {n} records in {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let avg_tags = day1.iter().map(|m| m.tags.len()).sum::<usize>() as f64 / n as f64;
    println!("records={n} page={page} avg_tags={avg_tags:.1}");
    for (path, run) in [("sync", 0), ("import", 1)] {
        if !only.is_empty() && only != path {
            continue;
        }
        let d = dir.join(path);
        let _ = std::fs::remove_dir_all(&d);
        for (day, recs) in [(1i64, &day1), (2, &day2)] {
            let (secs, opened, cpu_s) = if run == 0 {
                sync_day(&d, recs, page, day)
            } else {
                import_day(&d, recs, day)
            };
            println!("{path}_day{day}_seconds={secs:.3} (open {opened:.3})");
            println!("{path}_day{day}_cpu_seconds={cpu_s:.3} (all threads, 10 ms resolution)");
            println!("{path}_day{day}_records_per_cpu_s={:.0}", n as f64 / cpu_s);
            println!("{path}_day{day}_records_per_s={:.0}", n as f64 / secs);
            eprintln!(
                "t={:.3} s after start: {path} day {day} done",
                t.elapsed().as_secs_f64()
            );
        }
        let size: u64 = std::fs::read_dir(&d)
            .map(|r| {
                r.filter_map(|e| e.ok()?.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0);
        println!("{path}_store_bytes={size}");
    }
}
