//! `sync`: page through `GET /api/models` into one store snapshot, resumably.
//!
//! Checkpointing: every page's models are appended together with the cursor of the page
//! that follows (`next:<absolute URL>`, or `end` when the listing is exhausted) in ONE
//! store transaction (`Store::append_batch`); consecutive pages that are already fetched
//! when the store is free go into one transaction with the cursor after the last of them.
//! Fetching (and parsing) runs one task ahead of storing, so page N+1 is fetched while
//! page N is stored. A rerun with the same source and query
//! finds the in-progress snapshot (`Store::resumable_snapshot`) and continues from the
//! stored cursor; ids already in the snapshot are not duplicated (the store keeps the
//! first occurrence, so ranks are unchanged). The snapshot becomes visible only at
//! `complete_snapshot`.

use super::{SnapshotSummary, store_err};
use crate::{Error, Result};
use cambrian_hub::{
    HubClient, HubConfig, HubError, ItemWarning, ListPage, ListQuery, PageCursor, RawListPage,
};
use cambrian_store::{NewSnapshot, Store};
use cambrian_types::ModelRecord;
use serde::Serialize;
use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

/// Fields asked of the listing by default (`expand[]`). Enough for trends (counts,
/// categories, base-model family, license) without the heavy per-model fields
/// (`siblings`, `cardData`, `config`, `safetensors`), which `find` fetches on demand.
pub const DEFAULT_EXPAND: &[&str] = &[
    "author",
    "createdAt",
    "lastModified",
    "downloads",
    "downloadsAllTime",
    "likes",
    "trendingScore",
    "pipeline_tag",
    "library_name",
    "tags",
    "gated",
    "sha",
];

/// Default page size: the Hub's maximum.
pub const DEFAULT_PAGE_SIZE: u32 = 1000;

/// The default listing: all models by trendingScore, descending, with [`DEFAULT_EXPAND`].
pub fn default_query() -> ListQuery {
    ListQuery {
        sort: Some("trendingScore".into()),
        direction: Some(-1),
        limit: Some(DEFAULT_PAGE_SIZE),
        expand: DEFAULT_EXPAND.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

/// What `cambrian sync` asks for. The caller (CLI) reads `HF_ENDPOINT` / `HF_TOKEN`.
#[derive(Debug, Clone)]
pub struct SyncRequest {
    /// Endpoint, token, timeouts and retry policy.
    pub hub: HubConfig,
    pub query: ListQuery,
    /// Stop after this many distinct models (`--limit`); `None` = the whole listing.
    pub max_models: Option<u64>,
}

/// Progress, reported after each stored page.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncProgress {
    pub pages: u64,
    /// Rows in the snapshot so far (including rows from an interrupted earlier run).
    pub models: u64,
    pub max_models: Option<u64>,
    pub retries: u64,
    pub rate_limited_waits: u64,
    pub bytes_received: u64,
    pub elapsed_secs: f64,
    pub resumed: bool,
}

/// The outcome of a sync.
#[derive(Debug, Clone, Serialize)]
pub struct SyncReport {
    pub snapshot: SnapshotSummary,
    /// Whether an interrupted sync of the same source and query was continued.
    pub resumed: bool,
    /// Rows that were already stored by the interrupted run.
    pub resumed_rows: u64,
    /// Pages fetched in this run.
    pub pages: u64,
    /// Items received in this run (before collapsing duplicates).
    pub items_received: u64,
    /// Items that repeated a model already in the snapshot (collapsed).
    pub duplicates_collapsed: u64,
    /// Tolerated per-item / per-field problems (count, and the first few).
    pub warning_count: u64,
    pub warnings: Vec<ItemWarning>,
    pub requests: u64,
    pub retries: u64,
    pub rate_limited_waits: u64,
    pub bytes_received: u64,
    pub elapsed_secs: f64,
    /// Of `elapsed_secs`: time spent in the store (page appends, the final
    /// completion — sorting, aggregates, commit — and closing it).
    pub store_secs: f64,
    /// Of `elapsed_secs`: time the store side waited for the next page
    /// (fetch + parse not yet done). The rest is setup and bookkeeping.
    pub fetch_wait_secs: f64,
    /// Rows per second over this run's wall time.
    pub models_per_sec: f64,
}

const MAX_WARNINGS_KEPT: usize = 50;
/// Parsed pages that may wait for the store while the next is fetched.
const PIPELINE_DEPTH: usize = 24;
/// Fetched, not yet parsed listing pages that may wait for the parser.
const RAW_DEPTH: usize = 4;
/// At most this many waiting pages are stored in one transaction.
const MAX_PAGES_PER_COMMIT: usize = 24;

/// Aborts the task when dropped (an early return stops the fetcher).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs blocking work (SQLite) so that a multi-threaded runtime keeps
/// running other tasks; on a current-thread runtime it just runs `f`.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}
const CK_NEXT: &str = "next:";
const CK_END: &str = "end";

fn hub_err(e: HubError) -> Error {
    let hint = e.hint().unwrap_or(
        "the Hub listing could not be fetched; work offline with `cambrian import PATH` or `cambrian import --bundled`",
    );
    let hint = if matches!(e.kind(), cambrian_types::ErrorKind::Remote) {
        format!(
            "{hint}; the data already stored (and the bundled dataset, `cambrian import --bundled`) stay usable offline, and a rerun of the same `cambrian sync` resumes"
        )
    } else {
        hint.to_string()
    };
    Error::new(e.kind(), format!("Hub listing failed: {e}")).with_hint(hint)
}

/// The snapshot key of a request: `hub:<endpoint>` and the canonical query (plus the
/// model cap, which changes what the snapshot holds).
pub fn snapshot_key(req: &SyncRequest) -> (String, String) {
    let source = format!("hub:{}", req.hub.endpoint.trim_end_matches('/'));
    let mut query = req.query.canonical();
    if let Some(m) = req.max_models {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(&format!("max_models={m}"));
    }
    (source, query)
}

/// Capture the listing into a new snapshot of the store in `store_dir`, or finish an
/// interrupted one. `progress` is called after every stored page.
pub async fn sync(
    store_dir: &Path,
    req: &SyncRequest,
    progress: &dyn Fn(&SyncProgress),
) -> Result<SyncReport> {
    if req.max_models == Some(0) {
        return Err(Error::usage("--limit must be at least 1"));
    }
    let client = HubClient::new(req.hub.clone()).map_err(hub_err)?;
    let mut store = Store::open(store_dir).map_err(store_err)?;
    let (source, query) = snapshot_key(req);
    let started = Instant::now();

    let (id, cursor, resumed_rows, resumed) = match store
        .resumable_snapshot(&source, &query)
        .map_err(store_err)?
    {
        Some(r) => {
            let cursor = match r.checkpoint.as_deref() {
                None => Some(PageCursor::First(req.query.clone())),
                Some(CK_END) => None,
                Some(c) => match c.strip_prefix(CK_NEXT) {
                    Some(url) => Some(PageCursor::Next(url.to_string())),
                    None => {
                        return Err(Error::store(format!(
                            "snapshot {} has an unreadable checkpoint {c:?}",
                            r.id.0
                        ))
                        .with_hint("abandon it by syncing into another --store, or report this"));
                    }
                },
            };
            tracing::info!(
                snapshot = r.id.0,
                rows = r.rows,
                "resuming an interrupted sync"
            );
            (r.id, cursor, r.rows, true)
        }
        None => {
            let new = NewSnapshot {
                taken_at: chrono::Utc::now(),
                source: source.clone(),
                query: query.clone(),
            };
            (
                store.begin_snapshot(&new).map_err(store_err)?,
                Some(PageCursor::First(req.query.clone())),
                0,
                false,
            )
        }
    };

    // With a model cap the ids are tracked here so that the cap counts distinct models.
    let mut seen: Option<HashSet<String>> = None;
    if req.max_models.is_some() && resumed_rows > 0 {
        let ids = store
            .snapshot_models(id)
            .map_err(store_err)?
            .into_iter()
            .map(|m| m.id)
            .collect();
        seen = Some(ids);
    } else if req.max_models.is_some() {
        seen = Some(HashSet::new());
    }

    let mut rows = resumed_rows;
    let mut pages = 0u64;
    let mut items = 0u64;
    let mut dups = 0u64;
    let mut warning_count = 0u64;
    let mut warnings = Vec::new();
    let report_progress = |rows: u64, pages: u64, client: &HubClient| {
        let st = client.stats();
        progress(&SyncProgress {
            pages,
            models: rows,
            max_models: req.max_models,
            retries: st.retries,
            rate_limited_waits: st.rate_limited_waits,
            bytes_received: st.bytes_received,
            elapsed_secs: started.elapsed().as_secs_f64(),
            resumed,
        });
    };

    // Pipeline of three tasks: a fetcher requests page N+2 (its URL comes
    // from page N+1's Link header, known before its body is parsed) while a
    // parser maps page N+1 and this task stores page N. Pages reach the
    // store strictly in order; the rows of a page (or of several pages that
    // were waiting) and the cursor of the page after the last of them go
    // into ONE `append_batch` transaction, so the checkpoint invariant is
    // that of a one-page-at-a-time loop. At most `PIPELINE_DEPTH` + 1 parsed
    // pages and `RAW_DEPTH` + 1 unparsed bodies wait in memory.
    let (raw_tx, mut raw_rx) =
        tokio::sync::mpsc::channel::<std::result::Result<RawListPage, HubError>>(RAW_DEPTH);
    let fetcher = AbortOnDrop(tokio::spawn({
        let client = client.clone();
        let mut cursor = cursor;
        async move {
            while let Some(cur) = cursor.take() {
                let page = client.list_page_raw(&cur).await;
                let failed = page.is_err();
                if let Ok(p) = &page {
                    cursor = p.next().map(|u| PageCursor::Next(u.to_string()));
                }
                if raw_tx.send(page).await.is_err() || failed {
                    break;
                }
            }
        }
    }));
    let (tx, mut rx) =
        tokio::sync::mpsc::channel::<std::result::Result<ListPage, HubError>>(PIPELINE_DEPTH);
    let parser = AbortOnDrop(tokio::spawn({
        let client = client.clone();
        async move {
            while let Some(raw) = raw_rx.recv().await {
                // A body that is not a listing is fetched again before any
                // later page goes on; its `next` stays the one the fetcher
                // follows, so the checkpoint names the page stored next.
                let page = match raw {
                    Err(e) => Err(e),
                    Ok(raw) => client.parse_page(raw).await,
                };
                let failed = page.is_err();
                if tx.send(page).await.is_err() || failed {
                    break;
                }
            }
        }
    }));

    let mut store_time = Duration::ZERO;
    let mut wait_time = Duration::ZERO;
    let mut done = false;
    while !done {
        let t = Instant::now();
        let Some(first) = rx.recv().await else { break };
        wait_time += t.elapsed();
        // Pages that are already waiting go into the same transaction (the
        // checkpoint is then the cursor after the last of them): when the
        // store is the slower side, fewer, larger commits.
        let mut batch = vec![first];
        while batch.len() < MAX_PAGES_PER_COMMIT && batch.last().is_some_and(|p| p.is_ok()) {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        // The batch's pages, kept apart (moving ~1000 records per page into
        // one list cost a measurable memmove); stored in one transaction.
        let mut models: Vec<Vec<ModelRecord>> = Vec::with_capacity(batch.len());
        let mut n_models = 0u64;
        let mut checkpoint = None;
        let mut batch_pages = 0u64;
        let mut failure = None;
        for page in batch {
            // With a cap, `seen` makes `models` exactly the rows this batch adds.
            if req.max_models.is_some_and(|m| rows + n_models >= m) {
                done = true;
                break;
            }
            let page = match page {
                Ok(p) => p,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            };
            batch_pages += 1;
            items += page.models.len() as u64;
            warning_count += page.item_warnings.len() as u64;
            for w in page.item_warnings {
                if warnings.len() < MAX_WARNINGS_KEPT {
                    warnings.push(w);
                }
            }
            let mut page_models = page.models;
            if let (Some(max), Some(seen)) = (req.max_models, seen.as_mut()) {
                let before = page_models.len();
                page_models.retain(|m| seen.insert(m.id.clone()));
                dups += (before - page_models.len()) as u64;
                let room =
                    usize::try_from(max.saturating_sub(rows + n_models)).unwrap_or(usize::MAX);
                page_models.truncate(room);
            }
            n_models += page_models.len() as u64;
            models.push(page_models);
            checkpoint = Some(match &page.next {
                Some(url) => format!("{CK_NEXT}{url}"),
                None => CK_END.to_string(),
            });
        }
        if let Some(checkpoint) = checkpoint {
            // SQLite blocks this thread; let the runtime move other tasks (the
            // fetcher) off it meanwhile.
            let t = Instant::now();
            let pages_in: Vec<&[ModelRecord]> = models.iter().map(Vec::as_slice).collect();
            let st = blocking(|| store.append_pages(id, &pages_in, Some(&checkpoint)))
                .map_err(store_err)?;
            store_time += t.elapsed();
            if seen.is_none() {
                dups += n_models.saturating_sub(st.inserted);
            }
            rows += st.inserted;
            pages += batch_pages;
            tracing::debug!(snapshot = id.0, pages, rows, "page stored");
            report_progress(rows, pages, &client);
        }
        if let Some(e) = failure {
            // Everything before the failed page is stored with its cursor: a rerun resumes there.
            return Err(hub_err(e));
        }
    }
    drop(rx);
    drop(parser);
    drop(fetcher);

    let t = Instant::now();
    let info = blocking(|| store.complete_snapshot(id)).map_err(store_err)?;
    // Closing the store (SQLite checkpoints its WAL into the database file) is
    // part of the store's time, so the report accounts for it.
    blocking(|| drop(store));
    store_time += t.elapsed();
    let st = client.stats();
    let elapsed = started.elapsed().as_secs_f64();
    let new_rows = info.models.saturating_sub(resumed_rows);
    tracing::info!(snapshot = id.0, models = info.models, "sync complete");
    Ok(SyncReport {
        snapshot: SnapshotSummary::from(&info),
        resumed,
        resumed_rows,
        pages,
        items_received: items,
        duplicates_collapsed: dups,
        warning_count,
        warnings,
        requests: st.requests,
        retries: st.retries,
        rate_limited_waits: st.rate_limited_waits,
        bytes_received: st.bytes_received,
        elapsed_secs: elapsed,
        store_secs: store_time.as_secs_f64(),
        fetch_wait_secs: wait_time.as_secs_f64(),
        models_per_sec: if elapsed > 0.0 {
            new_rows as f64 / elapsed
        } else {
            0.0
        },
    })
}
