#!/usr/bin/env bash
# Produce latency while the log cleaner runs (issue 15; goal: p99 rises <= 20%), through the
# product: a librdkafka producer (bench/kafka_bench, latency mode) against `sluice serve`, whose own
# background cleaner cleans a large dirty topic beside it. Rounds interleave two cases on the same
# data, their order alternating:
#   cleaner  the dirty topic is altered to cleanup.policy=compact, min.compaction.lag.ms=0 just
#            before the producer starts: the server's cleaner (checking every 100 ms) starts a pass
#            over its DIRTY_PARTITIONS partitions, one after another
#   idle     the same alter with min.compaction.lag.ms of a year: the cleaner checks it and finds
#            nothing cleanable (everything else identical: data, server flags, page cache)
# Each case starts a server on a fresh copy (cp + sync) of the dirty data directory written once
# by `sluice_cleaner_bench --prepare-dirty`. The producer: LAT_RATE records/s of 100-byte values
# for LAT_SECONDS s after a 0.2 s warm-up, acks=$ACKS, linger.ms=$LINGER_MS, to a fresh topic
# with flush=$FLUSH. The server logs in JSON; the ends of the cleaner's partition passes in its
# log show whether the cleaner was busy for the whole measured window (it must be: if it
# finished early, the script says so: raise DIRTY_MIB or lower LAT_SECONDS). A pass is short
# (the server's cleaner reads ~150-300 MB/s here), hence the short window at a high rate.
#
#   bench/cleaner_latency.sh BUILD_DIR
#     env: ROUNDS (3), LAT_SECONDS (2), LAT_RATE (10000), ACKS (all), FLUSH (sync), LINGER_MS (0),
#          DIRTY_MIB (384), DIRTY_PARTITIONS (4), OUT (bench-cleaner-latency.jsonl),
#          CLEANER_PACE (bytes/s for --log-cleaner-io-max-bytes-per-second, 0: none; unset:
#          serve's default pace)
# BUILD_DIR must hold `sluice`, `bench/kafka_bench` and `bench/sluice_cleaner_bench` (Release).
# Data (about 2 x DIRTY_MIB) goes to a temporary directory removed at exit.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 64
fi
BUILD=$(cd "$1" && pwd)
SLUICE="$BUILD/sluice"
KBENCH="$BUILD/bench/kafka_bench"
CBENCH="$BUILD/bench/sluice_cleaner_bench"
for b in "$SLUICE" "$KBENCH" "$CBENCH"; do
  [ -x "$b" ] || { echo "$0: $b is missing (build sluice, kafka_bench, sluice_cleaner_bench)" >&2; exit 1; }
done
if ! grep -q 'CMAKE_BUILD_TYPE:STRING=Release' "$BUILD/CMakeCache.txt" 2>/dev/null; then
  echo "$0: warning: $BUILD is not a Release build; its figures mean nothing" >&2
fi
ROUNDS=${ROUNDS:-3}
LAT_SECONDS=${LAT_SECONDS:-2}
LAT_RATE=${LAT_RATE:-10000}
ACKS=${ACKS:-all}
FLUSH=${FLUSH:-sync}
LINGER_MS=${LINGER_MS:-0}
DIRTY_MIB=${DIRTY_MIB:-384}
DIRTY_PARTITIONS=${DIRTY_PARTITIONS:-4}
PACE_FLAGS=()
[ -z "${CLEANER_PACE:-}" ] || PACE_FLAGS=(--log-cleaner-io-max-bytes-per-second "$CLEANER_PACE")
OUT=${OUT:-bench-cleaner-latency.jsonl}

TMP=$(mktemp -d)
. "$(dirname "$0")/lib.sh"
cleanup() {
  stop_all_sluice
  rm -rf "$TMP"
}
trap cleanup EXIT
: >"$OUT"

echo "cleaner_latency: writing $DIRTY_MIB MiB of dirty keyed records in $DIRTY_PARTITIONS partitions" >&2
"$CBENCH" --prepare-dirty "$TMP/dirty" --input-mib "$DIRTY_MIB" --partitions "$DIRTY_PARTITIONS"
echo "cleaner_latency: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2

one_case() {  # CASE ROUND
  local name=$1 round=$2 lag t0 t1 rc=0
  if [ "$name" = cleaner ]; then lag=0; else lag=31536000000; fi
  rm -rf "$TMP/data"
  cp -a "$TMP/dirty" "$TMP/data"
  sync
  start_sluice "$SLUICE" "$TMP/data" "$TMP/serve-$name-$round" --admin-listen none \
    --log-format json --log-level info --log-cleaner-backoff-ms 100 ${PACE_FLAGS[@]+"${PACE_FLAGS[@]}"}
  "$SLUICE" --broker "127.0.0.1:$SLUICE_PORT" topic alter dirty -c cleanup.policy=compact \
    -c "min.compaction.lag.ms=$lag" >/dev/null
  t0=$EPOCHREALTIME
  "$KBENCH" --broker "127.0.0.1:$SLUICE_PORT" --server-pid "$SLUICE_PID" \
    --label "$name/$round" --mode latency --topic "lat" --create-topic \
    --topic-config "flush=$FLUSH" --records $((LAT_RATE * LAT_SECONDS + LAT_RATE / 5)) \
    --rate "$LAT_RATE" --warmup-records $((LAT_RATE / 5)) --value-bytes 100 --acks "$ACKS" \
    --linger-ms "$LINGER_MS" | tee -a "$OUT"
  t1=$EPOCHREALTIME
  stop_sluice "$SLUICE_PID" || rc=$?
  [ "$rc" -eq 0 ] || { echo "$0: sluice serve exited $rc" >&2; cat "$TMP/serve-$name-$round.log" >&2; exit 1; }
  # When the window was (the warm-up left out) and when the partition passes ended.
  /usr/bin/python3 - "$TMP/serve-$name-$round.log" "$name" "$round" "$t0" "$t1" \
    "$DIRTY_PARTITIONS" "$LAT_SECONDS" <<'EOF' | tee -a "$OUT"
import datetime, json, sys
log, name, rnd, t0, t1, parts, secs = sys.argv[1:]
t0, t1, secs = float(t0), float(t1), float(secs)
ends, errors = [], []
for line in open(log):
    try:
        r = json.loads(line)
    except ValueError:
        continue
    if r.get("level") in ("error", "ERROR"):
        errors.append(r.get("msg"))
    if "cleaned" in r.get("msg", "") and "segments into" in r.get("msg", ""):
        ts = datetime.datetime.strptime(r["ts"], "%Y-%m-%dT%H:%M:%S.%fZ")
        ends.append(ts.replace(tzinfo=datetime.timezone.utc).timestamp())
# The measured records were sent in about [t1 - secs, t1] (kafka_bench exits once they are acked).
start = t1 - secs
busy_until = max(ends) if len(ends) == int(parts) else t1
print(json.dumps({"label": "cleaner_state/%s/%s" % (name, rnd), "partition_passes": len(ends),
                  "partitions": int(parts),
                  "busy_share_of_window": max(0.0, min(1.0, (busy_until - start) / secs)),
                  "errors": errors}))
EOF
}

for round in $(seq 1 "$ROUNDS"); do
  echo "cleaner_latency: round $round, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  if [ $((round % 2)) -eq 1 ]; then order=(cleaner idle); else order=(idle cleaner); fi
  for c in "${order[@]}"; do one_case "$c" "$round"; done
done

/usr/bin/python3 - "$OUT" "$ROUNDS" <<'EOF'
import json, statistics, sys
path, rounds = sys.argv[1], int(sys.argv[2])
rows = [json.loads(l) for l in open(path) if l.startswith("{")]
def pick(case, key):
    out = {}
    for r in rows:
        name, rnd = r["label"].split("/")[-2:]
        if r["label"].startswith("cleaner_state/") != key.startswith("state."):
            continue
        if name == case:
            v = r
            for k in key.replace("state.", "").split("."):
                v = v[k]
            out[int(rnd)] = v
    return out
def span(v, fmt="{:.0f}"):
    v = list(v)
    if not v:
        return "-"
    return (fmt + " [" + fmt + ", " + fmt + "]").format(statistics.median(v), min(v), max(v))
print("\nproduce latency (us), median [min, max] over %d rounds" % rounds)
print("%-10s %-26s %-26s %-26s %s" % ("case", "p50", "p99", "p99.9", "errors"))
for case in ("idle", "cleaner"):
    print("%-10s %-26s %-26s %-26s %s" % (
        case, span(pick(case, "latency.p50_us").values()), span(pick(case, "latency.p99_us").values()),
        span(pick(case, "latency.p999_us").values()), span(pick(case, "errors").values())))
c, i = pick("cleaner", "latency.p99_us"), pick("idle", "latency.p99_us")
ratio = [c[r] / i[r] for r in c if r in i and i[r] > 0]
med = statistics.median(ratio) if ratio else float("nan")
print("p99 cleaner / idle, per round: %s   goal <= 1.20: %s" % (
    span(ratio, "{:.2f}"), "met" if med <= 1.2 else "MISSED"))
busy = pick("cleaner", "state.busy_share_of_window")
print("cleaner busy over the measured window: %s" % span(busy.values(), "{:.2f}"))
if any(b < 1.0 for b in busy.values()):
    print("WARNING: the cleaner finished before the window ended in some rounds; raise DIRTY_MIB")
idle_passes = pick("idle", "state.partition_passes")
if any(idle_passes.values()):
    print("WARNING: the cleaner cleaned in an idle case")
EOF
