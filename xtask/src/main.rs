//! Project automation, run as `cargo xtask <task>` (an alias in `.cargo/config.toml`).
//!
//! - `tidy`: the structural checks in [`tidy`]; also run by `cargo test` as a unit test.

mod tidy;

use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let task = std::env::args().nth(1);
    match task.as_deref() {
        Some("tidy") => {
            let problems = tidy::check(&project_root())?;
            if problems.is_empty() {
                println!("tidy: ok");
                Ok(())
            } else {
                for p in &problems {
                    eprintln!("tidy: {p}");
                }
                eprintln!("tidy: {} problem(s)", problems.len());
                std::process::exit(1)
            }
        }
        _ => {
            eprintln!("usage: cargo xtask tidy");
            std::process::exit(2)
        }
    }
}

/// The workspace root: xtask lives one level below it. Cargo's run-time `CARGO_MANIFEST_DIR`
/// comes first: a binary built in another checkout sharing the target directory (a CI clone)
/// may be reused here, and its compile-time path would name that checkout.
pub(crate) fn project_root() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest_dir.parent().expect("xtask is inside the workspace").to_owned()
}
