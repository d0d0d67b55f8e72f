#!/usr/bin/env bash
# Checks the README's `make run` on a machine without a display: it must come up serving the
# API and the UI. Runs it on a throwaway data folder and a free port, waits for the
# "listening" line, a healthy /health and the UI at /, then stops the server with SIGTERM and
# expects make to exit cleanly. (With a display it opens the window: scripts/desktop-tests.sh
# drives that binary.)
set -euo pipefail

tmp=$(mktemp -d)
log="$tmp/run.log"
cleanup() {
  [ -n "${pid:-}" ] && kill -TERM -- "-$pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# Its own process group, so the signal reaches make and the server alike.
env -u DISPLAY -u WAYLAND_DISPLAY HEARTH_DATA_DIR="$tmp/data" HEARTH_PORT=0 setsid make --no-print-directory run MODEL="$MODEL" >"$log" 2>&1 &
pid=$!

# Up to 10 minutes: `make run` builds first, and a binary Cargo finds missing from the shared
# target directory (seen once in CI after the test suite: hearth-desktop relinked) takes
# minutes on two cores; the check is that it comes up, not how fast.
url=""
for _ in $(seq 1 3000); do
  url=$(sed -n 's/^hearth: listening on \(http:[^ ]*\)$/\1/p' "$log" | head -n1)
  [ -n "$url" ] && break
  if ! kill -0 "$pid" 2>/dev/null; then break; fi
  sleep 0.2
done
if [ -z "$url" ]; then
  echo "error: make run did not start serving; its output:" >&2
  cat "$log" >&2
  exit 1
fi
python3 - "$url" <<'PY'
import json, sys, urllib.request
body = json.load(urllib.request.urlopen(sys.argv[1] + "/health", timeout=10))
assert body["status"] == "ok", body
page = urllib.request.urlopen(sys.argv[1] + "/", timeout=10)
html = page.read().decode()
assert '<script type="module"' in html, "the UI is not built into the binary: " + html[:300]
assert "default-src 'self'" in page.headers["content-security-policy"], page.headers
PY
# The first run sets up the embedding model too, so knowledge is searched by meaning.
[ -s "$tmp/data/models/all-minilm-l6-v2.gguf" ] || { echo "error: make run did not set up the embedding model" >&2; cat "$log" >&2; exit 1; }
grep -q "^hearth: open the app at $url/?token=[0-9a-f]\{64\}\$" "$log" || { echo "error: make run did not print the app's address ($url)" >&2; cat "$log" >&2; exit 1; }
# Signal the server only: make should then finish with the server's own exit status.
server=$(pgrep -g "$pid" -x hearth || true)
if [ -z "$server" ]; then
  echo "error: no hearth process under make run" >&2
  exit 1
fi
kill -TERM $server
status=0
wait "$pid" || status=$?
pid=""
if [ "$status" -ne 0 ]; then
  echo "error: make run exited with $status after SIGTERM; its output:" >&2
  cat "$log" >&2
  exit 1
fi
echo "make run: serving at $url, healthy, stopped cleanly"
