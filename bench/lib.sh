# Shared lines of the benchmark scripts that run `sluice serve` (source it; bash only).
#
#   start_sluice BIN DATA_DIR OUT_PREFIX [SERVE_FLAGS...]
#       starts `BIN serve --data-dir DATA_DIR --listen 127.0.0.1:0 SERVE_FLAGS...` in the
#       background, stdout to OUT_PREFIX.out and stderr to OUT_PREFIX.log, waits for its
#       "listening on" line and sets SLUICE_PID and SLUICE_PORT (exits the script, printing the
#       server's log, when it does not start). The pid is also added to SLUICE_PIDS.
#   stop_sluice PID
#       SIGTERM and wait; returns the server's exit status (0 after a clean stop).
#   stop_all_sluice
#       stop_sluice for every server still in SLUICE_PIDS (for an EXIT trap).

SLUICE_PIDS=()

start_sluice() {
  local bin=$1 data=$2 out=$3
  shift 3
  mkdir -p "$data"
  "$bin" serve --data-dir "$data" --listen 127.0.0.1:0 "$@" >"$out.out" 2>"$out.log" &
  SLUICE_PID=$!
  SLUICE_PIDS+=("$SLUICE_PID")
  SLUICE_PORT=
  for _ in $(seq 1 400); do
    SLUICE_PORT=$(sed -n 's/^listening on [^:]*:\([0-9]*\).*/\1/p' "$out.out" 2>/dev/null | head -1)
    [ -n "$SLUICE_PORT" ] && break
    kill -0 "$SLUICE_PID" 2>/dev/null || break
    sleep 0.05  # polling the server's first line; not a measurement
  done
  if [ -z "$SLUICE_PORT" ]; then
    echo "$0: $bin serve did not start" >&2
    cat "$out.out" "$out.log" >&2
    exit 1
  fi
}

stop_sluice() {
  local pid=$1 rc=0 kept=() p
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" || rc=$?
  for p in "${SLUICE_PIDS[@]}"; do [ "$p" = "$pid" ] || kept+=("$p"); done
  SLUICE_PIDS=("${kept[@]}")
  return "$rc"
}

stop_all_sluice() {
  local p
  for p in "${SLUICE_PIDS[@]}"; do stop_sluice "$p" || true; done
}
