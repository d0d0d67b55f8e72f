#!/usr/bin/env bash
# Runs a command inside a private D-Bus session with an unlocked GNOME Keyring, the real
# Secret Service the keychain tests need. The keyring's files go to a throwaway folder, so a
# developer's own keyrings are never touched.
set -euo pipefail
if [ "${HEARTH_IN_KEYRING_SESSION:-}" != 1 ]; then
  for tool in dbus-run-session dbus-send gnome-keyring-daemon; do
    command -v "$tool" >/dev/null || { echo "error: $tool is missing (scripts/deps.sh installs it)" >&2; exit 1; }
  done
  exec env HEARTH_IN_KEYRING_SESSION=1 dbus-run-session -- "$0" "$@" 2> >(grep -v "Failed to set fd limit" >&2)
fi
keyrings=$(mktemp -d)
trap 'rm -rf "$keyrings"' EXIT
printf 'hearth-test' | XDG_DATA_HOME="$keyrings" gnome-keyring-daemon --unlock --components=secrets >/dev/null
# The daemon forks before it owns its bus name. A call made in that gap makes D-Bus start a
# second daemon for it (org.freedesktop.secrets is bus-activatable), which finds the name
# taken and exits without replying: the caller reads "disconnected without replying". So
# the command starts only once the name has its owner.
for _ in $(seq 1 100); do
  dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q "boolean true" && break
  sleep 0.1
done
dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
  org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets | grep -q "boolean true" ||
  { echo "error: gnome-keyring-daemon did not take the Secret Service name within 10 s" >&2; exit 1; }
"$@"
