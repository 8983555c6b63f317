//! Argument parsing, global settings, the async runtime and error reporting.

use crate::cmd;
use cambrian_app::Error as AppError;
use cambrian_types::ErrorKind;
use clap::{Parser, Subcommand};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

/// cambrian — pick an open model for a real job, on evidence.
///
/// Track the Hugging Face Hub over time, shortlist models by license and
/// hardware fit, test them on your own labeled examples, and audit their
/// files for unsafe serialization.
#[derive(Debug, Parser)]
#[command(
    name = "cambrian",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand accepts.
#[derive(Debug, Clone, clap::Args)]
pub struct Global {
    /// Store directory [default: $XDG_DATA_HOME/cambrian, else ~/.local/share/cambrian].
    #[arg(long, global = true, env = "CAMBRIAN_STORE", value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// Emit JSON Lines on stdout (one typed record per line) instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// No progress bars on stderr.
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Snapshot the Hub listing into the store (resumable).
    Sync(cmd::sync::Args),
    /// Import archived snapshot files (one snapshot per date).
    Import(cmd::import::Args),
    /// List stored snapshots.
    Snapshots(cmd::snapshots::Args),
    /// Show a model's latest record and its history.
    Show(cmd::show::Args),
    /// Rising and falling categories and models between two dates.
    Trends(cmd::trends::Args),
    /// Will a model fit my GPUs, how fast, at what cost?
    Fit(cmd::fit::Args),
    /// Explain a license verdict with its obligations and citations.
    License(cmd::license::Args),
    /// The shortlist funnel: license, hardware, context, workload.
    Find(cmd::find::Args),
    /// Run candidate models on your labeled examples, with honest statistics.
    Eval(cmd::eval::Args),
    /// Static risk scan of model files, directories, caches or Hub repos.
    Scan(cmd::scan::Args),
}

/// Resolved global settings handed to every command.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub store: PathBuf,
    pub json: bool,
    /// Whether progress bars may be drawn on stderr.
    pub progress: bool,
}

impl Ctx {
    fn from_global(g: &Global) -> Ctx {
        Ctx {
            store: g.store.clone().unwrap_or_else(default_store_dir),
            json: g.json,
            progress: !g.quiet && std::io::stderr().is_terminal(),
        }
    }
}

/// `$XDG_DATA_HOME/cambrian`, else `$HOME/.local/share/cambrian`, else `./.cambrian`.
pub fn default_store_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("cambrian");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(h).join(".local/share/cambrian");
    }
    PathBuf::from(".cambrian")
}

pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    init_logging();
    let ctx = Ctx::from_global(&cli.global);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(101);
        }
    };
    let result = rt.block_on(cmd::dispatch(cli.command, &ctx));
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => report(&err),
    }
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("CAMBRIAN_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal())
        .try_init();
}

/// Print an error with its whole cause chain once, then its hint; return the
/// exit code for its kind. A broken pipe on stdout is not an error (exit 0).
fn report(err: &anyhow::Error) -> ExitCode {
    if crate::output::is_broken_pipe(err) {
        return ExitCode::SUCCESS;
    }
    let (kind, hint) = match err.downcast_ref::<AppError>() {
        Some(e) => (e.kind, e.hint.clone()),
        None => (ErrorKind::Internal, None),
    };
    let mut msg = format!("error: {err}");
    let mut cause = err.source();
    // anyhow's chain starts at the error itself; AppError's source follows.
    while let Some(c) = cause {
        msg.push_str(&format!("\n  caused by: {c}"));
        cause = c.source();
    }
    eprintln!("{msg}");
    if let Some(h) = hint {
        eprintln!("hint: {h}");
    }
    if kind == ErrorKind::Internal && err.downcast_ref::<AppError>().is_none() {
        eprintln!(
            "hint: this looks like a bug in cambrian; please report it with the command you ran"
        );
    }
    ExitCode::from(kind.exit_code())
}
