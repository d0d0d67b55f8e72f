# Sourced by the UI's test and benchmark scripts. `start_hearth DIR` starts `hearth serve`
# ($HEARTH_BIN) on a free port with a fresh token, the default model ($HEARTH_E2E_MODEL) and
# its data in DIR/data, waits until it listens, and sets `server` (its pid), `url` and
# `token`. `stop_hearth` stops it (SIGTERM, then waits); callers put it in their EXIT trap.

start_hearth() {
  local dir=$1
  token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
  HEARTH_API_TOKEN="$token" HEARTH_DEFAULT_MODEL="$HEARTH_E2E_MODEL" \
    "$HEARTH_BIN" --data-dir "$dir/data" serve --port 0 --slots 2 >"$dir/serve.out" 2>"$dir/serve.err" &
  server=$!
  url=""
  for _ in $(seq 1 300); do
    url=$(sed -n 's/^hearth: listening on \(http:[^ ]*\)$/\1/p' "$dir/serve.out" | head -n1)
    [ -n "$url" ] && return 0
    kill -0 "$server" 2>/dev/null || break
    sleep 0.1
  done
  echo "error: hearth serve did not start:" >&2
  cat "$dir/serve.err" >&2
  return 1
}

stop_hearth() {
  if [ -n "${server:-}" ]; then
    kill -TERM "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
    server=""
  fi
}
