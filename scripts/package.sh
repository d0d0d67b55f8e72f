#!/usr/bin/env bash
# Builds Hearth's Debian package with the Tauri bundler: `hearth-desktop` (the window),
# `hearth` on the PATH, a desktop entry and icons, llama.cpp's libraries and the
# `hearth-sandbox` program (which runs workflow code nodes, found by both binaries in
# ../lib/hearth) in /usr/lib/hearth, and the Debian packages it needs declared. Prints the
# .deb's path on stdout.
#
# The build is portable: no `-C target-cpu=native` (RUSTFLAGS replaces .cargo/config.toml's
# build.rustflags), and llama.cpp's CPU kernels are built for every x86-64 generation as
# modules that ggml picks from at run time (hearth-llama's `portable` feature), so the same
# package uses AVX2 or AVX-512 where the user's CPU has them. It has a target folder of its
# own (PACKAGE_TARGET_DIR), since different flags rebuild everything. AppImage is not built:
# its bundler downloads tools from GitHub, which this project cannot rely on.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo=${CARGO:-cargo}
export CARGO_TARGET_DIR=${PACKAGE_TARGET_DIR:-$HOME/.cache/hearth/target-package}
# $ORIGIN: the binaries find libllama.so beside them in the build folder, and in
# /usr/lib/hearth once installed to /usr/bin.
export RUSTFLAGS='-C link-arg=-Wl,-rpath,$ORIGIN/../lib/hearth:$ORIGIN'

[ -f ui/dist/index.html ] || { echo "error: ui/dist is missing (make ui builds it)" >&2; exit 1; }
"$cargo" tauri --version >/dev/null 2>&1 || { echo "error: tauri-cli is missing (make package installs it)" >&2; exit 1; }

# llama-cpp-sys-2 hard-links its libraries' symlinks into release/, release/examples and release/deps
# when it builds,
# and fails on links an earlier build left (they dangle, so its exists() check misses them);
# the package takes the libraries from the build's own folder, so these links can go.
clear_links() {
  local r=$CARGO_TARGET_DIR/release
  find "$r" "$r/examples" "$r/deps" -maxdepth 1 -type l \( -name 'libllama*.so*' -o -name 'libggml*.so*' \) -delete 2>/dev/null || true
}
clear_links
"$cargo" build --locked --release -p hearth-cli --features portable >&2
"$cargo" build --locked --release -p hearth-sandbox >&2
release=$CARGO_TARGET_DIR/release

# What llama-cpp-sys-2 built: llama.cpp's shared libraries (the binaries need them by their
# sonames, libllama.so.0 and so on) and the CPU variant modules. They are staged in the
# installed layout, dist/bin and dist/lib/hearth, which the rpath above finds; the package
# takes its files from there, and `make bench` runs dist/bin/hearth as installed.
out=$(ls -td "$release"/build/llama-cpp-sys-2-*/out 2>/dev/null | head -1)
shopt -s nullglob
variants=("$out"/backends/libggml-cpu-*.so)
sonames=("$out"/lib/lib*.so.0)
((${#variants[@]} >= 2)) || { echo "error: no CPU variant modules in ${out:-the build folder}/backends; the portable build did not happen" >&2; exit 1; }
((${#sonames[@]} >= 3)) || { echo "error: llama.cpp's shared libraries are missing from $out/lib" >&2; exit 1; }
dist=$CARGO_TARGET_DIR/dist
rm -rf "$dist"
mkdir -p "$dist/bin" "$dist/lib/hearth"
cp "$release/hearth" "$dist/bin/hearth"
# Not on the PATH: only Hearth starts it, and finds it in ../lib/hearth from /usr/bin.
cp "$release/hearth-sandbox" "$dist/lib/hearth/hearth-sandbox"
for lib in "${sonames[@]}"; do cp -L "$lib" "$dist/lib/hearth/$(basename "$lib")"; done
cp "${variants[@]}" "$dist/lib/hearth/"
missing=$(LD_LIBRARY_PATH= ldd "$dist/bin/hearth" | grep 'not found' || true)
[ -z "$missing" ] || { echo "error: the staged hearth does not find its libraries:" >&2; echo "$missing" >&2; exit 1; }
libs=("$dist"/lib/hearth/*)

overlay=$(mktemp --suffix=.json)
trap 'rm -f "$overlay"' EXIT
python3 - "$overlay" "$dist/bin/hearth" "${libs[@]}" <<'PY'
import json, os, sys
out, hearth, *libs = sys.argv[1:]
files = {"/usr/bin/hearth": hearth}
files.update({f"/usr/lib/hearth/{os.path.basename(p)}": p for p in libs})
config = {
    "bundle": {
        "active": True,
        "targets": ["deb"],
        "category": "Productivity",
        "shortDescription": "A local-first AI assistant",
        "longDescription": "Hearth keeps your chats, workspaces and workflows on your machine and answers "
                           "with local GGUF models through llama.cpp, offline. Remote providers and sync "
                           "with your own Supabase project are optional.",
        "linux": {
            "deb": {
                # Tauri declares WebKitGTK, GTK and the tray library itself; llama.cpp's OpenMP threads need libgomp.
                "depends": ["libgomp1"],
                "section": "utils",
                "files": files,
            }
        },
    }
}
json.dump(config, open(out, "w"), indent=2)
PY

clear_links
"$cargo" tauri build --bundles deb --features portable --config "$overlay" -- --locked >&2
deb=$(ls -t "$release"/bundle/deb/*.deb | head -1)
# The name `apt-get install ./hearth_*.deb` expects, whatever the bundler calls it.
version=$(dpkg-deb -f "$deb" Version)
arch=$(dpkg-deb -f "$deb" Architecture)
name=$(dpkg-deb -f "$deb" Package)
final="$CARGO_TARGET_DIR/${name}_${version}_${arch}.deb"
cp "$deb" "$final"
echo "$final"
