//! `cambrian-hubsim`: runs the Hub simulator until killed. The first stdout
//! line is the base URL.

use clap::Parser;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

/// A local Hugging Face Hub simulator (binds 127.0.0.1).
#[derive(Parser, Debug)]
#[command(name = "cambrian-hubsim", version)]
struct Args {
    /// Number of generated models (ignored with --data).
    #[arg(long, default_value_t = 200_000)]
    models: usize,
    /// Seed of the generated population and of fault injection.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Probability in [0, 1] that a request gets a fault.
    #[arg(long, default_value_t = 0.0)]
    fault_rate: f64,
    /// Port (0 = any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Serve real files from DIR (model_info JSONs, snapshot listings, repos/<owner>/<name>/<file>).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Comma-separated fault kinds: ratelimit, 500, 502, 503, reset, stall, truncate, repeat,
    /// invalid-json, wrong-types, missing-fields, unknown-fields; groups: transient (default), 5xx, all.
    #[arg(long, default_value = "transient")]
    faults: String,
    /// How long a `stall` fault delays the response, in milliseconds.
    #[arg(long, default_value_t = 30_000)]
    stall_ms: u64,
    /// Seconds announced by RateLimit `t=` / Retry-After on a 429 fault.
    #[arg(long, default_value_t = 1)]
    ratelimit_reset: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let cfg = cambrian_hubsim::SimConfig {
        models: a.models,
        seed: a.seed,
        fault_rate: a.fault_rate,
        faults: cambrian_hubsim::FaultKind::parse_list(&a.faults)?,
        port: a.port,
        data: a.data,
        stall: Duration::from_millis(a.stall_ms),
        ratelimit_reset_secs: a.ratelimit_reset,
    };
    let sim = cambrian_hubsim::start(cfg).await?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", sim.base_url())?;
    out.flush()?;
    drop(out);
    eprintln!(
        "cambrian-hubsim: serving {} models; stats at {}/_sim/stats",
        sim.models().len(),
        sim.base_url()
    );
    tokio::signal::ctrl_c().await?;
    sim.shutdown().await;
    Ok(())
}
