"""Consumer groups on a real `sluice serve` with real clients: confluent-kafka (librdkafka) and
kafka-python members, each in its own process (tests/clients/group_member.py), so that SIGKILL is
a real death; the group admin APIs (ListGroups, DescribeGroups, OffsetFetch, DeleteGroups)
through both clients' admin interfaces."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaAdminClient
from kafka import errors as kafka_errors
from kafka.coordinator.protocol import ConsumerProtocolMemberAssignment

from sluice_server import SluiceServer

HERE = os.path.dirname(os.path.abspath(__file__))
SESSION_TIMEOUT_MS = 6000
PARTITIONS = 6
SETTLE_TIMEOUT_S = 30


def wait_until(condition, timeout_s, what):
    """Polls `condition` until it returns a true value (returned) or the deadline passes."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1f s waiting for %s" % (timeout_s, what))
        time.sleep(0.05)


def decode_assignment(data):
    """{(topic, partition)} of a ConsumerProtocol assignment (as DescribeGroups returns it)."""
    decoded = ConsumerProtocolMemberAssignment.decode(data)
    return {(topic, p) for topic, partitions in decoded.assignment for p in partitions}


class Member:
    """A group member process; its stdout JSON lines are collected by a reader thread."""

    def __init__(self, server, client, group, topic, assignor=None, client_id=None):
        self.client = client
        self.client_id = client_id or "%s-member" % client
        self.topic = topic
        config = {"client": client, "bootstrap": server.bootstrap, "group": group, "topic": topic,
                  "assignor": assignor, "session_timeout_ms": SESSION_TIMEOUT_MS,
                  "client_id": self.client_id}
        self._stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "group_member.py"), json.dumps(config)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr)
        self._lock = threading.Lock()
        self._events = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                event = {"event": "garbage", "line": line.decode(errors="replace")}
            with self._lock:
                self._events.append(event)

    def events(self):
        with self._lock:
            return list(self._events)

    def assignment(self):
        """The member's current assignment (None before its first one)."""
        current = None
        for e in self.events():
            if e["event"] == "assigned":
                current = set(e["partitions"])
            elif e["event"] == "revoked" and current is not None:
                current -= set(e["partitions"])
        return current

    def records(self):
        return [tuple(r) for e in self.events() if e["event"] == "records" for r in e["records"]]

    def committed_records(self):
        """The records of the batches whose synchronous commit succeeded (the member prints a
        batch, then "committed" or a commit error)."""
        events = self.events()
        out = []
        for i, e in enumerate(events):
            if e["event"] != "records":
                continue
            for later in events[i + 1:]:
                if later["event"] == "committed":
                    out.extend(tuple(r) for r in e["records"])
                    break
                if later["event"] == "records" or (
                        later["event"] == "error" and later["error"].startswith("commit:")):
                    break
        return out

    def alive(self):
        return self.proc.poll() is None

    def close(self):
        """Asks the member to close its consumer (LeaveGroup) and waits for a clean exit."""
        self.proc.stdin.write(b"close\n")
        self.proc.stdin.flush()
        rc = self.proc.wait(timeout=30)
        self._reader.join(timeout=10)
        if rc != 0:
            raise AssertionError("%s member exited %d:\n%s" % (self.client, rc, self.stderr()))
        assert any(e["event"] == "closed" for e in self.events()), self.describe()

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._reader.join(timeout=10)

    def stderr(self):
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def describe(self):
        return "%s member (pid %d): events %s\nstderr:\n%s" % (
            self.client, self.proc.pid,
            [e for e in self.events() if e["event"] != "records"][-20:], self.stderr()[-3000:])

    def cleanup(self):
        if self.alive():
            self.kill()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass
        self._stderr.close()


class GroupTestBase(unittest.TestCase):
    # --group-initial-rebalance-delay-ms: members that start together form one generation
    # without the 3 s Kafka default.
    SERVER_ARGS = ("--group-initial-rebalance-delay-ms", "300")

    def setUp(self):
        self.server = SluiceServer(*self.SERVER_ARGS)
        self.addCleanup(self.server.cleanup)  # even if it does not start
        self.server.start()
        self.members = []
        self.admin = AdminClient({"bootstrap.servers": self.server.bootstrap})
        self.producer = Producer({"bootstrap.servers": self.server.bootstrap, "linger.ms": 5})

    def tearDown(self):
        for m in self.members:
            m.cleanup()
        # Before the server goes (cleanups run after tearDown), so that they log no disconnects.
        self.producer.flush(10)
        del self.producer
        del self.admin

    def fail_with_context(self, message):
        details = "\n".join(m.describe() for m in self.members)
        self.fail("%s\n%s\nserver log tail:\n%s" % (message, details, self.server.log()[-4000:]))

    def create_topic(self, name, partitions=PARTITIONS):
        futures = self.admin.create_topics([NewTopic(name, partitions, 1)])
        futures[name].result(timeout=30)

    def start_member(self, client, group, topic, assignor=None, client_id=None):
        member = Member(self.server, client, group, topic, assignor, client_id)
        self.members.append(member)
        return member

    def produce(self, topic, values, partitions=PARTITIONS):
        """Produces the values round-robin over the partitions; returns them once all are acked."""
        errors = []

        def report(err, msg):
            if err is not None:
                errors.append(err)

        for i, value in enumerate(values):
            self.producer.produce(topic, value=value.encode(), partition=i % partitions,
                                  on_delivery=report)
            self.producer.poll(0)
        self.assertEqual(self.producer.flush(30), 0, "records still unacknowledged")
        self.assertEqual(errors, [])
        return list(values)

    def describe_group(self, group):
        """The group as confluent's AdminClient.list_groups (DescribeGroups) sees it."""
        groups = self.admin.list_groups(group=group, timeout=10)
        self.assertEqual(len(groups), 1)
        return groups[0]

    def settled(self, group, members, partitions=PARTITIONS):
        """True when `members` own all partitions without overlap, each its fair share, and the
        coordinator has the group Stable with exactly these members."""
        assignments = [m.assignment() for m in members]
        if any(a is None or not a for a in assignments):
            return False
        owned = [p for a in assignments for p in a]
        if sorted(owned) != list(range(partitions)):
            return False
        if max(len(a) for a in assignments) - min(len(a) for a in assignments) > 1:
            return False
        g = self.describe_group(group)
        if g.state != "Stable":
            return False
        # The coordinator hands out what the leader assigned: the same as the members report.
        described = {m.client_id: decode_assignment(m.assignment) for m in g.members}
        return described == {m.client_id: {(m.topic, p) for p in a}
                             for m, a in zip(members, assignments)}

    def wait_settled(self, group, members, timeout_s=SETTLE_TIMEOUT_S, partitions=PARTITIONS):
        try:
            wait_until(lambda: self.settled(group, members, partitions), timeout_s,
                       "group %s to settle with %d member(s)" % (group, len(members)))
        except AssertionError as e:
            g = self.describe_group(group)
            self.fail_with_context("%s; coordinator says %s with %d member(s); assignments %s" % (
                e, g.state, len(g.members), [m.assignment() for m in members]))
        return [m.assignment() for m in members]

    def wait_seen(self, members, values, timeout_s=30):
        """Waits until every value was printed by one of `members` (dead ones count)."""
        wanted = set(values)

        def all_seen():
            seen = {r[2] for m in members for r in m.records()}
            return wanted <= seen

        try:
            wait_until(all_seen, timeout_s, "the group to consume %d records" % len(wanted))
        except AssertionError as e:
            seen = {r[2] for m in members for r in m.records()}
            missing = sorted(wanted - seen)
            self.fail_with_context("%s; %d missing, e.g. %s" % (e, len(missing), missing[:10]))

    def assert_no_client_errors(self, members):
        """No member reported an error: neither a failed commit nor (kafka-python) a group
        protocol error its coordinator logged."""
        for m in members:
            errors = [e for e in m.events() if e["event"] in ("error", "client_error")]
            self.assertEqual(errors, [], m.describe())

    def assert_consumed_exactly_once(self, members, values):
        """Each value was consumed by exactly one member, exactly once, from a partition that
        member owns."""
        wanted = set(values)
        counts = {}
        for m in members:
            owned = m.assignment()
            for partition, offset, value in m.records():
                if value not in wanted:
                    continue
                counts[value] = counts.get(value, 0) + 1
                self.assertIn(partition, owned,
                              "%s consumed %s from partition %d it does not own (%s)"
                              % (m.client, value, partition, sorted(owned)))
        duplicated = sorted(v for v, n in counts.items() if n > 1)
        self.assertEqual(duplicated, [], "records consumed more than once")
        self.assertEqual(set(counts), wanted)


class ConfluentGroupTest(GroupTestBase):
    def test_three_members_split_leave_and_kill(self):
        topic, group = "orders", "g-three"
        self.create_topic(topic)
        members = [self.start_member("confluent", group, topic, client_id="c%d" % i)
                   for i in range(3)]
        assignments = self.wait_settled(group, members)
        self.assertEqual(sorted(len(a) for a in assignments), [2, 2, 2])

        # Records produced once the group settled are consumed by exactly one member each.
        first = self.produce(topic, ["a-%d" % i for i in range(300)])
        self.wait_seen(members, first)
        self.assert_consumed_exactly_once(members, first)
        for m in members:
            self.assertTrue(m.records(), "%s consumed nothing" % m.describe())
        self.assert_no_client_errors(members)

        # From here on a producer runs through both rebalances.
        produced = []
        stop = threading.Event()
        failures = []

        def produce_continuously():
            producer = Producer({"bootstrap.servers": self.server.bootstrap, "linger.ms": 5})
            i = 0
            while not stop.is_set():
                value = "b-%d" % i
                producer.produce(topic, value=value.encode(), partition=i % PARTITIONS,
                                 on_delivery=lambda err, msg, v=value: (
                                     failures.append(err) if err else produced.append(v)))
                producer.poll(0)
                i += 1
                time.sleep(0.003)  # pacing (a few hundred records a second), not synchronisation
            if producer.flush(30) != 0:
                failures.append("unacknowledged records at the end")

        producer_thread = threading.Thread(target=produce_continuously)
        producer_thread.start()
        try:
            wait_until(lambda: len(produced) >= 100, 30, "the background producer")

            # A member that closes (LeaveGroup) is replaced at once, not after its session.
            leaver, survivors = members[0], members[1:]
            t0 = time.monotonic()
            leaver.close()
            assignments = self.wait_settled(group, survivors)
            took = time.monotonic() - t0
            self.assertEqual(sorted(len(a) for a in assignments), [3, 3])
            self.assertLess(took, SESSION_TIMEOUT_MS / 1000 * 0.6,
                            "takeover after LeaveGroup took %.1f s" % took)

            # A member that dies is replaced once its session expired.
            victim, survivor = survivors
            seen_before = len(produced)
            wait_until(lambda: len(produced) >= seen_before + 100, 30, "more records")
            t0 = time.monotonic()
            victim.kill()
            assignments = self.wait_settled(group, [survivor],
                                            timeout_s=SESSION_TIMEOUT_MS / 1000 + SETTLE_TIMEOUT_S)
            took = time.monotonic() - t0
            self.assertEqual(assignments, [set(range(PARTITIONS))])
            # The dead member heartbeated at most heartbeat.interval.ms (0.5 s) before it died.
            self.assertGreater(took, SESSION_TIMEOUT_MS / 1000 - 1.0,
                               "the killed member's partitions moved before its session expired")
            seen_before = len(produced)
            wait_until(lambda: len(produced) >= seen_before + 100, 30, "more records")
        finally:
            stop.set()
            producer_thread.join()
        self.assertEqual(failures, [])

        # At least once: every acknowledged record was consumed by some member (the dead one's
        # printed records count; what it had not committed the survivor consumes again).
        self.wait_seen(members, first + produced)
        # Committed offsets were honoured across both rebalances: a record can be consumed again
        # only if the consumption before was not committed (the killed member's last batch, or a
        # commit that raced a rebalance), so no record is in two committed batches.
        committed = {}
        for m in members:
            for record in m.committed_records():
                committed.setdefault(record[2], []).append((m.client_id, record[:2]))
        twice = {v: c for v, c in committed.items() if len(c) > 1}
        self.assertEqual(twice, {}, "records consumed again after their offset was committed")
        self.assertGreater(len(committed), len(first))
        # The survivor, alone now, consumed everything produced after it took over exactly once.
        late = self.produce(topic, ["c-%d" % i for i in range(60)])
        self.wait_seen([survivor], late)
        self.assert_consumed_exactly_once([survivor], late)


class KafkaPythonGroupTest(GroupTestBase):
    def test_two_members_split_and_rebalance_on_close(self):
        topic, group = "events", "g-kpy"
        self.create_topic(topic)
        members = [self.start_member("kafka-python", group, topic, client_id="k%d" % i)
                   for i in range(2)]
        assignments = self.wait_settled(group, members)
        self.assertEqual(sorted(len(a) for a in assignments), [3, 3])
        first = self.produce(topic, ["a-%d" % i for i in range(120)])
        self.wait_seen(members, first)
        self.assert_consumed_exactly_once(members, first)
        self.assert_no_client_errors(members)

        leaver, survivor = members
        t0 = time.monotonic()
        leaver.close()
        self.assertEqual(self.wait_settled(group, [survivor]), [set(range(PARTITIONS))])
        took = time.monotonic() - t0
        self.assertLess(took, SESSION_TIMEOUT_MS / 1000 * 0.6,
                        "takeover after LeaveGroup took %.1f s" % took)
        late = self.produce(topic, ["b-%d" % i for i in range(60)])
        self.wait_seen([survivor], late)
        self.assert_consumed_exactly_once([survivor], late)
        self.assert_no_client_errors(members)


class MixedGroupTest(GroupTestBase):
    def check_mixed_group(self, topic, group, assignor):
        self.create_topic(topic)
        kpy = self.start_member("kafka-python", group, topic, assignor, client_id="kpy")
        rdk = self.start_member("confluent", group, topic, assignor, client_id="rdk")
        assignments = self.wait_settled(group, [kpy, rdk])
        self.assertEqual(sorted(len(a) for a in assignments), [3, 3])
        g = self.describe_group(group)
        self.assertEqual(g.protocol_type, "consumer")
        self.assertEqual(g.protocol, "range")
        self.assertEqual(sorted(m.client_id for m in g.members), ["kpy", "rdk"])
        values = self.produce(topic, ["%s-%d" % (topic, i) for i in range(120)])
        self.wait_seen([kpy, rdk], values)
        self.assert_consumed_exactly_once([kpy, rdk], values)
        self.assertTrue(kpy.records() and rdk.records())
        self.assert_no_client_errors([kpy, rdk])

        # Either client takes over from the other.
        kpy.close()
        self.assertEqual(self.wait_settled(group, [rdk]), [set(range(PARTITIONS))])
        late = self.produce(topic, ["%s-late-%d" % (topic, i) for i in range(60)])
        self.wait_seen([rdk], late)
        self.assert_consumed_exactly_once([rdk], late)
        self.assert_no_client_errors([kpy, rdk])

    def test_mixed_group_range(self):
        self.check_mixed_group("mixed-range", "g-mixed-range", "range")

    def test_mixed_group_default_assignors(self):
        # librdkafka "range,roundrobin" and kafka-python (Range, RoundRobin): range wins the vote.
        self.check_mixed_group("mixed-default", "g-mixed-default", None)


class GroupAdminTest(GroupTestBase):
    def kafka_admin(self):
        admin = KafkaAdminClient(bootstrap_servers=self.server.bootstrap,
                                 client_id="test-groups-admin")
        self.addCleanup(admin.close)
        return admin

    def start_group_with_commits(self, topic, group, count=60):
        self.create_topic(topic)
        members = [self.start_member("confluent", group, topic, "range", client_id="adm%d" % i)
                   for i in range(2)]
        self.wait_settled(group, members)
        values = self.produce(topic, ["%s-%d" % (topic, i) for i in range(count)])
        self.wait_seen(members, values)
        # Every member committed what it consumed: the committed offsets reach the ends.
        per_partition = count // PARTITIONS

        def all_committed():
            committed = {}
            for m in members:
                for e in m.events():
                    if e["event"] == "committed":
                        for p, o in e["offsets"].items():
                            committed[int(p)] = max(committed.get(int(p), 0), o)
            return committed == {p: per_partition for p in range(PARTITIONS)}

        wait_until(all_committed, 30, "the members' commits")
        return members, per_partition

    def test_list_and_describe(self):
        topic, group = "admin-topic", "g-admin"
        members, per_partition = self.start_group_with_commits(topic, group)

        # confluent-kafka: AdminClient.list_groups (ListGroups + DescribeGroups).
        listed = {g.id: g for g in self.admin.list_groups(timeout=10)}
        self.assertIn(group, listed)
        g = listed[group]
        self.assertEqual(g.state, "Stable")
        self.assertEqual(g.protocol_type, "consumer")
        self.assertEqual(g.protocol, "range")
        self.assertEqual(sorted(m.client_id for m in g.members), ["adm0", "adm1"])
        self.assertEqual(len({m.id for m in g.members}), 2)
        for m in g.members:
            self.assertEqual(m.client_host, "/127.0.0.1")
            self.assertTrue(m.metadata, "member metadata missing")
            self.assertTrue(m.assignment, "member assignment missing")
        # librdkafka leaves out a group the coordinator describes as Dead.
        self.assertEqual(self.admin.list_groups(group="no-such-group", timeout=10), [])

        # kafka-python: KafkaAdminClient.
        kadmin = self.kafka_admin()
        self.assertIn((group, "consumer"), kadmin.list_consumer_groups())
        (desc,) = kadmin.describe_consumer_groups([group])
        self.assertEqual(desc.group, group)
        self.assertEqual(desc.state, "Stable")
        self.assertEqual(desc.protocol_type, "consumer")
        self.assertEqual(desc.protocol, "range")
        self.assertEqual(len(desc.members), 2)
        owned = []
        for m in desc.members:
            self.assertEqual(m.client_host, "/127.0.0.1")
            self.assertIn(topic, m.member_metadata.subscription)
            for t, partitions in m.member_assignment.assignment:
                self.assertEqual(t, topic)
                owned.extend(partitions)
        self.assertEqual(sorted(owned), list(range(PARTITIONS)))
        offsets = kadmin.list_consumer_group_offsets(group)
        self.assertEqual(
            {tp.partition: om.offset for tp, om in offsets.items() if tp.topic == topic},
            {p: per_partition for p in range(PARTITIONS)})

        # With every member gone the group is Empty but still listed (it has offsets).
        for m in members:
            m.close()
        wait_until(lambda: self.describe_group(group).state == "Empty", 10, "the group to empty")
        self.assertEqual(self.describe_group(group).members, [])
        self.assertIn((group, "consumer"), kadmin.list_consumer_groups())
        (desc,) = kadmin.describe_consumer_groups([group])
        self.assertEqual((desc.state, desc.members), ("Empty", []))
        (desc,) = kadmin.describe_consumer_groups(["no-such-group"])
        self.assertEqual((desc.error_code, desc.state, desc.members), (0, "Dead", []))

    def test_delete_group(self):
        topic, group = "delete-topic", "g-delete"
        members, per_partition = self.start_group_with_commits(topic, group)
        kadmin = self.kafka_admin()

        # A group with members cannot be deleted.
        self.assertEqual(kadmin.delete_consumer_groups([group]),
                         [(group, kafka_errors.NonEmptyGroupError)])
        self.assertEqual(self.describe_group(group).state, "Stable")
        self.assertEqual(len(kadmin.list_consumer_group_offsets(group)), PARTITIONS)

        for m in members:
            m.close()
        wait_until(lambda: self.describe_group(group).state == "Empty", 10, "the group to empty")
        self.assertEqual(kadmin.delete_consumer_groups([group]), [(group, kafka_errors.NoError)])

        # Gone: no offsets, not listed, described as Dead; deleting again finds nothing.
        self.assertEqual(kadmin.list_consumer_group_offsets(group), {})
        self.assertNotIn(group, [g for g, _ in kadmin.list_consumer_groups()])
        self.assertNotIn(group, [g.id for g in self.admin.list_groups(timeout=10)])
        (desc,) = kadmin.describe_consumer_groups([group])
        self.assertEqual((desc.error_code, desc.state, desc.members), (0, "Dead", []))
        self.assertEqual(kadmin.delete_consumer_groups([group]),
                         [(group, kafka_errors.GroupIdNotFoundError)])

        # A new member of the same group id starts from the beginning again (no offsets left).
        again = self.start_member("confluent", group, topic, "range", client_id="again")
        self.wait_settled(group, [again])
        values = ["%s-%d" % (topic, i) for i in range(PARTITIONS * per_partition)]
        self.wait_seen([again], values)
        self.assert_consumed_exactly_once([again], values)


if __name__ == "__main__":
    unittest.main()
