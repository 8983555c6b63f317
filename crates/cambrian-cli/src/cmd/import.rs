//! `cambrian import`: load archived snapshot files (three formats, detected by content)
//! or the bundled offline dataset; one snapshot per date, duplicates skipped.

use crate::cli::Ctx;
use crate::output;
use cambrian_app::tracking::{self, ImportRequest, ImportStatus};
use serde::Serialize;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files or directories (walked recursively; *.json and *.jsonl).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Import the real snapshot archives bundled in the binary (offline dataset).
    #[arg(long)]
    pub bundled: bool,
}

#[derive(Serialize)]
struct Summary {
    #[serde(rename = "type")]
    kind: &'static str,
    snapshots: usize,
    imported: usize,
    duplicates: usize,
    models_imported: u64,
    skipped_files: Vec<String>,
}

#[derive(Serialize)]
struct Item<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    item: &'a tracking::ImportItem,
}

pub async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let req = ImportRequest {
        paths: args.paths,
        bundled: args.bundled,
    };
    let report = tracking::import(&ctx.store, &req)?;
    let summary = Summary {
        kind: "import_summary",
        snapshots: report.items.len(),
        imported: report.imported(),
        duplicates: report.duplicates(),
        models_imported: report
            .items
            .iter()
            .filter(|i| i.status == ImportStatus::Imported)
            .map(|i| i.models)
            .sum(),
        skipped_files: report.skipped_files.clone(),
    };
    if ctx.json {
        for i in &report.items {
            output::json_line(&Item {
                kind: "import",
                item: i,
            })?;
        }
        output::json_line(&summary)?;
        return Ok(0);
    }
    for i in &report.items {
        let status = match i.status {
            ImportStatus::Imported => format!("imported as snapshot {}", i.snapshot),
            ImportStatus::Duplicate => format!("duplicate of snapshot {}, skipped", i.snapshot),
        };
        let warn = if i.warning_count > 0 {
            format!(" ({} tolerated problems)", i.warning_count)
        } else {
            String::new()
        };
        output::line(format!(
            "{}  {:<18} {:>5} models  {status}  {}{warn}",
            i.day,
            i.format.name(),
            i.models,
            i.origin
        ))?;
        for w in &i.warnings {
            eprintln!("warning: {}: {w}", i.origin);
        }
    }
    output::line(format!(
        "{} snapshots: {} imported ({} model rows), {} duplicates skipped",
        summary.snapshots, summary.imported, summary.models_imported, summary.duplicates
    ))?;
    if report.items.is_empty() {
        eprintln!("no snapshot data found");
        return Ok(3);
    }
    Ok(0)
}
