"""`sluice serve` on a data directory with damage, as issue 10 found it: a partition whose segment
lost its tail below the recovery point, a deleted catalog, a damaged __consumer_offsets. The server
starts; the damaged partition answers KAFKA_STORAGE_ERROR and is reported in the log, untouched;
every other partition and topic works for real clients; the catalog is rebuilt from the
directories."""

import json
import os
import subprocess
import unittest

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from sluice_server import SLUICE, SluiceServer, ServerTestCase


def sluice(data_dir, *args):
    return subprocess.run([SLUICE, "--data-dir", data_dir] + list(args), capture_output=True,
                          timeout=120)


def read_all(bootstrap, topic, partition, count):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused",
                         "enable.auto.commit": False, "enable.partition.eof": True})
    consumer.assign([TopicPartition(topic, partition, 0)])
    values = []
    try:
        while len(values) < count:
            msg = consumer.poll(10)
            if msg is None:
                break
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    break
                raise AssertionError(msg.error())
            values.append(msg.value())
    finally:
        consumer.close()
    return values


class DamagedStorageTest(ServerTestCase):
    def setUp(self):
        self.server = SluiceServer()
        self.dir = self.server.data_dir
        for args in (["topic", "create", "ev", "--partitions", "2", "--config", "flush=sync"],):
            out = sluice(self.dir, *args)
            self.assertEqual(out.returncode, 0, out.stderr)
        for p in (0, 1):
            lines = b"".join(b"p%d-%d\n" % (p, i) for i in range(2000))
            out = subprocess.run([SLUICE, "--data-dir", self.dir, "produce", "ev", "--partition",
                                  str(p)], input=lines, capture_output=True, timeout=120)
            self.assertEqual(out.returncode, 0, out.stderr)

    def segment(self, partition):
        return os.path.join(self.dir, "ev-%d" % partition, "00000000000000000000.log")

    def test_short_segment_goes_offline_and_the_rest_works(self):
        seg = self.segment(0)
        with open(seg, "rb") as f:
            data = f.read().rstrip(b"\0")
        with open(seg, "wb") as f:
            f.write(data[: len(data) * 4 // 5])
        with open(seg, "rb") as f:
            damaged = f.read()
        os.remove(os.path.join(self.dir, "catalog"))

        self.server.start()
        log = self.server.log()
        self.assertIn("ev-0 is offline", log)
        self.assertIn(seg, log)
        self.assertIn("adopted topic 'ev'", log)

        # Partition 1 reads and writes; partition 0 refuses both with KAFKA_STORAGE_ERROR.
        self.assertEqual(read_all(self.server.bootstrap, "ev", 1, 2000),
                         [b"p1-%d" % i for i in range(2000)])
        results = {}
        producer = Producer({"bootstrap.servers": self.server.bootstrap, "retries": 0,
                             "message.timeout.ms": 5000})
        for p in (0, 1):
            producer.produce("ev", value=b"new", partition=p,
                             on_delivery=lambda err, msg, p=p: results.__setitem__(p, err))
        producer.flush(30)
        self.assertIsNone(results[1])
        self.assertIsNotNone(results[0])

        admin = AdminClient({"bootstrap.servers": self.server.bootstrap})
        md = admin.list_topics("ev", timeout=10).topics["ev"]
        self.assertEqual(md.partitions[0].error.code(), KafkaError.LEADER_NOT_AVAILABLE)
        self.assertIsNone(md.partitions[1].error)
        self.server.stop()

        with open(seg, "rb") as f:
            self.assertEqual(f.read(), damaged, "the damaged segment is left as it was")
        out = sluice(self.dir, "topic", "describe", "ev")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn(b"OFFLINE", out.stdout)

    def test_remote_cli_shows_the_offline_partition(self):
        """`sluice --broker ... topic list/describe` shows the partition the broker reports
        without a leader (LEADER_NOT_AVAILABLE, offline replica) as OFFLINE, as the embedded CLI
        does, and the other partition as usual."""
        seg = self.segment(0)
        with open(seg, "rb") as f:
            data = f.read().rstrip(b"\0")
        with open(seg, "wb") as f:
            f.write(data[: len(data) // 2])
        self.server.start()
        remote = [SLUICE, "--broker", self.server.bootstrap]

        out = subprocess.run(remote + ["topic", "describe", "ev", "-o", "json"],
                             capture_output=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        described = json.loads(out.stdout)
        parts = {p["partition"]: p for p in described["partitions"]}
        self.assertIn("offline", parts[0])
        self.assertIn("LEADER_NOT_AVAILABLE", parts[0]["offline"])
        self.assertNotIn("offline", parts[1])
        self.assertEqual(parts[1]["high_watermark"], 2000)

        out = subprocess.run(remote + ["topic", "describe", "ev"], capture_output=True,
                             timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        rows = [l.split() for l in out.stdout.decode().splitlines()]
        self.assertIn(["0", "-", "-", "-", "-", "OFFLINE"], rows)

        out = subprocess.run(remote + ["topic", "list", "-o", "json"], capture_output=True,
                             timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        topics = {t["topic"]: t for t in json.loads(out.stdout)}
        self.assertEqual(topics["ev"]["offline_partitions"], 1)
        self.assertEqual(topics["ev"]["records"], 2000)
        out = subprocess.run(remote + ["topic", "list"], capture_output=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn(b"1 OFFLINE", out.stdout)
        self.server.stop()


if __name__ == "__main__":
    unittest.main()
