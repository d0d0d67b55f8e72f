#!/usr/bin/env bash
# Checks Hearth's dependencies against the two advisory databases: RustSec's for the crates
# (cargo-deny; deny.toml's [advisories] names each accepted advisory and why) and the npm
# registry's for the UI's runtime packages (`npm audit --omit=dev`). Both are online services.
# When one cannot be reached this fails and says which: it never passes without having checked.
#
# ADVISORY_DB, when set, is a local git copy of the RustSec database (a clone or mirror of
# RUSTSEC_URL below). cargo-deny fetches its database with git, so git is pointed at the copy
# instead; the copy's last commit date is printed, because it is only as current as that.
set -euo pipefail
cd "$(dirname "$0")/.."

RUSTSEC_URL=https://github.com/RustSec/advisory-db # cargo-deny's default database
CARGO_DENY=${CARGO_DENY:-cargo-deny}
failed=()

if [ -n "${ADVISORY_DB:-}" ]; then
  db=$(realpath "$ADVISORY_DB")
  if ! updated=$(git -C "$db" log -1 --format=%cs 2>/dev/null); then
    echo "audit-advisories: error: ADVISORY_DB=$ADVISORY_DB is not a git copy of the RustSec advisory database" >&2
    exit 1
  fi
  echo "RustSec advisories: checking against the copy at $db (last commit $updated)"
  export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0="url.file://$db.insteadOf" GIT_CONFIG_VALUE_0="$RUSTSEC_URL"
  rustsec_reachable=1
elif probe=$(timeout 60 git ls-remote --exit-code "$RUSTSEC_URL" HEAD 2>&1 >/dev/null); then
  echo "RustSec advisories: checking against $RUSTSEC_URL"
  rustsec_reachable=1
else
  echo "audit-advisories: error: the RustSec advisory database ($RUSTSEC_URL) is unreachable from this machine:" >&2
  echo "  ${probe:-git ls-remote timed out}" >&2
  echo "  crate advisories were NOT checked (set ADVISORY_DB to a local copy of the database to check against it)" >&2
  failed+=("RustSec database unreachable: crates not checked")
  rustsec_reachable=0
fi
if [ "$rustsec_reachable" = 1 ] && ! "$CARGO_DENY" deny --locked check advisories; then
  failed+=("cargo deny check advisories (above)")
fi

echo "npm advisories: the UI's runtime packages (ui/package-lock.json)"
if ! (cd ui && npm audit --omit=dev); then
  echo "audit-advisories: error: npm audit failed: a vulnerable package, or the registry's audit endpoint did not answer (above)" >&2
  failed+=("npm audit --omit=dev (above)")
fi

if ((${#failed[@]})); then
  printf 'audit-advisories: FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "audit-advisories: no unaccepted advisories"
