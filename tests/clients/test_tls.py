"""TLS listeners against real clients: kcat and confluent_kafka (librdkafka 2.0.2) with
security.protocol=SSL produce and consume through an SSL listener, with and without client
certificates; a client that does not trust the server's CA, a client without a certificate when one
is required, a client with an expired certificate and a plaintext client each fail with a clean
client-side error while the broker keeps serving the others; SIGHUP serves a new certificate to new
connections and keeps the old one when the new files are bad. Certificates are made for each run by
tests/support/make_test_certs.sh (the openssl CLI) into a temporary directory."""

import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from sluice_server import SLUICE, SluiceServer, ServerTestCase
from test_idempotence import create_topic

HERE = os.path.dirname(os.path.abspath(__file__))
MAKE_CERTS = os.path.join(HERE, "..", "support", "make_test_certs.sh")
CERTS = None  # the directory, made once for the module


def setUpModule():
    global CERTS
    CERTS = tempfile.mkdtemp(prefix="sluice-certs-")
    subprocess.run([MAKE_CERTS, CERTS], check=True, capture_output=True, timeout=120)


def tearDownModule():
    shutil.rmtree(CERTS, ignore_errors=True)


def cert(name):
    return os.path.join(CERTS, name)


def ssl_conf(ca="ca.pem", client=None):
    """librdkafka settings (kcat -X and confluent_kafka alike)."""
    conf = {"security.protocol": "SSL", "ssl.ca.location": cert(ca)}
    if client:
        conf["ssl.certificate.location"] = cert(client + ".pem")
        conf["ssl.key.location"] = cert(client + ".key")
    return conf


def kcat(*args, conf=None, stdin=None, timeout=60, check=True):
    cmd = ["kcat"]
    for k, v in (conf or {}).items():
        cmd += ["-X", "%s=%s" % (k, v)]
    out = subprocess.run(cmd + list(args), input=stdin, capture_output=True, timeout=timeout)
    if check and out.returncode != 0:
        raise AssertionError("kcat %s exited %d:\n%s" % (" ".join(args), out.returncode,
                                                         out.stderr.decode(errors="replace")))
    return out


def wait_for_log(server, text, timeout=20):
    """Waits until the server's log shows `text` (the server writes it when the event happened)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in server.log():
            return
        time.sleep(0.05)  # polling the log file for an event, not standing in for one
    raise AssertionError("the server did not log %r:\n%s" % (text, server.log()))


def peer_subject(address, ca="ca.pem"):
    """The subject of the certificate the server shows a new connection (Python's ssl)."""
    host, port = address.split(":")
    ctx = ssl.create_default_context(cafile=cert(ca))
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        with ctx.wrap_socket(sock, server_hostname=host) as tls:
            return dict(x[0] for x in tls.getpeercert()["subject"])


class TlsClientsTest(ServerTestCase):
    def start(self, client_auth="none", cert_file=None, key_file=None):
        self.server = SluiceServer(
            "--ssl-certificate-file", cert_file or cert("server.pem"),
            "--ssl-key-file", key_file or cert("server.key"),
            "--ssl-ca-file", cert("ca.pem"), "--ssl-client-auth", client_auth,
            listeners="SSL://127.0.0.1:0,PLAINTEXT://127.0.0.1:0")
        create_topic(self.server.data_dir, "secure", 1)
        self.server.start()
        self.ssl = self.server.address("SSL")
        self.plain = self.server.address("PLAINTEXT")

    def kcat_round_trip(self, conf, topic="secure", n=500):
        """Produces n lines with kcat through the SSL listener and reads them all back."""
        before = self.read_all(topic, conf)
        lines = [b"line %d %s" % (i, b"x" * (i % 300)) for i in range(n)]
        kcat("-P", "-b", self.ssl, "-t", topic, "-p", "0", conf=conf,
             stdin=b"".join(l + b"\n" for l in lines))
        self.assertEqual(self.read_all(topic, conf), before + lines)

    def read_all(self, topic, conf):
        out = kcat("-C", "-b", self.ssl, "-t", topic, "-p", "0", "-o", "beginning", "-e", "-q",
                   conf=conf)
        return out.stdout.splitlines()

    def assert_fails_cleanly(self, conf, address=None, expect=()):
        """kcat's metadata request fails (no hang, no crash) with one of `expect` in its error."""
        # kcat waits out its metadata timeout (-m) after a failed handshake, retrying; the error is
        # logged at the first attempt, so 3 s is a bound, not a guess at how long it takes.
        out = kcat("-L", "-b", address or self.ssl, "-m", "3", conf=conf, check=False, timeout=60)
        err = out.stderr.decode(errors="replace")
        self.assertNotEqual(out.returncode, 0, "kcat got metadata:\n" + out.stdout.decode())
        self.assertTrue(any(e in err for e in expect), "unexpected error:\n" + err)
        self.assertTrue(self.server.alive())

    def assert_confluent_fails_cleanly(self, conf, expect):
        """confluent_kafka: metadata fails with a KafkaException, and error_cb hears `expect`."""
        errors = []
        heard = threading.Event()

        def on_error(e):
            errors.append(str(e))
            if expect in str(e):
                heard.set()

        producer = Producer(dict({"bootstrap.servers": self.ssl, "error_cb": on_error}, **conf))
        # librdkafka retries a failed handshake until a request's timeout: short metadata requests,
        # each failing, until error_cb (served by poll) has heard `expect` (bounded: 30 s).
        for _ in range(30):
            with self.assertRaises(KafkaException):
                producer.list_topics(timeout=1)
            producer.poll(0)
            if heard.wait(0.1):
                break
        self.assertTrue(any(expect in e for e in errors), errors)
        self.assertTrue(self.server.alive())

    def test_kcat_produces_and_consumes_over_ssl(self):
        self.start()
        self.kcat_round_trip(ssl_conf())
        # Metadata through the SSL listener advertises the SSL listener.
        out = kcat("-L", "-b", self.ssl, "-t", "secure", conf=ssl_conf()).stdout.decode()
        self.assertIn("at %s" % self.ssl, out)
        # A record larger than many TLS records, both ways.
        big = bytes(b"0123456789abcdef"[i % 16] for i in range(900_000))
        conf = dict(ssl_conf(), **{"message.max.bytes": "2000000"})
        kcat("-P", "-b", self.ssl, "-t", "secure", "-p", "0", conf=conf, stdin=big + b"\n")
        self.assertEqual(self.read_all("secure", conf)[-1], big)

    def test_the_sluice_cli_over_tls_with_a_client_certificate(self):
        """`sluice --broker` reaches an mTLS listener with --client-config (Kafka's
        client.properties form) and -X, and fails cleanly without the CA."""
        self.start(client_auth="required")
        props = os.path.join(CERTS, "client.properties")
        with open(props, "w") as f:
            f.writelines("%s=%s\n" % kv for kv in ssl_conf(client="client").items())
        cli = [SLUICE, "--broker", self.ssl, "--client-config", props]
        r = subprocess.run(cli + ["produce", "secure"], input=b"a\nb\n", capture_output=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = subprocess.run(cli + ["consume", "secure", "--from-beginning", "--count", "2"],
                           capture_output=True, timeout=60)
        self.assertEqual((r.returncode, r.stdout), (0, b"a\nb\n"), r.stderr)
        # -X wins over the file: a CA that did not sign the broker's certificate.
        r = subprocess.run(cli + ["-X", "ssl.ca.location=" + cert("other-ca.pem"), "topic",
                                  "list"], capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"certificate verify failed", r.stderr)
        self.assertEqual(r.stderr.count(b"\n"), 1, r.stderr)
        self.assertTrue(self.server.alive())

    def test_confluent_kafka_with_a_client_certificate(self):
        self.start(client_auth="required")
        conf = ssl_conf(client="client")
        producer = Producer(dict({"bootstrap.servers": self.ssl, "linger.ms": 5}, **conf))
        for i in range(300):
            producer.produce("secure", key=b"k%d" % i, value=b"v%d" % i, partition=0)
        self.assertEqual(producer.flush(30), 0)
        consumer = Consumer(dict({"bootstrap.servers": self.ssl, "group.id": "tls",
                                  "auto.offset.reset": "earliest",
                                  "enable.auto.commit": False}, **conf))
        consumer.assign([TopicPartition("secure", 0, 0)])
        got = []
        deadline = time.monotonic() + 30
        while len(got) < 300 and time.monotonic() < deadline:
            m = consumer.poll(1.0)
            if m is not None and m.error() is None:
                got.append((m.key(), m.value()))
        consumer.close()
        self.assertEqual(got, [(b"k%d" % i, b"v%d" % i) for i in range(300)])
        # kcat with the same certificate, too.
        self.kcat_round_trip(conf, n=50)

    def test_bad_certificates_fail_cleanly_and_others_are_still_served(self):
        self.start(client_auth="required")
        # The client does not trust the server's CA.
        self.assert_fails_cleanly(ssl_conf(ca="other-ca.pem", client="client"),
                                  expect=("certificate verify failed",))
        self.assert_confluent_fails_cleanly(ssl_conf(ca="other-ca.pem", client="client"),
                                            "certificate verify failed")
        # No client certificate, one from another CA, an expired one: the broker refuses them.
        # librdkafka reports the broker's TLS alert.
        for client, alert, reason in (
                (None, "alert certificate required", "peer did not return a certificate"),
                ("stranger", "alert unknown ca", "unable to get local issuer certificate"),
                ("expired", "alert certificate expired", "certificate has expired")):
            with self.subTest(client=client):
                self.assert_fails_cleanly(ssl_conf(client=client), expect=(alert,))
                self.assert_confluent_fails_cleanly(ssl_conf(client=client), alert)
                wait_for_log(self.server, reason)
        # A plaintext client on the SSL port: closed at once, and librdkafka says why it may be.
        self.assert_fails_cleanly({}, expect=("Disconnected while requesting ApiVersion",))
        wait_for_log(self.server, "a plaintext client on a TLS listener?")
        # The broker goes on serving a good client.
        self.kcat_round_trip(ssl_conf(client="client"), n=20)
        self.assertIn("TLS handshake failed", self.server.log())

    def test_sighup_serves_the_new_certificate_to_new_connections(self):
        certs = tempfile.mkdtemp(prefix="sluice-reload-")
        self.addCleanup(shutil.rmtree, certs, True)
        cert_file, key_file = os.path.join(certs, "cert.pem"), os.path.join(certs, "key.pem")
        shutil.copy(cert("server.pem"), cert_file)
        shutil.copy(cert("server.key"), key_file)
        self.start(cert_file=cert_file, key_file=key_file)
        self.assertEqual(peer_subject(self.ssl)["commonName"], "localhost")

        shutil.copy(cert("server2.pem"), cert_file)
        shutil.copy(cert("server2.key"), key_file)
        self.server.proc.send_signal(signal.SIGHUP)
        wait_for_log(self.server, "TLS certificate reloaded: CN=localhost-2")
        self.assertEqual(peer_subject(self.ssl)["commonName"], "localhost-2")
        self.kcat_round_trip(ssl_conf(), n=20)

        # A broken file: the reload fails, the server keeps the last good certificate.
        with open(cert_file, "w") as f:
            f.write("not a certificate\n")
        self.server.proc.send_signal(signal.SIGHUP)
        wait_for_log(self.server, "TLS reload failed")
        self.assertTrue(self.server.alive())
        self.assertEqual(peer_subject(self.ssl)["commonName"], "localhost-2")
        self.server.stop()


if __name__ == "__main__":
    unittest.main()
