//! The `cambrian` binary. Thin: parse, dispatch to the facade, render, map
//! errors to the documented exit codes (docs/exit-codes.md).

mod cli;
mod cmd;
mod output;

fn main() -> std::process::ExitCode {
    cli::run()
}
