#!/usr/bin/env bash
# The real desktop window: hearth-desktop on a virtual display, driven by tauri-driver
# through Debian's WebKitWebDriver (ui/e2e-desktop/window.test.mjs, under
# scripts/with-display.sh), on a throwaway data folder with the real default model, with no
# network. It makes its own D-Bus session (scripts/with-keyring.sh) for the single-instance
# check and the keychain. Screenshots go to ui/e2e-artifacts/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
self="$root/scripts/desktop-tests.sh"
# Offline on purpose: as root the whole run (display, driver, app, test) moves into a network
# namespace with loopback only, so the reply can only be the local model's; then into a
# private D-Bus session with a keyring, inside that namespace (a session bus on an abstract
# socket does not cross namespaces).
if [ "${HEARTH_DESKTOP_OFFLINE:-}" = "" ]; then
  if [ "$(id -u)" = 0 ]; then
    command -v ip >/dev/null || { echo "error: ip (iproute2) is missing (scripts/deps.sh installs it)" >&2; exit 1; }
    exec env HEARTH_DESKTOP_OFFLINE=1 unshare -n -- sh -c 'ip link set lo up && exec "$0"' "$self"
  fi
  echo "desktop tests: not root, so they run with the network on" >&2
  export HEARTH_DESKTOP_OFFLINE=0
fi
if [ "${HEARTH_IN_KEYRING_SESSION:-}" != 1 ]; then
  exec "$root/scripts/with-keyring.sh" "$self"
fi
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
