#!/usr/bin/env bash
# sluice and Apache Kafka 4.4 side by side on the same workloads, in the same run (issue 13).
#
#   bench/kafka_side_by_side.sh BUILD_DIR
#
# BUILD_DIR holds a Release `sluice` and `bench/kafka_bench` (nothing is built here). Kafka 4.4
# comes from scripts/kafka-fixture.sh (Maven Central, cached), run as kafka-server-start.sh runs it:
# `-Xmx1G -Xms1G` and G1 with its pause settings, Kafka's default thread counts (the fixture's
# test-sized settings are overridden), one KRaft node. sluice runs `sluice serve` with its defaults.
#
# Each round starts each broker on a fresh data directory, one broker at a time, in alternating
# order (round 1: sluice first, round 2: Kafka first, ...), and runs against it:
#   produce     kafka_bench (librdkafka): RECORDS x 100-byte values, acks=1, one producer, no
#               client compression, a new 1-partition topic with the broker's default configs
#               (both store uncompressed, neither fsyncs per write: equal durability)
#   consume     kafka_bench: the same records back, one consumer
#   produce2 / consume2
#               the same with 2 producers / 2 consumers (connections) on a 2-partition topic
#   lat0/lat5   kafka_bench: LAT_RATE records/s for LAT_SECONDS s, acks=all, linger.ms 0 and 5,
#               to a topic with flush.messages=1 (Kafka fsyncs every append before it answers;
#               sluice maps flush.messages=1 to flush=sync: equal durability); the first second is
#               left out of the percentiles
#   perf_produce / perf_consume
#               Kafka's own kafka-producer-perf-test (org.apache.kafka.tools.ProducerPerformance:
#               PERF_RECORDS x 100 bytes, acks=1, unthrottled, the Java producer's defaults) and
#               kafka-consumer-perf-test (ConsumerPerformance, a consumer group) on a new topic
#   rss         the broker's peak (VmHWM) and current resident memory after those workloads, and
#               the current split into anonymous memory (RssAnon: heap, buffers) and mapped files
#               (RssFile: for sluice, segment pages it served through mmap: page cache)
#   start       the broker stopped (SIGTERM, must exit cleanly) and started again on its data:
#               seconds from launch to the first Metadata answer (bench/broker_ready.py)
#   idle_rss    resident memory once ready after that restart
# Broker CPU seconds over every workload are recorded with it (kafka_bench --server-pid, /proc).
#
# Env: ROUNDS (3), RECORDS (2000000), PERF_RECORDS (RECORDS), LAT_RATE (2000), LAT_SECONDS (10),
#      OUT (bench-side-by-side.jsonl: one JSON line per measurement), KAFKA_HEAP (as above).
# Output: the JSON lines and a table on stdout: median [min, max] per system and of the per-round
# ratio sluice/Kafka, next to the issue's goals. Temporary directories are removed at exit.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 64
fi
BUILD=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
SLUICE="$BUILD/sluice"
KBENCH="$BUILD/bench/kafka_bench"
FIXTURE="$HERE/../scripts/kafka-fixture.sh"
READY="$HERE/broker_ready.py"
for b in "$SLUICE" "$KBENCH"; do
  [ -x "$b" ] || { echo "$0: $b is missing (build the sluice and kafka_bench targets)" >&2; exit 1; }
done
grep -q 'CMAKE_BUILD_TYPE:STRING=Release' "$BUILD/CMakeCache.txt" 2>/dev/null ||
  echo "$0: warning: $BUILD is not a Release build; its figures mean nothing" >&2

ROUNDS=${ROUNDS:-3}
RECORDS=${RECORDS:-2000000}
PERF_RECORDS=${PERF_RECORDS:-$RECORDS}
LAT_RATE=${LAT_RATE:-2000}
LAT_SECONDS=${LAT_SECONDS:-10}
OUT=${OUT:-bench-side-by-side.jsonl}
# kafka-server-start.sh's heap and kafka-run-class.sh's G1 settings.
export SLUICE_KAFKA_HEAP=${KAFKA_HEAP:--Xmx1G -Xms1G -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent}
# Kafka's defaults where the fixture sets test-sized values: thread counts, and the first
# rebalance's 3 s wait for more members (sluice's default is the same 3 s).
KAFKA_PROPS=(num.network.threads=3 num.io.threads=8 group.initial.rebalance.delay.ms=3000)

"$FIXTURE" fetch
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-side-by-side-XXXXXX")
PID=""
SYSTEM=""
DIR=""
cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
    if [ "$SYSTEM" = kafka ]; then
      "$FIXTURE" stop "$DIR" >/dev/null 2>&1 || true
    else
      kill -TERM "$PID" 2>/dev/null || true
      wait "$PID" 2>/dev/null || true
    fi
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
: >"$OUT"

free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
now() { date +%s.%N; }
# emit ROUND METRIC VALUE [JSON-OBJECT-OF-EXTRAS]: one JSON line into $OUT.
emit() {
  /usr/bin/python3 -c '
import json, sys
d = {"bench": "side_by_side", "system": sys.argv[1], "round": int(sys.argv[2]),
     "metric": sys.argv[3], "value": float(sys.argv[4])}
d.update(json.loads(sys.argv[5]) if len(sys.argv) > 5 else {})
print(json.dumps(d))' "$SYSTEM" "$@" >>"$OUT"
}
proc_mib() { awk -v k="$2:" '$1 == k { print $2 / 1024 }' "/proc/$1/status"; }
cpu_s() {  # utime + stime of process $1, in seconds
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($12 + $13) / hz }' "/proc/$1/stat"
}

# Starts SYSTEM's broker on DIR (fresh when $1 = fresh), sets PID, BROKER and READY_S (seconds
# from launch to ready; 0 for a fresh Kafka, whose start includes formatting and is not timed).
start_broker() {
  local how=$1 t0 ready
  if [ "$SYSTEM" = sluice ]; then
    [ "$how" = fresh ] && SLUICE_PORT=$(free_port)
    BROKER=127.0.0.1:$SLUICE_PORT
    t0=$(now)
    "$SLUICE" --data-dir "$DIR/data" serve --listen "$BROKER" --admin-listen 127.0.0.1:0 \
      >>"$DIR/serve.out" 2>>"$DIR/serve.log" &
    PID=$!
    ready=$(/usr/bin/python3 "$READY" "$BROKER" "$t0")
  else
    if [ "$how" = fresh ]; then
      BROKER=$("$FIXTURE" start "$DIR" "${KAFKA_PROPS[@]}")
      ready=0
    else
      t0=$(now)
      "$FIXTURE" restart "$DIR" >/dev/null &
      local launcher=$!
      ready=$(/usr/bin/python3 "$READY" "$BROKER" "$t0")
      wait "$launcher"
    fi
    PID=$(cat "$DIR/kafka.pid")
  fi
  READY_S=$ready
}

stop_broker() {
  if [ "$SYSTEM" = sluice ]; then
    kill -TERM "$PID"
    local rc=0
    wait "$PID" || rc=$?
    [ "$rc" -eq 0 ] || { echo "$0: sluice serve exited $rc after SIGTERM" >&2; tail "$DIR/serve.log" >&2; exit 1; }
  else
    "$FIXTURE" stop "$DIR" >/dev/null
  fi
  PID=""
}

kbench() {  # kafka_bench against the running broker; its JSON line goes to $OUT with the system
  local line
  line=$("$KBENCH" --broker "$BROKER" --server-pid "$PID" "$@")
  SYSTEM_JSON=$line /usr/bin/python3 -c '
import json, os, sys
d = json.loads(os.environ["SYSTEM_JSON"])
d["system"], d["round"] = sys.argv[1], int(sys.argv[2])
print(json.dumps(d))' "$SYSTEM" "$ROUND" >>"$OUT"
  /usr/bin/python3 -c 'import json, sys; sys.exit(0 if json.loads(sys.argv[1]).get("ok") else 1)' \
    "$line" || { echo "$0: kafka_bench failed on $SYSTEM: $line" >&2; exit 1; }
}

# Kafka's perf tools; their figures and the broker's CPU seconds over each.
perf_tools() {
  local cpu0 cpu1 out
  "$KBENCH" --broker "$BROKER" --mode create --topic perf --partitions 1 >/dev/null
  cpu0=$(cpu_s "$PID")
  out=$("$FIXTURE" run-class org.apache.kafka.tools.ProducerPerformance --topic perf \
    --num-records "$PERF_RECORDS" --record-size 100 --throughput -1 \
    --producer-props "bootstrap.servers=$BROKER" acks=1 2>>"$DIR/perf.err" | tail -n 1)
  cpu1=$(cpu_s "$PID")
  # "N records sent, R records/sec (M MB/sec), A ms avg latency, X ms max latency, ..."
  [[ "$out" =~ ^$PERF_RECORDS\ records\ sent,\ ([0-9.]+)\ records/sec ]] ||
    { echo "$0: ProducerPerformance on $SYSTEM: $out" >&2; tail "$DIR/perf.err" >&2; exit 1; }
  emit "$ROUND" perf_produce_rec_per_s "${BASH_REMATCH[1]}" \
    "{\"server_cpu_s\": $(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { print b - a }'), \"tool_line\": \"$out\"}"
  cpu0=$cpu1
  out=$("$FIXTURE" run-class org.apache.kafka.tools.ConsumerPerformance --bootstrap-server \
    "$BROKER" --topic perf --num-records "$PERF_RECORDS" --timeout 60000 --hide-header \
    2>>"$DIR/perf.err" | tail -n 1)
  cpu1=$(cpu_s "$PID")
  # CSV: start.time, end.time, MB, MB.sec, nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms,
  # fetch.MB.sec, fetch.nMsg.sec
  local fields
  IFS=', ' read -r -a fields <<<"$(echo "$out" | sed 's/, /,/g' | tr ',' ' ')"
  [ "${#fields[@]}" -ge 12 ] && [ "${fields[6]%.*}" -ge "$PERF_RECORDS" ] ||
    { echo "$0: ConsumerPerformance on $SYSTEM: $out" >&2; tail "$DIR/perf.err" >&2; exit 1; }
  # (start.time and end.time are "yyyy-MM-dd HH:mm:ss:SSS": two fields each here.)
  emit "$ROUND" perf_consume_rec_per_s "${fields[7]}" \
    "{\"rebalance_ms\": ${fields[8]}, \"server_cpu_s\": $(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { print b - a }')}"
  # The same without the group's join (the tool's fetch.nMsg.sec).
  emit "$ROUND" perf_consume_fetch_rec_per_s "${fields[11]}"
}

one_system() {
  DIR="$TMP/$SYSTEM-$ROUND"
  mkdir -p "$DIR"
  echo "side_by_side: round $ROUND: $SYSTEM, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  start_broker fresh
  kbench --mode produce --topic w1 --create-topic --partitions 1 --records "$RECORDS" \
    --value-bytes 100 --acks 1 --label "produce"
  kbench --mode consume --topic w1 --records "$RECORDS" --label "consume"
  kbench --mode produce --topic w2 --create-topic --partitions 2 --producers 2 \
    --records "$RECORDS" --value-bytes 100 --acks 1 --label "produce2"
  kbench --mode consume --topic w2 --consumers 2 --records "$RECORDS" --label "consume2"
  local linger
  for linger in 0 5; do
    kbench --mode latency --topic "lat$linger" --create-topic --topic-config flush.messages=1 \
      --partitions 1 --records $((LAT_RATE * LAT_SECONDS)) --rate "$LAT_RATE" \
      --warmup-records "$LAT_RATE" --value-bytes 100 --acks all --linger-ms "$linger" \
      --label "lat$linger"
  done
  perf_tools
  emit "$ROUND" peak_rss_mib "$(proc_mib "$PID" VmHWM)"
  emit "$ROUND" rss_mib "$(proc_mib "$PID" VmRSS)"
  # Of which: the broker's own memory, and the page cache it maps (sluice reads segments through
  # mmap, so pages it served count in its RSS; Kafka reads with pread/sendfile, so they do not).
  emit "$ROUND" rss_anon_mib "$(proc_mib "$PID" RssAnon)"
  emit "$ROUND" rss_file_mib "$(proc_mib "$PID" RssFile)"
  stop_broker
  # After the stop: a running sluice keeps reserved space at the end of each active segment,
  # trimmed when the segment is sealed or the broker stops.
  emit "$ROUND" data_mib "$(du -sm "$DIR" | cut -f1)"
  start_broker again
  emit "$ROUND" start_s "$READY_S"
  emit "$ROUND" idle_rss_mib "$(proc_mib "$PID" VmRSS)"
  stop_broker
  rm -rf "$DIR"
}

echo "side_by_side: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); RECORDS=$RECORDS" \
  "PERF_RECORDS=$PERF_RECORDS LAT_RATE=$LAT_RATE LAT_SECONDS=$LAT_SECONDS ROUNDS=$ROUNDS" >&2
for ROUND in $(seq 1 "$ROUNDS"); do
  if [ $((ROUND % 2)) -eq 1 ]; then order=(sluice kafka); else order=(kafka sluice); fi
  for SYSTEM in "${order[@]}"; do one_system; done
done
SYSTEM=""

/usr/bin/python3 - "$OUT" <<'EOF'
import json, statistics, sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]

def value(row):
    if row.get("bench") == "kafka_bench":
        label = row["label"]
        if label.startswith("lat"):
            return row["latency"]["p99_us"] / 1000.0
        return row["rec_per_s"]
    return row["value"]

def key(row):
    return row["label"] if row.get("bench") == "kafka_bench" else row["metric"]

table = {}
for r in rows:
    table.setdefault(key(r), {}).setdefault(r["system"], {})[r["round"]] = r

def stats(xs):
    return "%s [%s, %s]" % tuple(fmt(x) for x in (statistics.median(xs), min(xs), max(xs)))

def fmt(x):
    return "{:,.0f}".format(x) if abs(x) >= 100 else "{:.3g}".format(x)

goals = {"produce": ("sluice/Kafka >= 2", lambda q: q >= 2),
         "produce2": ("sluice/Kafka >= 2", lambda q: q >= 2),
         "consume2": ("sluice/Kafka >= 1.5", lambda q: q >= 1.5),
         "rss_anon_mib": ("sluice/Kafka <= 0.2", lambda q: q <= 0.2),
         "perf_produce_rec_per_s": ("sluice/Kafka >= 2", lambda q: q >= 2),
         "consume": ("sluice/Kafka >= 1.5", lambda q: q >= 1.5),
         "perf_consume_rec_per_s": ("sluice/Kafka >= 1.5", lambda q: q >= 1.5),
         "perf_consume_fetch_rec_per_s": ("sluice/Kafka >= 1.5", lambda q: q >= 1.5),
         "lat0": ("p99 sluice/Kafka <= 0.5", lambda q: q <= 0.5),
         "lat5": ("p99 sluice/Kafka <= 0.5", lambda q: q <= 0.5),
         "peak_rss_mib": ("sluice/Kafka <= 0.2", lambda q: q <= 0.2),
         "idle_rss_mib": ("sluice/Kafka <= 0.2", lambda q: q <= 0.2),
         "start_s": ("sluice/Kafka <= 0.1", lambda q: q <= 0.1)}
units = {"produce": "rec/s", "consume": "rec/s", "produce2": "rec/s", "consume2": "rec/s",
         "lat0": "p99 ms", "lat5": "p99 ms"}
print("| workload | sluice | Kafka 4.4 | sluice/Kafka per round | goal |")
print("|---|---|---|---|---|")
for k, by in table.items():
    if "sluice" not in by or "kafka" not in by:
        continue
    s = [value(r) for r in by["sluice"].values()]
    kf = [value(r) for r in by["kafka"].values()]
    rounds = sorted(set(by["sluice"]) & set(by["kafka"]))
    q = [value(by["sluice"][i]) / value(by["kafka"][i]) for i in rounds if value(by["kafka"][i])]
    goal, ok = goals.get(k, ("", None))
    verdict = ""
    if ok and q:
        verdict = " (met)" if ok(statistics.median(q)) else " (**missed**)"
    print("| %s (%s) | %s | %s | %s | %s%s |" % (k, units.get(k, k.split("_")[-1]), stats(s),
          stats(kf), stats(q) if q else "-", goal, verdict))
# Broker CPU per workload, where kafka_bench measured it.
print()
print("| broker CPU seconds | sluice | Kafka 4.4 |")
print("|---|---|---|")
for k, by in table.items():
    cells = []
    for system in ("sluice", "kafka"):
        xs = []
        for r in by.get(system, {}).values():
            if "server_cpu" in r:
                xs.append(r["server_cpu"]["user_s"] + r["server_cpu"]["sys_s"])
            elif "server_cpu_s" in r:
                xs.append(r["server_cpu_s"])
        cells.append(stats(xs) if xs else None)
    if all(cells):
        print("| %s | %s | %s |" % (k, cells[0], cells[1]))
EOF
