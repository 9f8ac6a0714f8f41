"""The admin listener's JSON API (/api/v1/...) and the console's files on a real `sluice serve`:
after real produce (confluent-kafka with keys, headers, fixed timestamps and a binary value; kcat),
consume and offset commits, the API's topics, partitions, throughput, groups (lag in records and
seconds, a live member's assignment) and records are asserted value by value; bad parameters get
400 with a JSON error, unknown names 404, and random query strings never take the server down."""

import base64
import http.client
import json
import random
import subprocess
import time
import unittest
import urllib.parse

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from sluice_server import ServerTestCase, SluiceServer

TOPIC = "orders"
P0_RECORDS = 12
KCAT_RECORDS = 5  # to partition 1
BASE_TS = 1714564800000  # 2024-05-01T12:00:00Z; record i of partition 0 is BASE_TS + i s
BINARY_OFFSET = 7  # this record's value is not UTF-8
BINARY_VALUE = b"\xff\xfe\x00binary"
COMMITTED = 4


def p0_value(i):
    if i == BINARY_OFFSET:
        return BINARY_VALUE
    return json.dumps({"order": i, "item": "widget-%d" % i}).encode()


def get(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type"), resp.read()
    finally:
        conn.close()


def wait_for(condition, what, timeout=30):
    """Polls `condition` (returning a truthy value when met) until it holds; fails after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        got = condition()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.1)


class AdminApiTest(ServerTestCase):
    def setUp(self):
        self.server = SluiceServer("--group-initial-rebalance-delay-ms", "0").start()
        self.assertIsNotNone(self.server.admin_port, self.server.log())

    def api(self, path, status=200):
        code, content_type, body = get(self.server.admin_port, "/api/v1/" + path)
        self.assertEqual(content_type, "application/json", path)
        doc = json.loads(body)
        self.assertEqual(code, status, "%s: %s" % (path, doc))
        return doc

    def produce_and_consume(self):
        bootstrap = self.server.bootstrap
        admin = AdminClient({"bootstrap.servers": bootstrap})
        admin.create_topics([NewTopic(TOPIC, num_partitions=2, replication_factor=1)])[
            TOPIC].result(30)
        producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
        for i in range(P0_RECORDS):
            producer.produce(TOPIC, key=b"key-%d" % i, value=p0_value(i), partition=0,
                             timestamp=BASE_TS + i * 1000,
                             headers=[("source", b"test"), ("seq", str(i).encode())])
            producer.flush(30)  # one batch per record: offsets in the middle of nothing
        kcat = subprocess.run(["kcat", "-P", "-b", bootstrap, "-t", TOPIC, "-p", "1"],
                              input=b"".join(b"line-%d\n" % i for i in range(KCAT_RECORDS)),
                              capture_output=True, timeout=60)
        self.assertEqual(kcat.returncode, 0, kcat.stderr)
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "billing",
                             "enable.auto.commit": False})
        consumer.assign([TopicPartition(TOPIC, 0, 0)])
        got = 0
        deadline = time.monotonic() + 30
        while got < P0_RECORDS and time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is not None and msg.error() is None:
                got += 1
        self.assertEqual(got, P0_RECORDS)
        consumer.commit(offsets=[TopicPartition(TOPIC, 0, COMMITTED)], asynchronous=False)
        consumer.close()

    def test_api_after_traffic(self):
        self.produce_and_consume()

        # --- topics -----------------------------------------------------------------------
        topics = {t["name"]: t for t in self.api("topics")["topics"]}
        self.assertNotIn("__consumer_offsets", topics)
        t = topics[TOPIC]
        self.assertEqual(t["partitions"], 2)
        self.assertEqual(t["records"], P0_RECORDS + KCAT_RECORDS)
        self.assertEqual(t["totals"]["records_in"], P0_RECORDS + KCAT_RECORDS)
        self.assertGreaterEqual(t["totals"]["records_out"], P0_RECORDS)
        self.assertGreater(t["size_bytes"], 0)
        detail = self.api("topics/" + TOPIC)
        parts = {p["partition"]: p for p in detail["partitions"]}
        self.assertEqual((parts[0]["log_start_offset"], parts[0]["high_watermark"],
                          parts[0]["records"]), (0, P0_RECORDS, P0_RECORDS))
        self.assertEqual(parts[1]["high_watermark"], KCAT_RECORDS)
        self.assertEqual(parts[0]["totals"]["records_in"], P0_RECORDS)
        self.assertEqual(parts[1]["totals"]["records_in"], KCAT_RECORDS)
        self.assertEqual(parts[1]["totals"]["records_out"], 0)
        self.assertGreater(parts[0]["segments"], 0)
        self.assertIsNone(parts[0]["offline"])

        # --- throughput: the admin side samples once a second ------------------------------
        def produced_in_series():
            series = {s["topic"]: s["points"] for s in self.api("throughput?minutes=1")["topics"]}
            points = series.get(TOPIC, [])
            return points if sum(p["records_in_per_sec"] for p in points) > 0 else None
        points = wait_for(produced_in_series, "a throughput point with records in", 10)
        # The rates integrate back to the records produced (each point's rate x its interval).
        total = 0.0
        series = self.api("throughput?minutes=1")
        for s in series["topics"]:
            if s["topic"] == TOPIC:
                prev = None
                for p in s["points"]:
                    if prev is not None:
                        total += p["records_in_per_sec"] * (p["time_ms"] - prev) / 1000.0
                    prev = p["time_ms"]
        self.assertEqual(series["interval_ms"], 1000)
        self.assertTrue(all(p["records_in_per_sec"] >= 0 for p in points))
        self.assertLessEqual(total, (P0_RECORDS + KCAT_RECORDS) * 1.5)
        rate = wait_for(lambda: self.api("topics/" + TOPIC)["partitions"][0]["rates"]
                        ["records_in_per_sec"], "a partition rate", 10)
        self.assertGreater(rate, 0)

        # --- groups ---------------------------------------------------------------------------
        groups = {g["group"]: g for g in self.api("groups")["groups"]}
        billing = groups["billing"]
        self.assertEqual((billing["state"], billing["members"], billing["topics"],
                          billing["lag_records"]), ("Empty", 0, [TOPIC], P0_RECORDS - COMMITTED))
        g = self.api("groups/billing")
        self.assertEqual(len(g["offsets"]), 1)
        o = g["offsets"][0]
        self.assertEqual((o["topic"], o["partition"], o["committed_offset"], o["log_end_offset"],
                          o["lag_records"]), (TOPIC, 0, COMMITTED, P0_RECORDS,
                                              P0_RECORDS - COMMITTED))
        # Lag in time: the age of the oldest unconsumed record (its timestamp is fixed).
        expected_age = time.time() - (BASE_TS + COMMITTED * 1000) / 1000.0
        self.assertAlmostEqual(o["lag_seconds"], expected_age, delta=60)
        self.assertAlmostEqual(billing["lag_seconds"], expected_age, delta=60)

        # A live member: Stable, one member, assigned both partitions.
        member = Consumer({"bootstrap.servers": self.server.bootstrap, "group.id": "live",
                           "client.id": "console-test", "session.timeout.ms": 6000})
        try:
            member.subscribe([TOPIC])

            def stable():
                member.poll(0.1)
                doc = self.api("groups/live")
                return doc if doc["state"] == "Stable" and doc["members"] else None
            live = wait_for(stable, "group live to be Stable")
            self.assertEqual(len(live["members"]), 1)
            m = live["members"][0]
            self.assertEqual(m["client_id"], "console-test")
            self.assertEqual(m["assignment"], [{"topic": TOPIC, "partitions": [0, 1]}])
        finally:
            member.close()

        # --- records --------------------------------------------------------------------------
        r = self.api("records?topic=%s&partition=0&offset=3&limit=6" % TOPIC)
        self.assertEqual([x["offset"] for x in r["records"]], [3, 4, 5, 6, 7, 8])
        self.assertEqual((r["start_offset"], r["next_offset"], r["high_watermark"]), (3, 9, 12))
        rec = r["records"][0]
        self.assertEqual(rec["key"], "key-3")
        self.assertEqual(json.loads(rec["value"]), {"order": 3, "item": "widget-3"})
        self.assertEqual(rec["timestamp"], BASE_TS + 3000)
        self.assertEqual(rec["time"], "2024-05-01T12:00:03.000Z")
        self.assertEqual(rec["headers"], [{"key": "source", "value": "test"},
                                          {"key": "seq", "value": "3"}])
        binary = r["records"][BINARY_OFFSET - 3]
        self.assertEqual(binary["value"], {"base64": base64.b64encode(BINARY_VALUE).decode()})
        # By time: ISO-8601 and milliseconds find the first record at or after it.
        r = self.api("records?topic=%s&partition=0&time=2024-05-01T12:00:05Z&limit=2" % TOPIC)
        self.assertEqual([x["offset"] for x in r["records"]], [5, 6])
        r = self.api("records?topic=%s&partition=0&time=%d&limit=1" % (TOPIC, BASE_TS + 9500))
        self.assertEqual([x["offset"] for x in r["records"]], [10])
        r = self.api("records?topic=%s&partition=0&time=2024-05-01T14:00:05%%2B02:00&limit=1"
                     % TOPIC)
        self.assertEqual([x["offset"] for x in r["records"]], [5])
        # Past the end by time: nothing.
        r = self.api("records?topic=%s&partition=0&time=2030-01-01T00:00:00Z" % TOPIC)
        self.assertEqual((r["records"], r["next_offset"]), ([], P0_RECORDS))
        # No position: the newest records.
        r = self.api("records?topic=%s&partition=0&limit=3" % TOPIC)
        self.assertEqual([x["offset"] for x in r["records"]], [9, 10, 11])
        # kcat's lines, in partition 1, with null keys.
        r = self.api("records?topic=%s&partition=1&offset=0" % TOPIC)
        self.assertEqual([(x["key"], x["value"]) for x in r["records"]],
                         [(None, "line-%d" % i) for i in range(KCAT_RECORDS)])
        # The byte budget: at least one record, then only what fits.
        size = r["records"][0]["size"]
        r = self.api("records?topic=%s&partition=1&offset=0&max_bytes=%d" % (TOPIC, 2 * size))
        self.assertEqual(len(r["records"]), 2)
        r = self.api("records?topic=%s&partition=0&offset=0&max_bytes=4" % TOPIC)
        self.assertEqual(len(r["records"]), 1)
        self.assertTrue(r["records"][0]["truncated"])
        self.assertEqual(r["records"][0]["value"], p0_value(0)[:4].decode())

    def test_bad_parameters(self):
        admin = AdminClient({"bootstrap.servers": self.server.bootstrap})
        admin.create_topics([NewTopic(TOPIC, num_partitions=1, replication_factor=1)])[
            TOPIC].result(30)
        base = "records?topic=%s&" % TOPIC
        for path in [base + "partition=x", base + "partition=-1", base + "limit=0",
                     base + "limit=100000", base + "offset=-1", base + "offset=1e3",
                     base + "time=yesterday", base + "time=2024-13-01T00:00:00Z",
                     base + "time=2024-02-30", base + "offset=1&time=5", base + "colour=red",
                     base + "max_bytes=0", "records", "records?partition=0", base + "offset=%zz",
                     base + "offset=1&offset=2", "throughput?minutes=0",
                     "throughput?minutes=11", "topics?x=1", "topics/%zz"]:
            doc = self.api(path, status=400)
            self.assertEqual(doc["status"], 400)
            self.assertTrue(doc["error"], path)
        for path in ["records?topic=nope", "records?topic=%s&partition=1" % TOPIC, "topics/nope",
                     "topics/__consumer_offsets", "groups/nope", "nope", "topics/%s/x" % TOPIC]:
            self.assertEqual(self.api(path, status=404)["status"], 404)

        # Random query strings: always a JSON answer of 200, 400 or 404, never a crash.
        rng = random.Random(14)
        alphabet = "=&%+?/#;,:abcdefghijklmnopqrstuvwxyz0123456789-_.~TZ"
        names = ["topic", "partition", "offset", "time", "limit", "max_bytes", "minutes", "x"]
        for i in range(300):
            params = []
            for _ in range(rng.randrange(0, 5)):
                value = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12)))
                if rng.random() < 0.3:
                    value = str(rng.randrange(-2**63, 2**64))
                params.append(rng.choice(names) + "=" + urllib.parse.quote(value, safe="%:+"))
            endpoint = rng.choice(["records", "throughput", "topics", "groups",
                                   "topics/" + TOPIC, "groups/g"])
            path = "/api/v1/%s?%s" % (endpoint, "&".join(params))
            code, content_type, body = get(self.server.admin_port, path)
            self.assertIn(code, (200, 400, 404), path)
            self.assertEqual(content_type, "application/json", path)
            json.loads(body)
        self.assertTrue(self.server.alive())
        self.assertEqual(get(self.server.admin_port, "/livez")[0], 200)

    def test_console_files(self):
        code, content_type, body = get(self.server.admin_port, "/")
        self.assertEqual((code, content_type), (200, "text/html; charset=utf-8"))
        self.assertIn(b"<title>sluice console</title>", body)
        self.assertIn(b'src="/console.js"', body)
        code, content_type, body = get(self.server.admin_port, "/console.js")
        self.assertEqual((code, content_type), (200, "text/javascript; charset=utf-8"))
        self.assertIn(b"/api/v1/", body)
        code, content_type, _ = get(self.server.admin_port, "/console.css")
        self.assertEqual((code, content_type), (200, "text/css; charset=utf-8"))
        self.assertEqual(get(self.server.admin_port, "/index.html")[0], 200)
        self.assertEqual(get(self.server.admin_port, "/nope.js")[0], 404)
        self.assertEqual(get(self.server.admin_port, "/console.js/x")[0], 404)


if __name__ == "__main__":
    unittest.main()
