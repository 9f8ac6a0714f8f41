"""Apache Kafka 4.4's own admin tools against `sluice serve`, and the same scenario against Apache
Kafka 4.4 itself with the results compared (differential): kafka-topics --alter --partitions
(CreatePartitions), kafka-configs --alter --add-config / --delete-config (IncrementalAlterConfigs),
kafka-get-offsets --time -3 (ListOffsets v7, max timestamp), kafka-delete-records (DeleteRecords),
kafka-consumer-groups --delete-offsets (OffsetDelete), kafka-log-dirs (DescribeCluster,
DescribeLogDirs) and kafka-transactions describe-producers (DescribeProducers). The two brokers
run the scenario at the same time (each tool is a JVM start); records come from confluent-kafka
(librdkafka, idempotent) with chosen timestamps. sluice is then restarted and `sluice verify`
checks its data directory: the deleted records stay deleted."""

# ctest-label: compat

import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from kafka_fixture import (CONFIG_COMMAND, CONSUMER_GROUPS, DELETE_RECORDS, GET_OFFSETS,
                           TOPIC_COMMAND, KafkaBroker, kafka_tool, run_on_both)
from sluice_server import SLUICE, SluiceServer

LOG_DIRS = "org.apache.kafka.tools.LogDirsCommand"  # kafka-log-dirs.sh
TRANSACTIONS = "org.apache.kafka.tools.TransactionsCommand"  # kafka-transactions.sh

MAX_AT = 17  # the record with the largest timestamp


def tool(main_class, *args):
    out = kafka_tool(main_class, *args, timeout=120)
    return out.returncode, out.stdout.decode(errors="replace"), out.stderr.decode(errors="replace")


def words(text):
    """Tool output without the run of spaces tables align with, and without log4j noise."""
    lines = [l.split() for l in text.splitlines()]
    return [" ".join(l) for l in lines if l and not l[0].startswith(("WARN", "[", "SLF4J"))]


def produce(bootstrap):
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50, "enable.idempotence": True})
    errors = []
    # Recent timestamps (retention would delete old ones), the largest at MAX_AT.
    base_ts = int(time.time() * 1000) - 600_000
    for i in range(30):
        ts = base_ts + i + (500_000 if i == MAX_AT else 0)
        p.produce("adm", value=b"v%d" % i, key=b"k%d" % i, partition=0, timestamp=ts,
                  on_delivery=lambda err, msg: err and errors.append(err))
    assert p.flush(30) == 0 and not errors, errors


def commit_and_leave(bootstrap, group, offset):
    """A member that commits `offset` for adm-0 and leaves (the group is then Empty)."""
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "enable.auto.commit": False})
    c.commit(offsets=[TopicPartition("adm", 0, offset)], asynchronous=False)
    c.close()


def active_member(bootstrap, group):
    """A member subscribed to adm with its partitions assigned (the group is Stable)."""
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                  "session.timeout.ms": 30000})
    c.subscribe(["adm"])
    deadline = time.monotonic() + 60
    while not c.assignment() and time.monotonic() < deadline:
        c.poll(0.2)
    assert c.assignment(), "no assignment within 60 s"
    c.commit(offsets=[TopicPartition("adm", 0, 3)], asynchronous=False)
    return c


def scenario(bootstrap, workdir):
    """Runs the tools against one broker; returns what they printed (normalised) and codes."""
    seen = {}
    b = ["--bootstrap-server", bootstrap]
    rc, out, err = tool(TOPIC_COMMAND, *b, "--create", "--topic", "adm", "--partitions", "1",
                        "--replication-factor", "1", "--config", "retention.ms=86400000")
    assert rc == 0, err
    produce(bootstrap)

    # CreatePartitions: grow to 3, then a shrink is refused.
    rc, out, err = tool(TOPIC_COMMAND, *b, "--alter", "--topic", "adm", "--partitions", "3")
    seen["grow"] = (rc, words(out))
    rc, out, err = tool(TOPIC_COMMAND, *b, "--alter", "--topic", "adm", "--partitions", "2")
    seen["shrink"] = (rc, [l for l in words(out + err) if "Error while executing" in l][:1])

    # IncrementalAlterConfigs: DELETE the key the topic was created with, SET two others.
    rc, out, err = tool(CONFIG_COMMAND, *b, "--alter", "--entity-type", "topics", "--entity-name",
                        "adm", "--delete-config", "retention.ms", "--add-config",
                        "max.message.bytes=65536,segment.ms=3600000")
    seen["alter-config"] = (rc, words(out))
    rc, out, err = tool(CONFIG_COMMAND, *b, "--describe", "--entity-type", "topics",
                        "--entity-name", "adm")
    # "  key=value sensitive=false synonyms={...}": the synonyms name each broker's defaults.
    seen["describe-config"] = (rc, sorted(l.split()[0] for l in words(out) if "=" in l.split()[0]))

    # ListOffsets -3 (max-timestamp) and by name; then DeleteRecords; then earliest.
    rc, out, err = tool(GET_OFFSETS, *b, "--topic", "adm", "--time", "-3")
    seen["max-timestamp"] = (rc, sorted(words(out)), err[-2000:] if rc else "")
    offsets = os.path.join(workdir, "delete.json")
    with open(offsets, "w") as f:
        json.dump({"version": 1, "partitions": [{"topic": "adm", "partition": 0, "offset": 10},
                                                {"topic": "adm", "partition": 1, "offset": 5}]}, f)
    rc, out, err = tool(DELETE_RECORDS, *b, "--offset-json-file", offsets)
    seen["delete-records"] = (rc, sorted(words(out)))
    rc, out, err = tool(GET_OFFSETS, *b, "--topic", "adm", "--time", "-2")
    seen["earliest"] = (rc, sorted(words(out)))

    # OffsetDelete: an Empty group's offsets go; an active group's subscribed topic is refused.
    commit_and_leave(bootstrap, "g-empty", 20)
    rc, out, err = tool(CONSUMER_GROUPS, *b, "--delete-offsets", "--group", "g-empty", "--topic",
                        "adm")
    seen["delete-offsets"] = (rc, words(out))
    member = active_member(bootstrap, "g-active")
    try:
        rc, out, err = tool(CONSUMER_GROUPS, *b, "--delete-offsets", "--group", "g-active",
                            "--topic", "adm:0")
        seen["delete-offsets-active"] = (rc, words(out + err)[-3:])
    finally:
        member.close()

    # DescribeCluster + DescribeLogDirs.
    rc, out, err = tool(LOG_DIRS, *b, "--describe", "--topic-list", "adm")
    assert rc == 0, err
    doc = json.loads([l for l in out.splitlines() if l.startswith("{")][0])
    parts = sorted((p["partition"], p["offsetLag"], p["isFuture"])
                   for broker in doc["brokers"] for d in broker["logDirs"] for p in d["partitions"])
    seen["log-dirs"] = (len(doc["brokers"]), [d["error"] for broker in doc["brokers"]
                                               for d in broker["logDirs"]], parts)
    seen["log-dir-sizes"] = {p["partition"]: p["size"] for broker in doc["brokers"]
                             for d in broker["logDirs"] for p in d["partitions"]}
    # DescribeProducers: the idempotent producer's epoch and last sequence (its id and the time
    # differ between brokers; sluice's time is when it appended, Kafka's the batch's timestamp).
    rc, out, err = tool(TRANSACTIONS, *b, "describe-producers", "--topic", "adm", "--partition",
                        "0")
    rows = [l.split() for l in words(out)]
    seen["producers"] = (rc, rows[0] if rows else [],
                         [[r[1], r[2], r[3], r[5]] for r in rows[1:]], err[-2000:] if rc else "")
    return seen


class KafkaAdminToolsTest(unittest.TestCase):
    def test_admin_tools_against_sluice_and_kafka(self):
        sluice = SluiceServer("--group-initial-rebalance-delay-ms", "0")
        kafka = KafkaBroker()
        work = tempfile.mkdtemp(prefix="sluice-admin-tools-")

        def run(name, broker):
            d = os.path.join(work, name)
            os.mkdir(d)
            return scenario(broker.bootstrap, d)

        started = time.monotonic()
        try:
            results = run_on_both(sluice, kafka, run)
            on_sluice, on_kafka = results["sluice"], results["kafka"]
            for name in ("sluice", "kafka"):
                print("%s: %s" % (name, json.dumps(results[name], sort_keys=True, indent=1)))

            # What sluice must show on its own.
            self.assertEqual(on_sluice["grow"][0], 0)
            self.assertEqual(on_sluice["shrink"][0], 1)
            self.assertEqual(len(on_sluice["shrink"][1]), 1)
            self.assertIn("The topic adm currently has 3 partition(s); 2 would not be an increase.",
                          on_sluice["shrink"][1][0])
            self.assertIn("max.message.bytes=65536", on_sluice["describe-config"][1])
            self.assertIn("segment.ms=3600000", on_sluice["describe-config"][1])
            self.assertNotIn("retention.ms=86400000", on_sluice["describe-config"][1])
            self.assertEqual(on_sluice["max-timestamp"][:2], (0, ["adm:0:%d" % MAX_AT]))
            self.assertEqual(on_sluice["earliest"], (0, ["adm:0:10", "adm:1:0", "adm:2:0"]))
            self.assertEqual(on_sluice["delete-offsets"][0], 0)
            self.assertIn("GroupSubscribedToTopicException", on_sluice["delete-offsets-active"][1][-1])
            self.assertEqual(on_sluice["log-dirs"], (1, [None], [("adm-0", 0, False),
                                                                 ("adm-1", 0, False),
                                                                 ("adm-2", 0, False)]))
            self.assertGreater(on_sluice["log-dir-sizes"]["adm-0"], 0)
            self.assertEqual(on_sluice["producers"][2], [["0", "-1", "29", "None"]])

            # The same as Apache Kafka 4.4 (sizes differ: each has its own log format).
            for key in on_kafka:
                if key == "log-dir-sizes":
                    continue
                self.assertEqual(on_sluice[key], on_kafka[key], key)
            print("scenario on both brokers: %.1f s" % (time.monotonic() - started))

            # The deletion survives a restart, and the data directory verifies.
            sluice.stop()
            verify = subprocess.run([SLUICE, "--data-dir", sluice.data_dir, "verify"],
                                    capture_output=True, timeout=60)
            self.assertEqual(verify.returncode, 0,
                             verify.stdout.decode() + verify.stderr.decode())
            sluice.start()
            rc, out, err = tool(GET_OFFSETS, "--bootstrap-server", sluice.bootstrap, "--topic",
                                "adm", "--time", "-2")
            self.assertEqual((rc, sorted(words(out))),
                             (0, ["adm:0:10", "adm:1:0", "adm:2:0"]), err)
        finally:
            sluice.cleanup()
            kafka.cleanup()
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
