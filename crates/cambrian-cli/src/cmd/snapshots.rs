//! `cambrian snapshots`: list the complete snapshots in the store.

use crate::cli::Ctx;
use crate::output;
use cambrian_app::tracking;
use serde::Serialize;

#[derive(Debug, clap::Args)]
pub struct Args {}

#[derive(Serialize)]
struct Row<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    s: &'a tracking::SnapshotSummary,
}

pub async fn run(_args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let snaps = tracking::snapshots(&ctx.store)?;
    if snaps.is_empty() {
        eprintln!("no snapshots in {}", ctx.store.display());
        eprintln!(
            "hint: run `cambrian sync`, `cambrian import PATH` or `cambrian import --bundled`"
        );
        return Ok(3);
    }
    if ctx.json {
        for s in &snaps {
            output::json_line(&Row {
                kind: "snapshot",
                s,
            })?;
        }
        return Ok(0);
    }
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::NOTHING);
    t.set_header(["id", "taken at (UTC)", "models", "source", "query"]);
    for s in &snaps {
        t.add_row([
            s.id.to_string(),
            s.taken_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            s.models.to_string(),
            s.source.clone(),
            s.query.clone(),
        ]);
    }
    output::line(t.to_string())?;
    output::line(format!("{} snapshots", snaps.len()))?;
    Ok(0)
}
