"""SASL over SASL_PLAINTEXT against a real `sluice serve` with real clients: kcat and
confluent_kafka (librdkafka 2.0.2) produce and consume with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512
as users made with `sluice user create` (password from stdin and from an environment variable);
a wrong password and an unknown user get a clean authentication error on the client; a request
before authentication closes the connection; `sluice user` against the running broker (--broker:
AlterUserScramCredentials / DescribeUserScramCredentials) adds, lists and deletes a user whose
login then works and then fails; a damaged users file refuses logins and is kept."""

import json
import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import unittest

from confluent_kafka import KafkaError, KafkaException, Producer
from sluice_server import SLUICE, SluiceServer, ServerTestCase
from test_idempotence import create_topic
from test_python_clients import confluent_consume, confluent_produce

MECHANISMS = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


def sluice(*args, stdin=None, env=None):
    return subprocess.run([SLUICE] + list(args), input=stdin, capture_output=True, timeout=60,
                          env=dict(os.environ, **(env or {})))


class SaslServer(SluiceServer):
    """A server with a PLAINTEXT and a SASL_PLAINTEXT listener, each on a free port."""

    def start(self, port=0):
        self.extra_args = ["--listeners", "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0"]
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [SLUICE, "--data-dir", self.data_dir, "serve"] + self.extra_args,
            stdout=subprocess.PIPE, stderr=self._log)
        self.ports = {}
        for _ in range(3):
            line = self.proc.stdout.readline().decode()
            m = re.match(r"listener (\w+)://[^:]+:(\d+)", line)
            if m:
                self.ports[m.group(1)] = int(m.group(2))
        if set(self.ports) != {"PLAINTEXT", "SASL_PLAINTEXT"}:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("sluice serve did not start:\n" + self.log())
        self.port = self.ports["PLAINTEXT"]
        return self

    @property
    def sasl_bootstrap(self):
        return "127.0.0.1:%d" % self.ports["SASL_PLAINTEXT"]


def client_conf(mechanism, user, password):
    return {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": mechanism,
            "sasl.username": user, "sasl.password": password}


def kcat(*args, stdin=None):
    return subprocess.run(["kcat"] + list(args), input=stdin, capture_output=True, timeout=60)


def kcat_sasl(mechanism, user, password):
    return ["-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanisms=" + mechanism,
            "-X", "sasl.username=" + user, "-X", "sasl.password=" + password]


def auth_error(bootstrap, mechanism, user, password):
    """The first error librdkafka reports for a client with these credentials (an event, no
    sleeping): its code and text."""
    seen = threading.Event()
    errors = []

    def on_error(err):
        errors.append(err)
        seen.set()

    p = Producer(dict({"bootstrap.servers": bootstrap, "error_cb": on_error},
                      **client_conf(mechanism, user, password)))
    # A metadata request makes the client connect and log in; librdkafka retries a failed login
    # until the request's timeout, so ask in short requests and stop once error_cb (served by
    # poll) has heard the failure (bounded: 30 s).
    for _ in range(30):
        try:
            p.list_topics(timeout=1)
        except KafkaException:
            pass
        p.poll(0)
        if seen.wait(0.1):
            break
    return errors[0] if errors else None


class SaslTest(ServerTestCase):
    def setUp(self):
        self.server = SaslServer()
        d = self.server.data_dir
        create_topic(d, "events", 1)
        r = sluice("--data-dir", d, "user", "create", "alice", "--password-stdin",
                   stdin=b"alice-secret\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = sluice("--data-dir", d, "user", "create", "bob", "--password-env", "BOB_PW",
                   "--mechanism", "SCRAM-SHA-256", "--iterations", "8192",
                   env={"BOB_PW": "bob's password, with = and ,"})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.server.start()

    def test_user_list_shows_mechanisms_and_never_the_password(self):
        self.server.stop()
        r = sluice("--data-dir", self.server.data_dir, "--output", "json", "user", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), [
            {"user": "alice", "mechanism": "SCRAM-SHA-256", "iterations": 4096},
            {"user": "alice", "mechanism": "SCRAM-SHA-512", "iterations": 4096},
            {"user": "bob", "mechanism": "SCRAM-SHA-256", "iterations": 8192}])
        with open(os.path.join(self.server.data_dir, "scram-users"), "rb") as f:
            stored = f.read()
        self.assertNotIn(b"alice-secret", stored)
        self.assertNotIn(b"bob's password", stored)
        self.server.start()

    def test_kcat_produces_and_consumes_with_each_mechanism(self):
        for i, mechanism in enumerate(MECHANISMS):
            creds = kcat_sasl(mechanism, "alice", "alice-secret")
            lines = [b"%s-%d" % (mechanism.encode(), n) for n in range(50)]
            out = kcat("-P", "-b", self.server.sasl_bootstrap, "-t", "events", "-p", "0", *creds,
                       stdin=b"".join(l + b"\n" for l in lines))
            self.assertEqual(out.returncode, 0, out.stderr)
            out = kcat("-C", "-b", self.server.sasl_bootstrap, "-t", "events", "-e", "-q",
                       "-o", str(i * 50), "-c", "50", *creds)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertEqual(out.stdout.splitlines(), lines, mechanism)
        # Successes are logged at info, at most one a second: the first one (PLAIN) is there.
        self.assertIn("authenticated as User:alice with PLAIN on listener SASL_PLAINTEXT",
                      self.server.log())

    def test_confluent_kafka_produces_and_consumes_with_each_mechanism(self):
        bob_pw = "bob's password, with = and ,"
        expected = []
        for mechanism in MECHANISMS:
            user, pw = ("bob", bob_pw) if mechanism != "SCRAM-SHA-512" else ("alice", "alice-secret")
            conf = client_conf(mechanism, user, pw)
            records = [{"key": b"k", "value": b"%s %d" % (mechanism.encode(), n)} for n in range(20)]
            confluent_produce(self.server.sasl_bootstrap, "events", records, **conf)
            expected += [r["value"] for r in records]
            got = confluent_consume(self.server.sasl_bootstrap, "events", **conf)
            self.assertEqual([v for (_, _, _, v, _, _) in got], expected, mechanism)

    def test_wrong_password_and_unknown_user_get_an_authentication_error(self):
        for mechanism in MECHANISMS:
            for user, pw in [("alice", "not-her-password"), ("mallory", "alice-secret")]:
                err = auth_error(self.server.sasl_bootstrap, mechanism, user, pw)
                self.assertIsNotNone(err, (mechanism, user))
                self.assertEqual(err.code(), KafkaError._AUTHENTICATION, (mechanism, user, err))
                self.assertIn("Authentication failed", err.str(), (mechanism, user))
        # bob has only a SCRAM-SHA-256 credential.
        err = auth_error(self.server.sasl_bootstrap, "SCRAM-SHA-512", "bob",
                         "bob's password, with = and ,")
        self.assertEqual(err.code(), KafkaError._AUTHENTICATION)
        log = self.server.log()
        self.assertIn("SASL authentication failed from 127.0.0.1:", log)
        # kcat reports it too, and exits non-zero.
        out = kcat("-L", "-b", self.server.sasl_bootstrap, "-m", "5",
                   *kcat_sasl("SCRAM-SHA-512", "alice", "wrong"))
        self.assertNotEqual(out.returncode, 0)
        self.assertIn(b"Authentication failed", out.stderr)

    def test_a_request_before_authentication_closes_the_connection(self):
        with socket.create_connection(("127.0.0.1", self.server.ports["SASL_PLAINTEXT"]),
                                      timeout=20) as s:
            client_id = b"raw"
            body = struct.pack(">hhih", 3, 1, 42, len(client_id)) + client_id + struct.pack(">i", -1)
            s.sendall(struct.pack(">i", len(body)) + body)
            self.assertEqual(s.recv(100), b"")  # closed without an answer
        self.assertIn("Metadata request before SASL authentication", self.server.log())
        # The same request on the PLAINTEXT listener is answered.
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=20) as s:
            s.sendall(struct.pack(">i", len(body)) + body)
            size = struct.unpack(">i", s.recv(4))[0]
            self.assertGreater(size, 4)

    def test_user_commands_against_the_running_broker(self):
        broker = "127.0.0.1:%d" % self.server.port
        r = sluice("--broker", broker, "user", "create", "carol", "--password-env", "PW",
                   env={"PW": "carol-pw"})
        self.assertEqual(r.returncode, 0, r.stderr)
        r = sluice("--broker", broker, "user", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout.decode(), r"carol\s+SCRAM-SHA-512\s+4096")
        out = kcat("-L", "-b", self.server.sasl_bootstrap, "-m", "10",
                   *kcat_sasl("SCRAM-SHA-256", "carol", "carol-pw"))
        self.assertEqual(out.returncode, 0, out.stderr)
        # Through the SASL listener too, authenticated as alice.
        r = sluice("--broker", self.server.sasl_bootstrap, "user", "delete", "carol",
                   env={"SLUICE_SASL_USERNAME": "alice", "SLUICE_SASL_PASSWORD": "alice-secret"})
        self.assertEqual(r.returncode, 0, r.stderr)
        err = auth_error(self.server.sasl_bootstrap, "SCRAM-SHA-256", "carol", "carol-pw")
        self.assertEqual(err.code(), KafkaError._AUTHENTICATION)
        r = sluice("--broker", broker, "user", "delete", "carol")
        self.assertEqual(r.returncode, 1)
        # A SASL listener without credentials closes the connection: a clear error.
        r = sluice("--broker", self.server.sasl_bootstrap, "user", "list")
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"SLUICE_SASL_USERNAME", r.stderr)

    def test_the_sluice_cli_logs_in_with_client_properties(self):
        """`sluice --broker` on the SASL listener: -X, --client-config and a profile carry
        librdkafka's security settings (as kcat's -X and Kafka's --command-config do); a wrong
        password is a one-line error, and the password is never printed."""
        b = self.server.sasl_bootstrap
        creds = ["-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanism=SCRAM-SHA-512",
                 "-X", "sasl.username=alice", "-X", "sasl.password=alice-secret"]
        r = sluice("--broker", b, *creds, "produce", "events", stdin=b"one\ntwo\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = sluice("--broker", b, *creds, "consume", "events", "--from-beginning", "--count", "2")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b"one\ntwo\n")
        # `user` logs in with the same properties (its own SCRAM client).
        r = sluice("--broker", b, *creds, "user", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"alice", r.stdout)

        # The same from a properties file, and stored in a profile.
        config_home = tempfile.mkdtemp(prefix="sluice-cli-config-")
        self.addCleanup(shutil.rmtree, config_home, True)
        props = os.path.join(config_home, "client.properties")
        with open(props, "w") as f:
            f.write("# alice on the SASL listener\nsecurity.protocol=SASL_PLAINTEXT\n"
                    "sasl.mechanism=SCRAM-SHA-256\nsasl.username=bob\n"
                    "sasl.password=bob's password, with = and ,\n")
        env = {"XDG_CONFIG_HOME": config_home}
        r = sluice("--broker", b, "--client-config", props, "topic", "list", env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"events", r.stdout)
        r = sluice("profile", "create", "secured", "--broker", b, "--client-config", props, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = sluice("consume", "events", "--from-beginning", "--count", "2", env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b"one\ntwo\n")

        # A wrong password: a one-line error that says so, exit 1, no password in it.
        wrong = creds[:-1] + ["sasl.password=not-her-password"]
        r = sluice("--broker", b, *wrong, "topic", "list")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"Authentication failed", r.stderr)
        self.assertNotIn(b"not-her-password", r.stderr)
        r = sluice("--broker", b, *wrong, "user", "list")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"SASL authentication failed", r.stderr)
        # `user` does not speak TLS: it says so rather than failing to connect.
        r = sluice("--broker", b, "-X", "security.protocol=SASL_SSL", "user", "list")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"does not speak TLS", r.stderr)

    def test_a_damaged_users_file_refuses_logins_and_is_kept(self):
        self.server.stop()
        path = os.path.join(self.server.data_dir, "scram-users")
        with open(path, "r+b") as f:
            data = bytearray(f.read())
            data[len(data) // 2] ^= 0x20
            f.seek(0)
            f.write(data)
        self.server.start()
        err = auth_error(self.server.sasl_bootstrap, "SCRAM-SHA-512", "alice", "alice-secret")
        self.assertEqual(err.code(), KafkaError._AUTHENTICATION)
        self.assertIn("cannot read its users", err.str())
        err = auth_error(self.server.sasl_bootstrap, "PLAIN", "alice", "alice-secret")
        self.assertEqual(err.code(), KafkaError._AUTHENTICATION)
        self.assertIn("logins are refused until the users file is restored", self.server.log())
        # The PLAINTEXT listener still serves data.
        out = kcat("-L", "-b", self.server.bootstrap, "-m", "10")
        self.assertEqual(out.returncode, 0, out.stderr)
        r = sluice("--broker", self.server.bootstrap, "user", "create", "dan", "--password", "x1")
        self.assertEqual(r.returncode, 1)
        self.server.stop()
        with open(path, "rb") as f:
            self.assertEqual(f.read(), bytes(data))
        r = sluice("--data-dir", self.server.data_dir, "verify")
        self.assertIn(b"scram-users", r.stdout + r.stderr)
        self.server.start()


if __name__ == "__main__":
    unittest.main()
