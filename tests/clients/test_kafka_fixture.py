"""The Apache Kafka 4.4 fixture works (scripts/kafka-fixture.sh, kafka_fixture.py), and the same
small scenario gives the same observable results against Kafka and against sluice: kafka-topics
(TopicCommand) creates a topic, kcat produces keyed records and reads them back with their offsets,
the Java client (kafka-clients 4.4) produces with idempotence and consumes in a group, and
kafka-topics describes the topic's partition count. This is the smoke test of the fixture that the
differential tests build on."""

import json
import subprocess
import unittest

from java_client import JavaClient
from kafka_fixture import TOPIC_COMMAND, KafkaBroker, kafka_tool
from sluice_server import SluiceServer


def kcat(*args, stdin=None):
    out = subprocess.run(["kcat"] + list(args), input=stdin, capture_output=True, timeout=60)
    if out.returncode != 0:
        raise AssertionError("kcat %s exited %d:\n%s" % (" ".join(args), out.returncode,
                                                         out.stderr.decode(errors="replace")))
    return out.stdout.decode()


def scenario(test, bootstrap, java):
    """Runs the scenario against one broker and returns what a client can observe of it."""
    seen = {}
    out = kafka_tool(TOPIC_COMMAND, "--bootstrap-server", bootstrap, "--create", "--topic",
                     "smoke", "--partitions", "2", "--replication-factor", "1")
    test.assertEqual(out.returncode, 0, out.stderr.decode(errors="replace"))
    test.assertIn(b"Created topic smoke.", out.stdout)

    # kcat: 20 keyed records into partition 1, read back with offsets.
    lines = b"".join(b"key-%d\tvalue-%d\n" % (i, i) for i in range(20))
    kcat("-P", "-b", bootstrap, "-t", "smoke", "-p", "1", "-K", "\t", stdin=lines)
    seen["kcat"] = kcat("-C", "-b", bootstrap, "-t", "smoke", "-p", "1", "-o", "beginning", "-e",
                        "-q", "-f", "%p %o %k=%s\n")
    test.assertEqual(len(seen["kcat"].splitlines()), 20)

    # The Java client: 50 records into partition 0 (idempotent), consumed in a group, committed.
    rc, lines = java.run({"bootstrap.servers": bootstrap}, "smoke", 50, "smoke-group")
    test.assertEqual(rc, 0, "%s\n%s" % (lines, java.last_stderr))
    seen["java"] = lines

    out = kafka_tool(TOPIC_COMMAND, "--bootstrap-server", bootstrap, "--describe", "--topic",
                     "smoke")
    test.assertEqual(out.returncode, 0, out.stderr.decode(errors="replace"))
    seen["partitions"] = [l.split("\t")[2] for l in out.stdout.decode().splitlines()
                          if l.startswith("\tTopic: smoke\tPartition:")]
    return seen


class KafkaFixtureTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.java = JavaClient()

    @classmethod
    def tearDownClass(cls):
        cls.java.cleanup()

    def test_the_same_scenario_against_kafka_and_sluice(self):
        with KafkaBroker() as kafka:
            try:
                on_kafka = scenario(self, kafka.bootstrap, self.java)
            except Exception:
                print(kafka.log()[-3000:])
                raise
        self.assertFalse(kafka.alive())
        with SluiceServer() as sluice:
            try:
                on_sluice = scenario(self, sluice.bootstrap, self.java)
            except Exception:
                print(sluice.log())
                raise
        self.assertEqual(on_kafka["java"], [
            {"produced": 50, "first_offset": 0, "last_offset": 49},
            {"consumed": 50, "first_offset": 0, "last_offset": 49, "committed": 50}])
        self.assertEqual(on_kafka["kcat"].splitlines()[0], "1 0 key-0=value-0")
        self.assertEqual(on_kafka["partitions"], ["Partition: 0", "Partition: 1"])
        self.assertEqual(json.dumps(on_sluice, sort_keys=True),
                         json.dumps(on_kafka, sort_keys=True))


if __name__ == "__main__":
    unittest.main(verbosity=2)
