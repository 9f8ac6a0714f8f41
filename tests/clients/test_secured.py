"""The three security parts together, as the README's "Securing sluice" sets them up: a SASL_SSL
listener (TLS, then a SCRAM login), SCRAM users made with `sluice user`, and the ACL authorizer
with a super user. kcat and confluent_kafka (librdkafka 2.0.2) log in as real users: the super user
produces, a user with READ on the topic and its group consumes, the same user may not write, a
user without READ gets TOPIC_AUTHORIZATION_FAILED, a wrong password gets an authentication error,
and a client that does not trust the broker's CA gets no further than the handshake."""

import os
import shutil
import subprocess
import tempfile
import unittest

from confluent_kafka import Consumer, TopicPartition

from sluice_server import SLUICE, SluiceServer, ServerTestCase
from test_idempotence import create_topic

HERE = os.path.dirname(os.path.abspath(__file__))
MAKE_CERTS = os.path.join(HERE, "..", "support", "make_test_certs.sh")


def sluice(data_dir, *args):
    out = subprocess.run([SLUICE, "--data-dir", data_dir] + list(args), capture_output=True,
                         timeout=60)
    if out.returncode != 0:
        raise AssertionError("sluice %s exited %d:\n%s" % (" ".join(args), out.returncode,
                                                            out.stderr.decode(errors="replace")))
    return out.stdout.decode()


class SecuredBrokerTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.certs = tempfile.mkdtemp(prefix="sluice-certs-")
        subprocess.run([MAKE_CERTS, cls.certs], check=True, capture_output=True, timeout=120)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.certs, ignore_errors=True)

    def setUp(self):
        c = lambda name: os.path.join(self.certs, name)
        self.server = SluiceServer("--ssl-certificate-file", c("server.pem"),
                                   "--ssl-key-file", c("server.key"),
                                   "--authorizer", "acl", "--super-users", "User:admin",
                                   listeners="SASL_SSL://127.0.0.1:0")
        d = self.server.data_dir
        create_topic(d, "orders", 1)
        for user, password in (("admin", "admin-pw"), ("alice", "alice-pw"), ("bob", "bob-pw")):
            sluice(d, "user", "create", user, "--password", password)
        sluice(d, "acl", "add", "--allow-principal", "User:alice", "--operation", "Read",
               "--topic", "orders")
        sluice(d, "acl", "add", "--allow-principal", "User:alice", "--operation", "Read",
               "--group", "readers")
        self.server.start()

    def conf(self, user, password, ca="ca.pem"):
        return {"bootstrap.servers": self.server.bootstrap, "security.protocol": "SASL_SSL",
                "ssl.ca.location": os.path.join(self.certs, ca),
                "sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": user,
                "sasl.password": password}

    def kcat(self, conf, *args, stdin=None):
        cmd = ["kcat"]
        for k, v in conf.items():
            cmd += ["-X" if k != "bootstrap.servers" else "-b",
                    "%s=%s" % (k, v) if k != "bootstrap.servers" else v]
        return subprocess.run(cmd + list(args), input=stdin, capture_output=True, timeout=60)

    def test_users_and_acls_over_sasl_ssl(self):
        # The super user writes (no ACL names it).
        out = self.kcat(self.conf("admin", "admin-pw"), "-P", "-t", "orders",
                        stdin=b"o1\no2\n")
        self.assertEqual(out.returncode, 0, out.stderr)

        # alice reads in her group and commits.
        consumer = Consumer(dict(self.conf("alice", "alice-pw"), **{
            "group.id": "readers", "auto.offset.reset": "earliest", "enable.auto.commit": False}))
        try:
            consumer.assign([TopicPartition("orders", 0, 0)])
            values = []
            while len(values) < 2:
                msg = consumer.poll(20)
                self.assertIsNotNone(msg, "alice read nothing")
                self.assertIsNone(msg.error(), msg.error())
                values.append(msg.value())
            self.assertEqual(values, [b"o1", b"o2"])
            consumer.commit(asynchronous=False)
        finally:
            consumer.close()

        # alice may not write; bob may not read.
        out = self.kcat(self.conf("alice", "alice-pw"), "-P", "-t", "orders", stdin=b"x\n")
        self.assertIn(b"Topic authorization failed", out.stderr)
        out = self.kcat(self.conf("bob", "bob-pw"), "-C", "-t", "orders", "-o", "beginning", "-e")
        self.assertNotEqual(out.returncode, 0)
        self.assertIn(b"Topic authorization failed", out.stderr)
        log = self.server.log()
        self.assertIn("Principal = User:alice is Denied Operation = WRITE", log)
        self.assertIn("Principal = User:bob is Denied Operation = ", log)

        # Nothing alice tried to write was stored.
        out = self.kcat(self.conf("admin", "admin-pw"), "-C", "-t", "orders", "-o", "beginning",
                        "-e", "-q")
        self.assertEqual(out.stdout, b"o1\no2\n")

    def test_a_wrong_password_or_an_untrusted_broker_gets_no_further(self):
        out = self.kcat(self.conf("alice", "wrong"), "-L")
        self.assertNotEqual(out.returncode, 0)
        self.assertIn(b"SASL authentication error", out.stderr)
        out = self.kcat(self.conf("alice", "alice-pw", ca="other-ca.pem"), "-L")
        self.assertNotEqual(out.returncode, 0)
        self.assertIn(b"certificate verify failed", out.stderr)
        self.assertIn("SASL authentication failed", self.server.log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
