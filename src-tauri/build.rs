//! Tauri's build step: reads `tauri.conf.json` and `capabilities/`, and declares the app's
//! one command so that a capability must grant it (nothing is allowed by default).

fn main() {
    let manifest = tauri_build::AppManifest::new().commands(&["choose_model_file"]);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest)).expect("running tauri-build");
}
