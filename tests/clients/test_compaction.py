"""Log compaction through real Kafka clients (confluent-kafka, librdkafka): keyed records with
overwrites and tombstones go to a compacted topic of small segments; the server's background
cleaner compacts it, and a consumer reading from the beginning sees every key's latest value (and
no deleted key once its tombstone expired), at the offsets they were written at. `sluice topic
compact` on the stopped server's data directory does the same. A record without a key is refused
with INVALID_RECORD (87), as Kafka refuses it."""

import json
import re
import subprocess
import time
import unittest
import urllib.request

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from sluice_server import SLUICE, SluiceServer

TOPIC = "compacted"
KEYS = 40
ROUNDS = 15
DELETED = 8  # keys k0..k7 end with a tombstone
CONFIGS = {"cleanup.policy": "compact", "segment.bytes": "4096",
           "min.cleanable.dirty.ratio": "0.01", "delete.retention.ms": "500"}


def create_topic(bootstrap):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(TOPIC, 1, 1, config=CONFIGS)])[TOPIC].result(timeout=30)


def produce(bootstrap, records):
    """Each (key, value) in its own request (linger 0, one in flight), so that the log gets many
    small batches and segments."""
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0, "enable.idempotence": True,
                  "max.in.flight.requests.per.connection": 1})
    errors = []
    for k, v in records:
        p.produce(TOPIC, key=k, value=v,
                  on_delivery=lambda err, msg: errors.append(err) if err else None)
        p.flush(30)
    assert not errors, errors


def expected(records):
    latest = {}
    for i, (k, v) in enumerate(records):
        latest[k] = (i, v)
    return latest


def read_all(bootstrap):
    """Every record from the beginning to the high watermark: [(offset, key, value)]."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "reader", "enable.auto.commit": False})
    try:
        _, high = c.get_watermark_offsets(TopicPartition(TOPIC, 0), timeout=10)
        c.assign([TopicPartition(TOPIC, 0, 0)])
        out = []
        deadline = time.time() + 30
        while time.time() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                raise AssertionError(str(m.error()))
            out.append((m.offset(), m.key().decode(), None if m.value() is None else m.value().decode()))
            if m.offset() >= high - 1:
                return out, high
        raise AssertionError("did not reach the high watermark %d: %d records" % (high, len(out)))
    finally:
        c.close()


def metric(server, name):
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % server.admin_port,
                                  timeout=10).read().decode()
    m = re.search(r"^%s(?:\{\})? (\d+)" % re.escape(name), text, re.M)
    return int(m.group(1)) if m else 0


class CompactionTest(unittest.TestCase):
    def check_compacted(self, got, high, records):
        latest = expected(records)
        offsets = [o for o, _, _ in got]
        self.assertEqual(offsets, sorted(set(offsets)), "offsets must increase")
        self.assertEqual(high, len(records))
        seen = {}
        for o, k, v in got:
            self.assertEqual((k, v), records[o], "offset %d holds another record" % o)
            seen[k] = (o, v)
        for k, (i, v) in latest.items():
            if v is None:
                # A deleted key: its tombstone (until delete.retention.ms) or nothing at all.
                self.assertIn(seen.get(k, (i, None)), [(i, None)], k)
            else:
                self.assertEqual(seen.get(k), (i, v), "%s: not its latest value" % k)
        self.assertLess(len(got), len(records) // 2, "nothing was compacted")

    def test_background_cleaner_and_topic_compact(self):
        records = []
        for r in range(ROUNDS):
            for k in range(KEYS):
                records.append(("k%d" % k, "r%d-%s" % (r, "x" * 40)))
        for k in range(DELETED):
            records.append(("k%d" % k, None))
        records += [("filler%d" % i, "f" * 60) for i in range(80)]

        server = SluiceServer("--log-cleaner-backoff-ms", "100")
        server.start()
        try:
            create_topic(server.bootstrap)
            produce(server.bootstrap, records)
            # A record without a key: refused as Kafka refuses it, nothing stored.
            p = Producer({"bootstrap.servers": server.bootstrap, "linger.ms": 0, "retries": 0})
            errors = []
            p.produce(TOPIC, value=b"no key", on_delivery=lambda err, msg: errors.append(err))
            p.flush(30)
            self.assertEqual(len(errors), 1)
            self.assertIsNotNone(errors[0])
            self.assertEqual(errors[0].code(), 87, str(errors[0]))  # INVALID_RECORD

            # The cleaner (every 100 ms, due at any dirty ratio) goes idle once every sealed
            # segment is clean: no pass for a second.
            deadline = time.time() + 60
            while time.time() < deadline:
                passes = metric(server, "sluice_cleaner_passes_total")
                time.sleep(1.0)
                if passes > 0 and metric(server, "sluice_cleaner_passes_total") == passes:
                    break
            self.assertGreater(metric(server, "sluice_cleaner_passes_total"), 0)
            self.assertGreater(metric(server, "sluice_cleaner_removed_records_total"), 0)
            got, high = read_all(server.bootstrap)
            self.check_compacted(got, high, records)

            # Embedded, on the stopped server's directory: one pass now, with what it did.
            server.stop()
            for _ in range(2):
                # The first pass has kept every tombstone (their deadline is set); the second,
                # past delete.retention.ms, removes them.
                time.sleep(0.6)
                out = subprocess.run([SLUICE, "--data-dir", server.data_dir, "--output", "json",
                                      "topic", "compact", TOPIC],
                                     capture_output=True, text=True, timeout=60)
                self.assertEqual(out.returncode, 0, out.stderr)
            report = json.loads(out.stdout)
            self.assertEqual(report["topic"], TOPIC)
            self.assertEqual(len(report["partitions"]), 1)
            part = report["partitions"][0]
            self.assertIn("records_before", part)
            self.assertGreaterEqual(part["records_before"], part["records_after"])
            server.start()
            got, high = read_all(server.bootstrap)
            self.check_compacted(got, high, records)
            # The deleted keys are gone, tombstones and all (the fillers rolled them into sealed
            # segments).
            self.assertEqual([(o, k) for o, k, v in got if k in {"k%d" % i for i in range(DELETED)}],
                             [])
        finally:
            server.cleanup()


if __name__ == "__main__":
    unittest.main()
