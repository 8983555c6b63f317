//! `cambrian snapshots` (being written).

use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_args: Args, _ctx: &Ctx) -> anyhow::Result<u8> {
    Err(cambrian_app::Error::internal("`cambrian snapshots` is not available in this build").into())
}
