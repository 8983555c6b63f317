//! Trend reports over stored snapshots (`cambrian trends`): category share
//! over time (per snapshot or bucketed by day / week / month) in one
//! dimension (pipeline tag, library, base-model family) weighted by presence,
//! likes or downloads; rising and falling categories between two dates; and
//! movers (likes gained, interval downloads, rank change, new entries,
//! dropped) between the first and last snapshot of the range.
//!
//! A report is computed over one *series*: the complete snapshots of one
//! `source` + `query` (mixing listings of different size and ordering would
//! make shares meaningless). Every figure carries its method in
//! [`TrendsReport::method`]; downloads are either the difference of
//! `downloadsAllTime` (both snapshots have it) or the Hub's rolling 30-day
//! count, in separate, labelled lists — never mixed. Formulas: docs/trends.md.

pub mod html;
#[cfg(test)]
mod tests;

use crate::{Error, Result};
use cambrian_store::{
    CategoryPoint, Dimension, KeyedPair, ModelKey, SnapshotId, SnapshotInfo, Store, StoreError,
};
use chrono::{DateTime, Datelike, Duration, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

pub use cambrian_store::Dimension as TrendDimension;
/// Re-exported so that callers can build requests without depending on chrono.
pub use chrono::NaiveDate;

fn store_err(e: StoreError) -> Error {
    let hint = e.hint();
    let mut err = Error::new(e.kind(), e.to_string());
    if let Some(h) = hint {
        err = err.with_hint(h);
    }
    err.with_source(e)
}

/// How each model counts toward its category's share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Weight {
    /// Each model counts 1.
    Presence,
    /// Each model counts its likes.
    Likes,
    /// Each model counts its rolling 30-day downloads (the Hub's `downloads`).
    Downloads,
}

impl Weight {
    pub fn label(self) -> &'static str {
        match self {
            Weight::Presence => "models (presence in the tracked set)",
            Weight::Likes => "likes",
            Weight::Downloads => "downloads (Hub rolling 30-day count)",
        }
    }
    fn of(self, p: &CategoryPoint) -> f64 {
        match self {
            Weight::Presence => p.models as f64,
            Weight::Likes => p.likes as f64,
            Weight::Downloads => p.downloads_30d as f64,
        }
    }
}

/// Time bucketing of the share series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    /// One point per snapshot.
    Snapshot,
    /// UTC calendar day.
    Day,
    /// ISO week (Monday start).
    Week,
    /// Calendar month.
    Month,
}

/// What to report.
#[derive(Debug, Clone)]
pub struct TrendsRequest {
    pub store: PathBuf,
    /// Snapshot `source` of the series; default: the series with the most model rows.
    pub source: Option<String>,
    /// First UTC day included (default: the series' first snapshot).
    pub from: Option<NaiveDate>,
    /// Last UTC day included (default: the series' last snapshot).
    pub to: Option<NaiveDate>,
    pub dimension: Dimension,
    pub weight: Weight,
    pub bucket: Bucket,
    /// Length of each movers list.
    pub top: usize,
    /// Number of models whose history is drawn as lines (top likes gainers).
    pub lines: usize,
}

impl TrendsRequest {
    pub fn new(store: PathBuf) -> Self {
        TrendsRequest {
            store,
            source: None,
            from: None,
            to: None,
            dimension: Dimension::PipelineTag,
            weight: Weight::Presence,
            bucket: Bucket::Snapshot,
            top: 10,
            lines: 5,
        }
    }
}

/// A source + query with its complete snapshots.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    pub source: String,
    pub query: String,
    pub snapshots: u64,
    /// Model rows over all its snapshots.
    pub rows: u64,
    pub first: DateTime<Utc>,
    pub last: DateTime<Utc>,
}

/// A snapshot named in a report.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SnapshotRef {
    pub id: i64,
    pub taken_at: DateTime<Utc>,
    pub models: u64,
}

impl From<&SnapshotInfo> for SnapshotRef {
    fn from(s: &SnapshotInfo) -> Self {
        SnapshotRef {
            id: s.id.0,
            taken_at: s.taken_at,
            models: s.models,
        }
    }
}

/// One time bucket of the share series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BucketInfo {
    /// `2026-08-07`, `2026-W32`, `2026-08`, or the snapshot's timestamp.
    pub label: String,
    pub start: NaiveDate,
    /// Snapshots averaged into this bucket.
    pub snapshots: u32,
    /// Snapshots whose weight total was 0 (empty, or no likes/downloads reported): no share.
    pub empty_snapshots: u32,
    /// Mean weight total over the non-empty snapshots.
    pub total: Option<f64>,
}

/// One category's share series and its change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoryTrend {
    /// `None`: models without a value in this dimension.
    pub category: Option<String>,
    /// Share (0..1) per bucket; `None` where the bucket has no non-empty snapshot.
    pub shares: Vec<Option<f64>>,
    /// Mean weight per bucket (e.g. mean model count).
    pub values: Vec<Option<f64>>,
    pub from_share: Option<f64>,
    pub to_share: Option<f64>,
    /// `to_share - from_share`, in percentage points.
    pub change_pp: Option<f64>,
    /// `(to_share - from_share) / from_share`; `None` when `from_share` is 0 or missing.
    pub relative_change: Option<f64>,
}

/// How an interval-downloads figure was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DownloadsMethod {
    /// `downloadsAllTime(to) - downloadsAllTime(from)`.
    AllTimeDifference,
    /// The Hub's rolling 30-day `downloads` at `to` (no `downloadsAllTime` in both).
    Rolling30d,
}

/// A model in a movers list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mover {
    pub model: String,
    /// The figure at `from` (likes, downloadsAllTime, rank), when applicable.
    pub from: Option<f64>,
    /// The figure at `to`.
    pub to: Option<f64>,
    /// The ranked quantity (gain, interval downloads, ranks climbed).
    pub value: f64,
    pub rank_from: Option<u32>,
    pub rank_to: Option<u32>,
    pub pipeline_tag: Option<String>,
}

/// Movers between the range's first and last snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Movers {
    /// Largest `likes(to) - likes(from)`, models with likes in both.
    pub likes_gained: Vec<Mover>,
    /// Largest `downloadsAllTime(to) - downloadsAllTime(from)`.
    pub downloads_interval: Vec<Mover>,
    /// Models without `downloadsAllTime` in both: largest rolling 30-day downloads at `to`.
    pub downloads_rolling_30d: Vec<Mover>,
    /// How many models had each downloads figure.
    pub with_all_time_both: u64,
    pub rolling_only: u64,
    /// Largest `rank(from) - rank(to)` (positions climbed).
    pub rank_up: Vec<Mover>,
    /// Largest positions lost.
    pub rank_down: Vec<Mover>,
    /// In `to` but not in `from`, by rank at `to`.
    pub new_entries: Vec<Mover>,
    pub new_entries_total: u64,
    /// In `from` but not in `to`, by rank at `from`.
    pub dropped: Vec<Mover>,
    pub dropped_total: u64,
}

/// A model's history over the range, for line charts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelLine {
    pub model: String,
    /// One entry per snapshot of the range (None: absent or no likes that day).
    pub likes: Vec<Option<f64>>,
    pub ranks: Vec<Option<u32>>,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendsReport {
    pub series: Series,
    /// Every series in the store (to choose another with `--source`).
    pub available: Vec<Series>,
    pub dimension: Dimension,
    pub weight: Weight,
    pub bucket: Bucket,
    /// Snapshots in the range, oldest first.
    pub snapshots: Vec<SnapshotRef>,
    pub buckets: Vec<BucketInfo>,
    /// Sorted by `change_pp` descending (rising first); missing changes last.
    pub categories: Vec<CategoryTrend>,
    pub from: SnapshotRef,
    pub to: SnapshotRef,
    pub movers: Movers,
    pub lines: Vec<ModelLine>,
    /// Inputs and formulas behind every number, one statement per line.
    pub method: Vec<String>,
}

/// All series of complete snapshots, most model rows first.
pub fn series(store: &Store) -> Result<Vec<Series>> {
    let snaps = store.snapshots().map_err(store_err)?;
    Ok(group_series(&snaps))
}

fn group_series(snaps: &[SnapshotInfo]) -> Vec<Series> {
    let mut map: BTreeMap<(String, String), Series> = BTreeMap::new();
    for s in snaps {
        let e = map
            .entry((s.source.clone(), s.query.clone()))
            .or_insert_with(|| Series {
                source: s.source.clone(),
                query: s.query.clone(),
                snapshots: 0,
                rows: 0,
                first: s.taken_at,
                last: s.taken_at,
            });
        e.snapshots += 1;
        e.rows += s.models;
        e.first = e.first.min(s.taken_at);
        e.last = e.last.max(s.taken_at);
    }
    let mut v: Vec<Series> = map.into_values().collect();
    v.sort_by(|a, b| {
        b.rows
            .cmp(&a.rows)
            .then(b.snapshots.cmp(&a.snapshots))
            .then(a.source.cmp(&b.source))
    });
    v
}

/// Compute a report from the store at `req.store`.
pub fn trends(req: &TrendsRequest) -> Result<TrendsReport> {
    if !req.store.join(cambrian_store::DB_FILE).exists() {
        return Err(Error::not_found(format!("no store at {}", req.store.display()))
            .with_hint("run `cambrian import PATH` or `cambrian sync` first, or point --store at an existing store"));
    }
    let store = Store::open(&req.store).map_err(store_err)?;
    report(&store, req)
}

/// Compute a report from an open store.
pub fn report(store: &Store, req: &TrendsRequest) -> Result<TrendsReport> {
    if let (Some(f), Some(t)) = (req.from, req.to)
        && f > t
    {
        return Err(
            Error::usage(format!("--from {f} is after --to {t}")).with_hint("swap the dates")
        );
    }
    let all = store.snapshots().map_err(store_err)?;
    let available = group_series(&all);
    if available.is_empty() {
        return Err(Error::not_found("the store has no complete snapshots")
            .with_hint("run `cambrian import PATH` or `cambrian sync` first"));
    }
    let chosen = match &req.source {
        None => available[0].clone(),
        Some(src) => available
            .iter()
            .find(|s| &s.source == src)
            .cloned()
            .ok_or_else(|| {
                let names: Vec<&str> = available.iter().map(|s| s.source.as_str()).collect();
                Error::not_found(format!("no snapshots from source {src:?}"))
                    .with_hint(format!("sources in this store: {}", names.join(", ")))
            })?,
    };
    let snaps: Vec<SnapshotInfo> = all
        .into_iter()
        .filter(|s| s.source == chosen.source && s.query == chosen.query)
        .filter(|s| req.from.is_none_or(|f| s.taken_at.date_naive() >= f))
        .filter(|s| req.to.is_none_or(|t| s.taken_at.date_naive() <= t))
        .collect();
    let (Some(first), Some(last)) = (snaps.first(), snaps.last()) else {
        return Err(Error::not_found(format!(
            "no snapshots of {} between {} and {}",
            chosen.source,
            req.from.map_or("the start".to_string(), |d| d.to_string()),
            req.to.map_or("the end".to_string(), |d| d.to_string())
        ))
        .with_hint(format!(
            "this series covers {} to {}",
            chosen.first.date_naive(),
            chosen.last.date_naive()
        )));
    };
    let (from, to) = (SnapshotRef::from(first), SnapshotRef::from(last));
    let ids: HashSet<SnapshotId> = snaps.iter().map(|s| s.id).collect();
    let points: Vec<CategoryPoint> = store
        .category_points(req.dimension)
        .map_err(store_err)?
        .into_iter()
        .filter(|p| ids.contains(&p.snapshot))
        .collect();
    let (buckets, categories) = shares(&snaps, &points, req.weight, req.bucket);
    let movers = movers(store, first.id, last.id, req.top)?;
    let lines = lines(store, &snaps, &movers, req.lines)?;
    let method = method(req, &chosen, &from, &to, snaps.len());
    Ok(TrendsReport {
        series: chosen,
        available,
        dimension: req.dimension,
        weight: req.weight,
        bucket: req.bucket,
        snapshots: snaps.iter().map(SnapshotRef::from).collect(),
        buckets,
        categories,
        from,
        to,
        movers,
        lines,
        method,
    })
}

fn bucket_key(b: Bucket, s: &SnapshotInfo) -> (String, NaiveDate) {
    let d = s.taken_at.date_naive();
    match b {
        Bucket::Snapshot => (
            s.taken_at.format("%Y-%m-%dT%H:%MZ").to_string() + &format!("#{}", s.id.0),
            d,
        ),
        Bucket::Day => (d.to_string(), d),
        Bucket::Week => {
            let w = d.iso_week();
            let start = d - Duration::days(d.weekday().num_days_from_monday() as i64);
            (format!("{}-W{:02}", w.year(), w.week()), start)
        }
        Bucket::Month => (
            format!("{}-{:02}", d.year(), d.month()),
            d.with_day(1).unwrap_or(d),
        ),
    }
}

/// Per-bucket mean shares. Share of category c in snapshot s =
/// weight(c, s) / Σ_c' weight(c', s); snapshots whose total is 0 have no
/// share. A bucket's share is the mean over its non-empty snapshots (a
/// category absent from a non-empty snapshot counts 0 there).
fn shares(
    snaps: &[SnapshotInfo],
    points: &[CategoryPoint],
    weight: Weight,
    bucket: Bucket,
) -> (Vec<BucketInfo>, Vec<CategoryTrend>) {
    let mut per_snap: HashMap<SnapshotId, Vec<&CategoryPoint>> = HashMap::new();
    for p in points {
        per_snap.entry(p.snapshot).or_default().push(p);
    }
    let mut cats: Vec<Option<String>> = points
        .iter()
        .map(|p| p.category.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    cats.sort();
    let cat_index: HashMap<Option<String>, usize> = cats
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, c)| (c, i))
        .collect();
    // Group snapshots into buckets (snapshots are in time order).
    let mut groups: Vec<(String, NaiveDate, Vec<&SnapshotInfo>)> = Vec::new();
    for s in snaps {
        let (label, start) = bucket_key(bucket, s);
        match groups.last_mut() {
            Some(g) if g.0 == label => g.2.push(s),
            _ => groups.push((label, start, vec![s])),
        }
    }
    let mut buckets = Vec::with_capacity(groups.len());
    let mut share_cols: Vec<Vec<Option<f64>>> = vec![Vec::with_capacity(groups.len()); cats.len()];
    let mut value_cols: Vec<Vec<Option<f64>>> = vec![Vec::with_capacity(groups.len()); cats.len()];
    for (label, start, members) in groups {
        let mut share_sum = vec![0.0; cats.len()];
        let mut value_sum = vec![0.0; cats.len()];
        let mut n = 0u32;
        let mut empty = 0u32;
        let mut total_sum = 0.0;
        for s in &members {
            let pts = per_snap.get(&s.id).map(Vec::as_slice).unwrap_or(&[]);
            let total: f64 = pts.iter().map(|p| weight.of(p)).sum();
            if total <= 0.0 {
                empty += 1;
                continue;
            }
            n += 1;
            total_sum += total;
            for p in pts {
                if let Some(&i) = cat_index.get(&p.category) {
                    share_sum[i] += weight.of(p) / total;
                    value_sum[i] += weight.of(p);
                }
            }
        }
        for i in 0..cats.len() {
            share_cols[i].push((n > 0).then(|| share_sum[i] / n as f64));
            value_cols[i].push((n > 0).then(|| value_sum[i] / n as f64));
        }
        buckets.push(BucketInfo {
            label,
            start,
            snapshots: members.len() as u32,
            empty_snapshots: empty,
            total: (n > 0).then(|| total_sum / n as f64),
        });
    }
    let mut categories: Vec<CategoryTrend> = cats
        .into_iter()
        .zip(share_cols.into_iter().zip(value_cols))
        .map(|(category, (shares, values))| {
            let from_share = shares.iter().flatten().next().copied();
            let to_share = shares.iter().rev().flatten().next().copied();
            let change_pp = match (from_share, to_share) {
                (Some(a), Some(b)) => Some((b - a) * 100.0),
                _ => None,
            };
            let relative_change = match (from_share, to_share) {
                (Some(a), Some(b)) if a > 0.0 => Some((b - a) / a),
                _ => None,
            };
            CategoryTrend {
                category,
                shares,
                values,
                from_share,
                to_share,
                change_pp,
                relative_change,
            }
        })
        .collect();
    categories.sort_by(|a, b| {
        let ka = a.change_pp.unwrap_or(f64::NEG_INFINITY);
        let kb = b.change_pp.unwrap_or(f64::NEG_INFINITY);
        kb.total_cmp(&ka)
            .then_with(|| {
                b.to_share
                    .unwrap_or(0.0)
                    .total_cmp(&a.to_share.unwrap_or(0.0))
            })
            .then_with(|| a.category.cmp(&b.category))
    });
    (buckets, categories)
}

/// What a candidate mover carries until its name is known.
#[derive(Clone, Copy)]
struct Cand {
    from: Option<f64>,
    to: Option<f64>,
    rank_from: Option<u32>,
    rank_to: Option<u32>,
    /// Pipeline-tag term id at `to`, else at `from` (0 = none).
    pipeline: i64,
}

/// Movers between two snapshots, computed on integer model keys: every
/// candidate list is built from the merged key-ordered rows, then cut to
/// the `top` best by value (ties: model id ascending) reading names only for
/// the candidates at or above the cut ([`Store::top_k_by_name`]).
fn movers(store: &Store, from: SnapshotId, to: SnapshotId, top: usize) -> Result<Movers> {
    let mut m = Movers::default();
    type List = Vec<(f64, ModelKey, Cand)>;
    let (mut likes, mut dl_all, mut dl_roll, mut up, mut down, mut new, mut dropped): (
        List,
        List,
        List,
        List,
        List,
        List,
        List,
    ) = Default::default();
    let cand = |p: &KeyedPair, from: Option<f64>, to: Option<f64>| Cand {
        from,
        to,
        rank_from: p.from.map(|r| r.rank),
        rank_to: p.to.map(|r| r.rank),
        pipeline: p.to.or(p.from).map_or(0, |r| r.pipeline),
    };
    store
        .for_each_pair(from, to, |p| match (&p.from, &p.to) {
            (Some(a), Some(b)) => {
                if let (Some(x), Some(y)) = (a.likes, b.likes) {
                    likes.push((
                        y as f64 - x as f64,
                        p.key,
                        cand(&p, Some(x as f64), Some(y as f64)),
                    ));
                }
                if let (Some(x), Some(y)) = (a.downloads_all_time, b.downloads_all_time) {
                    m.with_all_time_both += 1;
                    dl_all.push((
                        y as f64 - x as f64,
                        p.key,
                        cand(&p, Some(x as f64), Some(y as f64)),
                    ));
                } else if let Some(y) = b.downloads_30d {
                    m.rolling_only += 1;
                    dl_roll.push((y as f64, p.key, cand(&p, None, Some(y as f64))));
                }
                let climbed = a.rank as f64 - b.rank as f64;
                let c = cand(&p, Some(a.rank as f64), Some(b.rank as f64));
                if climbed > 0.0 {
                    up.push((climbed, p.key, c));
                } else if climbed < 0.0 {
                    down.push((-climbed, p.key, c));
                }
            }
            (None, Some(b)) => {
                if let Some(y) = b.downloads_30d {
                    m.rolling_only += 1;
                    dl_roll.push((y as f64, p.key, cand(&p, None, Some(y as f64))));
                }
                // Ranked by position at `to`: value = -rank so that the best rank is the largest value.
                new.push((-(b.rank as f64), p.key, cand(&p, None, Some(b.rank as f64))));
            }
            (Some(a), None) => {
                dropped.push((-(a.rank as f64), p.key, cand(&p, Some(a.rank as f64), None)))
            }
            (None, None) => {}
        })
        .map_err(store_err)?;
    m.new_entries_total = new.len() as u64;
    m.dropped_total = dropped.len() as u64;
    let mut terms: HashMap<i64, Option<String>> = HashMap::new();
    let mut finish = |list: List| -> Result<Vec<Mover>> {
        let best = store.top_k_by_name(list, top).map_err(store_err)?;
        let mut out = Vec::with_capacity(best.len());
        for (model, value, c) in best {
            let pipeline_tag = match terms.get(&c.pipeline) {
                Some(t) => t.clone(),
                None => {
                    let t = store.term_value(c.pipeline).map_err(store_err)?;
                    terms.insert(c.pipeline, t.clone());
                    t
                }
            };
            out.push(Mover {
                model,
                from: c.from,
                to: c.to,
                value,
                rank_from: c.rank_from,
                rank_to: c.rank_to,
                pipeline_tag,
            });
        }
        Ok(out)
    };
    m.likes_gained = finish(likes)?;
    m.downloads_interval = finish(dl_all)?;
    m.downloads_rolling_30d = finish(dl_roll)?;
    m.rank_up = finish(up)?;
    m.rank_down = finish(down)?;
    m.new_entries = finish(new)?;
    m.dropped = finish(dropped)?;
    Ok(m)
}

fn lines(
    store: &Store,
    snaps: &[SnapshotInfo],
    movers: &Movers,
    n: usize,
) -> Result<Vec<ModelLine>> {
    let index: HashMap<SnapshotId, usize> =
        snaps.iter().enumerate().map(|(i, s)| (s.id, i)).collect();
    let mut out = Vec::new();
    let mut picked: Vec<&str> = movers
        .likes_gained
        .iter()
        .map(|m| m.model.as_str())
        .collect();
    if picked.is_empty() {
        picked = movers.rank_up.iter().map(|m| m.model.as_str()).collect();
    }
    picked.truncate(n);
    // One pass over the stored names for all of them.
    let histories = store.model_histories(&picked).map_err(store_err)?;
    for (model, history) in picked.into_iter().zip(histories) {
        let mut likes = vec![None; snaps.len()];
        let mut ranks = vec![None; snaps.len()];
        for h in history {
            if let Some(&i) = index.get(&h.snapshot) {
                likes[i] = h.likes.map(|x| x as f64);
                ranks[i] = h.rank;
            }
        }
        out.push(ModelLine {
            model: model.to_string(),
            likes,
            ranks,
        });
    }
    Ok(out)
}

fn method(
    req: &TrendsRequest,
    s: &Series,
    from: &SnapshotRef,
    to: &SnapshotRef,
    n: usize,
) -> Vec<String> {
    let mut m = vec![
        format!(
            "series: source {:?}, query {:?}; {} complete snapshots in range ({} .. {})",
            s.source, s.query, n, from.taken_at, to.taken_at
        ),
        format!(
            "category = {} ({}); models without a value form the category \"(none)\"",
            req.dimension.name(),
            match req.dimension {
                Dimension::PipelineTag => "the Hub's pipeline_tag",
                Dimension::Library => "the Hub's library_name",
                Dimension::BaseFamily => "first base model (base_model:* tags / cardData), cut before its size token, e.g. Qwen/Qwen2.5-7B-Instruct -> Qwen/Qwen2.5",
            }
        ),
        format!("weight = {}", req.weight.label()),
        "share(c, snapshot) = weight(c) / sum of weight over all categories in that snapshot; a snapshot whose total is 0 has no share".to_string(),
        format!(
            "bucket = {}: share(c, bucket) = mean of share(c, snapshot) over the bucket's non-empty snapshots",
            match req.bucket {
                Bucket::Snapshot => "snapshot (one point each)",
                Bucket::Day => "UTC day",
                Bucket::Week => "ISO week",
                Bucket::Month => "calendar month",
            }
        ),
        "change = share(last bucket) - share(first bucket), in percentage points; relative = change / share(first bucket)".to_string(),
        format!("movers compare snapshot {} ({}) with snapshot {} ({})", from.id, from.taken_at, to.id, to.taken_at),
        "likes gained = likes(to) - likes(from), models present with likes in both".to_string(),
        "interval downloads = downloadsAllTime(to) - downloadsAllTime(from) when both snapshots have downloadsAllTime; otherwise the Hub's rolling 30-day downloads at `to`, listed separately and labelled".to_string(),
        "rank = 1-based position in the snapshot's listing order; rank change = rank(from) - rank(to) (positive = climbed)".to_string(),
    ];
    if req.from.is_some() || req.to.is_some() {
        m.push(format!("range requested: {:?} .. {:?}", req.from, req.to));
    }
    m
}
