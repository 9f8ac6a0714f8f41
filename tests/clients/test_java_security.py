"""sluice's security with Apache Kafka's own Java client and tools (4.4, from the fixture):

- the Java client (tests/clients/java/SluiceJavaClient.java: idempotent producer, consumer in a
  group that commits) over SSL, mutual TLS, SASL_PLAINTEXT with SCRAM-SHA-512 and PLAIN, and
  SASL_SSL; a wrong password gets SaslAuthenticationException, a broker whose CA the client does not
  trust gets SslAuthenticationException, and with client certificates required a client without
  one or with one from another CA gets no further;
- with mutual TLS and the ACL authorizer the certificate's subject is the principal the ACLs name;
- kafka-acls (AclCommand) --add/--list/--remove against `--authorizer acl`, seen by `sluice acl
  list`, and taking effect for the Java client (TopicAuthorizationException until allowed);
- kafka-configs (ConfigCommand) --alter --add-config SCRAM-SHA-512=[...] / --describe /
  --delete-config on users (AlterUserScramCredentials, DescribeUserScramCredentials), and a login
  as the user so made."""

# ctest-label: compat

import json
import os
import shutil
import subprocess
import tempfile
import unittest

from java_client import JavaClient
from kafka_fixture import ACL_COMMAND, CONFIG_COMMAND, kafka_tool
from sluice_server import SLUICE, SluiceServer, ServerTestCase

HERE = os.path.dirname(os.path.abspath(__file__))
MAKE_CERTS = os.path.join(HERE, "..", "support", "make_test_certs.sh")
CERTS = None  # made once for the module
JAVA = None  # the compiled Java client, once for the module

SASL_ERROR = "org.apache.kafka.common.errors.SaslAuthenticationException"
SSL_ERROR = "org.apache.kafka.common.errors.SslAuthenticationException"
TOPIC_DENIED = "org.apache.kafka.common.errors.TopicAuthorizationException"
ALICE_DN = "User:CN=alice,OU=eng,O=acme"


def setUpModule():
    global CERTS, JAVA
    CERTS = tempfile.mkdtemp(prefix="sluice-certs-")
    subprocess.run([MAKE_CERTS, CERTS], check=True, capture_output=True, timeout=120)
    # Java's PEM key store takes the (unencrypted PKCS#8) key and the certificate in one file.
    for name in ("client", "stranger"):
        with open(cert(name + "-keystore.pem"), "wb") as out:
            for part in (name + ".key", name + ".pem"):
                with open(cert(part), "rb") as f:
                    out.write(f.read())
    JAVA = JavaClient()


def tearDownModule():
    shutil.rmtree(CERTS, ignore_errors=True)
    if JAVA:
        JAVA.cleanup()


def cert(name):
    return os.path.join(CERTS, name)


def sluice(data_dir, *args, broker=None):
    where = ["--broker", broker] if broker else ["--data-dir", data_dir]
    out = subprocess.run([SLUICE] + where + list(args), capture_output=True, timeout=60)
    if out.returncode != 0:
        raise AssertionError("sluice %s exited %d:\n%s" % (" ".join(args), out.returncode,
                                                            out.stderr.decode(errors="replace")))
    return out.stdout.decode()


def ssl_props(ca="ca.pem", keystore=None):
    props = {"ssl.truststore.type": "PEM", "ssl.truststore.location": cert(ca)}
    if keystore:
        props.update({"ssl.keystore.type": "PEM",
                      "ssl.keystore.location": cert(keystore + "-keystore.pem")})
    return props


def sasl_props(mechanism, user, password):
    module = ("org.apache.kafka.common.security.plain.PlainLoginModule" if mechanism == "PLAIN"
              else "org.apache.kafka.common.security.scram.ScramLoginModule")
    return {"sasl.mechanism": mechanism,
            "sasl.jaas.config": '%s required username="%s" password="%s";' % (module, user,
                                                                              password)}


def command_config(path, props):
    with open(path, "w") as f:
        for k, v in props.items():
            f.write("%s=%s\n" % (k, v))
    return path


class JavaSecurityTest(ServerTestCase):
    """One broker with an SSL, a SASL_PLAINTEXT and a SASL_SSL listener (client certificates
    requested: checked when shown), SCRAM users alice and bob, no authorizer."""

    def setUp(self):
        self.server = SluiceServer(
            "--ssl-certificate-file", cert("server.pem"), "--ssl-key-file", cert("server.key"),
            "--ssl-ca-file", cert("ca.pem"), "--ssl-client-auth", "requested",
            listeners="SSL://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0")
        d = self.server.data_dir
        for user, password in (("alice", "alice-pw"), ("bob", "bob's pw = and ,")):
            sluice(d, "user", "create", user, "--password", password)
        self.server.start()

    def props(self, listener, **extra):
        p = {"bootstrap.servers": self.server.address(listener), "security.protocol": listener}
        p.update(extra)
        return p

    def round_trip(self, props, topic, n=200):
        rc, out = JAVA.run(props, topic, n, topic + "-group")
        self.assertEqual(rc, 0, "%s\n%s" % (out, JAVA.last_stderr))
        self.assertEqual(out, [
            {"produced": n, "first_offset": 0, "last_offset": n - 1},
            {"consumed": n, "first_offset": 0, "last_offset": n - 1, "committed": n}])

    def failure(self, props, topic="refused"):
        """Runs the client expecting it to fail; returns its error (class and cause chain)."""
        rc, out = JAVA.run(props, topic, 1, "g", mode="produce")
        self.assertEqual(rc, 1, "%s\n%s" % (out, JAVA.last_stderr))
        self.assertEqual(len(out), 1, out)
        self.assertIn("error", out[0])
        return out[0]

    def assert_caused_by(self, error, exception_class, text=""):
        causes = error["causes"]
        self.assertTrue(any(c.startswith(exception_class + ":") and text in c for c in causes),
                        "expected %s (%r) among %s" % (exception_class, text,
                                                       json.dumps(causes, indent=1)))
        self.assertTrue(self.server.alive())

    def test_ssl(self):
        self.round_trip(self.props("SSL", **ssl_props()), "over-ssl")

    def test_mutual_tls(self):
        self.round_trip(self.props("SSL", **ssl_props(keystore="client")), "over-mtls")
        # (MutualTlsAclTest shows the certificate's subject becomes the principal, and that without
        # a trusted certificate a client gets no further. With client auth "requested" Java sends
        # no certificate that the broker's CA list does not name, as with Kafka.)

    def test_sasl_plaintext_scram_sha_512(self):
        self.round_trip(self.props("SASL_PLAINTEXT", **sasl_props("SCRAM-SHA-512", "alice",
                                                                  "alice-pw")), "scram-512")

    def test_sasl_plaintext_plain(self):
        self.round_trip(self.props("SASL_PLAINTEXT", **sasl_props("PLAIN", "bob",
                                                                  "bob's pw = and ,")), "plain")

    def test_sasl_ssl_scram_sha_256_and_512(self):
        for mechanism in ("SCRAM-SHA-256", "SCRAM-SHA-512"):
            with self.subTest(mechanism=mechanism):
                props = self.props("SASL_SSL", **ssl_props())
                props.update(sasl_props(mechanism, "alice", "alice-pw"))
                self.round_trip(props, "sasl-ssl-" + mechanism.lower())

    def test_a_wrong_password_is_an_authentication_error(self):
        for mechanism in ("SCRAM-SHA-512", "PLAIN"):
            with self.subTest(mechanism=mechanism):
                props = self.props("SASL_PLAINTEXT", **sasl_props(mechanism, "alice", "wrong"))
                error = self.failure(props)
                self.assert_caused_by(error, SASL_ERROR, "")
        # An unknown user is told the same (no hint which part was wrong).
        props = self.props("SASL_SSL", **ssl_props())
        props.update(sasl_props("SCRAM-SHA-512", "nobody", "x"))
        self.assert_caused_by(self.failure(props), SASL_ERROR)
        self.assertIn("SASL authentication failed", self.server.log())

    def test_an_untrusted_broker_certificate_fails_the_handshake(self):
        error = self.failure(self.props("SSL", **ssl_props(ca="other-ca.pem")))
        self.assert_caused_by(error, SSL_ERROR, "SSL handshake failed")
        props = self.props("SASL_SSL", **ssl_props(ca="other-ca.pem"))
        props.update(sasl_props("SCRAM-SHA-512", "alice", "alice-pw"))
        self.assert_caused_by(self.failure(props), SSL_ERROR, "SSL handshake failed")


class MutualTlsAclTest(ServerTestCase):
    """Client certificates required, the ACL authorizer: the certificate's subject is the
    principal; alice's certificate may read and write only what the ACLs give it."""

    def setUp(self):
        self.server = SluiceServer(
            "--ssl-certificate-file", cert("server.pem"), "--ssl-key-file", cert("server.key"),
            "--ssl-ca-file", cert("ca.pem"), "--ssl-client-auth", "required",
            "--authorizer", "acl", listeners="SSL://127.0.0.1:0")
        d = self.server.data_dir
        for op in ("Write", "Read", "Describe", "Create"):
            sluice(d, "acl", "add", "--allow-principal", ALICE_DN, "--operation", op,
                   "--topic", "mtls")
        sluice(d, "acl", "add", "--allow-principal", ALICE_DN, "--operation", "IdempotentWrite",
               "--cluster")
        sluice(d, "acl", "add", "--allow-principal", ALICE_DN, "--operation", "Read",
               "--group", "mtls-group")
        self.server.start()

    def props(self, **ssl):
        return dict({"bootstrap.servers": self.server.bootstrap, "security.protocol": "SSL"},
                    **ssl_props(**ssl))

    def test_the_certificate_subject_is_the_principal(self):
        rc, out = JAVA.run(self.props(keystore="client"), "mtls", 100, "mtls-group")
        self.assertEqual(rc, 0, "%s\n%s\n%s" % (out, JAVA.last_stderr, self.server.log()))
        self.assertEqual(out[1]["consumed"], 100)
        self.assertEqual(out[1]["committed"], 100)
        # Another topic: no ACL names it for alice.
        rc, out = JAVA.run(self.props(keystore="client"), "other", 1, "mtls-group",
                           mode="produce")
        self.assertEqual(rc, 1)
        self.assertTrue(any(c.startswith(TOPIC_DENIED) for c in out[0]["causes"]), out)

    def test_no_certificate_or_an_untrusted_one_gets_no_further(self):
        for keystore in (None, "stranger"):
            with self.subTest(keystore=keystore):
                rc, out = JAVA.run(self.props(keystore=keystore), "mtls", 1, "g", mode="produce")
                self.assertEqual(rc, 1, out)
                causes = out[0]["causes"]
                self.assertTrue(any(c.startswith(SSL_ERROR) for c in causes),
                                json.dumps(causes, indent=1))
        self.assertTrue(self.server.alive())


class KafkaToolsTest(ServerTestCase):
    """kafka-acls and kafka-configs (Apache Kafka 4.4's AclCommand and ConfigCommand) against a
    broker with the ACL authorizer: the tools log in as the super user admin over SASL_PLAINTEXT;
    a PLAINTEXT listener for `sluice --broker` (ANONYMOUS is a super user there, as a trusted local
    listener would be)."""

    def setUp(self):
        self.server = SluiceServer(
            "--authorizer", "acl", "--super-users", "User:admin;User:ANONYMOUS",
            listeners="SASL_PLAINTEXT://127.0.0.1:0,PLAINTEXT://127.0.0.1:0")
        d = self.server.data_dir
        for user, password in (("admin", "admin-pw"), ("alice", "alice-pw")):
            sluice(d, "user", "create", user, "--password", password)
        self.server.start()
        self.sasl = self.server.address("SASL_PLAINTEXT")
        self.tool_dir = tempfile.mkdtemp(prefix="sluice-tools-")
        self.admin_config = command_config(
            os.path.join(self.tool_dir, "admin.properties"),
            dict({"security.protocol": "SASL_PLAINTEXT"},
                 **sasl_props("SCRAM-SHA-512", "admin", "admin-pw")))

    def tearDown(self):
        shutil.rmtree(self.tool_dir, ignore_errors=True)
        super().tearDown()

    def tool(self, main_class, *args):
        out = kafka_tool(main_class, "--bootstrap-server", self.sasl, "--command-config",
                         self.admin_config, *args)
        self.assertEqual(out.returncode, 0, "%s %s:\n%s\n%s" % (
            main_class, " ".join(args), out.stdout.decode(errors="replace"),
            out.stderr.decode(errors="replace")))
        return out.stdout.decode()

    def sluice_acls(self):
        return json.loads(sluice(None, "--output", "json", "acl", "list",
                                 broker=self.server.address("PLAINTEXT")))

    def java(self, user, password, mode, topic="orders", n=10, group="readers"):
        props = {"bootstrap.servers": self.sasl, "security.protocol": "SASL_PLAINTEXT"}
        props.update(sasl_props("SCRAM-SHA-512", user, password))
        return JAVA.run(props, topic, n, group, mode=mode)

    def test_kafka_acls_add_list_remove(self):
        # admin (a super user) writes ten records; alice may not read them yet.
        rc, out = self.java("admin", "admin-pw", "produce")
        self.assertEqual(rc, 0, "%s\n%s" % (out, JAVA.last_stderr))
        rc, out = self.java("alice", "alice-pw", "consume")
        self.assertEqual(rc, 1, out)
        self.assertTrue(any(c.startswith(TOPIC_DENIED) or "GroupAuthorization" in c
                            for c in out[0]["causes"]), out)

        self.tool(ACL_COMMAND, "--add", "--allow-principal", "User:alice", "--operation", "Read",
                  "--topic", "orders", "--group", "readers")
        acls = self.sluice_acls()
        self.assertEqual(sorted((a["principal"], a["operation"], a["resource_type"],
                                 a["resource_name"], a["permission"]) for a in acls), [
            ("User:alice", "READ", "GROUP", "readers", "ALLOW"),
            ("User:alice", "READ", "TOPIC", "orders", "ALLOW")])
        listed = self.tool(ACL_COMMAND, "--list", "--topic", "orders")
        self.assertIn("ResourcePattern(resourceType=TOPIC, name=orders, patternType=LITERAL)",
                      listed)
        self.assertIn("(principal=User:alice, host=*, operation=READ, permissionType=ALLOW)",
                      listed)

        rc, out = self.java("alice", "alice-pw", "consume")
        self.assertEqual(rc, 0, "%s\n%s" % (out, JAVA.last_stderr))
        self.assertEqual(out, [{"consumed": 10, "first_offset": 0, "last_offset": 9,
                                "committed": 10}])

        self.tool(ACL_COMMAND, "--remove", "--force", "--allow-principal", "User:alice",
                  "--operation", "Read", "--topic", "orders")
        self.assertEqual([(a["resource_type"], a["resource_name"]) for a in self.sluice_acls()],
                         [("GROUP", "readers")])
        listed = self.tool(ACL_COMMAND, "--list", "--topic", "orders")
        self.assertNotIn("User:alice", listed)
        rc, out = self.java("alice", "alice-pw", "consume")
        self.assertEqual(rc, 1, out)
        self.assertTrue(any(c.startswith(TOPIC_DENIED) for c in out[0]["causes"]), out)

    def test_kafka_configs_manages_scram_users(self):
        self.tool(CONFIG_COMMAND, "--alter", "--add-config",
                  "SCRAM-SHA-512=[iterations=8192,password=carol-pw]", "--entity-type", "users",
                  "--entity-name", "carol")
        described = self.tool(CONFIG_COMMAND, "--describe", "--entity-type", "users",
                              "--entity-name", "carol")
        self.assertIn("SCRAM credential configs for user-principal 'carol' are "
                      "SCRAM-SHA-512=iterations=8192", described)
        listed = json.loads(sluice(None, "--output", "json", "user", "list",
                                   broker=self.server.address("PLAINTEXT")))
        self.assertIn({"user": "carol", "mechanism": "SCRAM-SHA-512", "iterations": 8192}, listed)

        # carol logs in with the new credential (and is refused by the ACLs, which is after
        # authentication); then with her write ACL she produces.
        rc, out = self.java("carol", "carol-pw", "produce", topic="carols")
        self.assertEqual(rc, 1, out)
        self.assertTrue(any(c.startswith(TOPIC_DENIED) for c in out[0]["causes"]), out)
        self.tool(ACL_COMMAND, "--add", "--allow-principal", "User:carol", "--producer",
                  "--idempotent", "--topic", "carols")
        rc, out = self.java("carol", "carol-pw", "produce", topic="carols")
        self.assertEqual(rc, 0, "%s\n%s" % (out, JAVA.last_stderr))
        self.assertEqual(out, [{"produced": 10, "first_offset": 0, "last_offset": 9}])
        rc, out = self.java("carol", "wrong", "produce", topic="carols")
        self.assertEqual(rc, 1, out)
        self.assertTrue(any(c.startswith(SASL_ERROR) for c in out[0]["causes"]), out)

        # Deleted, carol no longer logs in.
        self.tool(CONFIG_COMMAND, "--alter", "--delete-config", "SCRAM-SHA-512", "--entity-type",
                  "users", "--entity-name", "carol")
        described = self.tool(CONFIG_COMMAND, "--describe", "--entity-type", "users",
                              "--entity-name", "carol")
        self.assertNotIn("SCRAM-SHA-512", described)
        rc, out = self.java("carol", "carol-pw", "produce", topic="carols")
        self.assertEqual(rc, 1, out)
        self.assertTrue(any(c.startswith(SASL_ERROR) for c in out[0]["causes"]), out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
