#!/usr/bin/env bash
# Runs the HTTP API's end-to-end suite (tests/api, pytest) against a real `hearth serve` and
# the real default model.
#
# Needs HEARTH_BIN (the built `hearth` binary) and HEARTH_E2E_MODEL (the GGUF file); without
# either it fails, never skips. The Python packages live in a venv outside the clone
# (HEARTH_VENV, default ~/.cache/hearth/venv), made again only when
# tests/api/requirements.txt changes: the venv keeps a copy of the file it was made from.
# Extra arguments go to pytest (`scripts/api-tests.sh -k sse -x`). `--venv-only` makes (or
# refreshes) the venv and prints its python, for `make bench`.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

python=${PYTHON:-python3}
venv=${HEARTH_VENV:-$HOME/.cache/hearth/venv}
requirements=tests/api/requirements.txt
stamp=$venv/hearth-requirements.txt

for var in HEARTH_BIN HEARTH_E2E_MODEL; do
  value=${!var:-}
  if [ -z "$value" ]; then
    echo "error: $var is not set; the API suite needs it (HEARTH_BIN: the built hearth binary," >&2
    echo "       HEARTH_E2E_MODEL: the default model's GGUF file; \`make test\` sets both)" >&2
    exit 2
  fi
  if [ ! -f "$value" ]; then
    echo "error: $var=$value is not a file" >&2
    exit 2
  fi
done
if [ ! -x "$HEARTH_BIN" ]; then
  echo "error: HEARTH_BIN=$HEARTH_BIN is not executable" >&2
  exit 2
fi

if [ ! -x "$venv/bin/python" ] || ! cmp -s "$requirements" "$stamp"; then
  # Only ever clear a folder that is a venv (or empty): HEARTH_VENV could name any folder.
  if [ -d "$venv" ] && [ ! -f "$venv/pyvenv.cfg" ] && [ -n "$(ls -A "$venv")" ]; then
    echo "error: HEARTH_VENV=$venv exists and is not a Python venv; refusing to replace it" >&2
    exit 2
  fi
  echo "making the API suite's Python environment in $venv..." >&2
  if ! "$python" -m venv --clear "$venv"; then
    echo "error: '$python -m venv' failed; on Debian install python3-venv" >&2
    exit 1
  fi
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
  # Written last, so an interrupted install is redone next time.
  cp "$requirements" "$stamp"
fi

if [ "${1:-}" = "--venv-only" ]; then
  echo "$venv/bin/python"
  exit 0
fi

# Keep the clone clean: no __pycache__ folders, pytest's cache beside the venv.
export PYTHONDONTWRITEBYTECODE=1
exec "$venv/bin/python" -m pytest -q -o cache_dir="$venv/pytest-cache" tests/api "$@"
