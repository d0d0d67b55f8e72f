//! Rebuilds the server when the built UI changes: `rust-embed` tracks the files it embedded,
//! but a new Vite build brings files with new (hashed) names it has never seen.

fn main() {
    println!("cargo:rerun-if-changed=../../ui/dist");
}
