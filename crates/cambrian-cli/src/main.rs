//! The `cambrian` binary. Thin: parse, dispatch to the facade, render, map
//! errors to the documented exit codes (docs/exit-codes.md).

mod cli;
mod cmd;
mod output;

/// mimalloc instead of glibc malloc: the funnel, sync and scan allocate many
/// small strings; measured in bench/find (see docs/find.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::run()
}
