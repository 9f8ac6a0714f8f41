"""ACLs (`sluice serve --authorizer acl`) with real clients: confluent_kafka and kcat (librdkafka
2.0.2), kafka-python 2.0.2's admin client, and `sluice acl` both on the data directory (embedded,
broker stopped) and against the running broker (--broker, librdkafka's CreateAcls/DescribeAcls/
DeleteAcls).

Until SASL lands every client is User:ANONYMOUS, so the ACLs here are for User:ANONYMOUS (and for
other principals, to show they do not apply to it). What is checked:
- a consumer without READ on a topic gets TOPIC_AUTHORIZATION_FAILED; after `sluice acl add` it
  reads; a topic it may not DESCRIBE is hidden from the full metadata list and answered with
  TOPIC_AUTHORIZATION_FAILED when named; a producer without WRITE is refused;
- a consumer group without READ on the group gets GROUP_AUTHORIZATION_FAILED, then consumes;
- `sluice acl add/list/remove` remote and embedded round trips, kafka-python's create_acls,
  describe_acls and delete_acls; CLUSTER_AUTHORIZATION_FAILED for a caller without ALTER/DESCRIBE
  on the cluster; SECURITY_DISABLED without an authorizer;
- a damaged ACL file stops the broker from starting (naming the file) and is left as it was;
- denials are logged with the principal, the client's address, the operation and the resource.
"""

import json
import os
import subprocess
import time
import unittest

from confluent_kafka import (OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition)
import kafka.errors
from kafka.admin import (ACL, ACLFilter, ACLOperation, ACLPermissionType, KafkaAdminClient,
                         ResourcePattern, ResourcePatternFilter, ResourceType)
from kafka.admin.acl_resource import ACLResourcePatternType

from sluice_server import SLUICE, SluiceServer, ServerTestCase
from test_idempotence import create_topic

ANON = "User:ANONYMOUS"
ANY_FILTER = ACLFilter(principal=None, host=None, operation=ACLOperation.ANY,
                       permission_type=ACLPermissionType.ANY,
                       resource_pattern=ResourcePatternFilter(ResourceType.ANY, None,
                                                              ACLResourcePatternType.ANY))


def sluice(*args, check=True):
    out = subprocess.run([SLUICE] + list(args), capture_output=True, timeout=60)
    if check and out.returncode != 0:
        raise AssertionError("sluice %s exited %d:\n%s" % (" ".join(args), out.returncode,
                                                           out.stderr.decode(errors="replace")))
    return out


def acl_list(where, *args):
    """`sluice acl list` as a set of (principal, host, operation, permission, type, pattern, name)."""
    out = sluice(*where, "--output", "json", "acl", "list", *args)
    return {(a["principal"], a["host"], a["operation"], a["permission"], a["resource_type"],
             a["pattern_type"], a["resource_name"]) for a in json.loads(out.stdout)}


def produce(bootstrap, topic, values):
    errors = []
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5,
                         "enable.idempotence": False})
    for v in values:
        producer.produce(topic, v, on_delivery=lambda err, msg: err and errors.append(err))
    remaining = producer.flush(30)
    return remaining, errors


def poll_until(consumer, want, timeout_s=30):
    """Polls until `want(msg)` is true for a message or an error; returns that message."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and want(msg):
            return msg
    raise AssertionError("nothing wanted arrived in %d s" % timeout_s)


def is_error(code):
    return lambda msg: msg.error() is not None and msg.error().code() == code


def is_record(msg):
    return msg.error() is None


class AclTest(ServerTestCase):
    def setUp(self):
        self.server = SluiceServer("--authorizer", "acl")
        self.embedded = ["--data-dir", self.server.data_dir]
        create_topic(self.server.data_dir, "orders", 1)
        create_topic(self.server.data_dir, "secret", 1)
        # Before the broker starts: the embedded CLI writes <data>/acls. The anonymous client may
        # administer ACLs and write `orders` (which implies DESCRIBE), nothing else.
        sluice(*self.embedded, "acl", "add", "--allow-principal", ANON, "--operation", "Alter",
               "--operation", "Describe", "--cluster")
        sluice(*self.embedded, "acl", "add", "--allow-principal", ANON, "--operation", "Write",
               "--topic", "orders")
        # An ACL for someone else closes `secret` to the anonymous client too.
        sluice(*self.embedded, "acl", "add", "--allow-principal", "User:bob", "--operation", "All",
               "--topic", "secret")
        self.remote = ["--broker", None]
        self.server.start()
        self.remote = ["--broker", self.server.bootstrap]

    def consumer(self, **conf):
        return Consumer(dict({"bootstrap.servers": self.server.bootstrap, "group.id": "g",
                              "enable.auto.commit": False, "auto.offset.reset": "earliest"},
                             **conf))

    def test_read_denied_until_an_acl_allows_it(self):
        self.assertEqual(produce(self.server.bootstrap, "orders", [b"a", b"b"]), (0, []))
        c = self.consumer()
        try:
            c.assign([TopicPartition("orders", 0, OFFSET_BEGINNING)])
            msg = poll_until(c, is_error(KafkaError.TOPIC_AUTHORIZATION_FAILED))
            self.assertIn("orders", msg.error().str() + (msg.topic() or ""))
        finally:
            c.close()
        log = self.server.log()
        self.assertIn("Principal = User:ANONYMOUS is Denied Operation = READ from host = 127.0.0.1:",
                      log)
        self.assertIn("on resource = TOPIC:orders", log)

        sluice(*self.remote, "acl", "add", "--allow-principal", ANON, "--operation", "Read",
               "--topic", "orders")
        c = self.consumer()
        try:
            c.assign([TopicPartition("orders", 0, OFFSET_BEGINNING)])
            got = [poll_until(c, is_record).value() for _ in range(2)]
            self.assertEqual(got, [b"a", b"b"])
        finally:
            c.close()

    def test_produce_without_write_is_refused(self):
        remaining, errors = produce(self.server.bootstrap, "secret", [b"x"])
        self.assertEqual(remaining, 0)
        self.assertEqual([e.code() for e in errors], [KafkaError.TOPIC_AUTHORIZATION_FAILED])
        # Nothing was written: bob's view, through the embedded CLI once the broker is stopped.
        self.server.stop()
        out = sluice(*self.embedded, "--output", "json", "topic", "describe", "secret")
        self.assertEqual(json.loads(out.stdout)["partitions"][0]["high_watermark"], 0)

    def test_metadata_hides_what_the_client_may_not_describe(self):
        out = subprocess.run(["kcat", "-b", self.server.bootstrap, "-L", "-J"],
                             capture_output=True, timeout=60, check=True)
        names = {t["topic"] for t in json.loads(out.stdout)["topics"]}
        self.assertEqual(names, {"orders"})
        out = subprocess.run(["kcat", "-b", self.server.bootstrap, "-L", "-J", "-t", "secret"],
                             capture_output=True, timeout=60)
        topics = json.loads(out.stdout)["topics"]
        self.assertEqual(len(topics), 1)
        self.assertIn("authorization", topics[0]["error"].lower())

    def test_group_denied_until_an_acl_allows_it(self):
        self.assertEqual(produce(self.server.bootstrap, "orders", [b"v"]), (0, []))
        sluice(*self.remote, "acl", "add", "--allow-principal", ANON, "--operation", "Read",
               "--topic", "orders")
        c = self.consumer()
        try:
            c.subscribe(["orders"])
            poll_until(c, is_error(KafkaError.GROUP_AUTHORIZATION_FAILED))
        finally:
            c.close()
        # A prefixed ACL on groups: "g" starts with "g".
        sluice(*self.remote, "acl", "add", "--allow-principal", ANON, "--operation", "Read",
               "--group", "g", "--resource-pattern-type", "prefixed")
        c = self.consumer()
        try:
            c.subscribe(["orders"])
            self.assertEqual(poll_until(c, is_record).value(), b"v")
            c.commit(asynchronous=False)
        finally:
            c.close()

    def test_sluice_acl_remote_and_embedded_round_trip(self):
        before = acl_list(self.remote)
        self.assertIn((ANON, "*", "WRITE", "ALLOW", "TOPIC", "LITERAL", "orders"), before)
        self.assertEqual(len(before), 4)
        sluice(*self.remote, "acl", "add", "--deny-principal", "User:mallory", "--deny-host",
               "10.1.2.3", "--operation", "Read", "--topic", "logs-", "--resource-pattern-type",
               "prefixed")
        want = (("User:mallory", "10.1.2.3", "READ", "DENY", "TOPIC", "PREFIXED", "logs-"))
        self.assertIn(want, acl_list(self.remote))
        self.assertEqual(acl_list(self.remote, "--principal", "User:mallory"), {want})
        # MATCH: every ACL that applies to topic logs-eu.
        self.assertEqual(acl_list(self.remote, "--topic", "logs-eu", "--resource-pattern-type",
                                  "match"), {want})
        out = sluice(*self.remote, "acl", "remove", "--topic", "secret")
        self.assertIn("removed ACL: User:bob has ALLOW permission for operations: ALL",
                      out.stdout.decode())
        self.server.stop()
        # The broker persisted both changes: the embedded CLI sees them.
        after = acl_list(self.embedded)
        self.assertEqual(after, (before | {want}) - {("User:bob", "*", "ALL", "ALLOW", "TOPIC",
                                                      "LITERAL", "secret")})
        sluice(*self.embedded, "acl", "remove", "--topic", "logs-", "--resource-pattern-type",
               "prefixed")
        self.assertNotIn(want, acl_list(self.embedded))

    def test_kafka_python_admin_client(self):
        admin = KafkaAdminClient(bootstrap_servers=self.server.bootstrap)
        try:
            acl = ACL(principal="User:carol", host="*", operation=ACLOperation.DESCRIBE,
                      permission_type=ACLPermissionType.ALLOW,
                      resource_pattern=ResourcePattern(ResourceType.TOPIC, "orders"))
            result = admin.create_acls([acl])
            self.assertEqual(result["failed"], [])
            self.assertEqual(len(result["succeeded"]), 1)
            flt = ACLFilter(principal="User:carol", host=None, operation=ACLOperation.ANY,
                            permission_type=ACLPermissionType.ANY,
                            resource_pattern=ResourcePatternFilter(
                                ResourceType.ANY, None, ACLResourcePatternType.ANY))
            found, error = admin.describe_acls(flt)
            self.assertIs(error, kafka.errors.NoError)
            self.assertEqual([(a.principal, a.operation, a.resource_pattern.resource_name)
                              for a in found],
                             [("User:carol", ACLOperation.DESCRIBE, "orders")])
            # An invalid binding: CLUSTER's only name is kafka-cluster.
            bad = ACL(principal="User:carol", host="*", operation=ACLOperation.ALTER,
                      permission_type=ACLPermissionType.ALLOW,
                      resource_pattern=ResourcePattern(ResourceType.CLUSTER, "other"))
            result = admin.create_acls([bad])
            self.assertEqual(len(result["failed"]), 1)
            deleted = admin.delete_acls([flt])
            self.assertEqual(len(deleted), 1)
            _, matched, error = deleted[0]
            self.assertIs(error, kafka.errors.NoError)
            self.assertEqual([m[0].principal for m in matched], ["User:carol"])
            found, _ = admin.describe_acls(flt)
            self.assertEqual(found, [])
        finally:
            admin.close()

    def test_cluster_authorization_failed_without_alter_and_describe(self):
        sluice(*self.remote, "acl", "remove", "--cluster", "--allow-principal", ANON,
               "--operation", "Alter")
        out = sluice(*self.remote, "acl", "add", "--allow-principal", ANON, "--operation", "Read",
                     "--topic", "orders", check=False)
        self.assertEqual(out.returncode, 1)
        self.assertIn("Cluster authorization failed", out.stderr.decode())
        # DESCRIBE on the cluster is still there: listing works, and shows no new ACL.
        self.assertNotIn((ANON, "*", "READ", "ALLOW", "TOPIC", "LITERAL", "orders"),
                         acl_list(self.remote))
        sluice(*self.remote, "acl", "remove", "--cluster", "--allow-principal", ANON,
               check=False)  # refused: no ALTER any more
        self.server.stop()
        sluice(*self.embedded, "acl", "remove", "--cluster")
        self.server.restart()
        # Without DESCRIBE on the cluster, DescribeAcls answers CLUSTER_AUTHORIZATION_FAILED:
        # kafka-python raises it. librdkafka 2.0.2 drops DescribeAcls' top-level error, so
        # `sluice acl list` can only warn (it probes with a DeleteAcls that matches nothing).
        admin = KafkaAdminClient(bootstrap_servers=self.server.bootstrap)
        try:
            with self.assertRaises(kafka.errors.ClusterAuthorizationFailedError):
                admin.describe_acls(ANY_FILTER)
        finally:
            admin.close()
        out = sluice(*self.remote, "acl", "list")
        self.assertIn("warning: no ACL listed, but the broker may have refused DescribeAcls",
                      out.stderr.decode())
        self.assertIn("Cluster authorization failed", out.stderr.decode())

    def test_damaged_acl_file_refuses_to_start_and_keeps_its_bytes(self):
        self.server.stop()
        path = os.path.join(self.server.data_dir, "acls")
        with open(path, "rb") as f:
            data = bytearray(f.read())
        data[len(data) // 2] ^= 0x01
        with open(path, "wb") as f:
            f.write(data)
        with self.assertRaises(RuntimeError) as ctx:
            self.server.start()
        self.assertIn(path, str(ctx.exception))
        self.assertIn("checksum", str(ctx.exception))
        out = sluice(*self.embedded, "acl", "add", "--allow-principal", ANON, "--topic", "x",
                     check=False)
        self.assertEqual(out.returncode, 1)
        self.assertIn(path, out.stderr.decode())
        with open(path, "rb") as f:
            self.assertEqual(f.read(), bytes(data))
        # The data is untouched and readable without the authorizer.
        out = sluice(*self.embedded, "topic", "list")
        self.assertIn("orders", out.stdout.decode())


class SuperUsersAndDefaultsTest(ServerTestCase):
    """--super-users and --allow-everyone-if-no-acl-found, on a data directory whose only ACL
    gives User:bob topic `secret`."""

    def make_server(self, *args):
        self.server = SluiceServer("--authorizer", "acl", *args)
        create_topic(self.server.data_dir, "secret", 1)
        sluice("--data-dir", self.server.data_dir, "acl", "add", "--allow-principal", "User:bob",
               "--topic", "secret")
        return self.server.start()

    def test_allow_everyone_if_no_acl_found_opens_only_unnamed_resources(self):
        self.make_server("--allow-everyone-if-no-acl-found")
        # No ACL names topic `open` or the cluster: auto-creation and the write are allowed.
        self.assertEqual(produce(self.server.bootstrap, "open", [b"x"]), (0, []))
        remaining, errors = produce(self.server.bootstrap, "secret", [b"x"])
        self.assertEqual([e.code() for e in errors], [KafkaError.TOPIC_AUTHORIZATION_FAILED])

    def test_super_user_may_do_everything(self):
        self.make_server("--super-users", "User:admin;" + ANON)
        self.assertEqual(produce(self.server.bootstrap, "secret", [b"x"]), (0, []))
        self.assertEqual(produce(self.server.bootstrap, "new-topic", [b"y"]), (0, []))
        self.assertEqual(len(acl_list(["--broker", self.server.bootstrap])), 1)

    def test_default_denies_what_no_acl_allows(self):
        self.make_server()
        remaining, errors = produce(self.server.bootstrap, "open", [b"x"])
        self.assertEqual([e.code() for e in errors], [KafkaError.TOPIC_AUTHORIZATION_FAILED])


class NoAuthorizerTest(ServerTestCase):
    def setUp(self):
        self.server = SluiceServer().start()

    def test_acl_apis_answer_security_disabled(self):
        out = sluice("--broker", self.server.bootstrap, "acl", "list", check=False)
        self.assertEqual(out.returncode, 1)
        self.assertIn("No Authorizer is configured", out.stderr.decode())
        admin = KafkaAdminClient(bootstrap_servers=self.server.bootstrap)
        try:
            with self.assertRaises(kafka.errors.SecurityDisabledError):
                admin.describe_acls(ANY_FILTER)
        finally:
            admin.close()
        # And everything else is allowed, as before ACLs existed.
        self.assertEqual(produce(self.server.bootstrap, "auto", [b"x"]), (0, []))


if __name__ == "__main__":
    unittest.main()
