//! Use case: static risk scan of model files, directories, the local
//! Hugging Face cache, or a Hub repository. Nothing is executed; see
//! `cambrian-scan` for the analysis and docs/scan.md for the methods.

use crate::{Error, Result};
use cambrian_scan::ScanTarget;
use cambrian_scan::repo::RepoReport;
use cambrian_scan::source::RangeSource;
pub use cambrian_scan::{FileReport, Finding, Level, Limits, Verdict};
use cambrian_types::ErrorKind;
use std::path::PathBuf;

pub use cambrian_hub::HubConfig;
pub use cambrian_scan::RepoReport as ScanRepoReport;
pub use cambrian_scan::card::{CardCheck, CardReport};

/// Version of the shipped pickle allow/block lists.
pub fn lists_version() -> &'static str {
    &cambrian_scan::lists::lists().version
}

/// What to scan.
#[derive(Debug, Clone)]
pub enum Target {
    /// A file or a directory on disk.
    Path(PathBuf),
    /// The hub cache folder (`$HF_HOME/hub`, resolved by the caller),
    /// optionally restricted to one repo id.
    HfCache {
        hub_dir: PathBuf,
        repo: Option<String>,
    },
    /// A Hub model repository, read through the hub client.
    Hub {
        repo: String,
        revision: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub struct ScanRequest {
    pub targets: Vec<Target>,
    pub limits: Limits,
    /// Needed for `Target::Hub`.
    pub hub: Option<cambrian_hub::HubConfig>,
}

#[derive(Debug, Clone)]
pub struct ScanResponse {
    pub reports: Vec<RepoReport>,
    /// The maximum verdict over every report.
    pub verdict: Verdict,
}

impl ScanResponse {
    pub fn files(&self) -> usize {
        self.reports.iter().map(|r| r.files.len()).sum()
    }
    /// Does any file or repo finding reach `level`?
    pub fn fails(&self, at: Verdict) -> bool {
        self.verdict >= at && self.verdict != Verdict::Clean
    }
}

fn scan_err(e: cambrian_scan::ScanError) -> Error {
    let kind = e.kind();
    let hint = match &e {
        cambrian_scan::ScanError::NotFound(_) => Some(
            "check the path; for the Hugging Face cache pass --hf-cache (HF_HOME decides where it is)",
        ),
        _ => None,
    };
    let mut err = Error::new(kind, e.to_string());
    if let Some(h) = hint {
        err = err.with_hint(h);
    }
    err
}

/// Run the scan.
pub async fn scan(req: ScanRequest) -> Result<ScanResponse> {
    if req.targets.is_empty() {
        return Err(Error::usage("nothing to scan")
            .with_hint("give a file, a directory, --hf-cache, or --hub org/name"));
    }
    let mut reports = Vec::new();
    for t in &req.targets {
        match t {
            Target::Path(p) => {
                let (p, limits) = (p.clone(), req.limits.clone());
                let r = tokio::task::spawn_blocking(move || {
                    cambrian_scan::scan_path(&ScanTarget::Path(p), &limits)
                })
                .await
                .map_err(|e| Error::internal(format!("scan task failed: {e}")))?
                .map_err(scan_err)?;
                reports.extend(r);
            }
            Target::HfCache { hub_dir, repo } => {
                let (t, limits) = (
                    ScanTarget::HfCache {
                        hub_dir: hub_dir.clone(),
                        repo: repo.clone(),
                    },
                    req.limits.clone(),
                );
                let r = tokio::task::spawn_blocking(move || cambrian_scan::scan_path(&t, &limits))
                    .await
                    .map_err(|e| Error::internal(format!("scan task failed: {e}")))?
                    .map_err(scan_err)?;
                if r.is_empty() {
                    return Err(Error::not_found(format!(
                        "no model snapshots in the Hugging Face cache {}",
                        hub_dir.display()
                    ))
                    .with_hint("download a model first, or point HF_HOME at the right folder"));
                }
                reports.extend(r);
            }
            Target::Hub { repo, revision } => {
                let cfg = req
                    .hub
                    .clone()
                    .ok_or_else(|| Error::usage("a Hub scan needs the hub settings"))?;
                reports.push(scan_hub(cfg, repo, revision.as_deref(), &req.limits).await?);
            }
        }
    }
    let verdict = reports
        .iter()
        .map(|r| r.verdict)
        .max()
        .unwrap_or(Verdict::Clean);
    Ok(ScanResponse { reports, verdict })
}

fn hub_err(e: cambrian_hub::HubError) -> Error {
    let kind = e.kind();
    let mut err = Error::new(kind, e.to_string());
    if kind == ErrorKind::NotFound {
        err = err.with_hint(
            "check the repo id (owner/name) and the revision; gated repos need HF_TOKEN",
        );
    }
    err.with_source(e)
}

fn ext(name: &str) -> String {
    name.rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default()
}

/// What to fetch from a Hub repo file.
enum Fetch {
    /// The header only, by Range (safetensors: 8 + N bytes; GGUF: a prefix).
    Header,
    /// Binary containers (pickle family, PyTorch zip and legacy, NumPy,
    /// archives, ONNX, Keras): read on demand by Range through
    /// [`RangeSource`], so a multi-GiB checkpoint moves only its zip
    /// directory, member heads and pickles.
    Ranged,
    /// A small text file read whole, up to this many bytes (card, chat templates).
    Whole(u64),
    /// Not a risk-bearing file type: listed as skipped.
    Skip,
}

fn plan(name: &str) -> Fetch {
    let base = name.rsplit('/').next().unwrap_or(name);
    match ext(name).as_str() {
        "safetensors" | "gguf" => Fetch::Header,
        "bin" | "pt" | "pth" | "ckpt" | "pkl" | "pickle" | "joblib" | "dat" | "data" | "dill"
        | "npy" | "npz" | "zip" | "h5" | "hdf5" | "keras" | "onnx" | "7z" | "gz" | "msgpack" => {
            Fetch::Ranged
        }
        "jinja" => Fetch::Whole(16 << 20),
        _ if base == "tokenizer_config.json"
            || base == "chat_template.json"
            || base == "README.md" =>
        {
            Fetch::Whole(16 << 20)
        }
        _ => Fetch::Skip,
    }
}

async fn scan_hub(
    cfg: cambrian_hub::HubConfig,
    repo: &str,
    revision: Option<&str>,
    limits: &Limits,
) -> Result<RepoReport> {
    let client = cambrian_hub::HubClient::new(cfg).map_err(hub_err)?;
    let info = client
        .model_info(repo, revision, &[])
        .await
        .map_err(hub_err)?;
    let rev = revision
        .map(String::from)
        .or_else(|| info.record.sha.clone())
        .unwrap_or_else(|| "main".into());
    let mut files = Vec::new();
    let mut skipped = 0usize;
    let mut card = None;
    for name in &info.record.siblings {
        match plan(name) {
            Fetch::Skip => skipped += 1,
            Fetch::Header => {
                let (prefix, note) = if ext(name) == "safetensors" {
                    match client.read_range(repo, &rev, name, 0..8).await {
                        Ok(b) if b.len() == 8 => {
                            let mut a = [0u8; 8];
                            a.copy_from_slice(&b);
                            let n = u64::from_le_bytes(a);
                            if n > cambrian_formats::safetensors::MAX_HEADER_SIZE {
                                (b.to_vec(), None)
                            } else {
                                match client.read_range(repo, &rev, name, 0..8 + n).await {
                                    Ok(h) => (h.to_vec(), None),
                                    Err(e) => (Vec::new(), Some(e.to_string())),
                                }
                            }
                        }
                        Ok(b) => (b.to_vec(), None),
                        Err(e) => (Vec::new(), Some(e.to_string())),
                    }
                } else {
                    match client.read_range(repo, &rev, name, 0..(32 << 20)).await {
                        Ok(b) => (b.to_vec(), None),
                        Err(e) => (Vec::new(), Some(e.to_string())),
                    }
                };
                files.push(match note {
                    Some(e) => FileReport::new(
                        name.clone(),
                        0,
                        "other",
                        vec![Finding::new(
                            "hub.fetch",
                            Level::Unreadable,
                            format!("fetching the header failed: {e}"),
                        )],
                    ),
                    None => cambrian_scan::engine::scan_header_prefix(&prefix, name, limits),
                });
            }
            Fetch::Ranged => files.push(scan_ranged(&client, repo, &rev, name, limits).await?),
            Fetch::Whole(max) => match client.read_file(repo, &rev, name, max).await {
                Ok(b) => {
                    if name == "README.md" {
                        card = Some(cambrian_scan::card::score_card(
                            name,
                            &String::from_utf8_lossy(&b),
                        ));
                    }
                    let data = b.to_vec();
                    let (n, l) = (name.clone(), limits.clone());
                    let r = tokio::task::spawn_blocking(move || {
                        cambrian_scan::scan_bytes(&data, &n, &l)
                    })
                    .await
                    .map_err(|e| Error::internal(format!("scan task failed: {e}")))?;
                    files.push(r);
                }
                Err(e)
                    if e.kind() == ErrorKind::Remote
                        || e.kind() == ErrorKind::NotFound
                        || e.kind() == ErrorKind::BadInput =>
                {
                    files.push(FileReport::new(
                        name.clone(),
                        0,
                        "other",
                        vec![Finding::new(
                            "hub.fetch",
                            Level::Unreadable,
                            format!("not scanned: {e}"),
                        )],
                    ));
                }
                Err(e) => return Err(hub_err(e)),
            },
        }
    }
    let mut report = RepoReport::assemble(format!("{repo}@{rev}"), files, card);
    if skipped > 0 {
        report.findings.push(Finding::new(
            "hub.skipped",
            Level::Info,
            format!(
                "{skipped} repo files of other types (configs, text, vocabularies) were not fetched"
            ),
        ));
    }
    Ok(report)
}

/// Scan one binary Hub file by Range: the first request reads its head and
/// learns its length; a file that fits in the head is scanned from memory,
/// a larger one through a [`RangeSource`] on a blocking thread (the scanner is
/// synchronous), fetching only what the scanner reads. A note records the
/// bytes moved and the requests made.
async fn scan_ranged(
    client: &cambrian_hub::HubClient,
    repo: &str,
    rev: &str,
    name: &str,
    limits: &Limits,
) -> Result<FileReport> {
    const HEAD: u64 = RangeSource::<fn(u64, u64) -> std::io::Result<Vec<u8>>>::BLOCK;
    let unreadable = |why: String| {
        FileReport::new(
            name,
            0,
            "other",
            vec![Finding::new("hub.fetch", Level::Unreadable, why)],
        )
    };
    let (head, total) = match client.read_range_with_len(repo, rev, name, 0..HEAD).await {
        Ok(v) => v,
        Err(e)
            if e.kind() == ErrorKind::Remote
                || e.kind() == ErrorKind::NotFound
                || e.kind() == ErrorKind::BadInput =>
        {
            return Ok(unreadable(format!("not scanned: {e}")));
        }
        Err(e) => return Err(hub_err(e)),
    };
    let (n, l) = (name.to_string(), limits.clone());
    let Some(total) = total.filter(|&t| t > head.len() as u64) else {
        // The whole file came in the first response (or its length is unknown:
        // then what came is all there is to scan, and a short read is unreadable).
        if total.is_none() && head.len() as u64 == HEAD {
            return Ok(unreadable(
                "the server did not state the file's length; not scanned".into(),
            ));
        }
        return tokio::task::spawn_blocking(move || cambrian_scan::scan_bytes(&head, &n, &l))
            .await
            .map_err(|e| Error::internal(format!("scan task failed: {e}")));
    };
    let (client, repo, rev) = (client.clone(), repo.to_string(), rev.to_string());
    let handle = tokio::runtime::Handle::current();
    let budget = limits
        .max_total_uncompressed
        .saturating_add(limits.max_member_bytes);
    tokio::task::spawn_blocking(move || {
        let src = RangeSource::new(total, budget, |a, b| {
            handle
                .block_on(client.read_range(&repo, &rev, &n, a..b))
                .map(|bytes| bytes.to_vec())
                .map_err(std::io::Error::other)
        });
        src.seed_head(&head);
        let mut r = cambrian_scan::engine::scan_source_report(&src, &n, &l);
        r.findings.push(Finding::new(
            "hub.ranged",
            Level::Info,
            format!(
                "read by HTTP Range: {} of {} bytes in {} requests after a {}-byte head",
                src.fetched_bytes(),
                total,
                src.requests(),
                head.len()
            ),
        ));
        r
    })
    .await
    .map_err(|e| Error::internal(format!("scan task failed: {e}")))
}

/// SARIF 2.1.0 document for a response.
pub fn sarif(resp: &ScanResponse, min: Level) -> serde_json::Value {
    cambrian_scan::sarif::sarif(&resp.reports, env!("CARGO_PKG_VERSION"), min)
}

/// CycloneDX 1.6 ML-BOM for a response; `timestamp` in RFC 3339.
pub fn cyclonedx(resp: &ScanResponse, timestamp: &str) -> serde_json::Value {
    cambrian_scan::cyclonedx::bom(&resp.reports, env!("CARGO_PKG_VERSION"), timestamp)
}

/// The current time in RFC 3339 (UTC, seconds).
pub fn now_rfc3339() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}
