//! `cambrian-llmsim`: run the OpenAI-compatible stub on 127.0.0.1.
//! Prints `http://127.0.0.1:PORT/v1` on stdout once listening.

use cambrian_llmsim::{SimConfig, Stats};
use clap::Parser;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(
    version,
    about = "Instant OpenAI-compatible stub server for tests and benchmarks"
)]
struct Args {
    /// Port on 127.0.0.1 (0 = any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Delay before every response, milliseconds.
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    /// Answer every N-th request with 429.
    #[arg(long)]
    fail_429_every: Option<u64>,
    /// Answer every N-th request with 503.
    #[arg(long)]
    fail_503_every: Option<u64>,
    /// Retry-After seconds on 429/503.
    #[arg(long, default_value_t = 0)]
    retry_after: u64,
    /// Make every N-th answer differ.
    #[arg(long)]
    vary_every: Option<u64>,
    /// Send reasoning as `reasoning_content` instead of `<think>` tags.
    #[arg(long)]
    reasoning_field: bool,
    /// Worker threads (default 1: leave the cores to the client being measured).
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::from(101);
        }
    };
    let cfg = SimConfig {
        delay: Duration::from_millis(args.delay_ms),
        fail_429_every: args.fail_429_every,
        retry_after_secs: args.retry_after,
        fail_503_every: args.fail_503_every,
        vary_every: args.vary_every,
        reasoning_field: args.reasoning_field,
        hold_after: None,
    };
    let r = rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
        let addr = listener.local_addr()?;
        println!("http://{addr}/v1");
        let _ = std::io::stdout().flush();
        cambrian_llmsim::serve(listener, cfg, Arc::new(Stats::default())).await
    });
    match r {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(4)
        }
    }
}
