"""The admin HTTP listener of a real `sluice serve` (--admin-listen): /livez, /readyz and /metrics
after real produce (confluent-kafka and kcat), consume and offset commits, scraped over HTTP and
read with a strict parser of the Prometheus text format (0.0.4) written here; and malformed,
oversized and non-GET requests, which get 400/405/404 and leave the server serving."""

import http.client
import json
import math
import re
import socket
import subprocess
import time
import unittest

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from sluice_server import ServerTestCase, SluiceServer

TOPIC = "metered"
PRODUCED = {0: 10, 1: 20}  # records per partition by confluent-kafka
KCAT_RECORDS = 7  # to partition 2, by kcat
# A group id that needs escaping in a label value: a quote, a backslash and a newline.
ODD_GROUP = 'odd"group\\with\nnewline'

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")


class ExpositionError(AssertionError):
    pass


def parse_labels(text, line):
    """`a="x",b="y\\"z"` -> {"a": "x", "b": 'y"z'}; strict about escapes and separators."""
    labels = {}
    i = 0
    while i < len(text):
        eq = text.find("=", i)
        if eq < 0:
            raise ExpositionError("label without '=': %r" % line)
        name = text[i:eq]
        if not LABEL_NAME.match(name) or name in labels:
            raise ExpositionError("bad or repeated label name %r: %r" % (name, line))
        if eq + 1 >= len(text) or text[eq + 1] != '"':
            raise ExpositionError("label value not quoted: %r" % line)
        j = eq + 2
        value = []
        while True:
            if j >= len(text):
                raise ExpositionError("unterminated label value: %r" % line)
            c = text[j]
            if c == "\\":
                if j + 1 >= len(text) or text[j + 1] not in '\\"n':
                    raise ExpositionError("bad escape in a label value: %r" % line)
                value.append({"\\": "\\", '"': '"', "n": "\n"}[text[j + 1]])
                j += 2
            elif c == '"':
                j += 1
                break
            elif c == "\n":
                raise ExpositionError("raw newline in a label value: %r" % line)
            else:
                value.append(c)
                j += 1
        labels[name] = "".join(value)
        if j < len(text):
            if text[j] != ",":
                raise ExpositionError("labels not separated by ',': %r" % line)
            j += 1
        i = j
    return labels


def parse_value(text, line):
    if text in ("+Inf", "-Inf", "NaN"):
        return float(text.replace("Inf", "inf").replace("NaN", "nan"))
    if not re.match(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?\Z", text):
        raise ExpositionError("bad sample value %r: %r" % (text, line))
    return float(text)


def parse_exposition(page):
    """Parses a Prometheus text page strictly. Returns (families, samples): families maps a
    family name to its type; samples maps a sample name to [(labels dict, value)]. Checks: one
    HELP and one TYPE per family, before its samples; a family's samples together; histogram
    samples named _bucket/_sum/_count with an le label on buckets, cumulative and ending in +Inf
    equal to _count."""
    if not page.endswith("\n"):
        raise ExpositionError("the page does not end with a newline")
    families, helps, samples = {}, set(), {}
    finished = set()
    current = None
    for line in page[:-1].split("\n"):
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            kind, rest = line[2:6], line[7:]
            name, _, arg = rest.partition(" ")
            if not METRIC_NAME.match(name):
                raise ExpositionError("bad metric name: %r" % line)
            if kind == "HELP":
                if name in helps:
                    raise ExpositionError("second HELP for %s" % name)
                if re.search(r"\\[^\\n]", arg.replace("\\\\", "")):
                    raise ExpositionError("bad escape in HELP: %r" % line)
                helps.add(name)
            else:
                if name in families:
                    raise ExpositionError("second TYPE for %s" % name)
                if arg not in ("counter", "gauge", "histogram", "summary", "untyped"):
                    raise ExpositionError("bad type: %r" % line)
                families[name] = arg
            if current is not None and current != name:
                finished.add(current)
            if name in finished:
                raise ExpositionError("family %s split" % name)
            current = name
            continue
        if line.startswith("#") or not line:
            raise ExpositionError("unexpected line: %r" % line)
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)\Z", line)
        if not m:
            raise ExpositionError("bad sample line: %r" % line)
        name, labels, value = m.group(1), parse_labels(m.group(3) or "", line), parse_value(
            m.group(4), line)
        family = name
        if name not in families:
            for suffix in ("_bucket", "_sum", "_count"):
                if name.endswith(suffix) and families.get(name[: -len(suffix)]) == "histogram":
                    family = name[: -len(suffix)]
        if family not in families or family not in helps:
            raise ExpositionError("sample before its family's HELP and TYPE: %r" % line)
        if family != current:
            raise ExpositionError("sample of %s outside its family: %r" % (family, line))
        if families[family] == "histogram" and name == family:
            raise ExpositionError("histogram sample without a suffix: %r" % line)
        if name.endswith("_bucket") and family != name and "le" not in labels:
            raise ExpositionError("bucket without le: %r" % line)
        samples.setdefault(name, []).append((labels, value))
    # Histograms: per label set, cumulative buckets ending at +Inf = _count.
    for family, kind in families.items():
        if kind != "histogram":
            continue
        series = {}
        for labels, value in samples.get(family + "_bucket", []):
            key = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
            series.setdefault(key, []).append((float(labels["le"].replace("Inf", "inf")), value))
        counts = {tuple(sorted(l.items())): v for l, v in samples.get(family + "_count", [])}
        for key, buckets in series.items():
            les = [le for le, _ in buckets]
            if les != sorted(les) or not math.isinf(les[-1]):
                raise ExpositionError("%s%s: buckets not ascending to +Inf" % (family, key))
            values = [v for _, v in buckets]
            if values != sorted(values):
                raise ExpositionError("%s%s: buckets not cumulative" % (family, key))
            if key not in counts or counts[key] != values[-1]:
                raise ExpositionError("%s%s: +Inf bucket %s != _count %s" %
                                      (family, key, values[-1], counts.get(key)))
    return families, samples


def value_of(samples, name, **labels):
    """The value of the one sample `name` whose labels include `labels` (an error if none or
    several)."""
    found = [v for l, v in samples.get(name, []) if all(l.get(k) == w for k, w in labels.items())]
    if len(found) != 1:
        raise AssertionError("%d samples of %s%s" % (len(found), name, labels))
    return found[0]


def http_get(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type"), resp.read().decode()
    finally:
        conn.close()


def raw_http(port, data):
    """Sends `data` as is and returns the response's status code and body (the server closes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before reading everything: read its answer
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    reply = b"".join(chunks).decode(errors="replace")
    m = re.match(r"HTTP/1\.1 (\d{3}) ", reply)
    if not m:
        raise AssertionError("not an HTTP response: %r" % reply[:200])
    return int(m.group(1)), reply.partition("\r\n\r\n")[2]


class AdminMetricsTest(ServerTestCase):
    def setUp(self):
        self.server = SluiceServer("--group-initial-rebalance-delay-ms", "0").start()
        self.assertIsNotNone(self.server.admin_port, self.server.log())

    def metrics(self):
        status, content_type, page = http_get(self.server.admin_port, "/metrics")
        self.assertEqual(status, 200)
        self.assertEqual(content_type, "text/plain; version=0.0.4; charset=utf-8")
        return parse_exposition(page)

    def test_health_endpoints(self):
        self.assertEqual(http_get(self.server.admin_port, "/livez")[0], 200)
        status, _, body = http_get(self.server.admin_port, "/readyz")
        self.assertEqual((status, body), (200, "ready\n"))
        self.assertEqual(http_get(self.server.admin_port, "/nope")[0], 404)

    def test_metrics_after_traffic(self):
        bootstrap = self.server.bootstrap
        admin = AdminClient({"bootstrap.servers": bootstrap})
        # flush=sync: each group commit is fsynced, so the fsync histogram has samples.
        futures = admin.create_topics(
            [NewTopic(TOPIC, num_partitions=3, replication_factor=1, config={"flush": "sync"})])
        futures[TOPIC].result(30)
        # An error for the error counters: deleting a topic that does not exist.
        with self.assertRaises(Exception):
            admin.delete_topics(["no-such-topic"])["no-such-topic"].result(30)

        producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
        for partition, n in PRODUCED.items():
            for i in range(n):
                producer.produce(TOPIC, value=b"v%d" % i, key=b"k", partition=partition)
        self.assertEqual(producer.flush(30), 0)
        kcat = subprocess.run(["kcat", "-P", "-b", bootstrap, "-t", TOPIC, "-p", "2"],
                              input=b"".join(b"line-%d\n" % i for i in range(KCAT_RECORDS)),
                              capture_output=True, timeout=60)
        self.assertEqual(kcat.returncode, 0, kcat.stderr)

        # Read partitions 0 and 1 whole, then commit 0 at its end and 1 halfway, for two groups.
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "billing",
                             "enable.auto.commit": False, "auto.offset.reset": "earliest"})
        consumer.assign([TopicPartition(TOPIC, 0, 0), TopicPartition(TOPIC, 1, 0)])
        got = 0
        deadline = time.monotonic() + 30
        while got < sum(PRODUCED.values()) and time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is not None and msg.error() is None:
                got += 1
        self.assertEqual(got, sum(PRODUCED.values()))
        committed = {0: 10, 1: 5}
        consumer.commit(offsets=[TopicPartition(TOPIC, p, o) for p, o in committed.items()],
                        asynchronous=False)
        consumer.close()
        odd = Consumer({"bootstrap.servers": bootstrap, "group.id": ODD_GROUP,
                        "enable.auto.commit": False})
        odd.commit(offsets=[TopicPartition(TOPIC, 2, 3)], asynchronous=False)
        odd.close()

        # A subscribed member: the group is Stable with one member while it is in.
        member = Consumer({"bootstrap.servers": bootstrap, "group.id": "live",
                           "session.timeout.ms": 6000, "auto.offset.reset": "earliest"})
        member.subscribe([TOPIC])
        deadline = time.monotonic() + 30
        while not member.assignment() and time.monotonic() < deadline:
            member.poll(0.2)
        self.assertTrue(member.assignment())

        def stable():
            families, samples = self.metrics()
            try:
                if value_of(samples, "sluice_consumergroup_state", group="live",
                            state="Stable") == 1:
                    return families, samples
            except AssertionError:
                pass
            return None
        scraped = None
        while scraped is None and time.monotonic() < deadline:
            scraped = stable()
            if scraped is None:
                member.poll(0.2)
        self.assertIsNotNone(scraped, "group 'live' never Stable in /metrics")
        families, samples = scraped
        self.assertEqual(value_of(samples, "sluice_consumergroup_members", group="live"), 1)
        self.assertEqual(value_of(samples, "kafka_consumergroup_members", consumergroup="live"), 1)
        member.close()

        self.assertEqual(families["sluice_partition_records_in_total"], "counter")
        self.assertEqual(families["kafka_consumergroup_lag"], "gauge")
        produced = dict(PRODUCED)
        produced[2] = KCAT_RECORDS
        for p, n in produced.items():
            labels = {"topic": TOPIC, "partition": str(p)}
            self.assertEqual(value_of(samples, "sluice_partition_records_in_total", **labels), n)
            self.assertGreater(value_of(samples, "sluice_partition_bytes_in_total", **labels), n)
            self.assertEqual(value_of(samples, "sluice_partition_high_watermark", **labels), n)
            self.assertEqual(value_of(samples, "sluice_partition_log_start_offset", **labels), 0)
            self.assertEqual(value_of(samples, "kafka_topic_partition_current_offset", **labels), n)
            self.assertEqual(value_of(samples, "kafka_topic_partition_oldest_offset", **labels), 0)
            self.assertGreater(value_of(samples, "sluice_partition_size_bytes", **labels), 0)
        self.assertEqual(value_of(samples, "kafka_topic_partitions", topic=TOPIC), 3)
        # Every record of partitions 0 and 1 was fetched (batches go whole, so at least these).
        for p in (0, 1):
            out = value_of(samples, "sluice_partition_records_out_total", topic=TOPIC,
                           partition=str(p))
            self.assertGreaterEqual(out, PRODUCED[p])

        # Lag = high watermark - committed, under both names.
        for p, offset in committed.items():
            hw = value_of(samples, "sluice_partition_high_watermark", topic=TOPIC,
                          partition=str(p))
            for name, label in (("kafka_consumergroup_lag", "consumergroup"),
                                ("sluice_consumergroup_lag_records", "group")):
                self.assertEqual(value_of(samples, name, topic=TOPIC, partition=str(p),
                                          **{label: "billing"}), hw - offset)
            self.assertEqual(value_of(samples, "kafka_consumergroup_current_offset",
                                      consumergroup="billing", topic=TOPIC, partition=str(p)),
                             offset)
        lag_s = value_of(samples, "sluice_consumergroup_lag_seconds", group="billing",
                         topic=TOPIC, partition="1")
        self.assertGreaterEqual(lag_s, 0)
        self.assertEqual(value_of(samples, "sluice_consumergroup_lag_seconds", group="billing",
                                  topic=TOPIC, partition="0"), 0)
        self.assertEqual(value_of(samples, "kafka_consumergroup_lag_sum", consumergroup="billing",
                                  topic=TOPIC), 15)
        self.assertEqual(value_of(samples, "sluice_consumergroup_members", group="billing"), 0)
        self.assertEqual(value_of(samples, "sluice_consumergroup_state", group="billing",
                                  state="Empty"), 1)
        # The odd group id comes back whole through the label escaping.
        self.assertEqual(value_of(samples, "kafka_consumergroup_lag", consumergroup=ODD_GROUP,
                                  topic=TOPIC, partition="2"), KCAT_RECORDS - 3)

        # Requests and their latencies: the histogram's count is the request count.
        for api in ("Produce", "Fetch", "Metadata", "OffsetCommit", "JoinGroup"):
            requests = value_of(samples, "sluice_requests_total", api=api)
            self.assertGreater(requests, 0, api)
            self.assertEqual(value_of(samples, "sluice_request_duration_seconds_count", api=api),
                             requests)
            self.assertGreater(value_of(samples, "sluice_request_duration_seconds_sum", api=api),
                               0)
        self.assertGreaterEqual(value_of(samples, "sluice_request_errors_total",
                                         api="DeleteTopics", error="UNKNOWN_TOPIC_OR_PARTITION",
                                         code="3"), 1)
        # Group commit and fsync: a sample per write group (flush=sync).
        self.assertGreater(value_of(samples, "sluice_write_group_appends_count"), 0)
        self.assertGreater(value_of(samples, "sluice_fsync_duration_seconds_count"), 0)
        self.assertGreaterEqual(value_of(samples, "sluice_connections"), 1)
        self.assertGreater(value_of(samples, "sluice_connections_accepted_total"), 0)
        self.assertGreater(value_of(samples, "sluice_memory_budget_capacity_bytes"), 0)
        self.assertEqual(value_of(samples, "sluice_ready"), 1)
        self.assertEqual(value_of(samples, "kafka_brokers"), 1)

    def test_bad_requests_get_errors_and_the_server_stays_up(self):
        port = self.server.admin_port
        self.assertEqual(raw_http(port, b"GARBAGE\r\n\r\n")[0], 400)
        self.assertEqual(raw_http(port, b"GET /metrics HTTP/2.0\r\n\r\n")[0], 400)
        self.assertEqual(raw_http(port, b"GET metrics HTTP/1.1\r\n\r\n")[0], 400)
        self.assertEqual(raw_http(port, b"GET /metrics HTTP/1.1\r\n bad: fold\r\n\r\n")[0], 400)
        self.assertEqual(raw_http(port, b"GET /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello")[0],
                         400)
        self.assertEqual(raw_http(port, b"GET /\x01 HTTP/1.1\r\n\r\n")[0], 400)
        status, body = raw_http(port, b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n")
        self.assertEqual(status, 400)
        self.assertIn("longer than", body)
        status, _ = raw_http(port, b"GET /livez HTTP/1.1\r\nX-Big: " + b"b" * 100000)
        self.assertEqual(status, 400)
        self.assertEqual(raw_http(port, b"POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n")[0], 405)
        self.assertEqual(raw_http(port, b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n")[0], 404)
        # LF-only line ends are accepted.
        self.assertEqual(raw_http(port, b"GET /livez HTTP/1.0\n\n")[0], 200)
        # Still serving, HTTP and Kafka.
        self.assertTrue(self.server.alive())
        self.assertEqual(http_get(port, "/livez")[0], 200)
        self.assertEqual(http_get(port, "/readyz")[0], 200)
        parse_exposition(http_get(port, "/metrics")[2])
        md = AdminClient({"bootstrap.servers": self.server.bootstrap}).list_topics(timeout=30)
        self.assertIsNotNone(md.brokers)

    def test_log_lines_carry_timestamp_level_and_component(self):
        admin = AdminClient({"bootstrap.servers": self.server.bootstrap})
        admin.create_topics([NewTopic("logged", num_partitions=1, replication_factor=1)])[
            "logged"].result(30)
        admin.delete_topics(["logged"])["logged"].result(30)
        admin.create_topics([NewTopic("subscribed", num_partitions=2, replication_factor=1)])[
            "subscribed"].result(30)
        member = Consumer({"bootstrap.servers": self.server.bootstrap, "group.id": "logged-group",
                           "session.timeout.ms": 6000})
        member.subscribe(["subscribed"])
        deadline = time.monotonic() + 30
        stable = re.compile(r"logged-group: rebalance ended: generation \d+, 1 member")
        while not stable.search(self.server.log()) and time.monotonic() < deadline:
            member.poll(0.2)
        member.close()
        self.server.stop()
        lines = self.server.log().splitlines()
        line_re = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z "
                             r"(debug|info|warning|error) [a-z][a-z0-9_-]*: .")
        for line in lines:
            self.assertRegex(line, line_re)
        text = "\n".join(lines)
        self.assertRegex(text, r" info serve: created topic logged with 1 partitions")
        self.assertRegex(text, r" info serve: deleted topic logged")
        self.assertRegex(text, r" info group: logged-group: rebalance started \(generation 0, "
                               r"1 member\(s\)\)")
        self.assertRegex(text, stable)
        # Connections open and close at debug: not at the default level.
        self.assertNotIn("connection from", text)

    def test_json_log_format(self):
        other = SluiceServer("--log-format", "json", "--log-level", "debug")
        try:
            other.start()
            AdminClient({"bootstrap.servers": other.bootstrap}).list_topics(timeout=30)
            other.stop()
            records = [json.loads(line) for line in other.log().splitlines()]
        finally:
            other.cleanup()
        self.assertTrue(records)
        for r in records:
            self.assertEqual(set(r), {"ts", "level", "component", "msg"})
            self.assertRegex(r["ts"], r"\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\Z")
        self.assertTrue(any(r["level"] == "debug" and r["msg"].startswith("connection from")
                            for r in records), records)

    def test_admin_listener_none_and_taken_port(self):
        # --admin-listen none: no admin line, and the broker serves.
        other = SluiceServer("--admin-listen", "none")
        try:
            other.start()
            self.assertIsNone(other.admin_port)
        finally:
            other.cleanup()
        # An explicit address that is taken fails the start, naming it.
        taken = SluiceServer("--admin-listen", "127.0.0.1:%d" % self.server.admin_port)
        try:
            with self.assertRaises(RuntimeError) as ctx:
                taken.start()
            self.assertIn("admin listen on 127.0.0.1:%d" % self.server.admin_port,
                          str(ctx.exception))
        finally:
            taken.cleanup()


if __name__ == "__main__":
    unittest.main()
