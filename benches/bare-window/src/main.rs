//! A bare Tauri 2 window showing one static page: what the desktop benchmark measures
//! Hearth's window against (memory at idle, time to a loaded page). Nothing but Tauri's
//! defaults, so the ratio shows what Hearth adds.

fn main() {
    tauri::Builder::default().run(tauri::generate_context!()).expect("running the bare window");
}
