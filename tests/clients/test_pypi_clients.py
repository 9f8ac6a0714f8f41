"""confluent-kafka-python 2.16.1 (librdkafka 2.16) and aiokafka 0.14.0 from PyPI, at the pins of
tests/clients/requirements.txt in the venv scripts/client-tools.sh makes, against a real
`sluice serve`. Each client's driver (tests/clients/py/) runs in the venv and prints JSON:

- an idempotent producer with every codec the client has (confluent-kafka: none, gzip, snappy, lz4,
  zstd; aiokafka with its extras: the same five), the records stored in that codec with a producer
  id and sequences, consumed back byte for byte in offset order;
- a consumer group of two members that rebalances as the second joins and leaves: every record
  consumed exactly once by the member holding its partition, every commit accepted, the committed
  offsets asserted;
- the admin client: create a topic with configs, a bad config (INVALID_CONFIG naming it), an
  existing topic, describe configs (values and sources), list, delete.

A client that cannot be installed fails these tests; none is skipped.
"""
# ctest-label: compat

import os
import unittest

from client_scenarios import HERE, PARTITIONS, Checks, client_tools, create_topic, run_driver
from sluice_server import SluiceServer, ServerTestCase


class PypiClientTest(Checks):
    SCRIPT = None
    CODECS = ("none", "gzip", "snappy", "lz4", "zstd")

    @classmethod
    def setUpClass(cls):
        cls.driver = (client_tools("python"), os.path.join(HERE, "py", cls.SCRIPT))

    def setUp(self):
        # No wait for more members before a new group's first rebalance (Kafka's fixture sets
        # group.initial.rebalance.delay.ms=0 likewise); the clients keep their defaults.
        self.server = SluiceServer("--group-initial-rebalance-delay-ms", "0").start()

    def test_idempotent_producer_every_codec(self):
        for codec in self.CODECS:
            self.check_idempotent_produce(codec, "%s-%s" % (self.SCRIPT[:2], codec))

    def test_group_rebalances_as_members_come_and_go(self):
        topic = "grouped"
        create_topic(self.server, topic, PARTITIONS)
        self.check_group(run_driver(self.driver, "group", self.server.bootstrap, topic,
                                    PARTITIONS, "g1"))


class ConfluentKafkaTest(PypiClientTest, ServerTestCase):
    SCRIPT = "confluent_driver.py"

    def test_admin(self):
        got = run_driver(self.driver, "admin", self.server.bootstrap, "admin-topic")
        self.assertTrue(got["client"].startswith("confluent-kafka 2.16.1 "), got["client"])
        self.assertEqual(got["bad_config"]["code"], "INVALID_CONFIG")
        self.assertIn("no.such.config", got["bad_config"]["message"])
        self.assertEqual(got["exists"], "TOPIC_ALREADY_EXISTS")
        self.check_described(got["configs"])
        self.assertEqual(got["listed"], {"admin-topic": 3})
        self.assertEqual(got["listed_after_delete"], [])


class AiokafkaTest(PypiClientTest, ServerTestCase):
    SCRIPT = "aiokafka_driver.py"

    def test_admin(self):
        got = run_driver(self.driver, "admin", self.server.bootstrap, "admin-topic")
        self.assertEqual(got["client"], "aiokafka 0.14.0")
        self.assertEqual(got["create"], [["admin-topic", 0, None]])
        self.assertEqual(got["bad_config"][0][:2], ["admin-topic-bad", 40])  # INVALID_CONFIG
        self.assertIn("no.such.config", got["bad_config"][0][2])
        self.assertEqual(got["exists"][0][:2], ["admin-topic", 36])  # TOPIC_ALREADY_EXISTS
        self.assertEqual(got["describe_error"], 0)
        self.check_described(got["configs"])
        self.assertEqual(got["listed"], ["admin-topic"])
        self.assertEqual(got["delete"], [["admin-topic", 0, None]])
        self.assertEqual(got["listed_after_delete"], [])

if __name__ == "__main__":
    unittest.main()
