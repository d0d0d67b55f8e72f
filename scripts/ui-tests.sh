#!/usr/bin/env bash
# The UI's tests: Vitest (components and state), the generated API types against
# ui/openapi.json, then the browser end to end: Debian's Chromium through playwright-core
# against a real `hearth serve` (the UI embedded in the binary, the real default model, a
# throwaway data folder), with no network. Screenshots of every screen go to
# ui/e2e-artifacts/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
self="$root/scripts/ui-tests.sh"
# Offline on purpose, as scripts/desktop-tests.sh does: as root, a network namespace with
# loopback only, then a private D-Bus session with a keyring inside it.
if [ "${HEARTH_UI_OFFLINE:-}" = "" ]; then
  if [ "$(id -u)" = 0 ]; then
    command -v ip >/dev/null || { echo "error: ip (iproute2) is missing (scripts/deps.sh installs it)" >&2; exit 1; }
    exec env HEARTH_UI_OFFLINE=1 unshare -n -- sh -c 'ip link set lo up && exec "$0"' "$self"
  fi
  echo "UI tests: not root, so they run with the network on" >&2
  export HEARTH_UI_OFFLINE=0
fi
if [ "${HEARTH_IN_KEYRING_SESSION:-}" != 1 ]; then
  exec "$root/scripts/with-keyring.sh" "$self"
fi
: "${HEARTH_BIN:?set HEARTH_BIN to the hearth binary}" "${HEARTH_E2E_MODEL:?set HEARTH_E2E_MODEL to the default model file}"
for need in /usr/bin/chromium "$HEARTH_BIN" "$HEARTH_E2E_MODEL"; do
  [ -e "$need" ] || { echo "error: $need is missing (make test builds and installs what the UI tests need)" >&2; exit 1; }
done
cd "$root/ui"
[ -d node_modules ] || { echo "error: ui/node_modules is missing (make ui installs it)" >&2; exit 1; }

npm run --silent test
npm run --silent check:api

tmp=$(mktemp -d)
server=""
cleanup() {
  [ -n "$server" ] && kill -TERM "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
HEARTH_API_TOKEN="$token" HEARTH_DEFAULT_MODEL="$HEARTH_E2E_MODEL" \
  "$HEARTH_BIN" --data-dir "$tmp/data" serve --port 0 --slots 2 >"$tmp/serve.out" 2>"$tmp/serve.err" &
server=$!
url=""
for _ in $(seq 1 300); do
  url=$(sed -n 's/^hearth: listening on \(http:[^ ]*\)$/\1/p' "$tmp/serve.out" | head -n1)
  [ -n "$url" ] && break
  kill -0 "$server" 2>/dev/null || break
  sleep 0.1
done
[ -n "$url" ] || { echo "error: hearth serve did not start:" >&2; cat "$tmp/serve.err" >&2; exit 1; }

artifacts="$root/ui/e2e-artifacts"
rm -rf "$artifacts"
mkdir -p "$artifacts"
HEARTH_URL="$url" HEARTH_TOKEN="$token" HEARTH_ARTIFACTS="$artifacts" npm run --silent e2e
echo "UI tests passed; screenshots in $artifacts"
