#!/usr/bin/env bash
# Network benchmark of `sluice serve` over the Kafka protocol, with its same-run baselines.
#
#   bench/run_kafka_bench.sh BUILD_DIR
#
# Builds nothing: BUILD_DIR must hold a Release `sluice` and `bench/kafka_bench`. Starts
# `sluice serve` on a free loopback port (--listen 127.0.0.1:0; the port is read from its first
# stdout line) with a temporary data directory, and runs, RUNS times each (kafka_bench, one JSON
# line per run; topics are created by kafka_bench with compression.type=zstd at ZSTD_LEVEL):
#   compress     no server: zstd at ZSTD_LEVEL of batches like the producer's, one thread (the
#                ceiling of a one-connection produce) and their decompression (of a consumer)
#   produce      RECORDS x 100-byte values, acks=1, one producer, fresh 1-partition topic
#   consume      the same RECORDS back from the beginning of that topic, one consumer
#   produce2     the same with 2 producers (2 connections) to a 2-partition topic
#   consume2     that topic back with 2 consumers (2 connections, one partition each)
#   latency      LAT_RATE records/s for LAT_SECONDS s, acks=all, fresh topic with flush=sync,
#                linger.ms=1 and max.in.flight=1 (the first second is left out of the percentiles)
#   latency_dflt the same for LAT_DFLT_SECONDS s (all measured) with linger.ms=0 and
#                librdkafka's default max.in.flight (1,000,000 requests in flight per connection)
#   fsync        no server: 3000 x (pwrite 4 KiB + fdatasync) next to the data directory, the
#                disk's share of a flush=sync produce
# then stops the server with SIGTERM (it must exit 0), runs the Redis Streams peer
# (../shared/peers/redis_streams.py, workload W1 = 100-byte records, at PEERS_SCALE) on the same
# machine, and prints each target next to its figure and the baselines.
#
# Env: RECORDS (5000000), RUNS (3), ZSTD_LEVEL (3, the engine's default), LAT_RATE (50000),
#      LAT_SECONDS (10), LAT_DFLT_SECONDS (3), PEERS_SCALE (0.2 = 1,000,000 records),
#      PEERS_RUNS (3), REDIS_CONFIGS (aof_everysec,nopersist), SKIP_REDIS (0),
#      KBENCH_JSON (a file that receives every JSON line, appended), KBENCH_ARGS (extra
#      kafka_bench flags for every run), SERVE_ARGS (extra `sluice serve` flags).
# Installs redis-server, redis-tools, libhiredis-dev and gcc with apt-get when missing (the peer
# needs them); the Redis service is kept from auto-starting. Temporary directories are removed at
# exit; the server is stopped by PID (the peer stops its redis-server by PID too).
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 64
fi
BUILD=$(cd "$1" && pwd)
SLUICE="$BUILD/sluice"
KBENCH="$BUILD/bench/kafka_bench"
HERE=$(cd "$(dirname "$0")" && pwd)
PEER=${PEER:-$HERE/../../shared/peers/redis_streams.py}
[ -f "$PEER" ] || PEER=/work/shared/peers/redis_streams.py
for b in "$SLUICE" "$KBENCH"; do
  [ -x "$b" ] || { echo "$0: $b is missing (build the sluice and kafka_bench targets)" >&2; exit 1; }
done
if ! grep -q 'CMAKE_BUILD_TYPE:STRING=Release' "$BUILD/CMakeCache.txt" 2>/dev/null; then
  echo "$0: warning: $BUILD is not a Release build; its figures mean nothing" >&2
fi

RECORDS=${RECORDS:-5000000}
RUNS=${RUNS:-3}
ZSTD_LEVEL=${ZSTD_LEVEL:-3}
LAT_RATE=${LAT_RATE:-50000}
LAT_SECONDS=${LAT_SECONDS:-10}
LAT_DFLT_SECONDS=${LAT_DFLT_SECONDS:-3}
SKIP_REDIS=${SKIP_REDIS:-0}
read -r -a EXTRA <<<"${KBENCH_ARGS:-}"
read -r -a SERVE_EXTRA <<<"${SERVE_ARGS:-}"

# --- packages the Redis peer needs ----------------------------------------------------------------
ensure_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "run_kafka_bench: installing ${missing[*]}" >&2
  local policy=/usr/sbin/policy-rc.d made_policy=0
  if [ ! -e "$policy" ]; then  # keep redis-server's service from starting on install
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod 755 "$policy"
    made_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
  [ $made_policy -eq 1 ] && $sudo rm -f "$policy"
  return 0
}
[ "$SKIP_REDIS" = 1 ] || ensure_packages redis-server redis-tools libhiredis-dev gcc

# --- temporary directory and the server ---------------------------------------------------------
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-kbench-XXXXXX")
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
JSON="$TMP/results.jsonl"
: >"$JSON"

"$SLUICE" --data-dir "$TMP/data" serve --listen 127.0.0.1:0 \
  --topic-config compression.type=zstd "${SERVE_EXTRA[@]}" >"$TMP/serve.out" 2>"$TMP/serve.log" &
SERVER_PID=$!
PORT=""
for _ in $(seq 1 200); do
  if line=$(head -n 1 "$TMP/serve.out" 2>/dev/null) &&
    [[ "$line" =~ ^listening\ on\ .*:([0-9]+)$ ]]; then
    PORT=${BASH_REMATCH[1]}
    break
  fi
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.05
done
if [ -z "$PORT" ]; then
  echo "$0: sluice serve did not start" >&2
  cat "$TMP/serve.log" >&2
  exit 1
fi
BROKER=127.0.0.1:$PORT
echo "run_kafka_bench: sluice serve pid $SERVER_PID on $BROKER, data in $TMP/data;" \
  "$(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2

kbench() {  # kafka_bench with the common flags; its JSON line goes to $JSON
  "$KBENCH" --broker "$BROKER" --server-pid "$SERVER_PID" "${EXTRA[@]}" "$@" | tee -a "$JSON"
}
TOPIC_CFG=(--create-topic --topic-config compression.type=zstd
  --topic-config "compression.zstd.level=$ZSTD_LEVEL")

run_redis() {  # the Redis Streams peer, W1, one run of each config; summary lines to $JSON
  local round=$1
  echo "run_kafka_bench: round $round: Redis Streams peer (W1, PEERS_SCALE=${PEERS_SCALE:-0.2})," \
    "load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  if ! PEERS_SCALE=${PEERS_SCALE:-0.2} PEERS_RUNS=1 REDIS_WORKLOADS=W1 \
    REDIS_CONFIGS=${REDIS_CONFIGS:-aof_everysec,nopersist} \
    REDIS_PIPELINES=${REDIS_PIPELINES:-256} \
    PEERS_DATA="$TMP/peers-data" PEERS_RESULTS="$TMP/peers-results" \
    /usr/bin/python3 "$PEER" >"$TMP/redis.jsonl"; then
    echo "$0: the Redis peer failed" >&2
    exit 1
  fi
  ROUND=$round /usr/bin/python3 -c '
import json, os, sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    if d.get("kind") == "summary":
        d["round"] = int(os.environ["ROUND"])
        print(json.dumps(d))' "$TMP/redis.jsonl" | tee -a "$JSON"
}

for run in $(seq 1 "$RUNS"); do
  kbench --mode compress --records 1000000 --zstd-level "$ZSTD_LEVEL" --label "compress/$run"
  kbench --mode produce --topic "w1-$run" "${TOPIC_CFG[@]}" --partitions 1 \
    --records "$RECORDS" --value-bytes 100 --acks 1 --label "produce/$run"
  kbench --mode consume --topic "w1-$run" --records "$RECORDS" --label "consume/$run"
  kbench --mode produce --topic "w1x2-$run" "${TOPIC_CFG[@]}" --partitions 2 --producers 2 \
    --records "$RECORDS" --value-bytes 100 --acks 1 --label "produce2/$run"
  kbench --mode consume --topic "w1x2-$run" --consumers 2 --records "$RECORDS" \
    --label "consume2/$run"
  kbench --mode latency --topic "lat-$run" "${TOPIC_CFG[@]}" --topic-config flush=sync \
    --partitions 1 --records $((LAT_RATE * LAT_SECONDS)) --rate "$LAT_RATE" \
    --warmup-records "$LAT_RATE" --value-bytes 100 --acks all \
    --linger-ms 1 --set max.in.flight=1 --label "latency/$run"
  kbench --mode latency --topic "latd-$run" "${TOPIC_CFG[@]}" --topic-config flush=sync \
    --partitions 1 --records $((LAT_RATE * LAT_DFLT_SECONDS)) --rate "$LAT_RATE" \
    --value-bytes 100 --acks all --linger-ms 0 --label "latency_dflt/$run"
  kbench --mode fsync --dir "$TMP" --records 3000 --fsync-bytes 4096 --label "fsync/$run"
  [ "$SKIP_REDIS" = 1 ] || run_redis "$run"
done

echo "run_kafka_bench: data directory holds $(du -sh "$TMP/data" | cut -f1)" >&2
kill -TERM "$SERVER_PID"
set +e
wait "$SERVER_PID"
rc=$?
set -e
SERVER_PID=""
if [ $rc -ne 0 ]; then
  echo "$0: sluice serve exited $rc after SIGTERM" >&2
  tail -n 20 "$TMP/serve.log" >&2
  exit 1
fi
echo "run_kafka_bench: sluice serve stopped cleanly (exit 0)" >&2

if [ -n "${KBENCH_JSON:-}" ]; then cat "$JSON" >>"$KBENCH_JSON"; fi

# --- figures against targets and baselines ----------------------------------------------------------
/usr/bin/python3 - "$JSON" <<'EOF'
import json, statistics, sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
kb = [r for r in rows if r.get("bench") == "kafka_bench"]
peer = {(r["bench"], r["metric"], r.get("config"), r["round"]): r["median"]
        for r in rows if r.get("kind") == "summary"}
rounds = sorted({int(r["label"].split("/")[1]) for r in kb})


def fig(variant, rnd, key, sub=None):
    for r in kb:
        if r["label"] == f"{variant}/{rnd}":
            return r[sub][key] if sub else r[key]
    return None


def per_round(fn):
    return [v for v in (fn(n) for n in rounds) if v is not None]


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def span(xs, fmt="{:,.0f}"):
    if not xs:
        return "-"
    return f"{fmt.format(med(xs))} [{fmt.format(min(xs))}, {fmt.format(max(xs))}]"


def ratio(a, b):
    return lambda n: (a(n) / b(n)) if a(n) and b(n) else None


redis_aof = lambda n: peer.get(("redis_xadd_aof_everysec_P256", "rps", None, n))
redis_np = lambda n: peer.get(("redis_xadd_nopersist_P256", "rps", None, n))
redis_xr = lambda n: peer.get(("redis_read_xrange", "rec_per_s", "aof_everysec", n))
prod = lambda n: fig("produce", n, "rec_per_s")
prod2 = lambda n: fig("produce2", n, "rec_per_s")
cons = lambda n: fig("consume", n, "rec_per_s")
cons2 = lambda n: fig("consume2", n, "rec_per_s")
comp = lambda n: fig("compress", n, "compress_rec_per_s")
dec = lambda n: fig("compress", n, "decompress_rec_per_s")
lat = lambda n: fig("latency", n, "p99_us", "latency")
latd = lambda n: fig("latency_dflt", n, "p99_us", "latency")
lvl = next((r["zstd_level"] for r in kb if r["mode"] == "compress"), "?")

print()
print("Per round (records/s; latency p99 in us; Redis = the peer right after, same round):")
print(f" round | zstd-{lvl} comp | produce | produce x2 | consume | consume x2 | lat p99 |"
      " lat p99 linger 0 | fsync p99 | Redis XADD aof P256 | nopersist P256 | XRANGE | load")
for n in rounds:
    cells = [comp(n), prod(n), prod2(n), cons(n), cons2(n), lat(n), latd(n),
             fig("fsync", n, "p99_us", "latency"), redis_aof(n), redis_np(n), redis_xr(n)]
    loads = [r["loadavg_1m"] for r in kb if r["label"].endswith(f"/{n}") and "loadavg_1m" in r]
    print(f" {n:5} | " + " | ".join("-" if c is None else f"{c:,.0f}" for c in cells) +
          f" | {min(l[0] for l in loads):.1f}-{max(l[1] for l in loads):.1f}")

print()
print("sluice serve over the Kafka protocol: medians over rounds [min, max]")
print(f"  produce acks=1, 1 producer, 1 partition: {span(per_round(prod))} records/s"
      f" -> target 1,000,000/s: {med(per_round(prod)) / 1e6:.2f}x")
print(f"     / Redis XADD (AOF everysec, -P 256), per round:"
      f" {span(per_round(ratio(prod, redis_aof)), '{:.2f}')} (target >= 2)")
print(f"     / Redis XADD (no persistence, -P 256), per round:"
      f" {span(per_round(ratio(prod, redis_np)), '{:.2f}')}")
print(f"     / zstd-{lvl} compression alone, one thread, per round:"
      f" {span(per_round(ratio(prod, comp)), '{:.2f}')}"
      f" (compression alone: {span(per_round(comp))} records/s)")
print(f"  produce acks=1, 2 producers, 2 partitions: {span(per_round(prod2))} records/s"
      f" -> {med(per_round(prod2)) / 1e6:.2f}x the target;"
      f" / Redis AOF: {span(per_round(ratio(prod2, redis_aof)), '{:.2f}')}")
print(f"  consume, 1 consumer, 1 partition: {span(per_round(cons))} records/s"
      f" -> target 2,000,000/s: {med(per_round(cons)) / 2e6:.2f}x;"
      f" / Redis XRANGE: {span(per_round(ratio(cons, redis_xr)), '{:.2f}')};"
      f" / zstd-{lvl} decompression alone: {span(per_round(ratio(cons, dec)), '{:.2f}')}")
print(f"  consume, 2 consumers, 2 partitions: {span(per_round(cons2))} records/s"
      f" -> {med(per_round(cons2)) / 2e6:.2f}x the target")
for v, fn, what in (("latency", lat, "linger.ms=1, max.in.flight=1"),
                    ("latency_dflt", latd,
                     "linger.ms=0, max.in.flight=1,000,000 (librdkafka's default)")):
    xs = per_round(fn)
    if not xs:
        continue
    p50 = per_round(lambda n: fig(v, n, "p50_us", "latency"))
    p999 = per_round(lambda n: fig(v, n, "p999_us", "latency"))
    mx = per_round(lambda n: fig(v, n, "max_us", "latency"))
    rate = next(r["rate"] for r in kb if r["label"].startswith(v + "/"))
    print(f"  {v}: acks=all, flush=sync, {rate:,.0f} records/s, {what}: p99 {span(xs)} us"
          f" -> {med(xs) / 3000:.2f}x the 3 ms limit; p50 {span(p50)}, p99.9 {span(p999)},"
          f" max {span(mx)} us")
fs = per_round(lambda n: fig("fsync", n, "p99_us", "latency"))
if fs:
    fs50 = per_round(lambda n: fig("fsync", n, "p50_us", "latency"))
    print(f"     baseline, pwrite 4 KiB + fdatasync back to back on the same disk: p50 {span(fs50)},"
          f" p99 {span(fs)} us; latency p99 / fsync p99 per round:"
          f" {span(per_round(ratio(lat, lambda n: fig('fsync', n, 'p99_us', 'latency'))), '{:.1f}')}")
p1 = per_round(lambda n: peer.get(("redis_xadd_aof_everysec_P1", "p99_ms", None, n)))
if p1:
    print(f"     for reference, Redis XADD one at a time (AOF everysec, not fsync'ed per write):"
          f" p99 {span([x * 1000 for x in p1])} us")

print()
print("CPU over each timed run (server = sluice serve; runq = runnable but waiting for a CPU):")
for r in kb:
    sc = r.get("server_cpu")
    if not sc:
        continue
    top = ", ".join(f"{t['comm']}:{t['user_s'] + t['sys_s']:.2f}" for t in sc["threads"][:3])
    print(f"  {r['label']:<15} {r['secs']:6.2f} s: server {sc['user_s'] + sc['sys_s']:.2f} s"
          f" ({sc['cores']:.2f} cores; runq {sc['runq_wait_s']:.2f} s; busiest {top}),"
          f" client {r['client_cpu_s']:.2f} s (runq {r['client_runq_wait_s']:.2f} s),"
          f" load {r['loadavg_1m'][0]:.1f}->{r['loadavg_1m'][1]:.1f}")
bad = [r for r in kb if not r.get("ok")]
if bad:
    print(f"{len(bad)} run(s) not ok (delivery/consume errors or missing reports): see the JSON lines")
    sys.exit(2)
EOF
