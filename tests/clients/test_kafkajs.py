"""kafkajs 2.2.4 from npm (tests/clients/js/package-lock.json, installed by scripts/client-tools.sh
into the cache) with its default settings, against a real `sluice serve`; the driver
tests/clients/js/kafkajs_driver.js runs under node and prints JSON:

- an idempotent producer (`idempotent: true`) with the codecs kafkajs has out of the box (none,
  gzip), stored as sent with a producer id and sequences, consumed back byte for byte in order;
- a topic created with default configs (compression.type=producer, as in Kafka) is readable by
  kafkajs whatever another client produced into it uncompressed or with gzip (the original bug was
  that sluice's old default compression.type=zstd recompressed such batches into zstd, which
  kafkajs cannot decode);
- (records produced by `sluice produce`, zstd by default, are test_kafkajs_vs_kafka.py's case);
- a consumer group of two members that rebalances as the second joins and leaves: every record
  consumed exactly once, every commit accepted, committed offsets asserted (admin.fetchOffsets);
- the admin client: create with configs, bad config (INVALID_CONFIG), existing topic,
  describeConfigs (values and sources), listTopics, fetchTopicMetadata, deleteTopics.

kafkajs or node missing fails these tests; none is skipped.
"""
# ctest-label: compat

import os
import unittest

from client_scenarios import (CLIENT_TOOLS, CODEC_IDS, HERE, PARTITIONS, Checks, client_tools,
                              create_topic, line, run_driver, sluice_produce)
from sluice_server import SluiceServer, ServerTestCase
from test_idempotence import RawKafka


class KafkajsTest(Checks, ServerTestCase):
    @classmethod
    def setUpClass(cls):
        client_tools("node-modules")  # installs kafkajs if it is not in the cache yet
        cls.driver = (CLIENT_TOOLS, "node", os.path.join(HERE, "js", "kafkajs_driver.js"))

    def setUp(self):
        # No wait for more members before a new group's first rebalance (Kafka's fixture sets
        # group.initial.rebalance.delay.ms=0 likewise); the clients keep their defaults.
        self.server = SluiceServer("--group-initial-rebalance-delay-ms", "0").start()

    def test_idempotent_producer_default_codecs(self):
        for codec in ("none", "gzip"):
            self.check_idempotent_produce(codec, "js-" + codec)

    def test_default_topic_readable_whatever_was_produced_uncompressed(self):
        """Topics with default configs, batches sent uncompressed or with gzip by sluice's CLI:
        stored as sent (compression.type=producer) and read by kafkajs."""
        for codec in ("none", "gzip"):
            topic = "cli-" + codec
            create_topic(self.server, topic, 1)
            sluice_produce(self.server.bootstrap, topic, [line(i) for i in range(100)],
                           "--compression", codec)
            with RawKafka(self.server.port) as conn:
                batches = [h for h, _ in conn.fetch_batches(topic, 0, version=11, decode=False)]
            self.assertEqual({h["codec"] for h in batches}, {CODEC_IDS[codec]}, codec)
            got = run_driver(self.driver, "consume", self.server.bootstrap, topic, 100)
            self.assertEqual((got["error"], got["crashes"]), (None, []), codec)
            self.assertEqual([(r["offset"], bytes.fromhex(r["value"]).decode(), r["key"])
                              for r in got["records"]],
                             [(i, line(i), None) for i in range(100)], codec)

    def test_group_rebalances_as_members_come_and_go(self):
        create_topic(self.server, "grouped", PARTITIONS)
        result = run_driver(self.driver, "group", self.server.bootstrap, "grouped", PARTITIONS, "g1")
        self.check_group(result)
        # admin.resetOffsets({earliest: true}) commits -2 for every partition; sluice stores it
        # and gives it back, as Kafka does.
        self.assertEqual(result["reset"], {str(p): -2 for p in range(PARTITIONS)})

    def test_admin(self):
        got = run_driver(self.driver, "admin", self.server.bootstrap, "admin-topic")
        self.assertEqual(got["client"], "kafkajs 2.2.4")
        self.assertIs(got["create"], True)
        self.assertEqual(got["bad_config"]["type"], "INVALID_CONFIG")
        self.assertIs(got["exists"], False)  # kafkajs: false for TOPIC_ALREADY_EXISTS
        self.assertEqual(got["describe_error"], 0)
        self.check_described(got["configs"])
        self.assertEqual(got["listed"], ["admin-topic"])
        self.assertEqual(got["partitions"], 3)
        self.assertEqual(got["listed_after_delete"], [])


if __name__ == "__main__":
    unittest.main()
