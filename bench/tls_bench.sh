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
# /proc/PID/task sampling; on a 2-core machine the client's TLS work competes with the server's).
# Env: ROUNDS (5), RECORDS (1000000), VALUE_BYTES (1000), CLIENT_AUTH (none; `required` makes the
# clients show a certificate), JSON (a file that receives every kafka_bench line, appended).
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
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then kill -TERM "$SERVER_PID"; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
JSON=${JSON:-$TMP/results.jsonl}

"$HERE/../tests/support/make_test_certs.sh" "$TMP/certs" >/dev/null 2>&1
"$SLUICE" --data-dir "$TMP/data" serve \
  --listeners PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0 \
  --ssl-certificate-file "$TMP/certs/server.pem" --ssl-key-file "$TMP/certs/server.key" \
  --ssl-ca-file "$TMP/certs/ca.pem" --ssl-client-auth "$CLIENT_AUTH" \
  >"$TMP/serve.out" 2>"$TMP/serve.log" &
SERVER_PID=$!
PLAIN="" TLS=""
for _ in $(seq 1 200); do
  PLAIN=$(sed -n 's|^listener PLAINTEXT://\(.*\)$|\1|p' "$TMP/serve.out")
  TLS=$(sed -n 's|^listener SSL://\(.*\)$|\1|p' "$TMP/serve.out")
  [ -n "$PLAIN" ] && [ -n "$TLS" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.05
done
if [ -z "$PLAIN" ] || [ -z "$TLS" ]; then
  echo "$0: sluice serve did not start" >&2
  cat "$TMP/serve.log" >&2
  exit 1
fi
TLS_SET=(--set security.protocol=SSL --set "ssl.ca.location=$TMP/certs/ca.pem")
if [ "$CLIENT_AUTH" != none ]; then
  TLS_SET+=(--set "ssl.certificate.location=$TMP/certs/client.pem"
    --set "ssl.key.location=$TMP/certs/client.key")
fi
echo "tls_bench: sluice serve pid $SERVER_PID, PLAINTEXT $PLAIN, SSL $TLS;" \
  "$(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2

one() {  # one PROTO ROUND: produce then consume through that listener
  local proto=$1 round=$2 broker extra=()
  if [ "$proto" = tls ]; then broker=$TLS; extra=("${TLS_SET[@]}"); else broker=$PLAIN; fi
  "$KBENCH" --broker "$broker" --server-pid "$SERVER_PID" "${extra[@]}" --mode produce \
    --topic "$proto-$round" --create-topic --partitions 1 --records "$RECORDS" \
    --value-bytes "$VALUE_BYTES" --acks 1 --label "produce/$proto/$round" | tee -a "$JSON"
  "$KBENCH" --broker "$broker" --server-pid "$SERVER_PID" "${extra[@]}" --mode consume \
    --topic "$proto-$round" --records "$RECORDS" --value-bytes "$VALUE_BYTES" --label "consume/$proto/$round" | tee -a "$JSON"
}
: >>"$JSON"
start_line=$(wc -l <"$JSON")
for round in $(seq 1 "$ROUNDS"); do
  echo "tls_bench: round $round, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  if [ $((round % 2)) = 1 ]; then one plain "$round"; one tls "$round"
  else one tls "$round"; one plain "$round"; fi
done
echo "tls_bench: done, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
kill -TERM "$SERVER_PID"
wait "$SERVER_PID"
SERVER_PID=""

tail -n +"$((start_line + 1))" "$JSON" | /usr/bin/python3 -c '
import json, statistics, sys
runs = {}
for line in sys.stdin:
    d = json.loads(line)
    mode, proto, rnd = d["label"].split("/")
    cpu = d["server_cpu"]
    runs[(mode, proto, int(rnd))] = d["MBps"]
    runs[(mode + " server CPU s", proto, int(rnd))] = cpu["user_s"] + cpu["sys_s"]
    runs[(mode + " client CPU s", proto, int(rnd))] = d["client_cpu_s"]
def fmt(v):
    return "%.1f [%.1f, %.1f]" % (statistics.median(v), min(v), max(v))
rounds = sorted({r for (_, _, r) in runs})
print("| | plaintext | TLS | TLS / plaintext (per round) |")
print("|---|---|---|---|")
for mode in ("produce", "consume", "produce server CPU s", "consume server CPU s",
             "produce client CPU s", "consume client CPU s"):
    p = [runs[(mode, "plain", r)] for r in rounds]
    t = [runs[(mode, "tls", r)] for r in rounds]
    ratio = [b / a for a, b in zip(p, t)]
    print("| %s | %s | %s | %s |" % (mode, fmt(p), fmt(t),
          "%.2f [%.2f, %.2f]" % (statistics.median(ratio), min(ratio), max(ratio))))
'
