#!/usr/bin/env bash
# Runs a command with a virtual display (Xvfb) and a WebDriver for the desktop app
# (tauri-driver over Debian's WebKitWebDriver): exports DISPLAY and WEBDRIVER_URL, and stops
# both afterwards. The desktop window's test and benchmark run inside it.
set -euo pipefail
TAURI_DRIVER=${TAURI_DRIVER:-tauri-driver}
for tool in Xvfb WebKitWebDriver "$TAURI_DRIVER" curl; do
  command -v "$tool" >/dev/null || { echo "error: $tool is missing (make installs it: scripts/deps.sh, make testbed)" >&2; exit 1; }
done

logs=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$logs"
}
trap cleanup EXIT

# A display of our own: the first free number from 90.
display=90
while [ -e "/tmp/.X11-unix/X$display" ] || [ -e "/tmp/.X$display-lock" ]; do display=$((display + 1)); done
Xvfb ":$display" -screen 0 1280x800x24 -nolisten tcp >"$logs/xvfb.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [ -e "/tmp/.X11-unix/X$display" ] && break; sleep 0.1; done
[ -e "/tmp/.X11-unix/X$display" ] || { echo "error: Xvfb did not start:" >&2; cat "$logs/xvfb.log" >&2; exit 1; }
export DISPLAY=":$display"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$TAURI_DRIVER" --port "$port" >"$logs/driver.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/status" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$port/status" >/dev/null || { echo "error: tauri-driver did not start:" >&2; cat "$logs/driver.log" >&2; exit 1; }
export WEBDRIVER_URL="http://127.0.0.1:$port"

status=0
"$@" || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- tauri-driver log (tail)" >&2
  tail -n 40 "$logs/driver.log" >&2
fi
exit "$status"
