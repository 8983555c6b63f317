//! Benchmark driver for `bench/trends`: generates N daily snapshots of M
//! models (seeded, with churn), ingests them through the store's bulk writer,
//! optionally writes the same rows as CSV (for the DuckDB peer), then times
//! the category-share-per-day and top-movers queries.
//!
//! `cargo run --release -p cambrian-store --example trends_bench -- DIR DAYS MODELS [CSV_DIR]`
//! Prints `key=value` lines on stdout.

use cambrian_store::{Dimension, ModelKey, NewSnapshot, Store};
use cambrian_types::ModelRecord;
use chrono::{Duration, TimeZone, Utc};
use std::collections::HashMap;
use std::io::Write;
use std::time::Instant;

mod bench_util;
use bench_util::{BASES, LIBRARIES, PIPELINES, Rng, cpu, proc_cpu};

/// Skewed index: small indices much more likely (Zipf-ish).
fn skewed(r: &mut Rng, n: usize) -> usize {
    let u = r.f();
    ((u * u * u) * n as f64) as usize % n
}

struct Model {
    id: String,
    pipeline: Option<usize>,
    library: Option<usize>,
    base: Option<usize>,
    likes: u64,
    all_time: u64,
    rate: u64, // downloads per day
    tags: Vec<String>,
}

fn new_model(r: &mut Rng, n: u64) -> Model {
    let pipeline = if r.below(10) < 9 {
        Some(skewed(r, PIPELINES.len()))
    } else {
        None
    };
    let library = if r.below(10) < 8 {
        Some(skewed(r, LIBRARIES.len()))
    } else {
        None
    };
    let base = if r.below(10) < 3 {
        Some(skewed(r, BASES.len()))
    } else {
        None
    };
    let mut tags = vec![];
    if let Some(l) = library {
        tags.push(LIBRARIES[l].to_string());
    }
    if let Some(b) = base {
        tags.push(format!("base_model:{}", BASES[b]));
    }
    tags.push(format!(
        "license:{}",
        ["apache-2.0", "mit", "llama3.1", "other"][r.below(4) as usize]
    ));
    let pop = (r.f().powi(6) * 2000.0) as u64;
    Model {
        id: format!("org{}/model-{n}", r.below(20000)),
        pipeline,
        library,
        base,
        likes: pop,
        all_time: pop * 500 + r.below(10000),
        rate: pop * 3 + r.below(200),
        tags,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: trends_bench DIR DAYS MODELS [CSV_DIR]");
        std::process::exit(2);
    }
    let dir = std::path::PathBuf::from(&args[1]);
    let days: u32 = args[2].parse().expect("DAYS");
    let n: u64 = args[3].parse().expect("MODELS");
    let csv_dir = args.get(4).map(std::path::PathBuf::from);
    if days == 0 {
        // Query-only mode: time the queries over an existing store.
        time_queries(&dir);
        return;
    }
    let mut store = Store::open(&dir).expect("open store");
    let mut rng = Rng(0x5EED_CAFE);
    let mut next_id = 0u64;
    let mut pop: Vec<Model> = (0..n)
        .map(|_| {
            next_id += 1;
            new_model(&mut rng, next_id)
        })
        .collect();
    let start = Utc.with_ymd_and_hms(2025, 1, 1, 6, 0, 0).unwrap();
    let mut ingest_secs = 0.0;
    let mut ingest_cpu = 0.0;
    let mut rows_total = 0u64;
    let t_all = Instant::now();
    let mut pipeline_code: HashMap<&str, usize> = HashMap::new();
    for (i, p) in PIPELINES.iter().enumerate() {
        pipeline_code.insert(p, i);
    }
    for day in 0..days {
        // Churn: ~0.5 % of models leave (replaced by new ones), counters grow.
        for m in pop.iter_mut() {
            if rng.below(200) == 0 {
                next_id += 1;
                *m = new_model(&mut rng, next_id);
                continue;
            }
            let g = rng.below(m.rate.max(1) * 2 + 1);
            m.all_time += g;
            if rng.below(100) < 3 {
                m.likes += 1 + m.likes / 200;
            }
            if rng.below(1000) == 0 {
                m.rate = m.rate * 3 + 50; // a model takes off
            }
        }
        // Listing order: by a noisy popularity (trending-like).
        let mut order: Vec<(u64, usize)> = pop
            .iter()
            .enumerate()
            .map(|(i, m)| (m.rate * 30 + rng.below(100), i))
            .collect();
        order.sort_unstable_by_key(|&(popularity, _)| std::cmp::Reverse(popularity));
        let recs: Vec<ModelRecord> = order
            .iter()
            .map(|&(_, i)| {
                let m = &pop[i];
                ModelRecord {
                    id: m.id.clone(),
                    author: m.id.split('/').next().map(String::from),
                    likes: Some(m.likes),
                    downloads_30d: Some(m.rate * 30),
                    downloads_all_time: Some(m.all_time),
                    pipeline_tag: m.pipeline.map(|p| PIPELINES[p].to_string()),
                    library_name: m.library.map(|l| LIBRARIES[l].to_string()),
                    tags: m.tags.clone(),
                    base_models: m
                        .base
                        .map(|b| vec![BASES[b].to_string()])
                        .unwrap_or_default(),
                    ..Default::default()
                }
            })
            .collect();
        let taken = start + Duration::days(day as i64);
        let t0 = Instant::now();
        let c0 = proc_cpu();
        let id = store
            .begin_snapshot(&NewSnapshot {
                taken_at: taken,
                source: "bench".into(),
                query: "sort=trendingScore".into(),
            })
            .expect("begin");
        // Pages of 1000 with a checkpoint each, as `cambrian sync` writes them.
        for (i, chunk) in recs.chunks(1000).enumerate() {
            store
                .append_batch(id, chunk, Some(&format!("cursor-{i}")))
                .expect("append");
        }
        store.complete_snapshot(id).expect("complete");
        ingest_secs += t0.elapsed().as_secs_f64();
        let day_cpu = proc_cpu() - c0;
        ingest_cpu += day_cpu;
        if std::env::var_os("BENCH_VERBOSE").is_some() {
            eprintln!(
                "day {day}: ingest cpu {day_cpu:.3} s, wall {:.3} s",
                t0.elapsed().as_secs_f64()
            );
        }
        rows_total += recs.len() as u64;
        if let Some(cd) = &csv_dir {
            std::fs::create_dir_all(cd).expect("csv dir");
            let f = std::fs::File::create(cd.join(format!("day-{day:03}.csv"))).expect("csv");
            let mut w = std::io::BufWriter::new(f);
            writeln!(
                w,
                "day,model,rank,likes,dl30,dlall,pipeline_tag,library_name,base_family"
            )
            .unwrap();
            for (rank, r) in recs.iter().enumerate() {
                let fam = cambrian_store::base_family(r).unwrap_or_default();
                writeln!(
                    w,
                    "{},{},{},{},{},{},{},{},{}",
                    day,
                    r.id,
                    rank + 1,
                    r.likes.unwrap_or(0),
                    r.downloads_30d.unwrap_or(0),
                    r.downloads_all_time.unwrap_or(0),
                    r.pipeline_tag.as_deref().unwrap_or(""),
                    r.library_name.as_deref().unwrap_or(""),
                    fam
                )
                .unwrap();
            }
        }
        if day % 30 == 0 {
            eprintln!(
                "day {day}: {rows_total} rows, ingest {:.0} rows/s",
                rows_total as f64 / ingest_secs
            );
        }
    }
    println!("rows={rows_total}");
    println!("ingest_seconds={ingest_secs:.3}");
    println!("ingest_rows_per_s={:.0}", rows_total as f64 / ingest_secs);
    println!("ingest_cpu_seconds={ingest_cpu:.3}");
    println!(
        "ingest_rows_per_cpu_s={:.0}",
        rows_total as f64 / ingest_cpu
    );
    println!("total_seconds={:.3}", t_all.elapsed().as_secs_f64());
    drop(store);
    time_queries(&dir);
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn time_queries(dir: &std::path::Path) {
    let store = Store::open(dir).expect("open");
    let (mut t1, mut t2, mut c1, mut c2) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..3 {
        let (a, b, ca, cb) = run_queries(&store);
        t1.push(a);
        t2.push(b);
        c1.push(ca);
        c2.push(cb);
    }
    println!("share_seconds={:.4}", median(t1));
    println!("movers_seconds={:.4}", median(t2));
    println!("share_cpu_seconds={:.4}", median(c1));
    println!("movers_cpu_seconds={:.4}", median(c2));
    let size: u64 = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
    println!("store_bytes={size}");
}

/// One run of both queries; prints the answers (same each run) and returns the times.
fn run_queries(store: &Store) -> (f64, f64, f64, f64) {
    static PRINTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let print = !PRINTED.swap(true, std::sync::atomic::Ordering::SeqCst);
    // Query 1: category share per day (pipeline_tag, by presence/likes/downloads).
    let t0 = Instant::now();
    let c0 = cpu();
    let pts = store
        .category_points(Dimension::PipelineTag)
        .expect("share");
    let mut totals: HashMap<i64, (u64, u64, u64)> = HashMap::new();
    for p in &pts {
        let e = totals.entry(p.snapshot.0).or_default();
        e.0 += p.models;
        e.1 += p.likes;
        e.2 += p.downloads_30d;
    }
    let mut shares = 0usize;
    let mut check = 0.0;
    for p in &pts {
        let tot = totals[&p.snapshot.0];
        check += p.models as f64 / tot.0 as f64 + p.likes as f64 / tot.1.max(1) as f64;
        shares += 1;
    }
    let q1 = t0.elapsed().as_secs_f64();
    let cq1 = cpu() - c0;
    if print {
        println!("share_rows={shares} share_checksum={check:.3}");
    }
    // Query 2: top movers first -> last day (top 20 by likes gained and by
    // downloadsAllTime difference, ties by model id), the way `cambrian
    // trends` computes them: merge the two snapshots on integer model keys,
    // cut to the top 20, resolve names only for those (and boundary ties).
    let t0 = Instant::now();
    let c0 = cpu();
    let snaps = store.snapshots().expect("snaps");
    let (first, last) = (snaps[0].id, snaps[snaps.len() - 1].id);
    let mut gains: Vec<(f64, ModelKey, ())> = Vec::new();
    let mut dl: Vec<(f64, ModelKey, ())> = Vec::new();
    store
        .for_each_pair(first, last, |p| {
            if let (Some(a), Some(b)) = (p.from, p.to) {
                if let (Some(x), Some(y)) = (a.likes, b.likes) {
                    gains.push(((y as i64 - x as i64) as f64, p.key, ()));
                }
                if let (Some(x), Some(y)) = (a.downloads_all_time, b.downloads_all_time) {
                    dl.push(((y as i64 - x as i64) as f64, p.key, ()));
                }
            }
        })
        .expect("pairs");
    let gains = store.top_k_by_name(gains, 20).expect("top likes");
    let dl = store.top_k_by_name(dl, 20).expect("top downloads");
    let q2 = t0.elapsed().as_secs_f64();
    let cq2 = cpu() - c0;
    if print {
        let join = |v: &[(String, f64, ())]| {
            v.iter()
                .map(|(n, x, _)| format!("{n}:{}", *x as i64))
                .collect::<Vec<_>>()
                .join(",")
        };
        println!("movers_top_likes={}:{}", gains[0].0, gains[0].1 as i64);
        println!("movers_top_downloads={}:{}", dl[0].0, dl[0].1 as i64);
        println!("movers_top20_likes={}", join(&gains));
        println!("movers_top20_downloads={}", join(&dl));
    }
    (q1, q2, cq1, cq2)
}
