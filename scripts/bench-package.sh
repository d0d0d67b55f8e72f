#!/usr/bin/env bash
# The packaged engine against the native one, in one run: the same `hearth chat` (greedy,
# same prompt, 256 tokens) through the native build (target-cpu=native) and the package's
# build (CPU kernels picked at run time), alternating, five times each. Prints the median
# decode speed of each and their ratio (the package should be within 0.95x).
# Usage: bench-package.sh NATIVE_HEARTH PACKAGED_HEARTH MODEL_FILE
set -euo pipefail
native=${1:?usage: bench-package.sh NATIVE_HEARTH PACKAGED_HEARTH MODEL_FILE}
packaged=${2:?usage: bench-package.sh NATIVE_HEARTH PACKAGED_HEARTH MODEL_FILE}
model=${3:?usage: bench-package.sh NATIVE_HEARTH PACKAGED_HEARTH MODEL_FILE}
for f in "$native" "$packaged" "$model"; do [ -e "$f" ] || { echo "error: $f is missing" >&2; exit 1; }; done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
run() { # BINARY LABEL ROUND
  HEARTH_DATA_DIR="$tmp/$2" HEARTH_DEFAULT_MODEL="$model" "$1" --json chat --temperature 0 --seed 1 --max-tokens 256 \
    "Write a long story about a lighthouse keeper who finds a message in a bottle." >"$tmp/$2-$3.json"
}
# One warm-up each (page cache, first load), then the measured rounds.
run "$native" native 0
run "$packaged" packaged 0
for round in 1 2 3 4 5; do
  run "$native" native "$round"
  run "$packaged" packaged "$round"
done
python3 - "$tmp" <<'PY'
import json, statistics, sys
from pathlib import Path
tmp = Path(sys.argv[1])
def speeds(label):
    out = []
    for i in range(1, 6):
        r = json.loads((tmp / f"{label}-{i}.json").read_text())
        out.append((r["timings"]["tokens_per_second"], r["usage"]["completion_tokens"]))
    return out
native, packaged = speeds("native"), speeds("packaged")
n = statistics.median(s for s, _ in native)
p = statistics.median(s for s, _ in packaged)
tokens = {t for _, t in native + packaged}
print(f"package vs native decode (hearth chat, greedy, {'/'.join(map(str, sorted(tokens)))} tokens, median of 5):")
print(f"  native   {n:7.1f} tokens/s   (runs: {', '.join(f'{s:.1f}' for s, _ in native)})")
print(f"  packaged {p:7.1f} tokens/s   (runs: {', '.join(f'{s:.1f}' for s, _ in packaged)})")
print(f"  ratio    {p / n:.3f}x (packaged / native)")
PY
