"""kafka-python (Debian's python3-kafka) against sluice's security: over SSL (with and without a
client certificate), SASL_PLAINTEXT with SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN, and SASL_SSL, it
produces, consumes in a group and commits; a wrong password and an untrusted broker certificate
fail cleanly (no records, the broker still serves others). test_tls.py and test_sasl.py cover the
same with kcat and confluent-kafka (librdkafka)."""

import os
import shutil
import ssl
import subprocess
import tempfile
import unittest

import kafka.errors
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from sluice_server import SLUICE, SluiceServer, ServerTestCase

HERE = os.path.dirname(os.path.abspath(__file__))
MAKE_CERTS = os.path.join(HERE, "..", "support", "make_test_certs.sh")
CERTS = None


def setUpModule():
    global CERTS
    CERTS = tempfile.mkdtemp(prefix="sluice-certs-")
    subprocess.run([MAKE_CERTS, CERTS], check=True, capture_output=True, timeout=120)


def tearDownModule():
    shutil.rmtree(CERTS, ignore_errors=True)


def cert(name):
    return os.path.join(CERTS, name)


def ssl_conf(ca="ca.pem", client=None):
    conf = {"ssl_cafile": cert(ca), "ssl_check_hostname": True}
    if client:
        conf.update({"ssl_certfile": cert(client + ".pem"), "ssl_keyfile": cert(client + ".key")})
    return conf


def sasl_conf(mechanism, user, password):
    return {"sasl_mechanism": mechanism, "sasl_plain_username": user,
            "sasl_plain_password": password}


class KafkaPythonSecurityTest(ServerTestCase):
    def setUp(self):
        self.server = SluiceServer(
            "--ssl-certificate-file", cert("server.pem"), "--ssl-key-file", cert("server.key"),
            "--ssl-ca-file", cert("ca.pem"), "--ssl-client-auth", "requested",
            listeners="SSL://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0")
        for user, password in (("alice", "alice-pw"), ("bob", "bob's pw, with = and ,")):
            out = subprocess.run([SLUICE, "--data-dir", self.server.data_dir, "user", "create",
                                  user, "--password", password], capture_output=True, timeout=60)
            self.assertEqual(out.returncode, 0, out.stderr)
        self.server.start()

    def conf(self, listener, **extra):
        return dict({"bootstrap_servers": self.server.address(listener),
                     "security_protocol": listener, "request_timeout_ms": 20000,
                     "api_version_auto_timeout_ms": 10000}, **extra)

    def round_trip(self, conf, topic, n=100):
        """Produces n records (acks=all), consumes them in a group and commits; checks offsets."""
        producer = KafkaProducer(acks="all", linger_ms=5, **conf)
        try:
            futures = [producer.send(topic, key=b"k%d" % i, value=b"v%d" % i, partition=0)
                       for i in range(n)]
            producer.flush(30)
            offsets = [f.get(timeout=30).offset for f in futures]
        finally:
            producer.close(10)
        self.assertEqual(offsets, list(range(n)))

        consumer = KafkaConsumer(topic, group_id=topic + "-group", auto_offset_reset="earliest",
                                 enable_auto_commit=False, consumer_timeout_ms=20000, **conf)
        try:
            got = []
            for record in consumer:
                got.append((record.offset, record.key, record.value))
                if len(got) == n:
                    break
            self.assertEqual(got, [(i, b"k%d" % i, b"v%d" % i) for i in range(n)])
            consumer.commit()
            self.assertEqual(consumer.committed(TopicPartition(topic, 0)), n)
        finally:
            consumer.close()

    def test_ssl(self):
        self.round_trip(self.conf("SSL", **ssl_conf()), "kp-ssl")

    def test_ssl_with_a_client_certificate(self):
        self.round_trip(self.conf("SSL", **ssl_conf(client="client")), "kp-mtls")

    def test_sasl_plaintext_scram_and_plain(self):
        for mechanism, user, password in (("SCRAM-SHA-256", "alice", "alice-pw"),
                                          ("SCRAM-SHA-512", "bob", "bob's pw, with = and ,"),
                                          ("PLAIN", "alice", "alice-pw")):
            with self.subTest(mechanism=mechanism):
                self.round_trip(self.conf("SASL_PLAINTEXT",
                                          **sasl_conf(mechanism, user, password)),
                                "kp-" + mechanism.lower())

    def test_sasl_ssl_scram_sha_512(self):
        conf = self.conf("SASL_SSL", **ssl_conf())
        conf.update(sasl_conf("SCRAM-SHA-512", "alice", "alice-pw"))
        self.round_trip(conf, "kp-sasl-ssl")

    def test_a_wrong_password_fails_cleanly(self):
        for mechanism in ("SCRAM-SHA-512", "PLAIN"):
            with self.subTest(mechanism=mechanism):
                conf = self.conf("SASL_PLAINTEXT", **sasl_conf(mechanism, "alice", "wrong"))
                # kafka-python cannot bootstrap: no broker it could log in to.
                with self.assertRaises(kafka.errors.NoBrokersAvailable):
                    KafkaProducer(**conf)
        self.assertIn("SASL authentication failed", self.server.log())
        # The broker still serves a client with the right password.
        self.round_trip(self.conf("SASL_PLAINTEXT", **sasl_conf("SCRAM-SHA-512", "alice",
                                                                "alice-pw")), "kp-after", n=5)

    def test_an_untrusted_broker_certificate_fails_the_handshake(self):
        # kafka-python 2.0.2 lets the ssl module's verification error out of the constructor.
        for listener in ("SSL", "SASL_SSL"):
            with self.subTest(listener=listener):
                conf = self.conf(listener, **ssl_conf(ca="other-ca.pem"))
                if listener == "SASL_SSL":
                    conf.update(sasl_conf("SCRAM-SHA-512", "alice", "alice-pw"))
                with self.assertRaises(ssl.SSLCertVerificationError) as raised:
                    KafkaProducer(**conf)
                self.assertIn("certificate verify failed", str(raised.exception))
        self.assertTrue(self.server.alive())

if __name__ == "__main__":
    unittest.main(verbosity=2)
