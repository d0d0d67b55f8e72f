#!/usr/bin/env bash
# Builds the web UI (ui/ -> ui/dist), which `hearth serve` and the desktop app serve from
# inside the binary. npm installs from the lock file only when node_modules is missing or
# older than it, and Vite runs only when a source is newer than the last build (a rebuild
# rewrites dist/, and the server crate, which embeds it, would then be compiled again).
set -euo pipefail
cd "$(dirname "$0")/../ui"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
sources=(src public index.html vite.config.ts tsconfig.json package.json package-lock.json)
if [ -f dist/index.html ] && [ -z "$(find "${sources[@]}" -newer dist/index.html -print -quit)" ]; then
  exit 0
fi
npm run --silent build
