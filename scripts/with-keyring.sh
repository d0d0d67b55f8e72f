#!/usr/bin/env bash
# Runs a command inside a private D-Bus session with an unlocked GNOME Keyring, the real
# Secret Service the keychain tests need (TESTBED.md's recipe). The keyring's files go to a
# throwaway folder, so a developer's own keyrings are never touched.
set -euo pipefail
if [ "${HEARTH_IN_KEYRING_SESSION:-}" != 1 ]; then
  for tool in dbus-run-session gnome-keyring-daemon; do
    command -v "$tool" >/dev/null || { echo "error: $tool is missing (scripts/deps.sh installs it)" >&2; exit 1; }
  done
  exec env HEARTH_IN_KEYRING_SESSION=1 dbus-run-session -- "$0" "$@" 2> >(grep -v "Failed to set fd limit" >&2)
fi
keyrings=$(mktemp -d)
trap 'rm -rf "$keyrings"' EXIT
printf 'hearth-test' | XDG_DATA_HOME="$keyrings" gnome-keyring-daemon --unlock --components=secrets >/dev/null
"$@"
