"""The scenarios the PyPI and npm clients run (tests/clients/test_pypi_clients.py,
tests/clients/test_kafkajs.py): each client's driver (tests/clients/py/*.py, tests/clients/js/*.js)
does the work and prints JSON; the checks here assert on it. Not a test module itself (no
TestCase in it), so importing it adds no tests."""

import json
import os
import subprocess

import client_records as rec
from sluice_server import SLUICE
from test_idempotence import RawKafka

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT_TOOLS = os.path.normpath(os.path.join(HERE, "..", "..", "scripts", "client-tools.sh"))
CODEC_IDS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
RECORDS = 300       # per produce scenario, partition 0
PARTITIONS = 4      # of the group scenario's topic; it produces 16 records per partition
CONFIGS = {"retention.ms": "3600000", "max.message.bytes": "200000", "cleanup.policy": "delete",
           "message.timestamp.type": "LogAppendTime"}


def client_tools(*args, timeout=600):
    """scripts/client-tools.sh; a failure (a client that cannot be installed) fails the test."""
    out = subprocess.run([CLIENT_TOOLS] + list(args), capture_output=True, timeout=timeout)
    if out.returncode != 0:
        raise AssertionError("client-tools.sh %s exited %d:\n%s" % (
            " ".join(args), out.returncode, out.stderr.decode(errors="replace")))
    return out.stdout.decode().strip()


def run_driver(command, *args, timeout=60, expect_failure=False):
    """Runs a driver (command: the interpreter and script) and returns its JSON. A non-zero exit
    fails the test unless expect_failure, which returns the JSON the driver printed then."""
    out = subprocess.run(list(command) + [str(a) for a in args], capture_output=True,
                         timeout=timeout)
    stderr = out.stderr.decode(errors="replace")
    if out.returncode != 0 and not expect_failure:
        raise AssertionError("%s %s exited %d:\n%s\n%s" % (
            " ".join(command), " ".join(map(str, args)), out.returncode, stderr[-20000:],
            out.stdout.decode(errors="replace")[:2000]))
    try:
        return json.loads(out.stdout)
    except ValueError:
        raise AssertionError("%s printed no JSON (exit %d):\n%s" % (
            " ".join(command), out.returncode, stderr[-20000:]))


def create_topic(server, topic, partitions, *configs):
    """Creates a topic on the running server with `sluice --broker ... topic create`."""
    cmd = [SLUICE, "--broker", server.bootstrap, "topic", "create", topic, "--partitions",
           str(partitions)]
    for c in configs:
        cmd += ["--config", c]
    subprocess.run(cmd, check=True, capture_output=True, timeout=30)


def sluice_produce(bootstrap, topic, lines, *flags):
    """`sluice --broker BOOTSTRAP produce TOPIC` of `lines`, one record per line."""
    out = subprocess.run([SLUICE, "--broker", bootstrap, "produce", topic] + list(flags),
                         input="".join("%s\n" % line for line in lines).encode(),
                         capture_output=True, timeout=60)
    if out.returncode != 0:
        raise AssertionError("sluice produce exited %d: %s" % (out.returncode, out.stderr.decode()))


def line(i):
    return "line %d %s" % (i, "abcdefgh" * (i % 40))


def expected(i, partition, offset):
    r = rec.as_json(i)
    r.update(partition=partition, offset=offset)
    return r


def strip(records):
    """Consumed records without the group scenario's bookkeeping (phase, assignment)."""
    return [{k: r[k] for k in ("partition", "offset", "key", "value", "headers")} for r in records]


class Checks:
    """Assertions shared by the clients' TestCases (mixed into a ServerTestCase, which has
    self.server and self.driver, the driver's command)."""

    def check_idempotent_produce(self, codec, topic):
        """The client's idempotent producer sends RECORDS records with `codec`; they land in order,
        stored in batches of that codec with a producer id and sequences that follow the offsets;
        the same client consumes them back byte for byte."""
        got = run_driver(self.driver, "produce", self.server.bootstrap, topic, codec, RECORDS)
        self.assertEqual(got["delivered"], [[i, 0, i] for i in range(RECORDS)], codec)
        with RawKafka(self.server.port) as conn:
            batches = [h for h, _ in conn.fetch_batches(topic, 0, version=11, decode=False)]
        self.assertEqual({h["codec"] for h in batches}, {CODEC_IDS[codec]}, codec)
        self.assertEqual(sum(h["count"] for h in batches), RECORDS, codec)
        self.assertEqual(len({h["producer_id"] for h in batches}), 1, codec)
        self.assertGreaterEqual(batches[0]["producer_id"], 0, codec)  # idempotent: it has an id
        for h in batches:  # one producer from the topic's start: sequence == offset
            self.assertEqual(h["base_sequence"], h["base_offset"], codec)
        consumed = run_driver(self.driver, "consume", self.server.bootstrap, topic, RECORDS)
        self.assertEqual(consumed["records"], [expected(i, 0, i) for i in range(RECORDS)], codec)

    def check_group(self, result):
        """Two members, then one (see confluent_driver.group()): each assignment as expected,
        every record consumed exactly once by the member that held its partition, byte for byte,
        every commit accepted, the committed offsets at the end of every partition."""
        a, b = result["members"]["a"], result["members"]["b"]
        every = list(range(PARTITIONS))
        self.assertEqual(a["commit_errors"], [])
        self.assertEqual(b["commit_errors"], [])
        self.assertEqual(a["assignments"][0], every)
        self.assertEqual(len(b["assignments"]), 1, b["assignments"])
        b_parts = b["assignments"][0]
        a_parts = a["assignments"][-2]
        self.assertTrue(a_parts and b_parts, (a_parts, b_parts))
        self.assertEqual(sorted(a_parts + b_parts), every)
        self.assertEqual(a["assignments"][-1], every)
        self.assertEqual(len(a["assignments"]), 3, a["assignments"])

        consumed = a["records"] + b["records"]
        keys = sorted((r["partition"], r["offset"]) for r in consumed)
        self.assertEqual(keys, [(p, o) for p in every for o in range(16)])  # each exactly once
        for r in consumed:
            self.assertEqual(strip([r])[0], expected(r["offset"] * PARTITIONS + r["partition"],
                                                     r["partition"], r["offset"]))
        def phase(rs, n):
            return sorted((r["partition"], r["offset"]) for r in rs if r["phase"] == n)
        self.assertEqual(phase(a["records"], 1), [(p, o) for p in every for o in range(4)])
        self.assertEqual(phase(b["records"], 1), [])
        self.assertEqual(phase(a["records"], 2), [(p, o) for p in a_parts for o in range(4, 12)])
        self.assertEqual(phase(b["records"], 2), [(p, o) for p in b_parts for o in range(4, 12)])
        self.assertEqual(phase(a["records"], 3), [(p, o) for p in every for o in range(12, 16)])
        self.assertEqual(phase(b["records"], 3), [])
        self.assertEqual(result["committed"], {str(p): 16 for p in every})

    def check_described(self, configs):
        for key, value in CONFIGS.items():
            self.assertEqual(configs[key], {"value": value, "source": "DYNAMIC_TOPIC_CONFIG"}, key)
        default = "DEFAULT_CONFIG"
        self.assertEqual(configs["compression.type"], {"value": "producer", "source": default})
        self.assertEqual(configs["segment.bytes"], {"value": "1073741824", "source": default})
        self.assertEqual(configs["min.insync.replicas"], {"value": "1", "source": default})
