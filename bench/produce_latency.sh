#!/usr/bin/env bash
# Durable produce through `sluice serve` (issue 12): acks=all to flush=sync topics, two sluice
# binaries side by side in the same run (say, before and after a change), rounds interleaved and
# the binaries' order alternating, with the disk's own cost measured in each round.
#
#   bench/produce_latency.sh KAFKA_BENCH SLUICE_A [SLUICE_B]     (ROUNDS=3 LAT_SECONDS=10)
#
# Each SLUICE_x is a binary, optionally followed (in the same argument, split at spaces) by flags
# for its `serve`: the same binary can run twice with different flags, e.g. the engine's two write
# paths side by side:
#   bench/produce_latency.sh KAFKA_BENCH "build/rel/sluice --io posix" "build/rel/sluice --io uring"
#
# Per round and binary (each serving its own data directory in one temporary directory):
#   lat0      50,000 rec/s paced for LAT_SECONDS, 100-byte values, acks=all, linger.ms=0 (many small
#             requests in flight: kafka-python's, sarama's and older Java clients' default)
#   lat5      the same with linger.ms=5 (librdkafka's default)
#   lat0n     lat0 with no durability work at all (acks=1, flush=none): the floor this machine
#             gives one client sending one request per record, with the broker beside it
#   sync4     4 producers unpaced, acks=all, flush=sync, PRODUCE_RECORDS each
#   acks1     4 producers unpaced, acks=1, flush=none: the throughput sync4 is compared with
# and once per round: fsync = 4 KiB pwrite + fdatasync, back to back, in the same directory; and
# diskcommit = lat0's records arriving at the same rate, committed by one thread in groups (one
# pwrite + fdatasync each) with no broker and no network: the disk's own floor for lat0.
# Output: JSON lines in $OUT (default bench-produce-latency.jsonl) and a summary on stdout:
# median [min, max] over rounds.
set -euo pipefail

KBENCH=${1:?usage: $0 KAFKA_BENCH SLUICE_A [SLUICE_B]}
shift
BINS=("$@")
[ ${#BINS[@]} -ge 1 ] || { echo "usage: $0 KAFKA_BENCH SLUICE_A [SLUICE_B]" >&2; exit 2; }
ROUNDS=${ROUNDS:-3}
LAT_SECONDS=${LAT_SECONDS:-10}
LAT_RATE=${LAT_RATE:-50000}
PRODUCE_RECORDS=${PRODUCE_RECORDS:-500000}
OUT=${OUT:-bench-produce-latency.jsonl}
TMP=$(mktemp -d)
. "$(dirname "$0")/lib.sh"
cleanup() {
  stop_all_sluice
  rm -rf "$TMP"
}
trap cleanup EXIT
: >"$OUT"

PIDS=()
PORTS=()
for i in "${!BINS[@]}"; do
  read -ra SERVE <<<"${BINS[$i]}"  # binary, then its serve flags
  start_sluice "${SERVE[0]}" "$TMP/data$i" "$TMP/serve$i" "${SERVE[@]:1}"
  PIDS+=("$SLUICE_PID")
  PORTS+=("$SLUICE_PORT")
done
echo "produce_latency: ${#BINS[@]} servers ($(printf '[%s] ' "${BINS[@]}")), $(nproc) CPUs," \
  "load $(cut -d' ' -f1-3 /proc/loadavg)" >&2

kb() {  # BIN_INDEX ROUND LABEL ARGS...: one kafka_bench run against server BIN_INDEX
  local i=$1 round=$2 label=$3
  shift 3
  "$KBENCH" --broker "127.0.0.1:${PORTS[$i]}" --server-pid "${PIDS[$i]}" \
    --label "$label/$i/$round" "$@" | tee -a "$OUT"
}

for round in $(seq 1 "$ROUNDS"); do
  order=("${!BINS[@]}")
  if [ $((round % 2)) -eq 0 ]; then order=($(printf '%s\n' "${order[@]}" | tac)); fi
  echo "produce_latency: round $round, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  "$KBENCH" --mode fsync --dir "$TMP" --records 3000 --fsync-bytes 4096 \
    --label "fsync/x/$round" | tee -a "$OUT"
  "$KBENCH" --mode disk-commit --dir "$TMP" --records $((LAT_RATE * LAT_SECONDS)) \
    --rate "$LAT_RATE" --warmup-records "$LAT_RATE" --value-bytes 100 \
    --label "diskcommit/x/$round" | tee -a "$OUT"
  for i in "${order[@]}"; do
    for linger in 0 5; do
      kb "$i" "$round" "lat$linger" --mode latency --topic "lat$linger-$round" --create-topic \
        --topic-config flush=sync --records $((LAT_RATE * LAT_SECONDS)) --rate "$LAT_RATE" \
        --warmup-records "$LAT_RATE" --value-bytes 100 --acks all --linger-ms "$linger"
    done
    kb "$i" "$round" lat0n --mode latency --topic "lat0n-$round" --create-topic \
      --topic-config flush=none --records $((LAT_RATE * LAT_SECONDS)) --rate "$LAT_RATE" \
      --warmup-records "$LAT_RATE" --value-bytes 100 --acks 1 --linger-ms 0
    kb "$i" "$round" sync4 --mode produce --topic "sync4-$round" --create-topic --partitions 4 \
      --topic-config flush=sync --producers 4 --records "$PRODUCE_RECORDS" --value-bytes 100 \
      --acks all
    kb "$i" "$round" acks1 --mode produce --topic "acks1-$round" --create-topic --partitions 4 \
      --producers 4 --records "$PRODUCE_RECORDS" --value-bytes 100 --acks 1
  done
done

/usr/bin/python3 - "$OUT" "${BINS[@]}" <<'EOF'
import json, statistics, sys
path, bins = sys.argv[1], sys.argv[2:]
rows = [json.loads(l) for l in open(path) if l.startswith("{")]
def pick(label, i, key):
    out = []
    for r in rows:
        name, idx, rnd = r["label"].split("/")
        if name == label and idx == str(i):
            v = r
            for k in key.split("."):
                v = v[k]
            out.append(v)
    return out
def span(v, fmt="{:.0f}"):
    if not v:
        return "-"
    return (fmt + " [" + fmt + ", " + fmt + "]").format(statistics.median(v), min(v), max(v))
fs = pick("fsync", "x", "latency.p99_us")
print("4 KiB pwrite+fdatasync p99 us:", span(fs))
print("disk-commit (lat0's records, group commit, no broker) p50 us %s, p99 us %s, p99.9 us %s" % (
    span(pick("diskcommit", "x", "latency.p50_us")), span(pick("diskcommit", "x", "latency.p99_us")),
    span(pick("diskcommit", "x", "latency.p999_us"))))
for i, b in enumerate(bins):
    print("==", b)
    for lab in ("lat0", "lat5", "lat0n"):
        cpu = [c["user_s"] + c["sys_s"] for c in pick(lab, i, "server_cpu")]
        print("  %s: p50 %s us, p99 %s us, p99.9 %s us; queue full %s; errors %s; "
              "broker CPU s %s, client CPU s %s" % (
            lab, span(pick(lab, i, "latency.p50_us")), span(pick(lab, i, "latency.p99_us")),
            span(pick(lab, i, "latency.p999_us")), span(pick(lab, i, "queue_full")),
            span(pick(lab, i, "errors")), span(cpu, "{:.2f}"),
            span(pick(lab, i, "client_cpu_s"), "{:.2f}")))
    s4, a1 = pick("sync4", i, "rec_per_s"), pick("acks1", i, "rec_per_s")
    ratio = [a / b for a, b in zip(s4, a1)]
    print("  sync4 rec/s %s, acks1 rec/s %s, ratio %s" % (span(s4), span(a1), span(ratio, "{:.2f}")))
EOF
