#!/usr/bin/env bash
# Runs a command offline with a keychain of its own: as root, in a network namespace with
# loopback only (so whatever it does can reach nothing but this machine), and inside that a
# private D-Bus session with an unlocked keyring (scripts/with-keyring.sh; a session bus on an
# abstract socket does not cross namespaces, so it starts inside). HEARTH_OFFLINE tells the
# command which it got: 1, or 0 when not root, where the network stays on and a note says so.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" = 0 ]; then
  command -v ip >/dev/null || { echo "error: ip (iproute2) is missing (scripts/deps.sh installs it)" >&2; exit 1; }
  exec env HEARTH_OFFLINE=1 unshare -n -- sh -c 'ip link set lo up && exec "$0" "$@"' "$here/with-keyring.sh" "$@"
fi
echo "note: not root, so this runs with the network on: $*" >&2
exec env HEARTH_OFFLINE=0 "$here/with-keyring.sh" "$@"
