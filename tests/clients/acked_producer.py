"""A producer process for tests/clients/test_restart.py: produces numbered records to a topic as
fast as it can (confluent-kafka, acks=all, linger.ms=5) and prints, one per line and flushed, the
number of every record whose delivery report came back without error. Runs until killed.

    acked_producer.py BOOTSTRAP TOPIC

Record n has key "k-<n>" and value "v-<n>-" followed by a filler that depends on n, so that a
reader can check every record it finds is intact."""

import sys

from confluent_kafka import Producer


def value_of(n):
    return "v-%d-%s" % (n, ("%08x" % (n * 2654435761 % 2**32)) * 8)


def main():
    bootstrap, topic = sys.argv[1], sys.argv[2]
    producer = Producer({
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "linger.ms": 5,
        "queue.buffering.max.messages": 20000,
        "reconnect.backoff.max.ms": 500,
    })
    out = sys.stdout

    def report(err, msg):
        if err is None:
            out.write("%s\n" % msg.key().decode()[2:])
            out.flush()

    n = 0
    while True:
        try:
            producer.produce(topic, key=("k-%d" % n).encode(), value=value_of(n).encode(),
                             on_delivery=report)
            n += 1
        except BufferError:  # the local queue is full: wait for acknowledgements
            producer.poll(0.05)
            continue
        producer.poll(0)


if __name__ == "__main__":
    main()
