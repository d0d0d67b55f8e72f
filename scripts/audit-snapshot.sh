#!/usr/bin/env bash
# Checks the crates against the RustSec advisory database snapshot shipped in third_party/
# (cargo-deny's `advisories` check, deny.toml's accepted advisories applying): the live
# database is a git repository on GitHub, which this project's machines cannot reach, and a
# check against a dated copy is worth far more than none. `make audit-advisories` checks the
# live database where it can be reached.
#
# cargo-deny reads the database as a git checkout under its db-path; the snapshot becomes one
# (one commit dated as the snapshot) in Hearth's cache, and a copy of deny.toml names that
# db-path. Nothing is fetched (--offline).
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_DENY=${CARGO_DENY:-cargo-deny}
snapshot=$(ls third_party/rustsec-advisory-db-*.tar.gz)
date=$(basename "$snapshot" .tar.gz)
date=${date#rustsec-advisory-db-}
cache=${HEARTH_CACHE:-$HOME/.cache/hearth}/advisory-db-$date
# The folder name cargo-deny derives from the database's URL (github.com/RustSec/advisory-db).
db=$cache/advisory-db-3157b0e258782691

if [ ! -f "$db/.snapshot-$date" ]; then
  rm -rf "$cache"
  mkdir -p "$db"
  tar xzf "$snapshot" -C "$db"
  git -C "$db" init -q
  git -C "$db" add -A
  GIT_AUTHOR_DATE="${date}T00:00:00Z" GIT_COMMITTER_DATE="${date}T00:00:00Z" \
    git -C "$db" -c user.name=hearth -c user.email=hearth@localhost -c commit.gpgsign=false commit -qm "RustSec advisory-db snapshot $date"
  touch "$db/.snapshot-$date"
fi

config=$cache/deny.toml
sed 's|^\[advisories\]$|[advisories]\ndb-path = "'"$cache"'"|' deny.toml > "$config"
echo "RustSec advisories: checking against the snapshot of $date in third_party/ (the live database is unreachable from here)"
"$CARGO_DENY" deny --offline --config "$config" check advisories
