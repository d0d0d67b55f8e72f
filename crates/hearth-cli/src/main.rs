//! The `hearth` binary. Everything lives in [`cli::main`]; this file only hands over.

mod cli;
mod commands;
mod doctor;
mod failure;
mod knowledge;
mod mcp;
mod models;
mod output;
mod prompt;
mod providers;
mod serve;
mod sync;
mod workflows;

fn main() -> std::process::ExitCode {
    cli::main()
}
