"""Restarts of a real `sluice serve` under real clients: committed group offsets survive a clean
restart (consumers resume exactly there), acknowledged records survive a SIGKILL of the server
(acks=all, flush=sync), and a clean stop leaves nothing to recover."""

import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic
from kafka import KafkaConsumer
from kafka import TopicPartition as KTopicPartition
from kafka.structs import OffsetAndMetadata

import acked_producer
from sluice_server import SluiceServer
from test_groups import Member, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
RECOVERY_MESSAGE = "opened after an unclean shutdown"
SERVER_ARGS = ("--group-initial-rebalance-delay-ms", "300")
TOTAL = 2000
PARTITIONS = 3


def create_topic(bootstrap, name, partitions):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, partitions, 1)])[name].result(timeout=30)


def produce_numbered(bootstrap, topic, count, partitions):
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    errors = []
    for i in range(count):
        producer.produce(topic, value=b"r-%d" % i, partition=i % partitions,
                         on_delivery=lambda err, msg: errors.append(err) if err else None)
        producer.poll(0)
    assert producer.flush(30) == 0, "records still unacknowledged"
    assert not errors, errors
    return ["r-%d" % i for i in range(count)]


def confluent_consumer(bootstrap, group, **extra):
    conf = {"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
            "enable.auto.commit": False, "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 500, "enable.partition.eof": True}
    conf.update(extra)
    return Consumer(conf)


class ResumeAfterRestartTest(unittest.TestCase):
    """A consumer commits half the topic; the server restarts cleanly; the next consumer of the
    group resumes exactly at the committed offsets."""

    def setUp(self):
        self.server = SluiceServer(*SERVER_ARGS)
        self.addCleanup(self.server.cleanup)  # even if it does not start
        self.server.start()

    def check_exactly_once(self, values, first, second, committed, second_starts):
        everything = first + second
        duplicated = sorted({v for v in everything if everything.count(v) > 1})
        self.assertEqual(duplicated, [], "records consumed before and after the restart")
        self.assertEqual(sorted(everything), sorted(values), "records nobody consumed")
        # The second consumer started exactly at the committed offset of every partition the
        # first one had not finished (and read nothing from the others).
        ends = {p: len(range(p, TOTAL, PARTITIONS)) for p in range(PARTITIONS)}
        self.assertTrue(any(committed.get(p, 0) < ends[p] for p in ends))
        for p, end in ends.items():
            offset = committed.get(p, 0)
            self.assertEqual(second_starts.get(p), offset if offset < end else None,
                             "partition %d (committed %d of %d)" % (p, offset, end))

    def test_confluent_resumes_at_committed_offsets(self):
        topic, group = "resume-rdk", "g-resume-rdk"
        create_topic(self.server.bootstrap, topic, PARTITIONS)
        values = produce_numbered(self.server.bootstrap, topic, TOTAL, PARTITIONS)

        c = confluent_consumer(self.server.bootstrap, group)
        c.subscribe([topic])
        first, positions = [], {}
        deadline = time.monotonic() + 60
        while len(first) < TOTAL // 2:
            self.assertLess(time.monotonic(), deadline, "first consumer stuck at %d" % len(first))
            m = c.poll(0.2)
            if m is None or m.error():
                continue
            first.append(m.value().decode())
            positions[m.partition()] = m.offset() + 1
        result = c.commit(offsets=[TopicPartition(topic, p, o) for p, o in positions.items()],
                          asynchronous=False)
        self.assertEqual(sorted((tp.partition, tp.offset, tp.error) for tp in result),
                         sorted((p, o, None) for p, o in positions.items()))
        c.close()

        self.server.stop()  # SIGTERM; asserts exit code 0
        self.server.restart()

        c = confluent_consumer(self.server.bootstrap, group)
        self.addCleanup(c.close)
        committed = c.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=30)
        self.assertEqual({tp.partition: tp.offset for tp in committed if tp.offset >= 0},
                         positions, "committed offsets after the restart")
        c.subscribe([topic])
        second, starts, at_end = [], {}, set()
        deadline = time.monotonic() + 60
        # Until every partition reported its end (after anything it delivered).
        while len(at_end) < PARTITIONS:
            self.assertLess(time.monotonic(), deadline,
                            "second consumer stuck at %d (ends %s)" % (len(second), at_end))
            m = c.poll(0.2)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    at_end.add(m.partition())
                continue
            at_end.discard(m.partition())
            second.append(m.value().decode())
            starts.setdefault(m.partition(), m.offset())
        self.check_exactly_once(values, first, second, positions, starts)

    def test_kafka_python_resumes_at_committed_offsets(self):
        topic, group = "resume-kpy", "g-resume-kpy"
        create_topic(self.server.bootstrap, topic, PARTITIONS)
        values = produce_numbered(self.server.bootstrap, topic, TOTAL, PARTITIONS)

        def consumer():
            return KafkaConsumer(bootstrap_servers=self.server.bootstrap, group_id=group,
                                 auto_offset_reset="earliest", enable_auto_commit=False,
                                 session_timeout_ms=6000, heartbeat_interval_ms=500)

        c = consumer()
        c.subscribe([topic])
        first, positions = [], {}
        deadline = time.monotonic() + 60
        while len(first) < TOTAL // 2:
            self.assertLess(time.monotonic(), deadline, "first consumer stuck at %d" % len(first))
            for tp, msgs in c.poll(timeout_ms=200, max_records=50).items():
                for m in msgs:
                    if len(first) == TOTAL // 2:
                        break  # the rest of the batch counts as not consumed
                    first.append(m.value.decode())
                    positions[tp.partition] = m.offset + 1
        c.commit({KTopicPartition(topic, p): OffsetAndMetadata(o, "")
                  for p, o in positions.items()})
        c.close()

        self.server.stop()
        self.server.restart()

        c = consumer()
        self.addCleanup(c.close)
        committed = {p: c.committed(KTopicPartition(topic, p)) for p in range(PARTITIONS)}
        self.assertEqual({p: o for p, o in committed.items() if o is not None}, positions,
                         "committed offsets after the restart")
        c.subscribe([topic])
        ends = None
        second, starts = [], {}
        deadline = time.monotonic() + 60
        while True:
            self.assertLess(time.monotonic(), deadline, "second consumer stuck at %d" % len(second))
            for tp, msgs in c.poll(timeout_ms=200).items():
                for m in msgs:
                    second.append(m.value.decode())
                    starts.setdefault(tp.partition, m.offset)
            assigned = c.assignment()
            if len(assigned) < PARTITIONS:
                continue
            if ends is None:
                ends = c.end_offsets(list(assigned))
            if all(c.position(tp) >= ends[tp] for tp in assigned):
                break
        self.check_exactly_once(values, first, second, positions, starts)


class KillUnderLoadTest(unittest.TestCase):
    """SIGKILL of the server while a producer with acks=all writes to a flush=sync topic: every
    record the producer saw acknowledged is there after the restart."""

    def test_acknowledged_records_survive_sigkill(self):
        self.check_sigkill(producers=1, linger_ms=5)

    def test_acknowledged_records_of_eight_pipelining_producers_survive_sigkill(self):
        # linger.ms=0: each producer has many small requests in flight on its connection, which
        # the server pipelines and group-commits (net/server.h): acknowledged must mean durable
        # for every one of them.
        self.check_sigkill(producers=8, linger_ms=0)

    def check_sigkill(self, producers, linger_ms):
        topic = "durable"
        server = SluiceServer("--topic-config", "flush=sync", *SERVER_ARGS)
        self.addCleanup(server.cleanup)  # even if it does not start
        server.start()
        create_topic(server.bootstrap, topic, 2)
        admin = AdminClient({"bootstrap.servers": server.bootstrap})
        resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
        configs = admin.describe_configs([resource])[resource].result(timeout=30)
        self.assertEqual(configs["flush"].value, "sync")  # the --topic-config default
        del admin

        acked = []
        acked_lock = threading.Lock()
        procs, readers = [], []
        for i in range(producers):
            stderr = tempfile.TemporaryFile()
            self.addCleanup(stderr.close)
            proc = subprocess.Popen(
                [sys.executable, os.path.join(HERE, "acked_producer.py"), server.bootstrap, topic,
                 str(i), str(producers), str(linger_ms)],
                stdout=subprocess.PIPE, stderr=stderr)
            procs.append(proc)

            def read_acks(proc=proc):
                for line in proc.stdout:
                    with acked_lock:
                        acked.append(int(line))

            reader = threading.Thread(target=read_acks, daemon=True)
            reader.start()
            readers.append(reader)

        def count():
            with acked_lock:
                return len(acked)

        try:
            wait_until(lambda: count() >= 5000 or any(p.poll() is not None for p in procs), 120,
                       "5000 acknowledged records")
            for p in procs:
                self.assertIsNone(p.poll(), "a producer died")
            server.kill()
        finally:
            for p in procs:
                p.send_signal(signal.SIGKILL)
            for p in procs:
                p.wait(timeout=30)
            for r in readers:
                r.join(timeout=30)
            for p in procs:
                p.stdout.close()
        self.assertGreaterEqual(len(acked), 5000)
        self.assertEqual(len(set(acked)), len(acked), "a record was acknowledged twice")

        log_before = len(server.log())
        server.restart()
        # The engine logs this when it opens without the clean-shutdown marker (engine/engine.cc).
        self.assertIn(RECOVERY_MESSAGE, server.log()[log_before:])

        found = read_all(server.bootstrap, topic, 2)
        # Well-formed: every record found is one the producers sent, intact, and found once.
        numbers = []
        for _, key, value in found:
            m = re.fullmatch(r"k-(\d+)", key)
            self.assertIsNotNone(m, "bad key %r" % key)
            n = int(m.group(1))
            self.assertEqual(value, acked_producer.value_of(n), "record %d damaged" % n)
            numbers.append(n)
        self.assertEqual(len(set(numbers)), len(numbers), "records stored twice")
        missing = sorted(set(acked) - set(numbers))
        self.assertEqual(missing[:20], [], "%d acknowledged records lost" % len(missing))


class GroupAcrossRestartTest(unittest.TestCase):
    """Members that stay up while the server restarts rejoin the group (it is in memory only)
    and go on from the offsets they committed before: nothing consumed and committed before the
    restart is consumed again, nothing produced after it is missed."""

    def check_group_across_restart(self, crash, clients):
        topic, group = "live", "g-live"
        server = SluiceServer(*SERVER_ARGS)
        self.addCleanup(server.cleanup)  # even if it does not start
        server.start()
        create_topic(server.bootstrap, topic, PARTITIONS)
        members = [Member(server, client, group, topic, "range", client_id="live%d" % i)
                   for i, client in enumerate(clients)]
        for m in members:
            self.addCleanup(m.cleanup)

        def split():
            owned = [sorted(m.assignment() or ()) for m in members]
            return all(owned) and sorted(sum(owned, [])) == list(range(PARTITIONS))

        def committed():
            offsets = {}
            for m in members:
                for e in m.events():
                    if e["event"] == "committed":
                        for p, o in e["offsets"].items():
                            offsets[int(p)] = max(offsets.get(int(p), 0), o)
            return offsets

        def seen(values):
            got = {r[2] for m in members for r in m.records()}
            return set(values) <= got

        def context():
            members_text = "\n".join(m.describe() for m in members)
            return members_text + "\nserver log:\n" + server.log()[-3000:]

        wait_until(split, 30, "the members to split the partitions")
        before = produce_numbered(server.bootstrap, topic, 300, PARTITIONS)
        wait_until(lambda: seen(before), 30, "the records before the restart")
        wait_until(lambda: committed() == {p: 100 for p in range(PARTITIONS)}, 30,
                   "the members' commits")

        marks = [len(m.events()) for m in members]
        if crash:
            server.kill()
        else:
            server.stop()  # with members connected: still exit code 0
        server.restart()

        after = ["a-%d" % i for i in range(300)]
        producer = Producer({"bootstrap.servers": server.bootstrap, "linger.ms": 5})
        for i, v in enumerate(after):
            producer.produce(topic, value=v.encode(), partition=i % PARTITIONS)
        self.assertEqual(producer.flush(30), 0)
        del producer
        try:
            wait_until(lambda: seen(after), 60, "the records after the restart")
        except AssertionError as e:
            self.fail("%s\n%s" % (e, context()))
        wait_until(lambda: committed() == {p: 200 for p in range(PARTITIONS)}, 30,
                   "the members' commits after the restart")
        wait_until(split, 30, "the members to split the partitions again")
        for m, mark in zip(members, marks):  # membership was lost with the restart: they rejoined
            self.assertIn("assigned", [e["event"] for e in m.events()[mark:]], m.describe())

        records = [r[2] for m in members for r in m.records()]
        again = sorted(v for v in set(before) if records.count(v) > 1)
        self.assertEqual(again, [], "committed records consumed again after the restart\n"
                         + context())
        committed_twice = [v for v in set(after)
                           if sum(r[2] == v for m in members for r in m.committed_records()) > 1]
        self.assertEqual(committed_twice, [])
        for m in members:
            m.close()

    def test_members_rejoin_after_clean_restart(self):
        self.check_group_across_restart(crash=False, clients=("confluent", "confluent"))

    def test_members_rejoin_after_crash(self):
        self.check_group_across_restart(crash=True, clients=("confluent", "confluent"))

    def test_mixed_members_rejoin_after_clean_restart(self):
        self.check_group_across_restart(crash=False, clients=("kafka-python", "confluent"))


def read_all(bootstrap, topic, partitions):
    """(partition, key, value) of every record of the topic (keys and values decoded, a missing
    key as None), by assign() from the beginning up to the end of every partition."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "reader",
                  "enable.auto.commit": False, "enable.partition.eof": True})
    try:
        c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        found, at_end = [], set()
        deadline = time.monotonic() + 60
        while len(at_end) < partitions:
            assert time.monotonic() < deadline, "reading %s stuck at %d" % (topic, len(found))
            m = c.poll(0.2)
            if m is None:
                continue
            if m.error():
                assert m.error().code() == KafkaError._PARTITION_EOF, m.error()
                at_end.add(m.partition())
                continue
            at_end.discard(m.partition())
            key = m.key().decode() if m.key() is not None else None
            found.append((m.partition(), key, m.value().decode()))
        return found
    finally:
        c.close()


class CleanStopTest(unittest.TestCase):
    def test_clean_stop_needs_no_recovery(self):
        topic = "clean"
        server = SluiceServer(*SERVER_ARGS)
        self.addCleanup(server.cleanup)  # even if it does not start
        server.start()
        create_topic(server.bootstrap, topic, 2)
        values = produce_numbered(server.bootstrap, topic, 500, 2)

        server.stop()  # SIGTERM: exit code 0 (asserted by the harness)
        self.assertIn("stopped cleanly", server.log())
        log_before = len(server.log())
        t0 = time.monotonic()
        server.restart()
        took = time.monotonic() - t0
        restart_log = server.log()[log_before:]
        self.assertNotIn(RECOVERY_MESSAGE, restart_log)
        self.assertLess(took, 5, "restart after a clean stop took %.1f s" % took)
        self.assertEqual(sorted(v for _, _, v in read_all(server.bootstrap, topic, 2)),
                         sorted(values))

        # The same directory after a crash does need recovery (so the check above means
        # something).
        server.kill()
        log_before = len(server.log())
        server.restart()
        self.assertIn(RECOVERY_MESSAGE, server.log()[log_before:])
        server.stop()


if __name__ == "__main__":
    unittest.main()
