#!/usr/bin/env bash
# The real desktop window: hearth-desktop on a virtual display (Xvfb), driven by tauri-driver
# through Debian's WebKitWebDriver (ui/e2e-desktop/window.test.mjs), on a throwaway data
# folder with the real default model. Needs a D-Bus session (scripts/with-keyring.sh gives
# one) for the single-instance check and the keychain.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
: "${HEARTH_DESKTOP_BIN:?set HEARTH_DESKTOP_BIN to the hearth-desktop binary}" "${HEARTH_E2E_MODEL:?set HEARTH_E2E_MODEL}"
TAURI_DRIVER=${TAURI_DRIVER:-tauri-driver}
for need in "$HEARTH_DESKTOP_BIN" "$HEARTH_E2E_MODEL"; do
  [ -e "$need" ] || { echo "error: $need is missing (make test builds it)" >&2; exit 1; }
done
for tool in Xvfb WebKitWebDriver "$TAURI_DRIVER"; do
  command -v "$tool" >/dev/null || { echo "error: $tool is missing (make test installs it: scripts/deps.sh, make testbed)" >&2; exit 1; }
done

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# A display of our own: the first free number from 90.
display=90
while [ -e "/tmp/.X11-unix/X$display" ] || [ -e "/tmp/.X$display-lock" ]; do display=$((display + 1)); done
Xvfb ":$display" -screen 0 1280x800x24 -nolisten tcp >"$tmp/xvfb.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [ -e "/tmp/.X11-unix/X$display" ] && break; sleep 0.1; done
[ -e "/tmp/.X11-unix/X$display" ] || { echo "error: Xvfb did not start:" >&2; cat "$tmp/xvfb.log" >&2; exit 1; }
export DISPLAY=":$display"

# The app the driver starts inherits this environment: its own data folder, the model, any
# free port, and no accessibility bus to look for.
export HEARTH_DATA_DIR="$tmp/data" HEARTH_DEFAULT_MODEL="$HEARTH_E2E_MODEL" HEARTH_PORT=0 NO_AT_BRIDGE=1
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$TAURI_DRIVER" --port "$port" >"$tmp/driver.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/status" >/dev/null 2>&1 && break
  sleep 0.1
done

artifacts="$root/ui/e2e-artifacts"
mkdir -p "$artifacts"
status=0
WEBDRIVER_URL="http://127.0.0.1:$port" HEARTH_ARTIFACTS="$artifacts" node --test "$root/ui/e2e-desktop/" || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- tauri-driver log" >&2; tail -n 50 "$tmp/driver.log" >&2
  echo "--- app log" >&2; cat "$tmp"/data/logs/*.log 2>/dev/null | tail -n 30 >&2 || true
fi
exit "$status"
