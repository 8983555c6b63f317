//! One module per subcommand: its clap `Args`, a call into the facade, and
//! rendering (table or JSON Lines). Each `run` returns the exit code.

use crate::cli::{Command, Ctx};

pub mod eval;
pub mod find;
pub mod fit;
pub mod import;
pub mod license;
pub mod scan;
pub mod show;
pub mod snapshots;
pub mod sync;
pub mod trends;

pub async fn dispatch(command: Command, ctx: &Ctx) -> anyhow::Result<u8> {
    match command {
        Command::Sync(a) => sync::run(a, ctx).await,
        Command::Import(a) => import::run(a, ctx).await,
        Command::Snapshots(a) => snapshots::run(a, ctx).await,
        Command::Show(a) => show::run(a, ctx).await,
        Command::Trends(a) => trends::run(a, ctx).await,
        Command::Fit(a) => fit::run(a, ctx).await,
        Command::License(a) => license::run(a, ctx).await,
        Command::Find(a) => find::run(a, ctx).await,
        Command::Eval(a) => eval::run(a, ctx).await,
        Command::Scan(a) => scan::run(a, ctx).await,
    }
}
