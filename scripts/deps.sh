#!/usr/bin/env bash
# Installs what Hearth's build and tests need and this machine lacks. It asks dpkg first, so
# a second run installs nothing and takes a moment. Rust itself cannot come from here: when
# cargo is missing, it says so and stops.
set -euo pipefail

# Every Debian package the build, `make run`, `make test`, `make bench` and `make package` use.
# scripts/check-deps.py (run by `make test`) proves the list: every pkg-config module the -sys
# crates probe and every program the scripts and tests call must resolve, through dpkg, to a
# package named here or to one the base system always has.
packages=(
  # The C and C++ toolchain: rusqlite's bundled SQLite, llama.cpp (cmake, g++) and its
  # bindings (bindgen: clang, libclang-dev); pkg-config answers the -sys crates' probes.
  gcc g++ libc6-dev make cmake clang libclang-dev pkg-config ca-certificates
  # The desktop app (Tauri 2 over WebKitGTK 4.1): the window, the tray icon, SVG icons.
  libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev libdbus-1-dev
  # The real window under test: a virtual display and WebKit's WebDriver.
  xvfb webkit2gtk-driver
  # The browser the UI tests drive (Playwright with the system Chromium).
  chromium
  # The end-to-end tests: curl, unshare and setsid (util-linux), ip (iproute2, offline
  # namespaces), kill and pgrep (procps), sha256sum (coreutils).
  curl iproute2 util-linux procps coreutils
  # `make audit-advisories`: cargo-deny clones and updates the RustSec database with git.
  git
  # The default model and the API tests' clients (the openai SDK, Schemathesis) from PyPI.
  python3 python3-pip python3-venv
  # The real Secret Service the keychain tests run against.
  dbus-daemon dbus-bin gnome-keyring
  # The sync test bed's database, and the certificates of its TLS tests (openssl).
  postgresql-15 openssl
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "installing Debian packages: ${missing[*]}"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The UI builds with Node (Vite 8 needs Node 20.19 or newer).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "error: Node.js 20.19+ with npm is missing; install it (e.g. from nodejs.org or NodeSource), then run make again" >&2
  exit 1
fi
if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'; then
  echo "error: Node.js $(node --version) is too old for the UI's build; 20.19 or newer is needed" >&2
  exit 1
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "error: Rust (cargo) is missing; install a stable toolchain with rustup, then run make again" >&2
  exit 1
fi
