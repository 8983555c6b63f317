//! A local Hugging Face Hub simulator for tests and benchmarks.
//!
//! Serves `GET /api/models` (Link paging with an opaque cursor, `limit`,
//! `sort` + `direction`, repeatable `filter`, `pipeline_tag`, `author`,
//! `search`, `expand[]`), `GET /api/models/{id}[/revision/{rev}]` and
//! `GET /{id}/resolve/{rev}/{file}` with `Range`, over a real population
//! (`--data DIR`) or a generated one (seeded, deterministic, distributions
//! derived from real Hub data). Injects faults at a given rate from a seeded
//! RNG. Binds 127.0.0.1 only. `GET /_sim/stats` returns request and byte
//! counters per path. See `docs/hub.md`.

pub mod population;
pub mod repo;
mod server;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use population::SimModel;
pub use server::PRESERIALISED_EXPAND;

/// Simulator errors (start-up only; request problems become HTTP answers).
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot bind 127.0.0.1:{port}: {source}")]
    Bind { port: u16, source: std::io::Error },
    #[error("bad simulator data: {0}")]
    Data(String),
    #[error("bad simulator configuration: {0}")]
    Config(String),
}

/// One kind of injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// 429 with `RateLimit`, `RateLimit-Policy` and `Retry-After`.
    RateLimit,
    Status500,
    Status502,
    Status503,
    /// The connection is dropped before a response is sent.
    Reset,
    /// The response is delayed by `stall` (longer than a client timeout).
    Stall,
    /// The body breaks off: Content-Length larger than the bytes sent, or a
    /// JSON body cut in the middle (chunked, so HTTP itself is valid).
    Truncate,
    /// A listing page starts one item early, repeating the last item of the
    /// previous page (paging still covers every item).
    Repeat,
    /// Malformed content (not transient; opt-in): a syntax error in the JSON.
    InvalidJson,
    /// Some fields of some items have wrong types (`likes: "12"`, `tags: "x"`…).
    WrongTypes,
    /// Optional fields removed; one item of a page loses its `id`.
    MissingFields,
    /// Extra unknown fields added to items.
    UnknownFields,
}

impl FaultKind {
    pub const ALL: &'static [FaultKind] = &[
        FaultKind::RateLimit,
        FaultKind::Status500,
        FaultKind::Status502,
        FaultKind::Status503,
        FaultKind::Reset,
        FaultKind::Stall,
        FaultKind::Truncate,
        FaultKind::Repeat,
        FaultKind::InvalidJson,
        FaultKind::WrongTypes,
        FaultKind::MissingFields,
        FaultKind::UnknownFields,
    ];
    /// The default `--faults` set: everything a retrying client must survive.
    pub const TRANSIENT: &'static [FaultKind] = &[
        FaultKind::RateLimit,
        FaultKind::Status500,
        FaultKind::Status502,
        FaultKind::Status503,
        FaultKind::Reset,
        FaultKind::Stall,
        FaultKind::Truncate,
        FaultKind::Repeat,
    ];
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::RateLimit => "ratelimit",
            FaultKind::Status500 => "500",
            FaultKind::Status502 => "502",
            FaultKind::Status503 => "503",
            FaultKind::Reset => "reset",
            FaultKind::Stall => "stall",
            FaultKind::Truncate => "truncate",
            FaultKind::Repeat => "repeat",
            FaultKind::InvalidJson => "invalid-json",
            FaultKind::WrongTypes => "wrong-types",
            FaultKind::MissingFields => "missing-fields",
            FaultKind::UnknownFields => "unknown-fields",
        }
    }
    /// Parses a comma-separated list; `transient` and `all` are groups.
    pub fn parse_list(s: &str) -> Result<Vec<FaultKind>, SimError> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "all" => out.extend_from_slice(Self::ALL),
                "transient" => out.extend_from_slice(Self::TRANSIENT),
                "5xx" => out.extend_from_slice(&[
                    FaultKind::Status500,
                    FaultKind::Status502,
                    FaultKind::Status503,
                ]),
                p => out.push(FaultKind::from_str(p)?),
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }
}

impl FromStr for FaultKind {
    type Err = SimError;
    fn from_str(s: &str) -> Result<Self, SimError> {
        FaultKind::ALL
            .iter()
            .copied()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = FaultKind::ALL.iter().map(|k| k.name()).collect();
                SimError::Config(format!(
                    "unknown fault kind `{s}` (known: {}, or the groups all, transient, 5xx)",
                    names.join(", ")
                ))
            })
    }
}

/// Simulator settings.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Size of the generated population (ignored with `data`).
    pub models: usize,
    pub seed: u64,
    /// Probability that a request (to /api or /resolve) gets a fault.
    pub fault_rate: f64,
    pub faults: Vec<FaultKind>,
    /// 0 = an ephemeral port.
    pub port: u16,
    /// Serve the real files of this directory instead of a generated population.
    pub data: Option<PathBuf>,
    /// How long a `stall` fault delays the response.
    pub stall: Duration,
    /// `t` of the `RateLimit` header (seconds until reset) sent with 429.
    pub ratelimit_reset_secs: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            models: 200_000,
            seed: 42,
            fault_rate: 0.0,
            faults: FaultKind::TRANSIENT.to_vec(),
            port: 0,
            data: None,
            stall: Duration::from_secs(30),
            ratelimit_reset_secs: 1,
        }
    }
}

/// Counters of one path. `bytes` counts body bytes handed to the
/// connection (a client that stops reading early stops the count too, up to
/// socket buffering).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PathStats {
    pub requests: u64,
    pub bytes: u64,
}

/// The `/_sim/stats` document.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SimStats {
    pub requests: u64,
    /// Requests that carried an `Authorization: Bearer …` header.
    pub authorized_requests: u64,
    pub bytes: u64,
    pub models: usize,
    pub faults: BTreeMap<String, u64>,
    pub paths: BTreeMap<String, PathStats>,
}

/// A running simulator. Dropping it stops it too (without waiting).
pub struct RunningSim {
    addr: SocketAddr,
    shutdown: tokio::sync::watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
    state: Arc<server::State>,
}

impl RunningSim {
    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// A snapshot of the counters (same data as `GET /_sim/stats`).
    pub fn stats(&self) -> SimStats {
        self.state.stats()
    }
    /// The population served, in generation/load order.
    pub fn models(&self) -> &[SimModel] {
        &self.state.models
    }
    /// Changes the fault rate of the running simulator.
    pub fn set_fault_rate(&self, rate: f64) {
        self.state.set_fault_rate(rate);
    }
    /// Stops accepting, closes open connections and waits for the server task.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// Builds the population and starts serving on 127.0.0.1.
pub async fn start(cfg: SimConfig) -> Result<RunningSim, SimError> {
    if !(0.0..=1.0).contains(&cfg.fault_rate) {
        return Err(SimError::Config(format!(
            "fault rate {} is not in [0, 1]",
            cfg.fault_rate
        )));
    }
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", cfg.port))
        .await
        .map_err(|source| SimError::Bind {
            port: cfg.port,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| SimError::Bind {
        port: cfg.port,
        source,
    })?;
    let cfg2 = cfg.clone();
    let models = tokio::task::spawn_blocking(move || -> Result<Vec<SimModel>, SimError> {
        match &cfg2.data {
            Some(dir) => population::load_dir(dir),
            None => {
                let mut m = population::generate(cfg2.models, cfg2.seed)?;
                m.extend(population::declared_models());
                Ok(m)
            }
        }
    })
    .await
    .map_err(|e| SimError::Data(format!("population task failed: {e}")))??;
    let state = Arc::new(server::State::new(cfg, models, format!("http://{addr}")));
    let (tx, rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(server::serve(listener, state.clone(), rx));
    Ok(RunningSim {
        addr,
        shutdown: tx,
        task: Some(task),
        state,
    })
}

pub(crate) struct Counters {
    pub requests: AtomicU64,
    pub authorized: AtomicU64,
    pub bytes: AtomicU64,
    pub faults: Mutex<HashMap<FaultKind, u64>>,
    pub paths: Mutex<HashMap<String, PathStats>>,
}

impl Counters {
    pub fn new() -> Self {
        Counters {
            requests: AtomicU64::new(0),
            authorized: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            faults: Mutex::new(HashMap::new()),
            paths: Mutex::new(HashMap::new()),
        }
    }
    pub fn record(&self, path: &str, bytes: u64) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        if let Ok(mut p) = self.paths.lock() {
            let e = p.entry(path.to_string()).or_default();
            e.requests += 1;
            e.bytes += bytes;
        }
    }
    /// Adds bytes actually handed to the connection (streamed bodies).
    pub fn add_bytes(&self, path: &str, bytes: u64) {
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        if let Ok(mut p) = self.paths.lock() {
            p.entry(path.to_string()).or_default().bytes += bytes;
        }
    }
    pub fn fault(&self, k: FaultKind) {
        if let Ok(mut f) = self.faults.lock() {
            *f.entry(k).or_default() += 1;
        }
    }
}
