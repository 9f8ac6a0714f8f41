"""The Apache Kafka 4.4 fixture works (scripts/kafka-fixture.sh, kafka_fixture.py), and the same
small scenario gives the same observable results against Kafka and against sluice: kafka-topics
(TopicCommand) creates a topic, kcat produces keyed records and reads them back with their offsets,
the Java client (kafka-clients 4.4) produces with idempotence and consumes in a group, and
kafka-topics describes the topic's partition count; and kafka-python 2.0.2 logs in over
SASL_PLAINTEXT (SaslHandshake v0 and raw tokens) with PLAIN and SCRAM-SHA-512 on both. This is the
smoke test of the fixture that the differential tests build on."""

# ctest-label: compat

import json
import subprocess
import unittest

from java_client import JavaClient
from kafka_fixture import CONFIG_COMMAND, TOPIC_COMMAND, KafkaBroker, kafka_tool
from sluice_server import SLUICE, SluiceServer

# A Kafka broker with a second listener, SASL_PLAINTEXT, offering PLAIN (alice, from the JAAS
# line, as Kafka keeps PLAIN passwords) and SCRAM-SHA-512 (users made with kafka-configs).
KAFKA_SASL = [
    "listeners=PLAINTEXT://127.0.0.1:@PORT@,CONTROLLER://127.0.0.1:@CONTROLLER_PORT@,"
    "SASL_PLAINTEXT://127.0.0.1:@PORT2@",
    "advertised.listeners=PLAINTEXT://127.0.0.1:@PORT@,SASL_PLAINTEXT://127.0.0.1:@PORT2@",
    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,"
    "SASL_PLAINTEXT:SASL_PLAINTEXT",
    "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-512",
    "listener.name.sasl_plaintext.plain.sasl.jaas.config="
    "org.apache.kafka.common.security.plain.PlainLoginModule required user_alice=\"alice-pw\";",
    "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config="
    "org.apache.kafka.common.security.scram.ScramLoginModule required;",
]


def kafka_python_sasl(bootstrap):
    """kafka-python 2.0.2 (SaslHandshake v0, raw tokens) logs in with PLAIN and SCRAM-SHA-512 and
    produces; a wrong password finds no broker. Returns what it observed."""
    from kafka import KafkaProducer
    import kafka.errors
    seen = []
    for mechanism, user, password in (("PLAIN", "alice", "alice-pw"),
                                      ("SCRAM-SHA-512", "bob", "bob-pw"),
                                      ("SCRAM-SHA-512", "bob", "wrong")):
        # retries: the first produce to a topic Kafka auto-creates may meet NOT_LEADER while its
        # leader is being elected (seen in CI), a retriable error that kafka-python (retries=0
        # by default) would otherwise raise.
        conf = {"bootstrap_servers": bootstrap, "security_protocol": "SASL_PLAINTEXT",
                "sasl_mechanism": mechanism, "sasl_plain_username": user,
                "sasl_plain_password": password, "api_version_auto_timeout_ms": 10000,
                "retries": 5}
        try:
            producer = KafkaProducer(**conf)
        except kafka.errors.NoBrokersAvailable:
            seen.append((mechanism, user, "no broker available"))
            continue
        try:
            offset = producer.send("sasl", b"x", partition=0).get(timeout=30).offset
        finally:
            producer.close(10)
        seen.append((mechanism, user, offset))
    return seen


def kcat(*args, stdin=None):
    out = subprocess.run(["kcat"] + list(args), input=stdin, capture_output=True, timeout=60)
    if out.returncode != 0:
        raise AssertionError("kcat %s exited %d:\n%s" % (" ".join(args), out.returncode,
                                                         out.stderr.decode(errors="replace")))
    return out.stdout.decode()


def scenario(test, bootstrap, java):
    """Runs the scenario against one broker and returns what a client can observe of it."""
    seen = {}
    out = kafka_tool(TOPIC_COMMAND, "--bootstrap-server", bootstrap, "--create", "--topic",
                     "smoke", "--partitions", "2", "--replication-factor", "1")
    test.assertEqual(out.returncode, 0, out.stderr.decode(errors="replace"))
    test.assertIn(b"Created topic smoke.", out.stdout)

    # kcat: 20 keyed records into partition 1, read back with offsets.
    lines = b"".join(b"key-%d\tvalue-%d\n" % (i, i) for i in range(20))
    kcat("-P", "-b", bootstrap, "-t", "smoke", "-p", "1", "-K", "\t", stdin=lines)
    seen["kcat"] = kcat("-C", "-b", bootstrap, "-t", "smoke", "-p", "1", "-o", "beginning", "-e",
                        "-q", "-f", "%p %o %k=%s\n")
    test.assertEqual(len(seen["kcat"].splitlines()), 20)

    # The Java client: 50 records into partition 0 (idempotent), consumed in a group, committed.
    rc, lines = java.run({"bootstrap.servers": bootstrap}, "smoke", 50, "smoke-group")
    test.assertEqual(rc, 0, "%s\n%s" % (lines, java.last_stderr))
    seen["java"] = lines

    out = kafka_tool(TOPIC_COMMAND, "--bootstrap-server", bootstrap, "--describe", "--topic",
                     "smoke")
    test.assertEqual(out.returncode, 0, out.stderr.decode(errors="replace"))
    seen["partitions"] = [l.split("\t")[2] for l in out.stdout.decode().splitlines()
                          if l.startswith("\tTopic: smoke\tPartition:")]
    return seen


class KafkaFixtureTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.java = JavaClient()

    @classmethod
    def tearDownClass(cls):
        cls.java.cleanup()

    def test_the_same_scenario_against_kafka_and_sluice(self):
        with KafkaBroker() as kafka:
            try:
                on_kafka = scenario(self, kafka.bootstrap, self.java)
            except Exception:
                print(kafka.log()[-3000:])
                raise
        self.assertFalse(kafka.alive())
        with SluiceServer() as sluice:
            try:
                on_sluice = scenario(self, sluice.bootstrap, self.java)
            except Exception:
                print(sluice.log())
                raise
        self.assertEqual(on_kafka["java"], [
            {"produced": 50, "first_offset": 0, "last_offset": 49},
            {"consumed": 50, "first_offset": 0, "last_offset": 49, "committed": 50}])
        self.assertEqual(on_kafka["kcat"].splitlines()[0], "1 0 key-0=value-0")
        self.assertEqual(on_kafka["partitions"], ["Partition: 0", "Partition: 1"])
        self.assertEqual(json.dumps(on_sluice, sort_keys=True),
                         json.dumps(on_kafka, sort_keys=True))

    def test_kafka_python_sasl_logins_against_kafka_and_sluice(self):
        with KafkaBroker(*KAFKA_SASL) as kafka:
            out = kafka_tool(CONFIG_COMMAND, "--bootstrap-server", kafka.bootstrap, "--alter",
                             "--add-config", "SCRAM-SHA-512=[password=bob-pw]", "--entity-type",
                             "users", "--entity-name", "bob")
            self.assertEqual(out.returncode, 0, out.stderr.decode(errors="replace"))
            with open(kafka.dir + "/kafka.port2") as f:
                on_kafka = kafka_python_sasl("127.0.0.1:" + f.read().strip())
        sluice = SluiceServer(listeners="SASL_PLAINTEXT://127.0.0.1:0")
        try:
            for user, password in (("alice", "alice-pw"), ("bob", "bob-pw")):
                subprocess.run([SLUICE, "--data-dir", sluice.data_dir, "user", "create", user,
                                "--password", password], check=True, capture_output=True,
                               timeout=60)
            sluice.start()
            on_sluice = kafka_python_sasl(sluice.bootstrap)
        finally:
            sluice.cleanup()
        self.assertEqual(on_kafka, [("PLAIN", "alice", 0), ("SCRAM-SHA-512", "bob", 1),
                                    ("SCRAM-SHA-512", "bob", "no broker available")])
        self.assertEqual(on_sluice, on_kafka)


if __name__ == "__main__":
    unittest.main(verbosity=2)
