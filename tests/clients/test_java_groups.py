"""Apache Kafka 4.4's Java consumer in one group whose members come and go, against `sluice serve`
and against Apache Kafka 4.4 itself, with the observable results compared (differential). Classic
group protocol, cooperative-sticky assignor, a 6-partition topic made with the Java AdminClient
(CreateTopics v7: partitions, replication factor, configs and topic id in the answer):

  m1, m2 (one JVM) and m3 (another) join; 60 records flow; m1 leaves (close: LeaveGroup); m4
  joins; 60 more records; m3's JVM is killed (SIGKILL: no LeaveGroup, its session expires); 60
  more records; m2 and m4 leave.

After each change the group settles (each partition owned by exactly one live member, counts
balanced), and each rebalance is incremental as the cooperative protocol promises: a member never
has a partition revoked that it still owns once the group has settled (from the members' own
onPartitionsRevoked/onPartitionsAssigned callbacks). Every record is consumed at least once and
the committed offsets end at the log end. Both brokers must give the same shapes: settled owner
counts, partitions moved per change, committed and end offsets, the group's final state, and the
CreateTopics answer (but for the configs sluice describes differently, test_config_diff.py)."""

# ctest-label: compat

import json
import threading
import time
import unittest

from java_driver import CompiledScenario
from kafka_fixture import KafkaBroker, run_on_both
from sluice_server import SluiceServer

TOPIC = "coop"
GROUP = "coop-group"
PARTITIONS = 6
PER_PHASE = 60
# The same client settings against both brokers: a short session, so a killed member is noticed
# in seconds (Kafka's broker is started with group.min.session.timeout.ms=1000 to allow it).
SETTINGS = ["session.timeout.ms=4000", "heartbeat.interval.ms=400"]
SETTLE_S = 45


def owners(events, members):
    """{member: set of partitions} from the members' callbacks, in order."""
    owned = {m: set() for m in members}
    for e in events:
        m = e.get("member")
        if m not in owned:
            continue
        if e["ev"] == "assigned":
            owned[m] |= set(e["partitions"])
        elif e["ev"] in ("revoked", "lost"):
            owned[m] -= set(e["partitions"])
        elif e["ev"] == "closed":
            owned[m] = set()
    return owned


class Scenario:
    """The scenario against one broker; returns what it observed (see KafkaJavaGroupsTest)."""

    def __init__(self, compiled, bootstrap):
        self.compiled = compiled
        self.bootstrap = bootstrap
        self.host = None
        self.victim = None
        self.snapshots = []  # (live members, {member: partitions}, event counts (host, victim))
        self.violations = []

    def events(self):
        with self.host.cond:
            return self.host.events + self.victim.events

    def settled(self, live):
        """Waits until `live` own every partition between them, each some and balanced."""
        def check(_):  # under the drivers' shared lock
            owned = owners(self.host.events + self.victim.events, live)
            sets = [owned[m] for m in live]
            union = set().union(*sets)
            sizes = [len(s) for s in sets]
            if (union == set(range(PARTITIONS)) and sum(sizes) == PARTITIONS and min(sizes) > 0
                    and max(sizes) - min(sizes) <= 1):
                return owned
            return None
        owned = self.host.wait_for(check, SETTLE_S, "the group settling on %s" % sorted(live))
        counts = (len(self.host.events), len(self.victim.events))
        if self.snapshots:
            self.check_cooperative(self.snapshots[-1], owned, counts)
        self.snapshots.append((sorted(live), owned, counts))
        return owned

    def check_cooperative(self, before, after, counts):
        """No member had a partition revoked that it owned before and after this change."""
        _, owned_before, (h0, v0) = before
        window = self.host.events[h0:counts[0]] + self.victim.events[v0:counts[1]]
        for e in window:
            if e["ev"] != "revoked":
                continue
            m = e["member"]
            kept = owned_before.get(m, set()) & after.get(m, set())
            if kept & set(e["partitions"]):
                self.violations.append("%s revoked %s, which it kept" %
                                       (m, sorted(kept & set(e["partitions"]))))

    def consumed(self, n):
        """Waits until records 0..n-1 (n / PARTITIONS per partition) were all consumed."""
        want = {(p, o) for p in range(PARTITIONS) for o in range(n // PARTITIONS)}

        def check(_):  # under the drivers' shared lock
            got = {tuple(r) for e in self.host.events + self.victim.events
                   if e["ev"] == "records" for r in e["records"]}
            return want <= got
        self.host.wait_for(check, SETTLE_S, "records 0..%d consumed" % (n - 1))

    def run(self):
        seen = {}
        cond = threading.Condition()  # one for both drivers: a wait wakes at either's events
        self.host = self.compiled.start(self.bootstrap, *SETTINGS, cond=cond)
        self.victim = self.compiled.start(self.bootstrap, *SETTINGS, cond=cond)
        try:
            for d in (self.host, self.victim):
                d.wait_for(lambda evs: any(e["ev"] == "ready" for e in evs), 60, "JVM start")
            created = self.host.command("created", "create", TOPIC, PARTITIONS,
                                        "retention.ms=3600000")
            seen["created"] = {k: created[k] for k in ("partitions", "replication_factor",
                                                       "topic_id_zero")}
            seen["created_configs"] = created["configs"]

            self.host.send("join", "m1", GROUP, TOPIC)
            self.host.send("join", "m2", GROUP, TOPIC)
            self.victim.send("join", "m3", GROUP, TOPIC)
            self.settled({"m1", "m2", "m3"})
            self.host.command("produced", "produce", TOPIC, 0, PER_PHASE, PARTITIONS)
            self.consumed(PER_PHASE)

            self.host.command("closed", "leave", "m1")
            self.settled({"m2", "m3"})
            self.host.send("join", "m4", GROUP, TOPIC)
            self.settled({"m2", "m3", "m4"})
            self.host.command("produced", "produce", TOPIC, PER_PHASE, PER_PHASE, PARTITIONS)
            self.consumed(2 * PER_PHASE)

            killed_at = time.monotonic()
            self.victim.kill()
            self.settled({"m2", "m4"})
            seen["noticed_kill_within_s"] = time.monotonic() - killed_at < SETTLE_S
            self.host.command("produced", "produce", TOPIC, 2 * PER_PHASE, PER_PHASE, PARTITIONS)
            self.consumed(3 * PER_PHASE)

            self.host.command("closed", "leave", "m2")
            self.host.command("closed", "leave", "m4")
            offsets = self.host.command("offsets", "offsets", GROUP, TOPIC)
            seen["committed"] = offsets["committed"]
            seen["end"] = offsets["end"]
            seen["final_state"] = (offsets["state"], offsets["members"])
            # Shapes: the owner counts of each settled group, and how many partitions changed
            # owner at each change.
            seen["settled"] = [sorted(len(o[m]) for m in live)
                               for live, o, _ in self.snapshots]
            moved = []
            for (_, before, _), (_, after, _) in zip(self.snapshots, self.snapshots[1:]):
                where = {p: m for m, ps in before.items() for p in ps}
                moved.append(sum(1 for m, ps in after.items() for p in ps if where.get(p) != m))
            seen["moved"] = moved
            seen["violations"] = self.violations
            seen["revocations_seen"] = sum(1 for e in self.events() if e["ev"] == "revoked"
                                           and e["partitions"])
            self.host.quit()
            return seen
        finally:
            self.host.cleanup()
            self.victim.cleanup()


class KafkaJavaGroupsTest(unittest.TestCase):
    def test_cooperative_group_on_sluice_and_kafka(self):
        compiled = CompiledScenario()
        sluice = SluiceServer("--group-initial-rebalance-delay-ms", "0")
        kafka = KafkaBroker("group.min.session.timeout.ms=1000")

        def run(name, broker):
            return Scenario(compiled, broker.bootstrap).run()

        started = time.monotonic()
        try:
            results = run_on_both(sluice, kafka, run)
            s, k = results["sluice"], results["kafka"]
            for name in ("sluice", "kafka"):
                shown = dict(results[name])
                shown.pop("created_configs")
                print("%s: %s" % (name, json.dumps(shown, sort_keys=True)))
            print("both scenarios: %.1f s" % (time.monotonic() - started))

            # What sluice must show on its own.
            self.assertEqual(s["created"], {"partitions": PARTITIONS, "replication_factor": 1,
                                            "topic_id_zero": False})
            self.assertEqual(s["created_configs"]["retention.ms"][:2],
                             ["3600000", "DYNAMIC_TOPIC_CONFIG"])
            self.assertEqual(s["created_configs"]["cleanup.policy"][:2],
                             ["delete", "DEFAULT_CONFIG"])
            self.assertEqual(s["violations"], [])
            self.assertGreater(s["revocations_seen"], 0)
            self.assertEqual(s["settled"], [[2, 2, 2], [3, 3], [2, 2, 2], [3, 3]])
            self.assertEqual(s["moved"], [2, 2, 2])
            end = {str(p): 3 * PER_PHASE // PARTITIONS for p in range(PARTITIONS)}
            self.assertEqual(s["end"], end)
            self.assertEqual(s["committed"], end)
            self.assertEqual((s["final_state"][0].upper(), s["final_state"][1]), ("EMPTY", 0))

            # The same as Apache Kafka 4.4.
            for key in ("created", "violations", "settled", "moved", "committed", "end",
                        "final_state", "noticed_kill_within_s"):
                self.assertEqual(s[key], k[key], key)
            # CreateTopics v7's configs: the same keys but sluice's own, with the values and
            # sources test_config_diff.py allows to differ.
            sluice_only = {"flush", "flush.bytes", "producer.id.expiration.ms",
                           "compression.zstd.dictionary"}
            differ = {"max.message.bytes", "flush.ms", "min.insync.replicas"}
            self.assertEqual(set(s["created_configs"]) - set(k["created_configs"]), sluice_only)
            self.assertEqual(set(k["created_configs"]) - set(s["created_configs"]), set())
            for key, value in k["created_configs"].items():
                if key not in differ:
                    self.assertEqual(s["created_configs"][key], value, key)
        finally:
            sluice.cleanup()
            kafka.cleanup()
            compiled.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
