//! `cambrian show MODEL`: the model's latest stored record and its history across
//! snapshots (table + sparklines), or JSON Lines (`model`, then one `history` per point).

use crate::cli::Ctx;
use crate::cmd::trends::sparkline;
use crate::output;
use cambrian_app::tracking;
use serde::Serialize;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model id, `owner/name`.
    #[arg(value_name = "MODEL")]
    pub model: String,
}

#[derive(Serialize)]
struct ModelLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    snapshot: &'a tracking::SnapshotSummary,
    record: &'a cambrian_types::ModelRecord,
}

#[derive(Serialize)]
struct HistLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    #[serde(flatten)]
    point: &'a tracking::HistoryRow,
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref()
        .map(ToString::to_string)
        .unwrap_or_else(|| "-".into())
}

pub async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let r = tracking::show(&ctx.store, &args.model)?;
    if ctx.json {
        output::json_line(&ModelLine {
            kind: "model",
            snapshot: &r.latest_snapshot,
            record: &r.record,
        })?;
        for p in &r.history {
            output::json_line(&HistLine {
                kind: "history",
                id: &r.id,
                point: p,
            })?;
        }
        return Ok(0);
    }
    let m = &r.record;
    let s = &r.latest_snapshot;
    output::line(&m.id)?;
    output::line(format!(
        "  latest snapshot  {} ({} UTC, {})",
        s.id,
        s.taken_at.format("%Y-%m-%d %H:%M"),
        s.source
    ))?;
    let fields: Vec<(&str, String)> = vec![
        ("author", opt(&m.author)),
        ("pipeline_tag", opt(&m.pipeline_tag)),
        ("library_name", opt(&m.library_name)),
        ("license", opt(&m.license)),
        ("gated", opt(&m.gated)),
        ("likes", opt(&m.likes)),
        ("downloads (30 d)", opt(&m.downloads_30d)),
        ("downloads (all time)", opt(&m.downloads_all_time)),
        ("trending score", opt(&m.trending_score)),
        (
            "created",
            m.created_at
                .map(|t| t.format("%Y-%m-%d").to_string())
                .unwrap_or_else(|| "-".into()),
        ),
        (
            "last modified",
            m.last_modified
                .map(|t| t.format("%Y-%m-%d").to_string())
                .unwrap_or_else(|| "-".into()),
        ),
        (
            "base models",
            if m.base_models.is_empty() {
                "-".into()
            } else {
                m.base_models.join(", ")
            },
        ),
        (
            "tags",
            if m.tags.is_empty() {
                "-".into()
            } else {
                m.tags.join(", ")
            },
        ),
    ];
    for (k, v) in fields {
        output::line(format!("  {k:<20} {v}"))?;
    }
    if r.history.is_empty() {
        return Ok(0);
    }
    let likes: Vec<Option<f64>> = r
        .history
        .iter()
        .map(|h| h.likes.map(|v| v as f64))
        .collect();
    let dl: Vec<Option<f64>> = r
        .history
        .iter()
        .map(|h| h.downloads_30d.map(|v| v as f64))
        .collect();
    output::line(format!(
        "\nhistory: {} snapshots (oldest first)",
        r.history.len()
    ))?;
    output::line(format!("  likes            {}", sparkline(&likes)))?;
    output::line(format!("  downloads (30 d) {}", sparkline(&dl)))?;
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::NOTHING);
    t.set_header([
        "taken at (UTC)",
        "snapshot",
        "source",
        "rank",
        "likes",
        "downloads 30d",
        "downloads all",
        "trending",
    ]);
    for h in &r.history {
        t.add_row([
            h.taken_at.format("%Y-%m-%d %H:%M").to_string(),
            h.snapshot.to_string(),
            h.source.clone(),
            opt(&h.rank),
            opt(&h.likes),
            opt(&h.downloads_30d),
            opt(&h.downloads_all_time),
            h.trending_score
                .map(|v| format!("{v:.1}"))
                .unwrap_or_else(|| "-".into()),
        ]);
    }
    output::line(t.to_string())?;
    Ok(0)
}
