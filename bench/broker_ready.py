"""Prints how long a Kafka-protocol broker took to become ready: the seconds from T0 (a Unix time
taken just before the broker was launched) until it answered a Metadata request (v1, all topics)
listing at least one broker. Used by bench/kafka_side_by_side.sh to time sluice's and Apache
Kafka's start-up the same way.

    broker_ready.py HOST:PORT T0 [TIMEOUT_S]

Tries every 10 ms (connect, request, read the answer); exits 1 after TIMEOUT_S (default 120)."""

import socket
import struct
import sys
import time


def metadata_brokers(host, port):
    """The number of brokers a Metadata v1 answer lists, or None if there is no answer yet."""
    client = b"sluice-ready"
    # Request header v1: api_key 3 (Metadata), version 1, correlation id, client id; body: topics
    # null (-1) = all topics.
    body = struct.pack(">hhih", 3, 1, 7, len(client)) + client + struct.pack(">i", -1)
    try:
        with socket.create_connection((host, port), timeout=1.0) as s:
            s.sendall(struct.pack(">i", len(body)) + body)
            head = recv_exact(s, 4)
            size = struct.unpack(">i", head)[0]
            answer = recv_exact(s, size)
    except OSError:
        return None
    if len(answer) < 8 or struct.unpack(">i", answer[:4])[0] != 7:
        return None
    return struct.unpack(">i", answer[4:8])[0]


def recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise OSError("connection closed")
        data += chunk
    return data


def main():
    address, t0 = sys.argv[1], float(sys.argv[2])
    timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 120.0
    host, port = address.rsplit(":", 1)
    while time.time() - t0 < timeout:
        brokers = metadata_brokers(host, int(port))
        if brokers is not None and brokers >= 1:
            print("%.3f" % (time.time() - t0))
            return
        time.sleep(0.01)
    print("broker_ready: %s not ready after %.0f s" % (address, timeout), file=sys.stderr)
    sys.exit(1)


if __name__ == "__main__":
    main()
