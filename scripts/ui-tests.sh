#!/usr/bin/env bash
# The UI's tests: Vitest (components and state), the generated API types against
# ui/openapi.json, then the browser end to end: Debian's Chromium through playwright-core
# against a real `hearth serve` (the UI embedded in the binary, the real default model, a
# throwaway data folder). `make test` runs it offline (scripts/isolated.sh). Screenshots of
# every screen go to ui/e2e-artifacts/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
: "${HEARTH_BIN:?set HEARTH_BIN to the hearth binary}" "${HEARTH_E2E_MODEL:?set HEARTH_E2E_MODEL to the default model file}"
for need in /usr/bin/chromium "$HEARTH_BIN" "$HEARTH_E2E_MODEL"; do
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
echo "UI tests passed; screenshots in $artifacts"
