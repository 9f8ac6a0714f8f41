"""Apache Kafka 4.4's console tools against `sluice serve` and against Apache Kafka 4.4 itself, with
what they print compared (differential):

- kafka-console-producer (ConsoleProducer) reading keys and headers from its input
  (parse.key/key.separator, parse.headers);
- kafka-console-consumer (ConsoleConsumer) --from-beginning --group --max-messages, printing
  partition, offset, headers, key and value; a second run in the same group gets only what was
  produced after the first run committed;
- kafka-consumer-groups --list with --state (ListGroups v4+, KIP-518's states filter) and --type
  (v5, KIP-848's types filter), over an Empty group with members gone, a group known only by
  committed offsets and a Stable group with a live member.

The two brokers run the scenario at the same time (each tool is a JVM start)."""

# ctest-label: compat

import json
import time
import unittest

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from kafka_fixture import (CONSOLE_CONSUMER, CONSOLE_PRODUCER, CONSUMER_GROUPS, KafkaBroker,
                           kafka_tool, run_on_both)
from sluice_server import SluiceServer

TOPIC = "console"
# Headers, a tab, then key:value (the producer's headers.delimiter and key.separator).
FIRST = ["h1:a,h2:b\tk1:hello", "h1:c\tk2:world", "trace:x-1\tk1:again", "h1:\tk3:empty header",
         "h2:d,h3:e\tk2:last of five"]
SECOND = ["h1:f\tk4:after", "h1:g\tk5:the end"]


def tool(main_class, *args, stdin=None):
    out = kafka_tool(main_class, *args, stdin=stdin, timeout=120)
    return out.returncode, out.stdout.decode(errors="replace"), out.stderr.decode(errors="replace")


def lines(text):
    """Tool output without log lines and blank lines, each run of blanks made one space."""
    rows = [" ".join(l.split()) for l in text.splitlines()]
    return [r for r in rows if r and not r.startswith(("WARN", "[", "SLF4J"))]


def produce(bootstrap, records):
    rc, out, err = tool(CONSOLE_PRODUCER, "--bootstrap-server", bootstrap, "--topic", TOPIC,
                        "--reader-property", "parse.key=true",
                        "--reader-property", "key.separator=:",
                        "--reader-property", "parse.headers=true",
                        stdin=("\n".join(records) + "\n").encode())
    assert rc == 0, err[-3000:]


def consume(bootstrap, group, n):
    rc, out, err = tool(CONSOLE_CONSUMER, "--bootstrap-server", bootstrap, "--topic", TOPIC,
                        "--from-beginning", "--group", group, "--max-messages", str(n),
                        "--timeout-ms", "30000",
                        "--formatter-property", "print.partition=true",
                        "--formatter-property", "print.offset=true",
                        "--formatter-property", "print.headers=true",
                        "--formatter-property", "print.key=true",
                        "--formatter-property", "key.separator=:")
    return rc, [l for l in lines(out)], [l for l in lines(err) if "Processed a total" in l]


def live_member(bootstrap, group):
    """A member with its partitions assigned (the group is Stable)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                  "session.timeout.ms": 30000})
    c.subscribe([TOPIC])
    deadline = time.monotonic() + 60
    while not c.assignment() and time.monotonic() < deadline:
        c.poll(0.2)
    assert c.assignment(), "no assignment within 60 s"
    return c


def commit_only(bootstrap, group):
    """A group known only by its committed offsets (assign() mode, no membership)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "enable.auto.commit": False})
    c.commit(offsets=[TopicPartition(TOPIC, 0, 3)], asynchronous=False)
    c.close()


def groups(bootstrap, *args):
    rc, out, err = tool(CONSUMER_GROUPS, "--bootstrap-server", bootstrap, "--list", *args)
    rows = lines(out)
    # A table (GROUP STATE ...) with --state/--type: header first, then rows in any order.
    return rc, rows[:1] + sorted(rows[1:]) if args else sorted(rows), err[-2000:] if rc else ""


def scenario(bootstrap):
    seen = {}
    admin = AdminClient({"bootstrap.servers": bootstrap})
    (future,) = admin.create_topics([NewTopic(TOPIC, 1, 1)], operation_timeout=30).values()
    future.result(timeout=60)

    produce(bootstrap, FIRST)
    seen["first"] = consume(bootstrap, "readers", len(FIRST))
    produce(bootstrap, SECOND)
    seen["second"] = consume(bootstrap, "readers", len(SECOND))

    commit_only(bootstrap, "committed-only")
    member = live_member(bootstrap, "live")
    try:
        seen["list"] = groups(bootstrap)
        seen["list-stable"] = groups(bootstrap, "--state", "Stable")
        seen["list-empty"] = groups(bootstrap, "--state", "empty")
        seen["list-classic"] = groups(bootstrap, "--type", "classic")
        seen["list-consumer"] = groups(bootstrap, "--type", "consumer")
    finally:
        member.close()
    return seen


class KafkaConsoleToolsTest(unittest.TestCase):
    def test_console_tools_against_sluice_and_kafka(self):
        sluice = SluiceServer("--group-initial-rebalance-delay-ms", "0")
        kafka = KafkaBroker()

        def run(name, broker):
            return scenario(broker.bootstrap)

        started = time.monotonic()
        try:
            results = run_on_both(sluice, kafka, run)
            s, k = results["sluice"], results["kafka"]
            for name in ("sluice", "kafka"):
                print("%s: %s" % (name, json.dumps(results[name], sort_keys=True, indent=1)))
            print("scenario on both brokers: %.1f s" % (time.monotonic() - started))

            # What sluice must show on its own: every record once, in order, with its headers.
            rc, printed, summary = s["first"]
            self.assertEqual(rc, 0)
            self.assertEqual(len(printed), len(FIRST))
            self.assertEqual(summary, ["Processed a total of %d messages" % len(FIRST)])
            self.assertIn("Offset:0", printed[0])
            self.assertIn("h1:a,h2:b", printed[0])
            self.assertTrue(printed[0].endswith("k1:hello"), printed[0])
            self.assertTrue(printed[4].endswith("k2:last of five"), printed[4])
            rc, printed, _ = s["second"]
            self.assertEqual(rc, 0)
            self.assertEqual(len(printed), len(SECOND))
            self.assertIn("Offset:%d" % len(FIRST), printed[0])
            self.assertTrue(printed[1].endswith("k5:the end"), printed[1])
            self.assertEqual(s["list"][0], 0)
            self.assertIn("live", s["list"][1])
            stable_rows = s["list-stable"][1][1:]
            self.assertEqual([r.split()[0] for r in stable_rows], ["live"])
            empty_rows = s["list-empty"][1][1:]
            self.assertEqual(sorted(r.split()[0] for r in empty_rows),
                             ["committed-only", "readers"])

            # The same as Apache Kafka 4.4.
            for key in k:
                self.assertEqual(s[key], k[key], key)
        finally:
            sluice.cleanup()
            kafka.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
