#!/usr/bin/env bash
# Builds the web UI (ui/ -> ui/dist), which `hearth serve` and the desktop app serve from
# inside the binary. npm installs from the lock file only when node_modules is missing or
# older than it, so a second run is quick.
set -euo pipefail
cd "$(dirname "$0")/../ui"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build
