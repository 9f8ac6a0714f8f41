#!/usr/bin/python3
"""The log cleaner's workload on a Kafka-protocol broker, for bench/cleaner_side_by_side.sh.

    cleaner_workload.py create BOOTSTRAP TOPIC SEGMENT_BYTES
        a 1-partition topic with cleanup.policy=delete (no cleaner touches it yet)
    cleaner_workload.py produce BOOTSTRAP TOPIC RECORDS KEYS
        RECORDS keyed records, keys "key-%010d" drawn uniformly from KEYS of them, values of
        100-300 bytes of JSON-like text, in batches of 100 records (linger, no compression,
        acks=1): the workload of bench/cleaner_bench.cc's throughput part, through a client. The
        same seed every time, so two brokers receive the same records.
    cleaner_workload.py compact BOOTSTRAP TOPIC SEGMENT_BYTES
        sets cleanup.policy=compact (AlterConfigs, which replaces the topic's configs: the segment
        size is set again), so that the broker's cleaner cleans every sealed segment in one pass

Exits non-zero on any error (a record not acknowledged, a refused config). Uses Debian's
python3-confluent-kafka (librdkafka)."""

import random
import sys

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic


def admin(bootstrap):
    # log_level 4: warnings and errors only (not librdkafka's notice at the handle's close).
    return AdminClient({"bootstrap.servers": bootstrap, "log_level": 4})


def create(bootstrap, topic, segment_bytes):
    client = admin(bootstrap)  # kept until the futures are done (its handle answers them)
    futures = client.create_topics([NewTopic(
        topic, num_partitions=1, replication_factor=1,
        config={"cleanup.policy": "delete", "segment.bytes": segment_bytes})])
    futures[topic].result(60)


def compact(bootstrap, topic, segment_bytes):
    resource = ConfigResource("topic", topic,
                              set_config={"cleanup.policy": "compact",
                                          "segment.bytes": segment_bytes})
    client = admin(bootstrap)
    for future in client.alter_configs([resource]).values():
        future.result(60)


def produce(bootstrap, topic, records, keys):
    rng = random.Random(42)
    # Values are cut from one long string of letters, so that making them costs little.
    letters = "".join(rng.choice("abcdefghijklmnop") for _ in range(1 << 20))
    producer = Producer({
        "bootstrap.servers": bootstrap,
        "acks": "1",
        "linger.ms": 20,
        "batch.num.messages": 100,
        "compression.type": "none",
        "queue.buffering.max.messages": 1000000,
        "queue.buffering.max.kbytes": 1048576,
    })
    failed = []

    def on_delivery(err, _msg):
        if err is not None:
            failed.append(err)

    for seq in range(records):
        key = "key-%010d" % rng.randrange(keys)
        head = '{"key":"%s","seq":%d,"data":"' % (key, seq)
        length = rng.randint(100, 300)
        start = rng.randrange(len(letters) - 300)
        value = head + letters[start:start + max(0, length - len(head) - 2)] + '"}'
        while True:
            try:
                producer.produce(topic, value.encode(), key.encode(), on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.01)
        if seq % 1000 == 0:
            producer.poll(0)
    left = producer.flush(120)
    if left or failed:
        sys.exit("cleaner_workload: %d records not delivered, %d failed (first: %s)"
                 % (left, len(failed), failed[0] if failed else "-"))


def main():
    what, bootstrap, topic = sys.argv[1], sys.argv[2], sys.argv[3]
    if what == "create":
        create(bootstrap, topic, sys.argv[4])
    elif what == "compact":
        compact(bootstrap, topic, sys.argv[4])
    elif what == "produce":
        produce(bootstrap, topic, int(sys.argv[4]), int(sys.argv[5]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
