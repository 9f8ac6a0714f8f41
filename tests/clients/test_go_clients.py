"""The Go clients against a real `sluice serve`: franz-go 1.22 (kgo, kadm) and IBM sarama 1.61, at
the versions tests/clients/go/go.mod pins, driven by tests/clients/go (sluice-go-client, built by
scripts/client-tools.sh into the cache; a client that cannot be built fails the test). For each
client:
- an idempotent producer with every codec: acked offsets, records read back byte-exact in offset
  order, and the stored batches carry the codec, a producer id and sequences (read raw);
- a cooperative-sticky consumer group of two members, one of which leaves: assignments, every
  record consumed once by its partition's owner, committed offsets at the high watermarks;
- the admin API (kadm; sarama's ClusterAdmin): create with configs, an unknown config refused,
  list, describe, describe configs (values and sources), delete."""

# ctest-label: compat

import base64
import json
import os
import subprocess
import unittest

from sluice_server import SLUICE, SluiceServer, ServerTestCase
from test_idempotence import RawKafka

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT_TOOLS = os.path.join(HERE, "..", "..", "scripts", "client-tools.sh")
CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
RECORDS = 1000
# Config sources (DescribeConfigs): set on the topic, Kafka's default.
DYNAMIC_TOPIC_CONFIG, DEFAULT_CONFIG = 1, 5


def go_client():
    out = subprocess.run([CLIENT_TOOLS, "go-client"], capture_output=True, timeout=600)
    if out.returncode != 0:
        raise AssertionError("scripts/client-tools.sh go-client failed:\n" +
                             out.stderr.decode(errors="replace"))
    return out.stdout.decode().strip()


def value(tag, i):
    """Record i's value, as tests/clients/go/main.go's Value makes it."""
    return (b"%s %d " % (tag.encode(), i) + bytes((i * 7 + j) % 256 for j in range(i % 300)) +
            b"compressible " * 20)


def expected_records(tag, n, partitions):
    """(partition, offset, key, value, headers) of records 0..n-1 produced in order to i % partitions."""
    return [(i % partitions, i // partitions, b"key-%d" % i, value(tag, i), [(b"seq", b"%d" % i)])
            for i in range(n)]


def decoded(rec):
    b64 = base64.b64decode
    return (rec["p"], rec["o"], b64(rec["k"]), b64(rec["v"]),
            [(b64(k), b64(v)) for k, v in rec["h"] or []])


class GoClientsTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.binary = go_client()

    def setUp(self):
        # Members that join an empty group are assigned at once (the delay is Kafka's 3 s otherwise).
        self.server = SluiceServer("--group-initial-rebalance-delay-ms", "0").start()

    def run_client(self, client, scenario, *args):
        out = subprocess.run([self.binary, client, scenario, "-bootstrap", self.server.bootstrap] +
                             list(args), capture_output=True, timeout=90)
        err = out.stderr.decode(errors="replace")
        if out.returncode != 0:
            raise AssertionError("sluice-go-client %s %s exited %d:\n%s" %
                                 (client, scenario, out.returncode, err))
        return json.loads(out.stdout.decode().strip().splitlines()[-1])

    # (a) Idempotent producer, every codec.
    def check_every_codec(self, client):
        for codec, codec_id in CODECS.items():
            with self.subTest(codec=codec):
                topic = "%s-%s" % (client, codec)
                got = self.run_client(client, "produce-consume", "-topic", topic, "-codec", codec,
                                      "-records", str(RECORDS))
                want = expected_records(codec, RECORDS, 2)
                # Every record acked at the offset its place in its partition gives it.
                self.assertEqual([(a["p"], a["o"]) for a in got["acked"]],
                                 [(p, o) for p, o, _, _, _ in want])
                # Read back byte-exact (key, value, headers), each partition in offset order.
                consumed = [decoded(r) for r in got["consumed"]]
                for p in (0, 1):
                    offsets = [o for q, o, _, _, _ in consumed if q == p]
                    self.assertEqual(offsets, list(range(RECORDS // 2)), "partition %d" % p)
                self.assertEqual(sorted(consumed), sorted(want))
                # Stored as the producer sent them: its codec, one producer id, sequences that
                # follow the offsets (one producer, starting at 0 per partition).
                pids = set()
                with RawKafka(self.server.port) as conn:
                    for p in (0, 1):
                        batches = [h for h, _ in conn.fetch_batches(topic, p, version=11, decode=False)]
                        self.assertEqual({h["codec"] for h in batches}, {codec_id})
                        self.assertEqual(sum(h["count"] for h in batches), RECORDS // 2)
                        for h in batches:
                            self.assertEqual(h["base_sequence"], h["base_offset"])
                            self.assertGreaterEqual(h["producer_epoch"], 0)
                            pids.add(h["producer_id"])
                self.assertEqual(len(pids), 1)
                pid = pids.pop()
                self.assertGreaterEqual(pid, 0)
                if got["producer_id"] != -1:  # franz-go tells its id; sarama does not
                    self.assertEqual(got["producer_id"], pid)

    def test_franz_idempotent_producer_every_codec(self):
        self.check_every_codec("franz")

    def test_sarama_idempotent_producer_every_codec(self):
        self.check_every_codec("sarama")

    # (b) A consumer group whose members come and go.
    def check_group(self, client):
        got = self.run_client(client, "group", "-topic", client + "-group", "-group", client + "-g")
        # a alone owns all 4 partitions; with b they split 2 and 2 (cooperative-sticky: balanced),
        # and the split held while phase 2 was consumed; after b left a owns all 4 again.
        self.assertEqual(got["phase1_a"], [0, 1, 2, 3])
        self.assertEqual(len(got["phase2_a"]), 2)
        self.assertEqual(sorted(got["phase2_a"] + got["phase2_b"]), [0, 1, 2, 3])
        self.assertEqual((got["phase2_a_after"], got["phase2_b_after"]),
                         (got["phase2_a"], got["phase2_b"]))
        self.assertEqual(got["phase3_a"], [0, 1, 2, 3])
        # Phase 2's 100 records went 50/50, each to its partition's owner; phase 3's all to a.
        self.assertEqual(got["phase2_by_member"], {"a": 50, "b": 50})
        self.assertEqual(got["phase2_misrouted"], 0)
        self.assertEqual(got["phase3_by_member"], {"a": 100})
        self.assertEqual(got["by_member"], {"a": 250, "b": 50})
        # Every record consumed once, byte-exact; commits reached the high watermarks.
        self.assertEqual((got["consumed"], got["duplicates"], got["wrong_records"]), (300, 0, 0))
        self.assertEqual(got["end"], {"0": 75, "1": 75, "2": 75, "3": 75})
        self.assertEqual(got["committed"], got["end"])
        self.assertEqual(got["state"], "Empty")

    def test_franz_cooperative_sticky_group(self):
        self.check_group("franz")

    def test_sarama_cooperative_sticky_group(self):
        self.check_group("sarama")

    # (c) The admin API.
    def check_admin(self, client):
        topic = client + "-admin"
        got = self.run_client(client, "admin", "-topic", topic)
        self.assertEqual(got["create_error"], "")
        self.assertIn("Unknown topic config name: no.such.config", got["create_bad_error"])
        self.assertIn(topic, got["listed"])
        self.assertNotIn(topic + "-bad", got["listed"])
        self.assertEqual(got["describe_error"], "")
        self.assertEqual(got["describe_partitions"], {
            str(p): {"leader": 0, "replicas": [0], "isr": [0], "error": ""} for p in range(3)})
        self.assertEqual(got["configs_error"], "")
        configs = got["configs"]
        for key, v in (("retention.ms", "3600000"), ("max.message.bytes", "2097152"),
                       ("cleanup.policy", "delete")):
            self.assertEqual(configs[key], {"value": v, "source": DYNAMIC_TOPIC_CONFIG}, key)
        self.assertEqual(configs["compression.type"], {"value": "producer", "source": DEFAULT_CONFIG})
        self.assertEqual(configs["segment.bytes"], {"value": "1073741824", "source": DEFAULT_CONFIG})
        self.assertEqual(got["delete_error"], "")
        self.assertNotIn(topic, got["listed_after_delete"])
        if client == "sarama":
            # sarama's ListTopics describes every topic's configs too.
            detail = got["listed_detail"]
            self.assertEqual((detail["partitions"], detail["replication_factor"]), (3, 1))
            self.assertEqual(detail["configs"]["retention.ms"], "3600000")
        # sluice's own client agrees: the topic is gone, and the refused one was never made.
        out = subprocess.run([SLUICE, "--broker", self.server.bootstrap, "topic", "list",
                              "--output", "json"], capture_output=True, check=True, timeout=60)
        names = [t["topic"] for t in json.loads(out.stdout)]
        self.assertNotIn(topic, names)
        self.assertNotIn(topic + "-bad", names)

    def test_franz_admin(self):
        self.check_admin("franz")

    def test_sarama_admin(self):
        self.check_admin("sarama")


if __name__ == "__main__":
    unittest.main()
