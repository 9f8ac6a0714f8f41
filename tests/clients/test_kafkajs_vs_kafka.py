"""kafkajs 2.2.4 (default settings) and records produced by `sluice produce`, which compresses with
zstd by default: kafkajs has no zstd codec, so its consumer fails with KafkaJSNotImplemented.
Apache Kafka 4.4 stores the same batches as zstd (compression.type=producer, its default) and
serves them as they are to kafkajs's Fetch v11, so kafkajs fails the same way against it. The case
runs against both (the same `sluice --broker ... topic create` and `produce` into each) and the
outcomes must be equal. A separate test from test_kafkajs.py to keep each under a minute (Kafka
takes ~15 s to start).
"""
# ctest-label: compat

import os
import subprocess
import time
import unittest

from client_scenarios import (CLIENT_TOOLS, CODEC_IDS, HERE, client_tools, line, run_driver,
                              sluice_produce)
from kafka_fixture import KafkaBroker
from sluice_server import SLUICE, SluiceServer, ServerTestCase
from test_idempotence import RawKafka

ZSTD_LINES = 200


def wait_for_leader(port, topic):
    """Until ListOffsets of partition 0 succeeds: Kafka answers NOT_LEADER_OR_FOLLOWER for a moment
    after CreateTopics, and `sluice produce` does not retry that."""
    deadline = time.monotonic() + 30
    with RawKafka(port) as conn:
        while True:
            try:
                return conn.high_watermark(topic, 0)
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)  # polls the broker's state; not a stand-in for synchronisation


class KafkajsZstdTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        client_tools("node-modules")  # installs kafkajs if it is not in the cache yet
        cls.driver = (CLIENT_TOOLS, "node", os.path.join(HERE, "js", "kafkajs_driver.js"))

    def setUp(self):
        # No wait for more members before a new group's first rebalance (Kafka's fixture sets
        # group.initial.rebalance.delay.ms=0 likewise); the clients keep their defaults.
        self.server = SluiceServer("--group-initial-rebalance-delay-ms", "0").start()

    def test_zstd_from_sluice_produce_fails_in_kafkajs_as_with_kafka(self):
        outcomes, crashes = {}, {}
        kafka = KafkaBroker()
        try:
            kafka.start()
            for name, bootstrap, port in (("kafka", kafka.bootstrap, kafka.port),
                                          ("sluice", self.server.bootstrap, self.server.port)):
                subprocess.run([SLUICE, "--broker", bootstrap, "topic", "create", "from-cli"],
                               check=True, capture_output=True, timeout=60)
                wait_for_leader(port, "from-cli")
                sluice_produce(bootstrap, "from-cli", [line(i) for i in range(ZSTD_LINES)])
                with RawKafka(port) as conn:  # both store the client's zstd batches as they are
                    batches = [h for h, _ in conn.fetch_batches("from-cli", 0, version=11,
                                                                decode=False)]
                self.assertEqual({h["codec"] for h in batches}, {CODEC_IDS["zstd"]}, name)
                self.assertEqual(sum(h["count"] for h in batches), ZSTD_LINES, name)
                got = run_driver(self.driver, "consume", bootstrap, "from-cli", ZSTD_LINES)
                outcomes[name] = (len(got["records"]), got["error"])
                crashes[name] = got["crashes"]
        finally:
            kafka.cleanup()
        zstd = {"name": "KafkaJSNotImplemented", "type": None,
                "message": "ZSTD compression not implemented"}
        # kafkajs does not restart after this error (it is not retriable): nothing is consumed.
        self.assertEqual(outcomes["kafka"], (0, zstd), crashes)
        self.assertEqual(outcomes["sluice"], outcomes["kafka"], crashes)
        # Against sluice nothing else went wrong on the way (Kafka may have had a retriable
        # error while its new group coordinator loaded).
        self.assertEqual(crashes["sluice"], [dict(zstd, restart=False)])


if __name__ == "__main__":
    unittest.main()
