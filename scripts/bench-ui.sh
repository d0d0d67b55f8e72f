#!/usr/bin/env bash
# `make bench`'s UI and desktop figures (ui/bench/bench.mjs): a `hearth serve` on a throwaway
# data folder for Chromium, and the desktop app beside the bare Tauri window under a virtual
# display (scripts/with-display.sh). Writes bench-results/ui.json.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
: "${HEARTH_BIN:?}" "${HEARTH_DESKTOP_BIN:?}" "${BARE_WINDOW_BIN:?}" "${HEARTH_E2E_MODEL:?}"
tmp=$(mktemp -d)
server=""
cleanup() {
  [ -n "$server" ] && kill -TERM "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
HEARTH_API_TOKEN="$token" HEARTH_DEFAULT_MODEL="$HEARTH_E2E_MODEL" "$HEARTH_BIN" --data-dir "$tmp/serve" serve --port 0 >"$tmp/serve.out" 2>/dev/null &
server=$!
url=""
for _ in $(seq 1 300); do
  url=$(sed -n 's/^hearth: listening on \(http:[^ ]*\)$/\1/p' "$tmp/serve.out" | head -n1)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "error: hearth serve did not start" >&2; exit 1; }
mkdir -p "$root/bench-results"
cd "$root/ui"
HEARTH_URL="$url" HEARTH_TOKEN="$token" HEARTH_DATA_DIR="$tmp/desktop" XDG_CONFIG_HOME="$tmp/config" HEARTH_DEFAULT_MODEL="$HEARTH_E2E_MODEL" HEARTH_PORT=0 \
  BENCH_OUT="$root/bench-results/ui.json" "$root/scripts/with-display.sh" node bench/bench.mjs
