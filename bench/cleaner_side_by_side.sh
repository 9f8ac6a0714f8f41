#!/usr/bin/env bash
# The log cleaner of sluice and of Apache Kafka 4.4 side by side on the same records, in the same
# run (issue 15: the cleaner's throughput, with Kafka's own cleaner as the peer).
#
#   bench/cleaner_side_by_side.sh BUILD_DIR
#
# BUILD_DIR holds a Release `sluice` (nothing is built here). Kafka 4.4 comes from
# scripts/kafka-fixture.sh (Maven Central, cached), run as kafka-server-start.sh runs it
# (`-Xmx1G -Xms1G`, G1, Kafka's default thread counts, one KRaft node) with
# log.cleaner.backoff.ms=500; its cleaner is otherwise Kafka's default (one thread, a 128 MiB
# dedupe buffer, no I/O limit). sluice runs `sluice serve` with --log-cleaner-backoff-ms 500 and
# --log-cleaner-io-max-bytes-per-second 0 (Kafka's default: no pace).
#
# Each round starts each broker on a fresh data directory, one broker at a time, in alternating
# order, and through the Kafka protocol (bench/cleaner_workload.py, librdkafka):
#   warm-up   a topic `warm` of WARM_RECORDS records, made compacted and cleaned once (Kafka's
#             JIT compiles its cleaner; both brokers' page caches and allocators are exercised)
#   pass      a 1-partition topic `keyed` with segment.bytes SEGMENT_MIB MiB and
#             cleanup.policy=delete gets RECORDS keyed records (keys drawn uniformly from
#             KEEP_PERCENT of RECORDS, values 100-300 bytes, batches of 100, no compression: the
#             records of sluice_cleaner_bench's throughput part), then cleanup.policy=compact: the
#             broker's own background cleaner cleans every sealed segment in one pass.
# The pass's throughput is the broker's own report: sluice's log line ("cleaned ... bytes X -> Y
# in T ms": offset map, rewrite and swap) and Kafka's LogCleaner statistics ("MB of log processed
# in S seconds (R MB/sec)", from the start of its offset map to the swap; Kafka's MB are MiB,
# converted here). Both are of the segment bytes of the cleaned range; neither includes removing
# the old segments' files (Kafka deletes them later, file.delete.delay.ms; sluice when the last
# reader lets go of them).
#
# Env: ROUNDS (3), RECORDS (1220000: ~256 MiB stored), KEEP_PERCENT (25), SEGMENT_MIB (16),
#      WARM_RECORDS (300000), KAFKA_HEAP (as above).
# Output: per round the two figures, then median [min, max] per system and of the per-round
# ratio sluice / Kafka. Temporary directories are removed at exit.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 64
fi
BUILD=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
SLUICE="$BUILD/sluice"
FIXTURE="$HERE/../scripts/kafka-fixture.sh"
WORKLOAD="$HERE/cleaner_workload.py"
[ -x "$SLUICE" ] || { echo "$0: $SLUICE is missing (build the sluice target)" >&2; exit 1; }
grep -q 'CMAKE_BUILD_TYPE:STRING=Release' "$BUILD/CMakeCache.txt" 2>/dev/null ||
  echo "$0: warning: $BUILD is not a Release build; its figures mean nothing" >&2
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

ROUNDS=${ROUNDS:-3}
RECORDS=${RECORDS:-1220000}
KEEP_PERCENT=${KEEP_PERCENT:-25}
SEGMENT_BYTES=$((${SEGMENT_MIB:-16} << 20))
WARM_RECORDS=${WARM_RECORDS:-300000}
KEYS=$((RECORDS * KEEP_PERCENT / 100))
export SLUICE_KAFKA_HEAP=${KAFKA_HEAP:--Xmx1G -Xms1G -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent}
KAFKA_PROPS=(num.network.threads=3 num.io.threads=8 log.cleaner.backoff.ms=500)

"$FIXTURE" fetch
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-cleaner-side-by-side-XXXXXX")
KAFKA_DIR=""
cleanup() {
  stop_all_sluice
  if [ -n "$KAFKA_DIR" ]; then "$FIXTURE" stop "$KAFKA_DIR" >/dev/null 2>&1 || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for FILE PATTERN: until a line of FILE matches the extended regex PATTERN (the broker's
# cleaner runs in the background; its log line is the event waited for), at most 300 s.
wait_for() {
  local deadline=$((SECONDS + 300))
  until grep -Eq "$2" "$1" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      echo "$0: no line matching '$2' in $1 after 300 s" >&2
      tail -n 20 "$1" >&2
      exit 1
    fi
    sleep 0.1
  done
}

# clean_topic BOOTSTRAP TOPIC RECORDS: create, fill, make compacted.
clean_topic() {
  /usr/bin/python3 "$WORKLOAD" create "$1" "$2" "$SEGMENT_BYTES"
  /usr/bin/python3 "$WORKLOAD" produce "$1" "$2" "$3" "$(($3 * KEEP_PERCENT / 100))"
  /usr/bin/python3 "$WORKLOAD" compact "$1" "$2" "$SEGMENT_BYTES"
}

RESULTS="$TMP/results"
: >"$RESULTS"
run_sluice() {  # ROUND: prints "sluice ROUND MB/s bytes map_ms rewrite_ms swap_ms"
  local dir="$TMP/sluice-$1" line
  start_sluice "$SLUICE" "$dir/data" "$dir/serve" --log-cleaner-backoff-ms 500 \
    --log-cleaner-io-max-bytes-per-second 0 --admin-listen 127.0.0.1:0
  local broker="127.0.0.1:$SLUICE_PORT"
  clean_topic "$broker" warm "$WARM_RECORDS"
  wait_for "$dir/serve.log" "warm-0: cleaned "
  clean_topic "$broker" keyed "$RECORDS"
  wait_for "$dir/serve.log" "keyed-0: cleaned "
  line=$(grep -E "keyed-0: cleaned " "$dir/serve.log" | head -1)
  stop_sluice "$SLUICE_PID"
  echo "$line" | /usr/bin/python3 -c '
import re, sys
line = sys.stdin.read()
m = re.search(r"bytes (\d+) -> (\d+) in (\d+) ms \(offset map (\d+) ms, rewrite (\d+) ms, swap (\d+) ms\)", line)
if not m: sys.exit("unexpected cleaner line: " + line)
read, _, total, omap, rewrite, swap = map(int, m.groups())
print("sluice %s %.1f %d %d %d %d" % (sys.argv[1], read / 1e6 / (total / 1000), read, omap, rewrite, swap))' "$1"
  rm -rf "$dir"
}
run_kafka() {  # ROUND: prints "kafka ROUND MB/s bytes indexed_percent cleaned_percent"
  KAFKA_DIR="$TMP/kafka-$1"
  mkdir -p "$KAFKA_DIR"
  local broker
  broker=$("$FIXTURE" start "$KAFKA_DIR" "${KAFKA_PROPS[@]}")
  clean_topic "$broker" warm "$WARM_RECORDS"
  wait_for "$KAFKA_DIR/kafka.log" "cleaned log warm-0 "
  clean_topic "$broker" keyed "$RECORDS"
  # The statistics are one multi-line log entry, its first line naming the log.
  local deadline=$((SECONDS + 300))
  until grep -A1 "cleaned log keyed-0 " "$KAFKA_DIR/kafka.log" | grep -q "MB of log processed"; do
    [ $SECONDS -lt $deadline ] || { echo "$0: Kafka did not clean keyed-0 within 300 s" >&2; exit 1; }
    sleep 0.1
  done
  "$FIXTURE" stop "$KAFKA_DIR" >/dev/null
  /usr/bin/python3 - "$1" "$KAFKA_DIR/kafka.log" <<'PY'
import re, sys
text = open(sys.argv[2]).read()
at = text.index("cleaned log keyed-0 ")
block = text[at:at + 2000]
num = lambda s: float(s.replace(",", ""))
m = re.search(r"([\d,.]+) MB of log processed in ([\d,.]+) seconds \(([\d,.]+) MB/sec\)", block)
idx = re.search(r"Indexed .*?, ([\d.]+)% of total time", block)
cln = re.search(r"Cleaned .*?, ([\d.]+)% of total time", block)
if not (m and idx and cln): sys.exit("unexpected LogCleaner statistics: " + block)
print("kafka %s %.1f %d %s %s" % (sys.argv[1], num(m.group(3)) * 1.048576,
                                  num(m.group(1)) * 1048576, idx.group(1), cln.group(1)))
PY
  rm -rf "$KAFKA_DIR"
  KAFKA_DIR=""
}

echo "cleaner_side_by_side: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); $RECORDS records, $KEYS keys, segment.bytes $SEGMENT_BYTES" >&2
for round in $(seq 1 "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then order=(sluice kafka); else order=(kafka sluice); fi
  for system in "${order[@]}"; do
    "run_$system" "$round" >>"$RESULTS"
    echo "cleaner_side_by_side: round $round: $(tail -n 1 "$RESULTS") (load $(cut -d' ' -f1 /proc/loadavg))" >&2
  done
done

/usr/bin/python3 - "$RESULTS" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
by = {}
for r in rows:
    by.setdefault(r[0], {})[int(r[1])] = r
def fmt(v):
    return "%.0f [%.0f, %.0f]" % (statistics.median(v), min(v), max(v))
rounds = sorted(set(by["sluice"]) & set(by["kafka"]))
s = [float(by["sluice"][r][2]) for r in rounds]
k = [float(by["kafka"][r][2]) for r in rounds]
ratio = [a / b for a, b in zip(s, k)]
print("| %d rounds, median [min, max] | MB/s of the cleaned range | |" % len(rounds))
print("|---|---|---|")
print("| sluice (offset map / rewrite / swap ms: %s) | %s | |" % (
    ", ".join("/".join(by["sluice"][r][4:7]) for r in rounds), fmt(s)))
print("| Apache Kafka 4.4 (indexing / cleaning %% of its time: %s) | %s | |" % (
    ", ".join("/".join(by["kafka"][r][4:6]) for r in rounds), fmt(k)))
print("| sluice / Kafka, per round | | %.2f [%.2f, %.2f] |" % (
    statistics.median(ratio), min(ratio), max(ratio)))
PY
