#!/usr/bin/env bash
# Recovery after a kill -9 with an unsynced tail, and opening a data directory of many partitions.
#
#   bench/recovery_bench.sh BUILD_DIR
#
# Builds nothing: BUILD_DIR must hold `sluice` (RelWithDebInfo or Release).
#
# recovery: starts `sluice serve` on a fresh data directory, creates topic `r` (PARTITIONS
#   partitions, flush=none, and flush.ms, flush.bytes and segment.bytes so large that neither the
#   background flush nor a roll moves the recovery point: everything written stays an unsynced
#   tail above the recovery point at creation), produces TAIL_MIB MiB of 1 KiB records through
#   `sluice produce --broker`, waits for every ack, and kills the server with SIGKILL. The crashed
#   directory is kept; each measurement runs on a fresh copy of it (cp, holes kept) and times
#   `sluice --data-dir COPY topic describe r`: opening (recovery verifies every frame of the tail,
#   rebuilds producer state, fdatasyncs the segment and moves the recovery point), the describe,
#   and the clean close. Three cases, interleaved round by round:
#     dirty   the copy's pages are in the page cache and not yet written back: a kill -9 followed
#             by a restart within the kernel's writeback delay (30 s by default); the fdatasync at
#             open writes the tail out
#     cached  `sync` first: in the page cache and on disk (a restart after writeback)
#     cold    `sync` and `echo 3 > /proc/sys/vm/drop_caches` (root only; else skipped): every
#             byte is read from the disk (a reboot after a crash)
# open: a clean data directory with one topic of OPEN_PARTITIONS partitions (4 records in each, on
#   average) and one of 1 partition; times `topic list`, `topic describe many`, and `consume one`.
#
# Prints one line per measurement and a summary: median [min, max] per case, and /proc/loadavg
# before and after (the machine may be shared). Temporary directories are removed at exit; the
# server is stopped by PID.
#
# Env: TAIL_MIB (1024), PARTITIONS (1), ROUNDS (5), OPEN_PARTITIONS (1000), OPEN_ROUNDS (5),
#      WORK (a directory for the data, default a new one under /var/tmp), SKIP_RECOVERY (0),
#      SKIP_OPEN (0).
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 64
fi
SLUICE="$(cd "$1" && pwd)/sluice"
[ -x "$SLUICE" ] || { echo "$0: $SLUICE is missing (build the sluice target)" >&2; exit 1; }
TAIL_MIB=${TAIL_MIB:-1024}
PARTITIONS=${PARTITIONS:-1}
ROUNDS=${ROUNDS:-5}
OPEN_PARTITIONS=${OPEN_PARTITIONS:-1000}
OPEN_ROUNDS=${OPEN_ROUNDS:-5}
SKIP_RECOVERY=${SKIP_RECOVERY:-0}
SKIP_OPEN=${SKIP_OPEN:-0}
WORK=${WORK:-$(mktemp -d /var/tmp/sluice-recovery-bench.XXXXXX)}
mkdir -p "$WORK"
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill -9 "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

now_ns() { date +%s%N; }
# Runs "$@" quietly; prints its wall time in ms.
time_ms() {
  local t0 t1
  t0=$(now_ns)
  "$@" >/dev/null
  t1=$(now_ns)
  echo $(((t1 - t0) / 1000000))
}
# median [min, max] of the numbers on stdin
summary() {
  sort -n | awk '{v[NR] = $1} END {
    if (NR == 0) { print "-"; exit }
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%s ms [%s, %s] (n=%d)\n", m, v[1], v[NR], NR }'
}

echo "loadavg before: $(cat /proc/loadavg)"
echo "sluice: $SLUICE; work: $WORK"

if [ "$SKIP_RECOVERY" != 1 ]; then
  CRASHED="$WORK/crashed"
  PORT_FILE="$WORK/serve.out"
  "$SLUICE" --data-dir "$CRASHED" topic create r --partitions "$PARTITIONS" \
    -c flush=none -c flush.ms=999999999999 -c flush.bytes=999999999999 \
    -c segment.bytes=2147483648 -c compression.type=none >/dev/null
  "$SLUICE" --data-dir "$CRASHED" serve --listen 127.0.0.1:0 >"$PORT_FILE" 2>"$WORK/serve.err" &
  SERVER_PID=$!
  for _ in $(seq 100); do
    grep -q '^listening on ' "$PORT_FILE" 2>/dev/null && break
    sleep 0.1
  done
  BROKER=$(sed -n 's/^listening on //p' "$PORT_FILE")
  [ -n "$BROKER" ] || { echo "$0: the server did not start" >&2; cat "$WORK/serve.err" >&2; exit 1; }
  # 1 KiB records (1023 characters and a newline), TAIL_MIB * 1024 of them.
  t0=$(now_ns)
  awk -v n=$((TAIL_MIB * 1024)) 'BEGIN { r = sprintf("%1023s", ""); gsub(/ /, "x", r)
    for (i = 0; i < n; i++) print r }' |
    "$SLUICE" --broker "$BROKER" produce r --batch-bytes 1048576 >/dev/null
  t1=$(now_ns)
  kill -9 "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
  echo "produced $TAIL_MIB MiB in $(((t1 - t0) / 1000000)) ms; server killed (SIGKILL)"
  du -sh --apparent-size "$CRASHED" | sed 's/^/crashed data dir: /'

  COPY="$WORK/copy"
  cases="dirty cached"
  if [ -w /proc/sys/vm/drop_caches ]; then cases="$cases cold"; else echo "not root: cold skipped"; fi
  for round in $(seq "$ROUNDS"); do
    for c in $cases; do
      rm -rf "$COPY"
      cp -a --sparse=always "$CRASHED" "$COPY"
      case $c in
        cached) sync ;;
        cold) sync; echo 3 >/proc/sys/vm/drop_caches ;;
      esac
      ms=$(time_ms "$SLUICE" --data-dir "$COPY" topic describe r)
      echo "recovery $c round $round: $ms ms" | tee -a "$WORK/recovery.txt"
    done
  done
  rm -rf "$COPY"
  for c in $cases; do
    echo "recovery of $TAIL_MIB MiB ($PARTITIONS partition(s)), $c: $(grep "recovery $c " "$WORK/recovery.txt" | awk '{print $5}' | summary)"
  done
fi

if [ "$SKIP_OPEN" != 1 ]; then
  D="$WORK/open"
  # segment.bytes 1 MiB: while a partition is open its last segment reserves up to 64 MiB of disk
  # (1,000 of them at creation: 64 GiB); a clean close gives it back. Listing does not depend on it.
  "$SLUICE" --data-dir "$D" topic create many --partitions "$OPEN_PARTITIONS" \
    -c segment.bytes=1048576 >/dev/null
  "$SLUICE" --data-dir "$D" topic create one >/dev/null
  # One small batch in every partition (a record per partition, by --partition would take a
  # process each: keys spread them instead).
  seq $((OPEN_PARTITIONS * 4)) | awk '{print "k" $1 "\tv"}' |
    "$SLUICE" --data-dir "$D" produce many --key-separator '\t' >/dev/null
  echo "x" | "$SLUICE" --data-dir "$D" produce one >/dev/null
  for round in $(seq "$OPEN_ROUNDS"); do
    echo "open list round $round: $(time_ms "$SLUICE" --data-dir "$D" topic list) ms" | tee -a "$WORK/open.txt"
    echo "open describe round $round: $(time_ms "$SLUICE" --data-dir "$D" topic describe many) ms" | tee -a "$WORK/open.txt"
    echo "open consume round $round: $(time_ms "$SLUICE" --data-dir "$D" consume one --from-beginning --count 1) ms" | tee -a "$WORK/open.txt"
  done
  for c in list describe consume; do
    echo "$OPEN_PARTITIONS partitions, clean, $c: $(grep "open $c " "$WORK/open.txt" | awk '{print $5}' | summary)"
  done
fi
echo "loadavg after: $(cat /proc/loadavg)"
