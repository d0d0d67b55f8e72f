//! The `hearth-desktop` binary. Everything lives in [`hearth_desktop::run`].

fn main() {
    hearth_desktop::run();
}
