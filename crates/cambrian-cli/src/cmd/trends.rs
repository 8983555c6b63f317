//! `cambrian trends`: category share over time, rising and falling categories,
//! and movers between two dates — as terminal tables with sparklines,
//! JSON Lines (`--json`), CSV (`--csv`) or a self-contained HTML report
//! (`--html FILE`). The figures come from `cambrian_app::trends`; `--explain`
//! prints the inputs and formulas behind them.

use crate::cli::Ctx;
use crate::output;
use anyhow::Context;
use cambrian_app::trends::NaiveDate;
use cambrian_app::trends::{
    self, Bucket, CategoryTrend, Mover, TrendDimension, TrendsReport, TrendsRequest, Weight,
};
use comfy_table::{CellAlignment, Table, presets};
use serde::Serialize;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum By {
    /// The Hub's pipeline_tag (task).
    Pipeline,
    /// The Hub's library_name.
    Library,
    /// Base-model family (from base_model:* tags).
    Family,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum WeightArg {
    Presence,
    Likes,
    Downloads,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum BucketArg {
    Snapshot,
    Day,
    Week,
    Month,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Snapshot source to report on [default: the series with the most model rows].
    #[arg(long, value_name = "SOURCE")]
    pub source: Option<String>,
    /// First UTC day (YYYY-MM-DD) [default: first snapshot].
    #[arg(long, value_name = "DATE")]
    pub from: Option<NaiveDate>,
    /// Last UTC day (YYYY-MM-DD) [default: last snapshot].
    #[arg(long, value_name = "DATE")]
    pub to: Option<NaiveDate>,
    /// Category dimension.
    #[arg(long, value_enum, default_value = "pipeline")]
    pub by: By,
    /// What each model counts toward its category's share.
    #[arg(long, value_enum, default_value = "presence")]
    pub weight: WeightArg,
    /// Time bucket of the share series.
    #[arg(long, value_enum, default_value = "snapshot")]
    pub bucket: BucketArg,
    /// Rows per table (categories rising / falling, each movers list).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub top: u32,
    /// Print CSV on stdout instead of tables (`--json` wins if both are given).
    #[arg(long)]
    pub csv: bool,
    /// Also write a self-contained HTML report (inline SVG charts) to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Print the inputs and formulas behind every figure.
    #[arg(long)]
    pub explain: bool,
}

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A one-line chart of `values`, scaled between their min and max; a missing
/// value is a space, a flat series is drawn at mid height.
pub fn sparkline(values: &[Option<f64>]) -> String {
    let finite = values.iter().flatten().copied().filter(|v| v.is_finite());
    let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
        (l.min(v), h.max(v))
    });
    values
        .iter()
        .map(|v| match v {
            Some(v) if v.is_finite() => {
                if hi > lo {
                    let k = ((v - lo) / (hi - lo) * 7.0).round() as usize;
                    BARS[k.min(7)]
                } else {
                    BARS[3]
                }
            }
            _ => ' ',
        })
        .collect()
}

fn request(a: &Args, ctx: &Ctx) -> TrendsRequest {
    TrendsRequest {
        store: ctx.store.clone(),
        source: a.source.clone(),
        from: a.from,
        to: a.to,
        dimension: match a.by {
            By::Pipeline => TrendDimension::PipelineTag,
            By::Library => TrendDimension::Library,
            By::Family => TrendDimension::BaseFamily,
        },
        weight: match a.weight {
            WeightArg::Presence => Weight::Presence,
            WeightArg::Likes => Weight::Likes,
            WeightArg::Downloads => Weight::Downloads,
        },
        bucket: match a.bucket {
            BucketArg::Snapshot => Bucket::Snapshot,
            BucketArg::Day => Bucket::Day,
            BucketArg::Week => Bucket::Week,
            BucketArg::Month => Bucket::Month,
        },
        top: a.top as usize,
        lines: 5,
    }
}

pub async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let req = request(&args, ctx);
    // A fresh machine has an empty store: seed it with the bundled real snapshots so that the
    // first `cambrian trends` works offline. Only when --store/CAMBRIAN_STORE holds no snapshot.
    let dir = ctx.store.clone();
    let seeded = tokio::task::spawn_blocking(move || cambrian_app::tracking::seed_if_empty(&dir))
        .await
        .context("seed task")??;
    if seeded {
        eprintln!(
            "note: the store was empty; imported the bundled offline dataset (real Hub snapshots, see THIRD_PARTY.md). Run `cambrian sync` for live data."
        );
    }
    let report = tokio::task::spawn_blocking(move || trends::trends(&req))
        .await
        .context("trends task")??;
    if let Some(path) = &args.html {
        output::write_atomic(path, trends::html::render(&report).as_bytes()).map_err(|e| {
            cambrian_app::Error::bad_input(format!(
                "cannot write the HTML report to {}: {e}",
                path.display()
            ))
            .with_hint("choose a writable path")
        })?;
        if !ctx.json && !args.csv {
            eprintln!("wrote {}", path.display());
        }
    }
    if ctx.json {
        json(&report, args.explain)?;
    } else if args.csv {
        csv_out(&report)?;
    } else {
        tables(&report, args.top as usize, args.explain)?;
    }
    Ok(0)
}

fn cat(c: &CategoryTrend) -> String {
    c.category.clone().unwrap_or_else(|| "(none)".into())
}

fn pct(x: Option<f64>) -> String {
    x.map_or("–".into(), |v| format!("{:.2}%", v * 100.0))
}

fn num(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

fn opt_u32(x: Option<u32>) -> String {
    x.map_or("–".into(), |r| r.to_string())
}

fn new_table(header: Vec<&str>) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_HORIZONTAL_ONLY);
    t.set_header(header);
    t
}

fn tables(r: &TrendsReport, top: usize, explain: bool) -> anyhow::Result<()> {
    output::line(format!(
        "Series {} ({}): {} snapshots, {} .. {}; {} by {}, bucket {:?}",
        r.series.source,
        r.series.query,
        r.snapshots.len(),
        r.from.taken_at.format("%Y-%m-%d %H:%M"),
        r.to.taken_at.format("%Y-%m-%d %H:%M"),
        r.dimension.name(),
        r.weight.label(),
        r.bucket
    ))?;
    if r.available.len() > 1 {
        let others: Vec<String> = r
            .available
            .iter()
            .filter(|s| s.source != r.series.source || s.query != r.series.query)
            .map(|s| format!("{} ({} snapshots)", s.source, s.snapshots))
            .collect();
        output::line(format!("other series (--source): {}", others.join(", ")))?;
    }
    let rising: Vec<&CategoryTrend> = r
        .categories
        .iter()
        .filter(|c| c.change_pp.is_some_and(|x| x > 0.0))
        .take(top)
        .collect();
    let mut falling: Vec<&CategoryTrend> = r
        .categories
        .iter()
        .filter(|c| c.change_pp.is_some_and(|x| x < 0.0))
        .collect();
    falling.reverse();
    falling.truncate(top);
    for (title, list) in [
        ("Rising categories", rising),
        ("Falling categories", falling),
    ] {
        output::line("")?;
        output::line(format!("{title} (share of {})", r.weight.label()))?;
        if list.is_empty() {
            output::line("  none")?;
            continue;
        }
        let mut t = new_table(vec![
            "category",
            "first",
            "last",
            "change (pp)",
            "relative",
            "trend",
        ]);
        for c in list {
            t.add_row(vec![
                cat(c),
                pct(c.from_share),
                pct(c.to_share),
                c.change_pp.map_or("–".into(), |v| format!("{v:+.2}")),
                c.relative_change
                    .map_or("new".into(), |v| format!("{:+.1}%", v * 100.0)),
                sparkline(&c.shares),
            ]);
        }
        for i in 1..=4 {
            if let Some(col) = t.column_mut(i) {
                col.set_cell_alignment(CellAlignment::Right);
            }
        }
        output::line(t.to_string())?;
    }
    let m = &r.movers;
    movers_table("Likes gained", &m.likes_gained, "likes gained", true)?;
    if m.with_all_time_both > 0 {
        movers_table(
            "Interval downloads (downloadsAllTime difference)",
            &m.downloads_interval,
            "downloads",
            true,
        )?;
    }
    if !m.downloads_rolling_30d.is_empty() {
        movers_table(
            &format!(
                "Rolling 30-day downloads at the last snapshot — NOT an interval figure ({} models lack downloadsAllTime in both snapshots)",
                m.rolling_only
            ),
            &m.downloads_rolling_30d,
            "downloads (30d)",
            false,
        )?;
    }
    movers_table("Climbed in rank", &m.rank_up, "positions", true)?;
    movers_table("Fell in rank", &m.rank_down, "positions", true)?;
    movers_table(
        &format!("New entries ({} in total)", m.new_entries_total),
        &m.new_entries,
        "",
        false,
    )?;
    movers_table(
        &format!("Dropped ({} in total)", m.dropped_total),
        &m.dropped,
        "",
        false,
    )?;
    output::line("")?;
    if explain {
        output::line("Method:")?;
        for l in &r.method {
            output::line(format!("  - {l}"))?;
        }
    } else {
        output::line("(--explain shows the inputs and formulas; --html FILE writes charts)")?;
    }
    Ok(())
}

fn movers_table(title: &str, list: &[Mover], what: &str, with_from_to: bool) -> anyhow::Result<()> {
    output::line("")?;
    output::line(title)?;
    if list.is_empty() {
        return output::line("  none");
    }
    let mut header = vec!["model", "pipeline_tag", "rank then", "rank now"];
    if with_from_to {
        header.extend(["then", "now"]);
    }
    if !what.is_empty() {
        header.push(what);
    }
    let mut t = new_table(header);
    for m in list {
        let mut row = vec![
            m.model.clone(),
            m.pipeline_tag.clone().unwrap_or_else(|| "(none)".into()),
            opt_u32(m.rank_from),
            opt_u32(m.rank_to),
        ];
        if with_from_to {
            row.push(m.from.map_or("–".into(), num));
            row.push(m.to.map_or("–".into(), num));
        }
        if !what.is_empty() {
            row.push(num(m.value));
        }
        t.add_row(row);
    }
    output::line(t.to_string())
}

#[derive(Serialize)]
struct Rec<'a, T: Serialize> {
    r#type: &'a str,
    #[serde(flatten)]
    body: T,
}

#[derive(Serialize)]
struct SeriesRec<'a> {
    series: &'a trends::Series,
    dimension: &'static str,
    weight: Weight,
    bucket: Bucket,
    from: &'a trends::SnapshotRef,
    to: &'a trends::SnapshotRef,
    snapshots: usize,
}

#[derive(Serialize)]
struct ShareRec<'a> {
    dimension: &'static str,
    weight: Weight,
    category: Option<&'a str>,
    bucket: &'a str,
    bucket_start: NaiveDate,
    snapshots: u32,
    share: Option<f64>,
    value: Option<f64>,
}

#[derive(Serialize)]
struct MoverRec<'a> {
    list: &'static str,
    position: usize,
    #[serde(flatten)]
    mover: &'a Mover,
    /// How `value` was computed.
    method: &'static str,
}

fn mover_lists(r: &TrendsReport) -> Vec<(&'static str, &'static str, &[Mover])> {
    let m = &r.movers;
    vec![
        ("likes_gained", "likes(to) - likes(from)", &m.likes_gained),
        (
            "downloads_interval",
            "downloadsAllTime(to) - downloadsAllTime(from)",
            &m.downloads_interval,
        ),
        (
            "downloads_rolling_30d",
            "Hub rolling 30-day downloads at `to` (no downloadsAllTime in both snapshots; not an interval figure)",
            &m.downloads_rolling_30d,
        ),
        ("rank_up", "rank(from) - rank(to)", &m.rank_up),
        ("rank_down", "rank(to) - rank(from)", &m.rank_down),
        (
            "new_entry",
            "-rank(to) (present at `to` only)",
            &m.new_entries,
        ),
        (
            "dropped",
            "-rank(from) (present at `from` only)",
            &m.dropped,
        ),
    ]
}

fn json(r: &TrendsReport, explain: bool) -> anyhow::Result<()> {
    output::json_line(&Rec {
        r#type: "trends_series",
        body: SeriesRec {
            series: &r.series,
            dimension: r.dimension.name(),
            weight: r.weight,
            bucket: r.bucket,
            from: &r.from,
            to: &r.to,
            snapshots: r.snapshots.len(),
        },
    })?;
    for c in &r.categories {
        output::json_line(&Rec {
            r#type: "category_change",
            body: serde_json::json!({
                "dimension": r.dimension.name(), "weight": r.weight, "category": c.category,
                "from_share": c.from_share, "to_share": c.to_share, "change_pp": c.change_pp, "relative_change": c.relative_change,
            }),
        })?;
    }
    for c in &r.categories {
        for (i, b) in r.buckets.iter().enumerate() {
            output::json_line(&Rec {
                r#type: "category_share",
                body: ShareRec {
                    dimension: r.dimension.name(),
                    weight: r.weight,
                    category: c.category.as_deref(),
                    bucket: &b.label,
                    bucket_start: b.start,
                    snapshots: b.snapshots,
                    share: c.shares.get(i).copied().flatten(),
                    value: c.values.get(i).copied().flatten(),
                },
            })?;
        }
    }
    for (list, method, items) in mover_lists(r) {
        for (i, m) in items.iter().enumerate() {
            output::json_line(&Rec {
                r#type: "mover",
                body: MoverRec {
                    list,
                    position: i + 1,
                    mover: m,
                    method,
                },
            })?;
        }
    }
    if explain {
        for l in &r.method {
            output::json_line(&Rec {
                r#type: "method",
                body: serde_json::json!({ "text": l }),
            })?;
        }
    }
    Ok(())
}

/// Unwrap the csv crate's I/O errors so that a closed pipe is recognised
/// (exit 0, see `cli::report`) instead of being reported as a bug.
fn csv_err(e: csv::Error) -> anyhow::Error {
    if e.is_io_error() {
        if let csv::ErrorKind::Io(io) = e.into_kind() {
            return io.into();
        }
        return anyhow::anyhow!("CSV output failed");
    }
    e.into()
}

fn csv_out(r: &TrendsReport) -> anyhow::Result<()> {
    csv_rows(r).map_err(csv_err)
}

fn csv_rows(r: &TrendsReport) -> Result<(), csv::Error> {
    let mut w = csv::Writer::from_writer(std::io::stdout().lock());
    w.write_record([
        "record",
        "dimension",
        "weight",
        "bucket",
        "bucket_start",
        "category",
        "share",
        "value",
        "list",
        "position",
        "model",
        "from",
        "to",
        "rank_from",
        "rank_to",
        "method",
    ])?;
    let f = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
    for c in &r.categories {
        for (i, b) in r.buckets.iter().enumerate() {
            w.write_record([
                "category_share",
                r.dimension.name(),
                r.weight.label(),
                &b.label,
                &b.start.to_string(),
                c.category.as_deref().unwrap_or(""),
                &f(c.shares.get(i).copied().flatten()),
                &f(c.values.get(i).copied().flatten()),
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
            ])?;
        }
    }
    for (list, method, items) in mover_lists(r) {
        for (i, m) in items.iter().enumerate() {
            w.write_record([
                "mover",
                "",
                "",
                "",
                "",
                m.pipeline_tag.as_deref().unwrap_or(""),
                "",
                &m.value.to_string(),
                list,
                &(i + 1).to_string(),
                &m.model,
                &f(m.from),
                &f(m.to),
                &m.rank_from.map(|x| x.to_string()).unwrap_or_default(),
                &m.rank_to.map(|x| x.to_string()).unwrap_or_default(),
                method,
            ])?;
        }
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::sparkline;

    #[test]
    fn sparkline_scales_and_shows_gaps() {
        assert_eq!(sparkline(&[Some(0.0), Some(1.0), None, Some(0.5)]), "▁█ ▅");
        assert_eq!(sparkline(&[Some(2.0), Some(2.0)]), "▄▄");
        assert_eq!(sparkline(&[]), "");
        assert_eq!(sparkline(&[None, Some(f64::NAN)]), "  ");
    }
}
