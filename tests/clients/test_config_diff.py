"""Differential test of Kafka's topic-config contract: the same CreateTopics (through librdkafka's
AdminClient, as confluent-kafka sends it) against Apache Kafka 4.4 and against sluice, then
DescribeConfigs v3 (raw, with synonyms) of the topics, compared key by key: value, source,
read-only and sensitive flags, type; error codes for bad configs (unknown key, bad value, out of
range); min.insync.replicas=2 on one broker (created; Kafka 4.4 caps it at the replication
factor, so acks=all and acks=1 produce are both stored); message.timestamp.type=LogAppendTime (records read back with the broker's time).
The differences that remain are listed in KNOWN (and in net/PROTOCOL.md, "Topic configs"); any
other difference fails."""

# ctest-label: compat

import time
import unittest

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from kafka.protocol.api import Request, Response
from kafka.protocol.types import Array, Boolean, Int8, Int16, Int32, Schema, String

from kafka_fixture import KafkaBroker
from sluice_server import SluiceServer
from test_idempotence import RawKafka


class DescribeConfigsResponse_v3(Response):
    API_KEY = 32
    API_VERSION = 3
    SCHEMA = Schema(
        ('throttle_time_ms', Int32),
        ('resources', Array(
            ('error_code', Int16), ('error_message', String('utf-8')),
            ('resource_type', Int8), ('resource_name', String('utf-8')),
            ('config_entries', Array(
                ('name', String('utf-8')), ('value', String('utf-8')),
                ('read_only', Boolean), ('source', Int8), ('is_sensitive', Boolean),
                ('synonyms', Array(('name', String('utf-8')), ('value', String('utf-8')),
                                   ('source', Int8))),
                ('type', Int8), ('documentation', String('utf-8')))))))


class DescribeConfigsRequest_v3(Request):
    API_KEY = 32
    API_VERSION = 3
    RESPONSE_TYPE = DescribeConfigsResponse_v3
    SCHEMA = Schema(
        ('resources', Array(('resource_type', Int8), ('resource_name', String('utf-8')),
                            ('config_names', Array(String('utf-8'))))),
        ('include_synonyms', Boolean), ('include_documentation', Boolean))


def describe(port, topic):
    """{name: (value, source, read_only, is_sensitive, type, synonyms)} of a topic. Kafka's
    broker learns of a new topic from its controller a moment after CreateTopics answers:
    UNKNOWN_TOPIC_OR_PARTITION (3) is asked again, for up to 30 s."""
    deadline = time.time() + 30
    while True:
        with RawKafka(port) as conn:
            resp = conn.request(DescribeConfigsRequest_v3(
                resources=[(2, topic, None)], include_synonyms=True, include_documentation=False))
        (error_code, message, _, _, entries) = resp.resources[0]
        if error_code != 3 or time.time() > deadline:
            break
    assert error_code == 0, (error_code, message)
    return {e[0]: (e[1], e[3], e[2], e[4], e[6], [tuple(s) for s in e[5]]) for e in entries}


def create(bootstrap, topic, configs):
    """Creates a topic with librdkafka's AdminClient; returns the error code (0 when created)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    (future,) = admin.create_topics([NewTopic(topic, 1, 1, config=configs)],
                                    operation_timeout=10).values()
    try:
        future.result(timeout=30)
        return 0
    except KafkaException as e:
        return e.args[0].code()


def produce_code(bootstrap, topic, acks):
    """The delivery error code (0 when stored) of one record produced with `acks`, no retries."""
    p = Producer({"bootstrap.servers": bootstrap, "acks": acks, "retries": 0,
                  "enable.idempotence": False, "message.timeout.ms": 20000})
    seen = []
    p.produce(topic, b"v", timestamp=1000,
              on_delivery=lambda err, msg: seen.append(err.code() if err else 0))
    p.flush(30)
    return seen[0] if seen else None


def first_record(bootstrap, topic):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "diff", "enable.auto.commit": False})
    try:
        c.assign([TopicPartition(topic, 0, 0)])
        deadline = time.time() + 30
        while time.time() < deadline:
            m = c.poll(1)
            if m is not None and not m.error():
                return m.timestamp()
        raise AssertionError("no record in %s" % topic)
    finally:
        c.close()


CREATED = {
    "plain": {},
    "set": {"cleanup.policy": "delete", "delete.retention.ms": "1000",
            "min.insync.replicas": "2", "message.timestamp.type": "LogAppendTime",
            "retention.ms": "3600000", "segment.jitter.ms": "5", "compression.type": "zstd",
            "max.message.bytes": "500000", "preallocate": "TRUE",
            "min.cleanable.dirty.ratio": "0.25", "retention.bytes": "-7",
            "leader.replication.throttled.replicas": "*", "segment.ms": "604800000"},
}
BAD = {
    "unknown-key": {"no.such.config": "1"},
    "bad-value": {"retention.ms": "soon"},
    "out-of-range": {"segment.ms": "0"},
    "min-isr-zero": {"min.insync.replicas": "0"},
    "bad-enum": {"message.timestamp.type": "Never"},
    "bad-bool": {"preallocate": "yes"},
    "bad-ratio": {"min.cleanable.dirty.ratio": "1.5"},
    "lag-conflict": {"min.compaction.lag.ms": "10", "max.compaction.lag.ms": "5"},
}

# Differences kept on purpose: (topic or "*", key, field) -> why. Listed in net/PROTOCOL.md.
KNOWN = {
    ("*", "min.insync.replicas", "source"): "Kafka's KRaft format sets a cluster default (3)",
    ("*", "min.insync.replicas", "synonyms"): "the same cluster default as a synonym",
    ("plain", "max.message.bytes", "value"): "sluice's default is 16 MiB",
    ("*", "max.message.bytes", "synonyms"): "sluice's default is 16 MiB",
    ("plain", "flush.ms", "value"): "sluice flushes every second by default",
    ("set", "flush.ms", "value"): "sluice flushes every second by default",
}
SLUICE_ONLY = {"flush", "flush.bytes", "producer.id.expiration.ms", "compression.zstd.dictionary"}
FIELDS = ("value", "source", "read_only", "is_sensitive", "type", "synonyms")


class ConfigDiffTest(unittest.TestCase):
    def observe(self, bootstrap, port):
        out = {"create": {}, "describe": {}, "bad": {}}
        for topic, configs in CREATED.items():
            out["create"][topic] = create(bootstrap, topic, configs)
            out["describe"][topic] = describe(port, topic)
        for topic, configs in BAD.items():
            out["bad"][topic] = create(bootstrap, topic, configs)
        out["compact"] = create(bootstrap, "compacted", {"cleanup.policy": "compact"})
        out["acks_all"] = produce_code(bootstrap, "set", "all")
        out["acks_1"] = produce_code(bootstrap, "set", "1")
        out["append_time"] = first_record(bootstrap, "set")
        return out

    def test_topic_configs_match_kafka(self):
        kafka = KafkaBroker()
        kafka.start()
        try:
            k = self.observe(kafka.bootstrap, kafka.port)
        finally:
            kafka.cleanup()
        with SluiceServer() as server:
            start_ms = int(time.time() * 1000)
            s = self.observe(server.bootstrap, server.port)

        self.assertEqual(k["create"], {"plain": 0, "set": 0})
        self.assertEqual(s["create"], k["create"])
        # Every bad config is INVALID_CONFIG (40) on both.
        self.assertEqual(set(k["bad"].values()), {40}, k["bad"])
        self.assertEqual(s["bad"], k["bad"])
        # Both create a compacted topic.
        self.assertEqual(k["compact"], 0)
        self.assertEqual(s["compact"], k["compact"])
        # min.insync.replicas=2 on one broker: Kafka 4.4 caps it at the replication factor (1),
        # so acks=all is stored (no NOT_ENOUGH_REPLICAS), and so is acks=1, on both.
        self.assertEqual(k["acks_all"], 0)
        self.assertEqual(s["acks_all"], k["acks_all"])
        self.assertEqual((k["acks_1"], s["acks_1"]), (0, 0))
        # LogAppendTime: the record carries the broker's time (type 2), not the producer's 1000.
        self.assertEqual(k["append_time"][0], 2)
        self.assertEqual(s["append_time"][0], 2)
        self.assertGreaterEqual(s["append_time"][1], start_ms)

        diffs = []
        for topic in CREATED:
            kd, sd = k["describe"][topic], s["describe"][topic]
            self.assertEqual(set(sd) - set(kd), SLUICE_ONLY)
            self.assertEqual(set(kd) - set(sd), set(), "keys Kafka has and sluice lacks")
            for key in sorted(kd):
                for i, field in enumerate(FIELDS):
                    if kd[key][i] == sd[key][i]:
                        continue
                    if (topic, key, field) in KNOWN or ("*", key, field) in KNOWN:
                        continue
                    diffs.append("%s %s %s: kafka %r, sluice %r" %
                                 (topic, key, field, kd[key][i], sd[key][i]))
        self.assertEqual(diffs, [])


if __name__ == "__main__":
    unittest.main()
