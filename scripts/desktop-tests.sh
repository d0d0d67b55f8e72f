#!/usr/bin/env bash
# The real desktop window: hearth-desktop on a virtual display, driven by tauri-driver
# through Debian's WebKitWebDriver (ui/e2e-desktop/window.test.mjs, under
# scripts/with-display.sh), on a throwaway data folder with the real default model. `make
# test` runs it offline inside its own D-Bus session (scripts/isolated.sh), which the
# single-instance check and the keychain need. Screenshots go to ui/e2e-artifacts/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
: "${HEARTH_DESKTOP_BIN:?set HEARTH_DESKTOP_BIN to the hearth-desktop binary}" "${HEARTH_E2E_MODEL:?set HEARTH_E2E_MODEL}"
for need in "$HEARTH_DESKTOP_BIN" "$HEARTH_E2E_MODEL"; do
  [ -e "$need" ] || { echo "error: $need is missing (make test builds it)" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
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
fi
exit "$status"
