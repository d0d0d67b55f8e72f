//! Tauri's build step for the bare reference window.

fn main() {
    tauri_build::build();
}
