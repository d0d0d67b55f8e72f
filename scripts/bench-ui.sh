#!/usr/bin/env bash
# `make bench`'s UI and desktop figures (ui/bench/bench.mjs): a `hearth serve` on a throwaway
# data folder for Chromium, and the desktop app beside the bare Tauri window under a virtual
# display (scripts/with-display.sh). Writes bench-results/ui.json.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
: "${HEARTH_BIN:?}" "${HEARTH_DESKTOP_BIN:?}" "${BARE_WINDOW_BIN:?}" "${HEARTH_E2E_MODEL:?}"
tmp=$(mktemp -d)
. "$root/scripts/lib/serve.sh"
trap 'stop_hearth; rm -rf "$tmp"' EXIT
start_hearth "$tmp"
mkdir -p "$root/bench-results"
cd "$root/ui"
HEARTH_URL="$url" HEARTH_TOKEN="$token" HEARTH_DATA_DIR="$tmp/desktop" XDG_CONFIG_HOME="$tmp/config" HEARTH_DEFAULT_MODEL="$HEARTH_E2E_MODEL" HEARTH_PORT=0 \
  BENCH_OUT="$root/bench-results/ui.json" "$root/scripts/with-display.sh" node bench/bench.mjs
