"""A producer process for tests/clients/test_restart.py: produces numbered records to a topic as
fast as it can (confluent-kafka, acks=all, linger.ms=5 unless told) and prints, one per line and
flushed, the number of every record whose delivery report came back without error. Runs until
killed.

    acked_producer.py BOOTSTRAP TOPIC [INDEX COUNT [LINGER_MS]]

With INDEX and COUNT (COUNT producers side by side, this one is INDEX) it produces the numbers
n = INDEX, INDEX + COUNT, INDEX + 2 COUNT, ..., so that the producers' records never collide.

Record n has key "k-<n>" and value "v-<n>-" followed by a filler that depends on n, so that a
reader can check every record it finds is intact."""

import sys

from confluent_kafka import Producer


def value_of(n):
    return "v-%d-%s" % (n, ("%08x" % (n * 2654435761 % 2**32)) * 8)


def main():
    bootstrap, topic = sys.argv[1], sys.argv[2]
    index = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    count = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    linger_ms = int(sys.argv[5]) if len(sys.argv) > 5 else 5
    producer = Producer({
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "linger.ms": linger_ms,
        "queue.buffering.max.messages": 20000,
        "reconnect.backoff.max.ms": 500,
    })
    out = sys.stdout

    def report(err, msg):
        if err is None:
            out.write("%s\n" % msg.key().decode()[2:])
            out.flush()

    n = index
    while True:
        try:
            producer.produce(topic, key=("k-%d" % n).encode(), value=value_of(n).encode(),
                             on_delivery=report)
            n += count
        except BufferError:  # the local queue is full: wait for acknowledgements
            producer.poll(0.05)
            continue
        producer.poll(0)


if __name__ == "__main__":
    main()
