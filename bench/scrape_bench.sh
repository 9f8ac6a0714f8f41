#!/usr/bin/env bash
# Produce throughput with the admin listener scraped every second vs not scraped, same server,
# same run, interleaved (issue 14's goal: <= 2% difference).
#
#   bench/scrape_bench.sh BUILD_DIR
#
# Builds nothing: BUILD_DIR must hold a Release `sluice` and `bench/kafka_bench`. Starts one
# `sluice serve` (PLAINTEXT and the admin listener on free loopback ports) and runs ROUNDS rounds;
# each round produces RECORDS records of VALUE_BYTES bytes (acks=1, one producer, a fresh
# PARTITIONS-partition topic) twice: once while a scraper GETs /metrics, /api/v1/topics,
# /api/v1/groups and /api/v1/throughput once a second (what Prometheus plus an open console do),
# once with nothing scraping. The order alternates between rounds. Prints the median [min, max]
# over rounds of MB/s, the broker's CPU seconds and the load, and scraped / idle per round.
# Then measures what one scrape round costs the broker directly (COST_ROUNDS back to back) and
# prints it as a share of the broker CPU a second of unscraped produce uses.
# Env: ROUNDS (7), RECORDS (1000000), VALUE_BYTES (100), PARTITIONS (4), JSON (a file that
# receives every kafka_bench line, appended).
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 64
fi
BUILD=$(cd "$1" && pwd)
SLUICE="$BUILD/sluice"
KBENCH="$BUILD/bench/kafka_bench"
for b in "$SLUICE" "$KBENCH"; do
  [ -x "$b" ] || { echo "$0: $b is missing (build the sluice and kafka_bench targets)" >&2; exit 1; }
done
if ! grep -q 'CMAKE_BUILD_TYPE:STRING=Release' "$BUILD/CMakeCache.txt" 2>/dev/null; then
  echo "$0: warning: $BUILD is not a Release build; its figures mean nothing" >&2
fi
ROUNDS=${ROUNDS:-7}
RECORDS=${RECORDS:-1000000}
VALUE_BYTES=${VALUE_BYTES:-100}
PARTITIONS=${PARTITIONS:-4}

TMP=$(mktemp -d)
SERVER_PID=""
SCRAPER_PID=""
cleanup() {
  [ -n "$SCRAPER_PID" ] && kill -TERM "$SCRAPER_PID" 2>/dev/null || true
  [ -n "$SERVER_PID" ] && kill -TERM "$SERVER_PID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
JSON=${JSON:-$TMP/results.jsonl}

"$SLUICE" --data-dir "$TMP/data" serve --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
  >"$TMP/serve.out" 2>"$TMP/serve.log" &
SERVER_PID=$!
broker="" admin=""
for _ in $(seq 1 200); do
  broker=$(sed -n 's|^listening on \([^ ]*\).*$|\1|p' "$TMP/serve.out" | head -1)
  admin=$(sed -n 's|^admin listening on \(.*\)$|\1|p' "$TMP/serve.out")
  [ -n "$broker" ] && [ -n "$admin" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.05
done
if [ -z "$broker" ] || [ -z "$admin" ]; then
  echo "$0: sluice serve did not start" >&2
  cat "$TMP/serve.out" "$TMP/serve.log" >&2
  exit 1
fi
echo "scrape_bench: broker $broker, admin $admin, pid $SERVER_PID; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# The scraper: every second, the four pages; on SIGTERM prints how many scrapes it made and how
# many failed (a failed scrape fails the benchmark).
cat >"$TMP/scraper.py" <<'PY'
import http.client, signal, sys, time
host, port = sys.argv[1].rsplit(":", 1)
done = [0, 0]
def stop(*_):
    print("%d %d" % tuple(done), flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
# With a second argument N: N rounds back to back (no pause), then the counts (cost measurement).
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else None
next_t = time.monotonic()
while rounds is None or rounds > 0:
    for path in ("/metrics", "/api/v1/topics", "/api/v1/groups", "/api/v1/throughput"):
        try:
            c = http.client.HTTPConnection(host, int(port), timeout=10)
            c.request("GET", path)
            r = c.getresponse()
            r.read()
            done[0 if r.status == 200 else 1] += 1
            c.close()
        except OSError:
            done[1] += 1
    if rounds is not None:
        rounds -= 1
        continue
    next_t += 1.0
    time.sleep(max(0.0, next_t - time.monotonic()))
stop()
PY

# The broker's CPU in clock ticks: utime + stime of the process, which (unlike its live threads'
# sum) keeps what threads that have exited used.
broker_cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat"; }
TICKS=$TMP/ticks  # per produce run: CONFIG ROUND broker-ticks
one() {  # one CONFIG ROUND
  local config=$1 round=$2
  if [ "$config" = scraped ]; then
    /usr/bin/python3 "$TMP/scraper.py" "$admin" >"$TMP/scraper.out" &
    SCRAPER_PID=$!
  fi
  local t0
  t0=$(broker_cpu_ticks)
  "$KBENCH" --broker "$broker" --server-pid "$SERVER_PID" --mode produce \
    --topic "$config-$round" --create-topic --partitions "$PARTITIONS" --records "$RECORDS" \
    --value-bytes "$VALUE_BYTES" --acks 1 --label "produce/$config/$round" | tee -a "$JSON"
  echo "$config $round $(($(broker_cpu_ticks) - t0))" >>"$TICKS"
  if [ "$config" = scraped ]; then
    kill -TERM "$SCRAPER_PID"
    wait "$SCRAPER_PID" || true
    SCRAPER_PID=""
    read -r ok failed <"$TMP/scraper.out"
    echo "scrape_bench: round $round: $ok scrapes, $failed failed" >&2
    if [ "$failed" != 0 ] || [ "$ok" = 0 ]; then
      echo "$0: scrapes failed" >&2
      exit 1
    fi
  fi
}
: >>"$JSON"
start_line=$(wc -l <"$JSON")
for round in $(seq 1 "$ROUNDS"); do
  echo "scrape_bench: round $round, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  if [ $((round % 2)) = 1 ]; then order=(scraped idle); else order=(idle scraped); fi
  for config in "${order[@]}"; do one "$config" "$round"; done
done
echo "scrape_bench: done, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# What one scrape round costs the broker, measured directly (throughput on 2 shared cores cannot
# resolve 2%): COST_ROUNDS rounds of the four pages back to back against the idle broker, its
# CPU (utime + stime of every thread, /proc/PID/stat) before and after.
COST_ROUNDS=${COST_ROUNDS:-500}
ticks_before=$(broker_cpu_ticks)
/usr/bin/python3 "$TMP/scraper.py" "$admin" "$COST_ROUNDS" >"$TMP/cost.out"
ticks_after=$(broker_cpu_ticks)
read -r cost_ok cost_failed <"$TMP/cost.out"
if [ "$cost_failed" != 0 ]; then
  echo "$0: scrapes failed while measuring their cost" >&2
  exit 1
fi
COST_MS=$(awk -v t=$((ticks_after - ticks_before)) -v hz="$(getconf CLK_TCK)" -v n="$COST_ROUNDS" \
  'BEGIN { printf "%.3f", t * 1000 / hz / n }')
echo "scrape_bench: $COST_ROUNDS scrape rounds ($cost_ok pages) back to back cost the broker" \
  "$((ticks_after - ticks_before)) ticks: $COST_MS ms of CPU a round" >&2
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" || true
SERVER_PID=""

tail -n +"$((start_line + 1))" "$JSON" | COST_MS="$COST_MS" TICKS="$TICKS" HZ="$(getconf CLK_TCK)" /usr/bin/python3 -c '
import json, statistics, sys
runs = {}
for line in sys.stdin:
    d = json.loads(line)
    _, config, rnd = d["label"].split("/")
    runs[("produce, MB/s of values", config, int(rnd))] = d["MBps"]
    runs[("load (1 min)", config, int(rnd))] = d["loadavg_1m"][1]
    runs[("produce seconds", config, int(rnd))] = d["secs"]
import os
for line in open(os.environ["TICKS"]):
    config, rnd, ticks = line.split()
    runs[("broker CPU s", config, int(rnd))] = int(ticks) / float(os.environ["HZ"])
def fmt(v):
    return "%.2f [%.2f, %.2f]" % (statistics.median(v), min(v), max(v))
rounds = sorted({r for (_, _, r) in runs})
print("| %d rounds, median [min, max] | scraped | idle | scraped / idle (per round) |" % len(rounds))
print("|---|---|---|---|")
for key in ("produce, MB/s of values", "broker CPU s", "load (1 min)"):
    s = [runs[(key, "scraped", r)] for r in rounds]
    i = [runs[(key, "idle", r)] for r in rounds]
    ratio = [a / b if b else float("nan") for a, b in zip(s, i)]
    print("| %s | %s | %s | %s |" % (key, fmt(s), fmt(i), fmt(ratio)))
# The bound from the direct cost: one scrape round a second takes COST_MS ms of the broker CPU
# that each idle (unscraped) produce second uses.
cost_ms = float(os.environ["COST_MS"])
cpu_per_s = [runs[("broker CPU s", "idle", r)] / (runs[("produce seconds", "idle", r)]) for r in rounds]
share = [cost_ms / 1000.0 / c for c in cpu_per_s]
print()
print("one scrape round (4 pages) costs the broker %.3f ms of CPU; at one round a second that is "
      "%.3f%% [%.3f%%, %.3f%%] of the broker CPU a second of unscraped produce uses"
      % (cost_ms, 100 * statistics.median(share), 100 * min(share), 100 * max(share)))
'
