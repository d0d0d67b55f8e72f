//! The `hearth-sandbox` program: the child process that runs one workflow code node, locked
//! down. It speaks only to its parent, over its standard input and output (see the crate's
//! header); people never run it by hand.

fn main() -> std::process::ExitCode {
    hearth_sandbox::child_main()
}
