"""confluent_kafka (librdkafka 2.0.2) and kafka-python 2.0.2 against a real `sluice serve`:

- records with keys, headers, null keys and null values, 1 MiB records, from each client to both;
- every codec written by confluent read back by both clients; kafka-python fetches with Fetch v4,
  which cannot carry zstd, so the server must serve those batches decompressed (checked on the wire
  too); kafka-python's own gzip/snappy/lz4 batches read back by confluent;
- offsets_for_times from both clients over records with explicit timestamps;
- the admin APIs of both clients (create with configs, invalid config, existing topic, bad name,
  describe_configs, delete, list) and topic auto-creation (on produce: --num-partitions; not for
  a consumer that sends allow_auto_topic_creation=false).
"""

import time
import unittest

from confluent_kafka import (OFFSET_BEGINNING, TIMESTAMP_CREATE_TIME, Consumer, KafkaError,
                             KafkaException, Producer, TopicPartition)
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic
import kafka
import kafka.errors
from kafka.admin import ConfigResource as KpConfigResource
from kafka.admin import ConfigResourceType, KafkaAdminClient
from kafka.admin import NewTopic as KpNewTopic

from sluice_server import SluiceServer, ServerTestCase
from test_idempotence import RawKafka, create_topic

CODECS = {"gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
KAFKA_PYTHON_CODECS = [c for c, ok in (("gzip", True), ("snappy", kafka.codec.has_snappy()),
                                       ("lz4", kafka.codec.has_lz4())) if ok]
BIG = 1 << 20
BASE_TS = 1_600_000_000_000


def big_value(seed):
    return bytes((seed + i * 7) % 251 for i in range(BIG))


def confluent_produce(bootstrap, topic, records, with_timestamps=False, warm_up=True, **conf):
    """records: dicts of Producer.produce kwargs. Returns the delivered (partition, offset) list;
    with with_timestamps also the delivery reports' (timestamp type, timestamp) list.

    warm_up: fetch the topic's metadata before producing. Otherwise the records wait unpartitioned
    until the metadata arrives, and as flush() ignores linger.ms librdkafka may send the first few
    as they trickle into the partition queue: single-record batches, which it leaves uncompressed
    whatever compression.type says (compressing would make them larger)."""
    delivered, errors, timestamps = [], [], []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(err)
        else:
            delivered.append((msg.partition(), msg.offset()))
            timestamps.append(msg.timestamp())

    producer = Producer(dict({"bootstrap.servers": bootstrap, "linger.ms": 5}, **conf))
    if warm_up:
        producer.list_topics(topic, timeout=10)
    for r in records:
        producer.produce(topic, on_delivery=on_delivery, **r)
        producer.poll(0)
    remaining = producer.flush(60)
    if remaining or errors:
        raise AssertionError("confluent produce: %d undelivered, errors %s" % (remaining, errors))
    return (delivered, timestamps) if with_timestamps else delivered


def confluent_consume(bootstrap, topic, partitions=(0,), **conf):
    """Every record of the partitions: a list of (partition, offset, key, value, headers, ts)."""
    consumer = Consumer(dict({"bootstrap.servers": bootstrap, "group.id": "check",
                              "enable.auto.commit": False, "enable.partition.eof": True}, **conf))
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    out, at_eof = [], set()
    deadline = time.monotonic() + 60
    try:
        while len(at_eof) < len(partitions):
            if time.monotonic() > deadline:
                raise AssertionError("confluent consume: no end of partition in 60 s")
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    at_eof.add(msg.partition())
                    continue
                raise AssertionError("confluent consume error: %s" % msg.error())
            at_eof.discard(msg.partition())
            out.append((msg.partition(), msg.offset(), msg.key(), msg.value(),
                        msg.headers() or [], msg.timestamp()[1]))
    finally:
        consumer.close()
    return out


def kp_consumer(bootstrap, **conf):
    return kafka.KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                               auto_offset_reset="earliest", **conf)


def kp_consume(bootstrap, topic, expected_count, partitions=(0,), **conf):
    """Every record of the partitions read by kafka-python (its Fetch v4)."""
    consumer = kp_consumer(bootstrap, **conf)
    tps = [kafka.TopicPartition(topic, p) for p in partitions]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    out = []
    deadline = time.monotonic() + 60
    try:
        while len(out) < expected_count:
            if time.monotonic() > deadline:
                raise AssertionError("kafka-python consume: %d of %d records in 60 s" %
                                     (len(out), expected_count))
            for tp, records in consumer.poll(timeout_ms=500).items():
                for r in records:
                    out.append((tp.partition, r.offset, r.key, r.value, list(r.headers), r.timestamp))
        # Nothing beyond the expected records.
        if any(consumer.poll(timeout_ms=200).values()):
            raise AssertionError("kafka-python consume: more records than expected")
    finally:
        consumer.close()
    return out


def kp_produce(bootstrap, topic, records, **conf):
    """records: dicts of KafkaProducer.send kwargs. Returns the RecordMetadata list."""
    producer = kafka.KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, **conf)
    try:
        futures = [producer.send(topic, **r) for r in records]
        producer.flush(60)
        return [f.get(timeout=60) for f in futures]
    finally:
        producer.close(10)


class ServerTestCase(ServerTestCase):
    server_args = ()
    topics = {}  # name -> partitions, created before the server starts

    def setUp(self):
        self.server = SluiceServer(*self.server_args)
        for name, partitions in self.topics.items():
            create_topic(self.server.data_dir, name, partitions)
        self.server.start()
        self.bootstrap = self.server.bootstrap


class RecordsTest(ServerTestCase):
    topics = {"from-confluent": 1, "from-kp": 1, "big": 1, "times": 1, "acks0": 1}

    def test_confluent_records_read_by_both_clients(self):
        records = [
            {"key": b"k0", "value": b"v0", "headers": [("h1", b"a"), ("h1", b"b"), ("empty", b""),
                                                        ("null", None)]},
            {"key": None, "value": b"no key"},
            {"key": b"no value", "value": None},
            {"key": None, "value": None},
            {"key": b"", "value": b""},
            {"key": b"\x00\xff binary", "value": bytes(range(256)), "headers": [("bin", bytes(range(10)))]},
        ] + [{"key": b"key-%d" % i, "value": b"value-%d" % i} for i in range(200)]
        delivered = confluent_produce(self.bootstrap, "from-confluent", records)
        self.assertEqual([o for _, o in delivered], list(range(len(records))))
        expected = [(r["key"], r["value"], r.get("headers", [])) for r in records]

        got = confluent_consume(self.bootstrap, "from-confluent")
        self.assertEqual([(k, v, h) for (_, _, k, v, h, _) in got], expected)
        self.assertEqual([o for (_, o, *_) in got], list(range(len(records))))

        got = kp_consume(self.bootstrap, "from-confluent", len(records))
        self.assertEqual([(k, v, h) for (_, _, k, v, h, _) in got], expected)

    def test_kafka_python_records_read_by_both_clients(self):
        # kafka-python refuses a record with both key and value null (client side).
        records = [
            {"key": b"k0", "value": b"v0", "headers": [("h1", b"a"), ("h2", b"")]},
            {"key": None, "value": b"no key"},
            {"key": b"no value", "value": None},
            {"key": b"", "value": b""},
        ] + [{"key": b"key-%d" % i, "value": b"value-%d" % i} for i in range(200)]
        with self.assertRaises(AssertionError):
            kafka.KafkaProducer(bootstrap_servers=self.bootstrap).send("from-kp", key=None, value=None)
        metas = kp_produce(self.bootstrap, "from-kp", records)
        self.assertEqual([m.offset for m in metas], list(range(len(records))))
        expected = [(r["key"], r["value"], r.get("headers", [])) for r in records]
        got = confluent_consume(self.bootstrap, "from-kp")
        self.assertEqual([(k, v, h) for (_, _, k, v, h, _) in got], expected)
        got = kp_consume(self.bootstrap, "from-kp", len(records))
        self.assertEqual([(k, v, h) for (_, _, k, v, h, _) in got], expected)

    def test_acks_zero(self):
        # acks=0: the server stores and sends no answer; a stray answer would desynchronise the
        # clients' request/response matching (later acked requests would fail or hang).
        confluent_produce(self.bootstrap, "acks0", [{"value": b"c%d" % i} for i in range(100)], acks=0)
        metas = kp_produce(self.bootstrap, "acks0", [{"value": b"k%d" % i} for i in range(100)], acks=0)
        self.assertEqual(len(metas), 100)
        kp_produce(self.bootstrap, "acks0", [{"value": b"acked"}], acks=1)
        # Three connections: the unacknowledged records may land after the acked one.
        with RawKafka(self.server.port) as conn:
            deadline = time.monotonic() + 30
            while conn.high_watermark("acks0", 0) < 201 and time.monotonic() < deadline:
                pass
        expected = [b"c%d" % i for i in range(100)] + [b"k%d" % i for i in range(100)] + [b"acked"]
        got = [v for (_, _, _, v, _, _) in confluent_consume(self.bootstrap, "acks0")]
        self.assertEqual(sorted(got), sorted(expected))
        # Each producer's own records stay in order.
        self.assertEqual([v for v in got if v.startswith(b"c")], expected[:100])
        self.assertEqual([v for v in got if v.startswith(b"k")], expected[100:200])

    def test_out_of_range_offset_is_reset(self):
        confluent_produce(self.bootstrap, "from-kp", [{"value": b"r%d" % i} for i in range(10)])
        consumer = kp_consumer(self.bootstrap)
        tp = kafka.TopicPartition("from-kp", 0)
        consumer.assign([tp])
        consumer.seek(tp, 1000)  # past the end: OFFSET_OUT_OF_RANGE, then auto_offset_reset
        got = []
        deadline = time.monotonic() + 30
        while len(got) < 10 and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                got.extend((r.offset, r.value) for r in records)
        consumer.close()
        self.assertEqual(got, [(i, b"r%d" % i) for i in range(10)])
        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "reset",
                             "auto.offset.reset": "earliest", "enable.auto.commit": False})
        consumer.assign([TopicPartition("from-kp", 0, 1000)])
        got = []
        deadline = time.monotonic() + 30
        while len(got) < 10 and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and not msg.error():
                got.append((msg.offset(), msg.value()))
        consumer.close()
        self.assertEqual(got, [(i, b"r%d" % i) for i in range(10)])

    def test_one_mib_records(self):
        confluent_produce(self.bootstrap, "big", [{"key": b"c", "value": big_value(1)},
                                                  {"key": b"c2", "value": big_value(2)}],
                          **{"message.max.bytes": 2_000_000})
        kp_produce(self.bootstrap, "big", [{"key": b"k", "value": big_value(3)}], max_request_size=2_000_000)
        expected = [(b"c", big_value(1)), (b"c2", big_value(2)), (b"k", big_value(3))]
        got = confluent_consume(self.bootstrap, "big", **{"fetch.max.bytes": 3_000_000,
                                                          "max.partition.fetch.bytes": 2_000_000})
        self.assertEqual([(k, v) for (_, _, k, v, _, _) in got], expected)
        got = kp_consume(self.bootstrap, "big", 3, max_partition_fetch_bytes=2_000_000,
                         fetch_max_bytes=3_000_000)
        self.assertEqual([(k, v) for (_, _, k, v, _, _) in got], expected)
        # Small fetch limits: the server still returns whole records (KIP-74), one at a time.
        got = confluent_consume(self.bootstrap, "big", **{"fetch.max.bytes": 1000, "message.max.bytes": 1000,
                                                          "max.partition.fetch.bytes": 1000,
                                                          "receive.message.max.bytes": 5_000_000})
        self.assertEqual([(k, v) for (_, _, k, v, _, _) in got], expected)
        got = kp_consume(self.bootstrap, "big", 3, max_partition_fetch_bytes=1000, fetch_max_bytes=1000)
        self.assertEqual([(k, v) for (_, _, k, v, _, _) in got], expected)

    def test_offsets_for_times(self):
        records = [{"value": b"t%d" % i, "timestamp": BASE_TS + 10 * i} for i in range(100)]
        _, reported = confluent_produce(self.bootstrap, "times", records[:50], with_timestamps=True)
        # CreateTime topic: the answer's log_append_time is -1, so librdkafka reports CreateTime.
        self.assertEqual(reported, [(TIMESTAMP_CREATE_TIME, r["timestamp"]) for r in records[:50]])
        kp_produce(self.bootstrap, "times", [{"value": r["value"], "timestamp_ms": r["timestamp"]}
                                             for r in records[50:]])
        got = confluent_consume(self.bootstrap, "times")
        self.assertEqual([ts for (*_, ts) in got], [r["timestamp"] for r in records])

        cases = [(BASE_TS - 5000, 0), (BASE_TS, 0), (BASE_TS + 1, 1), (BASE_TS + 55, 6),
                 (BASE_TS + 490, 49), (BASE_TS + 491, 50), (BASE_TS + 990, 99)]
        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "t"})
        try:
            for ts, offset in cases:
                (tp,) = consumer.offsets_for_times([TopicPartition("times", 0, ts)], timeout=10)
                self.assertEqual(tp.error, None)
                self.assertEqual(tp.offset, offset, ts)
            (tp,) = consumer.offsets_for_times([TopicPartition("times", 0, BASE_TS + 991)], timeout=10)
            self.assertEqual(tp.offset, -1)  # no such record: the end
        finally:
            consumer.close()

        consumer = kp_consumer(self.bootstrap)
        try:
            tp = kafka.TopicPartition("times", 0)
            for ts, offset in cases:
                found = consumer.offsets_for_times({tp: ts})[tp]
                self.assertEqual((found.offset, found.timestamp), (offset, BASE_TS + 10 * offset), ts)
            self.assertIsNone(consumer.offsets_for_times({tp: BASE_TS + 991})[tp])
            self.assertEqual(consumer.beginning_offsets([tp])[tp], 0)
            self.assertEqual(consumer.end_offsets([tp])[tp], 100)
        finally:
            consumer.close()


class CompressionTest(ServerTestCase):
    topics = dict([("confluent-" + c, 1) for c in CODECS] + [("kp-" + c, 1) for c in KAFKA_PYTHON_CODECS])

    def records(self, n):
        return [{"key": b"k%d" % i, "value": b"compressible value %d %s" % (i, b"y" * (i % 40)),
                 "headers": [("i", b"%d" % i)], "timestamp": BASE_TS + i} for i in range(n)]

    def test_confluent_codecs_read_by_both_clients(self):
        records = self.records(500)
        expected = [(r["key"], r["value"], r["headers"], r["timestamp"]) for r in records]
        for codec, codec_id in CODECS.items():
            topic = "confluent-" + codec
            confluent_produce(self.bootstrap, topic, records, **{"compression.type": codec})
            with RawKafka(self.server.port) as conn:
                # Stored compressed: librdkafka did compress (it sends plain batches to a broker
                # whose versions it does not trust with the codec).
                batches = conn.fetch_batches(topic, 0, version=11, decode=False)
                self.assertEqual({h["codec"] for h, _ in batches}, {codec_id}, codec)
                # Fetch v4 (before zstd, KIP-110): zstd must come back transcoded, others as stored.
                batches = conn.fetch_batches(topic, 0, version=4, decode=False)
                plain_for_v4 = 0 if codec == "zstd" else codec_id
                self.assertEqual({h["codec"] for h, _ in batches}, {plain_for_v4}, codec)
                self.assertEqual(sum(h["count"] for h, _ in batches), len(records))

            got = confluent_consume(self.bootstrap, topic)
            self.assertEqual([(k, v, h, ts) for (_, _, k, v, h, ts) in got], expected, codec)
            # kafka-python: Fetch v4, and no zstd module installed here: it can only read the zstd
            # topic if the server transcodes.
            got = kp_consume(self.bootstrap, topic, len(records))
            self.assertEqual([(k, v, h, ts) for (_, _, k, v, h, ts) in got], expected, codec)
            self.assertEqual([o for (_, o, *_) in got], list(range(len(records))))

    def test_kafka_python_codecs_read_by_confluent(self):
        self.assertIn("gzip", KAFKA_PYTHON_CODECS)
        records = self.records(300)
        expected = [(r["key"], r["value"], r["headers"], r["timestamp"]) for r in records]
        for codec in KAFKA_PYTHON_CODECS:
            topic = "kp-" + codec
            kp_produce(self.bootstrap, topic, [{"key": r["key"], "value": r["value"], "headers": r["headers"],
                                                "timestamp_ms": r["timestamp"]} for r in records],
                       compression_type=codec)
            with RawKafka(self.server.port) as conn:
                batches = conn.fetch_batches(topic, 0, decode=False)
                self.assertEqual({h["codec"] for h, _ in batches}, {CODECS[codec]}, codec)
            got = confluent_consume(self.bootstrap, topic)
            self.assertEqual([(k, v, h, ts) for (_, _, k, v, h, ts) in got], expected, codec)
            got = kp_consume(self.bootstrap, topic, len(records))
            self.assertEqual([(k, v, h, ts) for (_, _, k, v, h, ts) in got], expected, codec)


class AdminTest(ServerTestCase):
    server_args = ("--num-partitions", "3")

    def confluent_topics(self):
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        return admin.list_topics(timeout=10).topics

    def test_confluent_admin(self):
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        futures = admin.create_topics([
            NewTopic("adm", num_partitions=2, replication_factor=1, config={"retention.ms": "3600000"}),
            NewTopic("adm-bad-config", num_partitions=1, replication_factor=1,
                     config={"no.such.config": "1"}),
            NewTopic("bad/name", num_partitions=1, replication_factor=1),
        ], operation_timeout=10)
        self.assertIsNone(futures["adm"].result(timeout=10))
        with self.assertRaises(KafkaException) as cm:
            futures["adm-bad-config"].result(timeout=10)
        self.assertEqual(cm.exception.args[0].code(), KafkaError.INVALID_CONFIG)
        with self.assertRaises(KafkaException) as cm:
            futures["bad/name"].result(timeout=10)
        self.assertEqual(cm.exception.args[0].code(), KafkaError.TOPIC_EXCEPTION)

        (again,) = admin.create_topics([NewTopic("adm", 5, 1)]).values()
        with self.assertRaises(KafkaException) as cm:
            again.result(timeout=10)
        self.assertEqual(cm.exception.args[0].code(), KafkaError.TOPIC_ALREADY_EXISTS)

        (checked,) = admin.create_topics([NewTopic("adm-validate", 2, 1)], validate_only=True).values()
        self.assertIsNone(checked.result(timeout=10))
        broker = ConfigResource(ConfigResource.Type.BROKER, "0")
        configs = admin.describe_configs([broker])[broker].result(timeout=10)
        self.assertEqual(configs["num.partitions"].value, "3")

        topics = self.confluent_topics()
        self.assertNotIn("adm-validate", topics)
        self.assertIn("adm", topics)
        self.assertEqual(len(topics["adm"].partitions), 2)  # not 5: the second create failed
        self.assertNotIn("adm-bad-config", topics)
        self.assertNotIn("bad/name", topics)

        resource = ConfigResource(ConfigResource.Type.TOPIC, "adm")
        configs = admin.describe_configs([resource])[resource].result(timeout=10)
        self.assertEqual(configs["retention.ms"].value, "3600000")
        self.assertFalse(configs["retention.ms"].is_default)
        missing = ConfigResource(ConfigResource.Type.TOPIC, "no-such-topic")
        with self.assertRaises(KafkaException):
            admin.describe_configs([missing])[missing].result(timeout=10)

        # Data goes in; then the topic is deleted and Metadata no longer lists it.
        confluent_produce(self.bootstrap, "adm", [{"value": b"x", "partition": 1}])
        self.assertIsNone(admin.delete_topics(["adm"], operation_timeout=10)["adm"].result(timeout=10))
        self.assertNotIn("adm", self.confluent_topics())
        with self.assertRaises(KafkaException) as cm:
            admin.delete_topics(["adm"], operation_timeout=10)["adm"].result(timeout=10)
        self.assertEqual(cm.exception.args[0].code(), KafkaError.UNKNOWN_TOPIC_OR_PART)
        # A new topic of the same name starts empty.
        admin.create_topics([NewTopic("adm", 1, 1)])["adm"].result(timeout=10)
        with RawKafka(self.server.port) as conn:
            self.assertEqual(conn.high_watermark("adm", 0), 0)

    def test_kafka_python_admin(self):
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap)
        try:
            admin.create_topics([KpNewTopic("kp-adm", 4, 1, topic_configs={"retention.ms": "7200000"})])
            self.assertIn("kp-adm", admin.list_topics())
            admin.create_topics([KpNewTopic("kp-validate", 1, 1)], validate_only=True)
            self.assertNotIn("kp-validate", admin.list_topics())
            with self.assertRaises(kafka.errors.TopicAlreadyExistsError):
                admin.create_topics([KpNewTopic("kp-adm", 1, 1)])
            with self.assertRaises(kafka.errors.InvalidTopicError):
                admin.create_topics([KpNewTopic("bad name", 1, 1)])
            with self.assertRaises(kafka.errors.InvalidConfigurationError):
                admin.create_topics([KpNewTopic("kp-bad", 1, 1, topic_configs={"no.such.config": "x"})])
            self.assertNotIn("kp-bad", admin.list_topics())
            (desc,) = admin.describe_topics(["kp-adm"])
            self.assertEqual(len(desc["partitions"]), 4)

            (resp,) = admin.describe_configs([KpConfigResource(ConfigResourceType.TOPIC, "kp-adm")])
            (error_code, _, _, name, entries) = resp.resources[0]
            self.assertEqual((error_code, name), (0, "kp-adm"))
            values = {e[0]: e[1] for e in entries}
            self.assertEqual(values["retention.ms"], "7200000")

            admin.delete_topics(["kp-adm"])
            self.assertNotIn("kp-adm", admin.list_topics())
            with self.assertRaises(kafka.errors.UnknownTopicOrPartitionError):
                admin.delete_topics(["kp-adm"])
        finally:
            admin.close()

    def test_auto_creation_on_produce_uses_num_partitions(self):
        confluent_produce(self.bootstrap, "auto-confluent", [{"value": b"v"}], warm_up=False)
        kp_produce(self.bootstrap, "auto-kp", [{"value": b"v"}])
        topics = self.confluent_topics()
        self.assertEqual(len(topics["auto-confluent"].partitions), 3)
        self.assertEqual(len(topics["auto-kp"].partitions), 3)
        self.assertIn("auto-created topic auto-confluent with 3 partitions", self.server.log())

    def test_consumer_does_not_auto_create(self):
        # librdkafka consumers send allow_auto_topic_creation=false (allow.auto.create.topics).
        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "no-create",
                             "allow.auto.create.topics": False})
        try:
            consumer.subscribe(["never-created"])
            deadline = time.monotonic() + 30
            error = None
            while error is None and time.monotonic() < deadline:
                msg = consumer.poll(0.5)
                if msg is not None and msg.error():
                    error = msg.error()
            self.assertIsNotNone(error, "no error for a subscribed topic that does not exist")
            self.assertEqual(error.code(), KafkaError.UNKNOWN_TOPIC_OR_PART)
            md = consumer.list_topics("never-created-either", timeout=10)
            self.assertEqual(md.topics["never-created-either"].error.code(),
                             KafkaError.UNKNOWN_TOPIC_OR_PART)
        finally:
            consumer.close()
        topics = self.confluent_topics()
        self.assertNotIn("never-created", topics)
        self.assertNotIn("never-created-either", topics)
        # The same request with auto-creation allowed does create (the default of a producer).
        producer = Producer({"bootstrap.servers": self.bootstrap})
        md = producer.list_topics("created-by-metadata", timeout=10)
        self.assertIsNone(md.topics["created-by-metadata"].error)
        self.assertEqual(len(self.confluent_topics()["created-by-metadata"].partitions), 3)


if __name__ == "__main__":
    unittest.main()
