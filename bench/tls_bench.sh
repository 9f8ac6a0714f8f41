#!/usr/bin/env bash
# Produce and consume throughput over TLS next to plaintext, in the same run and interleaved.
#
#   bench/tls_bench.sh BUILD_DIR
#
# Builds nothing: BUILD_DIR must hold a Release `sluice` and `bench/kafka_bench`. Makes test
# certificates (tests/support/make_test_certs.sh) in a temporary directory, starts one
# `sluice serve` with a PLAINTEXT and an SSL listener on free loopback ports, and runs ROUNDS
# rounds; each round produces RECORDS records of VALUE_BYTES bytes (acks=1, one producer, a fresh
# 1-partition topic, no compression, so the cost of TLS is not hidden behind zstd's) and consumes
# them back, once through each listener; the order of the two alternates between rounds. Prints
# each figure (MB/s of values; the server's and the client's CPU seconds for it) as the median over
# rounds [min, max], and TLS / plaintext per round (the server's CPU comes from kafka_bench's
# /proc/PID/task sampling; on a 2-core machine the client's TLS work competes with the server's),
# then the most TLS / plaintext produce and consume this client allows whatever the broker does:
# every record of a connection passes through one librdkafka thread (which encrypts or decrypts
# it), so a TLS round takes at least that thread's CPU time (kafka_bench's client_busiest_thread),
# and the plaintext round's time over it bounds the ratio.
# Env: ROUNDS (5), RECORDS (1000000), VALUE_BYTES (1000), CLIENT_AUTH (none; `required` makes the
# clients show a certificate), JSON (a file that receives every kafka_bench line, appended),
# OLD_BUILD (another build dir, e.g. of an earlier commit: its `sluice serve` runs beside the first
# one, idle while the other is measured, and each round measures both servers' two listeners, in
# an order rotated between rounds; the table then compares old and new too), KAFKA (1: Apache
# Kafka 4.4 from scripts/kafka-fixture.sh, with a PLAINTEXT and an SSL listener on the same
# certificate, joins the rounds the same way as the peer; run as kafka-server-start.sh runs it,
# `-Xmx1G -Xms1G`, or KAFKA_HEAP; client auth is not asked of it).
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 64
fi
BUILD=$(cd "$1" && pwd)
SLUICE="$BUILD/sluice"
KBENCH="$BUILD/bench/kafka_bench"
HERE=$(cd "$(dirname "$0")" && pwd)
for b in "$SLUICE" "$KBENCH"; do
  [ -x "$b" ] || { echo "$0: $b is missing (build the sluice and kafka_bench targets)" >&2; exit 1; }
done
if ! grep -q 'CMAKE_BUILD_TYPE:STRING=Release' "$BUILD/CMakeCache.txt" 2>/dev/null; then
  echo "$0: warning: $BUILD is not a Release build; its figures mean nothing" >&2
fi
ROUNDS=${ROUNDS:-5}
RECORDS=${RECORDS:-1000000}
VALUE_BYTES=${VALUE_BYTES:-1000}
CLIENT_AUTH=${CLIENT_AUTH:-none}

TMP=$(mktemp -d)
SERVER_PIDS=()
FIXTURE="$HERE/../scripts/kafka-fixture.sh"
KAFKA_DIR=""
cleanup() {
  for pid in "${SERVER_PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; fi
  done
  if [ -n "$KAFKA_DIR" ]; then "$FIXTURE" stop "$KAFKA_DIR" >/dev/null 2>&1 || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
JSON=${JSON:-$TMP/results.jsonl}

"$HERE/../tests/support/make_test_certs.sh" "$TMP/certs" >/dev/null 2>&1
declare -A SPID SPLAIN STLS
start_server() {  # start_server NAME SLUICE_BINARY
  local name=$1 bin=$2 plain="" tls=""
  "$bin" --data-dir "$TMP/data-$name" serve \
    --listeners PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0 \
    --ssl-certificate-file "$TMP/certs/server.pem" --ssl-key-file "$TMP/certs/server.key" \
    --ssl-ca-file "$TMP/certs/ca.pem" --ssl-client-auth "$CLIENT_AUTH" \
    >"$TMP/serve-$name.out" 2>"$TMP/serve-$name.log" &
  SPID[$name]=$!
  SERVER_PIDS+=("$!")
  for _ in $(seq 1 200); do
    plain=$(sed -n 's|^listener PLAINTEXT://\(.*\)$|\1|p' "$TMP/serve-$name.out")
    tls=$(sed -n 's|^listener SSL://\(.*\)$|\1|p' "$TMP/serve-$name.out")
    [ -n "$plain" ] && [ -n "$tls" ] && break
    kill -0 "${SPID[$name]}" 2>/dev/null || break
    sleep 0.05
  done
  if [ -z "$plain" ] || [ -z "$tls" ]; then
    echo "$0: sluice serve ($bin) did not start" >&2
    cat "$TMP/serve-$name.log" >&2
    exit 1
  fi
  SPLAIN[$name]=$plain
  STLS[$name]=$tls
  echo "tls_bench: $name: $bin pid ${SPID[$name]}, PLAINTEXT $plain, SSL $tls" >&2
}
SERVER_PIDS=()
start_server new "$SLUICE"
CONFIGS=(plain tls)
if [ -n "${OLD_BUILD:-}" ]; then
  OLD_SLUICE="$(cd "$OLD_BUILD" && pwd)/sluice"
  [ -x "$OLD_SLUICE" ] || { echo "$0: $OLD_SLUICE is missing" >&2; exit 1; }
  start_server old "$OLD_SLUICE"
  CONFIGS=(plain tls old-plain old-tls)
fi
if [ "${KAFKA:-0}" = 1 ]; then
  "$FIXTURE" fetch
  export SLUICE_KAFKA_HEAP=${KAFKA_HEAP:--Xmx1G -Xms1G -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent}
  KAFKA_DIR="$TMP/kafka"
  mkdir -p "$KAFKA_DIR"
  cat "$TMP/certs/server.key" "$TMP/certs/server.pem" >"$TMP/certs/kafka-keystore.pem"
  SPLAIN[kafka]=$("$FIXTURE" start "$KAFKA_DIR" num.network.threads=3 num.io.threads=8 \
    "listeners=PLAINTEXT://127.0.0.1:@PORT@,SSL://127.0.0.1:@PORT2@,CONTROLLER://127.0.0.1:@CONTROLLER_PORT@" \
    "advertised.listeners=PLAINTEXT://127.0.0.1:@PORT@,SSL://127.0.0.1:@PORT2@" \
    listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SSL:SSL,CONTROLLER:PLAINTEXT \
    ssl.keystore.type=PEM "ssl.keystore.location=$TMP/certs/kafka-keystore.pem")
  STLS[kafka]=127.0.0.1:$(cat "$KAFKA_DIR/kafka.port2")
  SPID[kafka]=$(cat "$KAFKA_DIR/kafka.pid")
  echo "tls_bench: kafka: pid ${SPID[kafka]}, PLAINTEXT ${SPLAIN[kafka]}, SSL ${STLS[kafka]}" >&2
  CONFIGS+=(kafka-plain kafka-tls)
fi
TLS_SET=(--set security.protocol=SSL --set "ssl.ca.location=$TMP/certs/ca.pem")
if [ "$CLIENT_AUTH" != none ]; then
  TLS_SET+=(--set "ssl.certificate.location=$TMP/certs/client.pem"
    --set "ssl.key.location=$TMP/certs/client.key")
fi
echo "tls_bench: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2

one() {  # one CONFIG ROUND: produce then consume through that server's listener
  local config=$1 round=$2 server=new proto broker extra=()
  proto=${config##*-}
  [ "$proto" != "$config" ] && server=${config%-*}
  if [ "$proto" = tls ]; then broker=${STLS[$server]}; extra=("${TLS_SET[@]}"); else broker=${SPLAIN[$server]}; fi
  "$KBENCH" --broker "$broker" --server-pid "${SPID[$server]}" "${extra[@]}" --mode produce \
    --topic "$config-$round" --create-topic --partitions 1 --records "$RECORDS" \
    --value-bytes "$VALUE_BYTES" --acks 1 --label "produce/$config/$round" | tee -a "$JSON"
  "$KBENCH" --broker "$broker" --server-pid "${SPID[$server]}" "${extra[@]}" --mode consume \
    --topic "$config-$round" --records "$RECORDS" --value-bytes "$VALUE_BYTES" --label "consume/$config/$round" | tee -a "$JSON"
}
: >>"$JSON"
start_line=$(wc -l <"$JSON")
for round in $(seq 1 "$ROUNDS"); do
  echo "tls_bench: round $round, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  n=${#CONFIGS[@]}
  for k in $(seq 0 $((n - 1))); do  # the order rotates (and reverses every other round)
    if [ $((round % 2)) = 1 ]; then idx=$(((k + (round - 1) / 2) % n))
    else idx=$(((n - 1 - k + (round - 2) / 2) % n)); fi
    one "${CONFIGS[$idx]}" "$round"
  done
done
echo "tls_bench: done, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for pid in "${SERVER_PIDS[@]}"; do kill -TERM "$pid"; wait "$pid" || true; done
SERVER_PIDS=()

tail -n +"$((start_line + 1))" "$JSON" | MB="$((RECORDS * VALUE_BYTES))" /usr/bin/python3 -c '
import json, os, statistics, sys
mb = int(os.environ["MB"]) / 1e6
runs = {}
for line in sys.stdin:
    d = json.loads(line)
    mode, config, rnd = d["label"].split("/")
    cpu = d["server_cpu"]
    server_s = cpu["user_s"] + cpu["sys_s"]
    runs[(mode, config, int(rnd))] = d["MBps"]
    runs[(mode + ": broker CPU s", config, int(rnd))] = server_s
    runs[(mode + ": broker CPU ms/MB", config, int(rnd))] = server_s * 1000 / mb
    runs[(mode + ": client CPU s", config, int(rnd))] = d["client_cpu_s"]
    runs[(mode + ": client busiest thread CPU s", config, int(rnd))] = d["client_busiest_thread"]["cpu_s"]
    runs[(mode + ": secs", config, int(rnd))] = d["secs"]
    runs[(mode + ": load (1 min)", config, int(rnd))] = d["loadavg_1m"][1]
def fmt(v):
    return "%.2f [%.2f, %.2f]" % (statistics.median(v), min(v), max(v)) if max(v) < 10 else \
           "%.1f [%.1f, %.1f]" % (statistics.median(v), min(v), max(v))
rounds = sorted({r for (_, _, r) in runs})
configs = sorted({c for (_, c, _) in runs},
                 key=["plain", "tls", "old-plain", "old-tls", "kafka-plain", "kafka-tls"].index)
pairs = [("tls", "plain")]
if "old-tls" in configs:
    pairs += [("old-tls", "old-plain"), ("tls", "old-tls"), ("plain", "old-plain")]
if "kafka-tls" in configs:
    pairs += [("kafka-tls", "kafka-plain"), ("tls", "kafka-tls"), ("plain", "kafka-plain")]
print("| %d rounds, median [min, max] | %s | %s |" % (len(rounds), " | ".join(configs),
      " | ".join("%s / %s (per round)" % p for p in pairs)))
print("|---" * (1 + len(configs) + len(pairs)) + "|")
for mode in ("produce", "consume"):
    for what in ("", ": broker CPU s", ": broker CPU ms/MB", ": client CPU s",
                 ": client busiest thread CPU s", ": load (1 min)"):
        key = mode + what
        cells = [fmt([runs[(key, c, r)] for r in rounds]) for c in configs]
        ratios = []
        for a, b in pairs:
            rs = [runs[(key, a, r)] / runs[(key, b, r)] if runs[(key, b, r)] else float("nan")
                  for r in rounds]
            ratios.append("%.2f [%.2f, %.2f]" % (statistics.median(rs), min(rs), max(rs)))
        name = key + (", MB/s of values" if not what else "")
        print("| %s | %s | %s |" % (name, " | ".join(cells), " | ".join(ratios)))
# A client sends (producer) or receives (consumer) all the records of a connection through one
# librdkafka thread (rdk:broker<id>: encrypt or decrypt, send or receive, build or parse), so a
# TLS round can take no less than the CPU time of that thread, whatever the broker does: the
# plaintext round time over it is the highest TLS / plain this client allows in that round.
for mode in ("produce", "consume"):
    for tls, plain in [p for p in pairs if p[0].endswith("tls") and p[1].endswith("plain")
                       and p[0][:-len("tls")] == p[1][:-len("plain")]]:
        key = mode + ": client busiest thread CPU s"
        bound = [runs[(mode + ": secs", plain, r)] / runs[(key, tls, r)] for r in rounds
                 if runs[(key, tls, r)] > 0]
        if bound:
            print("%s, %s / %s at most (the plaintext round time / the client thread CPU of the TLS round): %.2f [%.2f, %.2f]"
                  % (mode, tls, plain, statistics.median(bound), min(bound), max(bound)))
'
