"""kcat (librdkafka 2.0.2) against a real `sluice serve`: produce and consume round trips with keys,
headers, null and empty fields, a 1 MiB value, every compression codec, metadata listing, and
starting at an offset or a timestamp. kcat asks for ApiVersions v3, which sluice answers in v3; the
server log must show no connection closed over it."""

import re
import subprocess
import time
import unittest

from sluice_server import SLUICE, SluiceServer, ServerTestCase
from test_idempotence import RawKafka, create_topic

CODECS = {"gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
BIG = ["-X", "message.max.bytes=2000000"]


def kcat(*args, stdin=None, timeout=60):
    out = subprocess.run(["kcat"] + list(args), input=stdin, capture_output=True, timeout=timeout)
    if out.returncode != 0:
        raise AssertionError("kcat %s exited %d:\n%s" % (" ".join(args), out.returncode,
                                                         out.stderr.decode(errors="replace")))
    return out.stdout


class KcatTest(ServerTestCase):
    def setUp(self):
        self.server = SluiceServer()
        create_topic(self.server.data_dir, "lines", 1)
        create_topic(self.server.data_dir, "nulls", 1)
        create_topic(self.server.data_dir, "big", 1)
        for codec in CODECS:
            create_topic(self.server.data_dir, "codec-" + codec, 1)
        self.server.start()

    def produce(self, topic, lines, *extra):
        kcat("-P", "-b", self.server.bootstrap, "-t", topic, "-p", "0", *extra,
             stdin=b"".join(l + b"\n" for l in lines))

    def consume(self, topic, fmt, *extra):
        return kcat("-C", "-b", self.server.bootstrap, "-t", topic, "-e", "-q", "-f", fmt, *extra)

    def assert_no_closed_connections(self):
        log = self.server.log()
        self.assertNotIn("closing the connection", log)
        self.assertNotIn("malformed request", log)

    def test_keys_headers_offsets_exact_bytes(self):
        lines = [b"key-%04d:value %d: with colons\tand tabs \xc3\xa9" % (i, i) for i in range(1000)]
        self.produce("lines", lines, "-K:", "-H", "h1=v1", "-H", "trace=abc=def")
        out = self.consume("lines", r"%k|%s|%h|%o|%p|%K|%S\n", "-o", "beginning")
        expected = b"".join(
            b"key-%04d|value %d: with colons\tand tabs \xc3\xa9|h1=v1,trace=abc=def|%d|0|8|%d\n"
            % (i, i, i, len(l) - 9) for i, l in enumerate(lines))
        self.assertEqual(out, expected)
        self.assert_no_closed_connections()

    def test_null_key_and_empty_and_null_values(self):
        # -Z: an empty key or value is sent as null. Without it: empty, not null.
        self.produce("nulls", [b"nokey-delimiter", b"k1:", b":v2", b":"], "-K:")
        self.produce("nulls", [b"k4:", b":v5"], "-K:", "-Z")
        out = self.consume("nulls", r"%o|%K|%S|%k|%s\n", "-o", "beginning")
        # kcat sends a line without the delimiter with a null key.
        self.assertEqual(out.splitlines(), [
            b"0|-1|15||nokey-delimiter",
            b"1|2|0|k1|",
            b"2|0|2||v2",
            b"3|0|0||",
            b"4|2|-1|k4|",
            b"5|-1|2||v5",
        ])

    def test_one_mib_value(self):
        value = bytes((b"0123456789abcdef"[i % 16] for i in range(1 << 20)))
        self.produce("big", [b"small-before", value, b"small-after"], *BIG)
        out = self.consume("big", r"%o %S %s\n", "-o", "beginning", *BIG)
        self.assertEqual(out, b"0 12 small-before\n1 %d %s\n2 11 small-after\n" % (len(value), value))

    def test_every_codec_round_trips(self):
        lines = [b"k%d:compressible value %d %s" % (i, i, b"x" * (i % 50)) for i in range(2000)]
        for codec, codec_id in CODECS.items():
            topic = "codec-" + codec
            # Large batches (kcat flushes at the end of its input, so this costs no time):
            # librdkafka sends a batch uncompressed when the codec would make it larger.
            self.produce(topic, lines, "-K:", "-z", codec, "-X", "linger.ms=2000")
            out = self.consume(topic, r"%k:%s\n", "-o", "beginning")
            self.assertEqual(out.splitlines(), lines, codec)
            # kcat really compressed (librdkafka silently sends plain batches to a broker whose
            # versions it does not trust with the codec) and the server kept the codec.
            with RawKafka(self.server.port) as conn:
                batches = conn.fetch_batches(topic, 0, version=11, decode=False)
            self.assertEqual({h["codec"] for h, _ in batches}, {codec_id}, codec)
            self.assertEqual(sum(h["count"] for h, _ in batches), len(lines))
            # Consume again, from the middle of the compressed batches.
            out = self.consume(topic, r"%o %k:%s\n", "-o", "1234", "-c", "3")
            self.assertEqual(out.splitlines(), [b"%d %s" % (o, lines[o]) for o in (1234, 1235, 1236)])
        self.assert_no_closed_connections()
        # The sluice side: the engine decompresses what librdkafka wrote.
        self.server.stop()
        for codec in CODECS:
            out = subprocess.run([SLUICE, "--data-dir", self.server.data_dir, "consume", "codec-" + codec,
                                  "--from-beginning", "--format", r"%k:%v\n"],
                                 capture_output=True, timeout=60, check=True).stdout
            self.assertEqual(out.splitlines(), lines, codec)

    def test_metadata_lists_topics(self):
        out = kcat("-L", "-b", self.server.bootstrap).decode()
        for topic in ["lines", "nulls", "big"] + ["codec-" + c for c in CODECS]:
            self.assertIn('topic "%s" with 1 partitions:' % topic, out)
        self.assertRegex(out, r"1 brokers:\s+broker \d+ at 127\.0\.0\.1:%d" % self.server.port)
        self.assertIn("partition 0, leader", out)
        # A topic asked for by name is auto-created (kcat asks with auto-creation allowed).
        out = kcat("-L", "-b", self.server.bootstrap, "-t", "made-by-metadata").decode()
        self.assertIn('topic "made-by-metadata" with 1 partitions:', out)
        self.assert_no_closed_connections()

    def test_start_at_offset_and_timestamp(self):
        lines = [b"line-%d" % i for i in range(1000)]
        # Two runs some milliseconds apart, so timestamps differ somewhere.
        self.produce("lines", lines[:500])
        first_run_done = int(time.time() * 1000)
        while int(time.time() * 1000) <= first_run_done + 2:  # the clock moves past the first run
            pass
        self.produce("lines", lines[500:])
        out = self.consume("lines", r"%o %s\n", "-o", "500", "-c", "1")
        self.assertEqual(out, b"500 line-500\n")
        out = self.consume("lines", r"%o %s\n", "-o", "-10")  # 10 before the end
        self.assertEqual(out.splitlines()[0], b"990 line-990")
        stamps = [int(t) for t in self.consume("lines", r"%T\n", "-o", "beginning").split()]
        self.assertEqual(len(stamps), 1000)
        self.assertLess(max(stamps[:500]), min(stamps[500:]))
        for target in (stamps[0], stamps[500], stamps[750], stamps[999]):
            want = next(o for o, ts in enumerate(stamps) if ts >= target)
            out = self.consume("lines", r"%o %s %T\n", "-o", "s@%d" % target, "-c", "1")
            self.assertEqual(out, b"%d line-%d %d\n" % (want, want, stamps[want]), target)
        # Past the last timestamp: nothing (kcat starts at the end).
        out = self.consume("lines", r"%o\n", "-o", "s@%d" % (stamps[999] + 60000))
        self.assertEqual(out, b"")

    def test_api_versions_v3(self):
        # librdkafka sends ApiVersions v3 (flexible) and sluice answers it in v3: no parse failure
        # and no second request (before sluice served v3 it answered with the KIP-511 v0 fallback,
        # which librdkafka 2.0 failed to parse and asked again at v0). With debug logging kcat shows
        # the negotiated versions.
        out = subprocess.run(["kcat", "-L", "-b", self.server.bootstrap, "-X", "api.version.request=true",
                              "-d", "protocol,broker"], capture_output=True, timeout=60)
        self.assertEqual(out.returncode, 0)
        err = out.stderr.decode(errors="replace")
        self.assertIn("Sent ApiVersionRequest (v3", err)
        self.assertIn("Received ApiVersionResponse (v3", err)
        self.assertNotIn("PROTOERR", err)
        self.assertNotIn("retrying with v0", err)
        self.assertNotIn("Sent ApiVersionRequest (v0", err)
        # With the v0 answer librdkafka enables what it needs: record batches v2, zstd, groups,
        # idempotence, offsetsForTimes (each needs particular API versions advertised).
        features = re.search(r"Updated enabled protocol features to (\S+)", err)
        self.assertIsNotNone(features, err[-3000:])
        for f in ("MsgVer2", "ZSTD", "LZ4", "BrokerBalancedConsumer", "IdempotentProducer", "OffsetTime"):
            self.assertIn(f, features.group(1).split(","))
        self.assertNotIn("ApiVersionRequest failed", err)
        self.assert_no_closed_connections()


if __name__ == "__main__":
    unittest.main()


class ConfigFileTest(unittest.TestCase):
    def test_flags_from_a_config_file(self):
        """`serve --config FILE` reads flags from the file's [serve] section."""
        server = SluiceServer()
        try:
            path = server.data_dir + "/serve.toml"
            with open(path, "w") as f:
                f.write("[serve]\nnum-partitions = 3\ntopic-config = [\"retention.ms=12345\"]\n")
            server.extra_args = ["--config", path]
            server.start()
            kcat("-P", "-b", server.bootstrap, "-t", "from-config", stdin=b"x\n")
            listing = kcat("-L", "-b", server.bootstrap, "-t", "from-config").decode()
            self.assertIn('topic "from-config" with 3 partitions', listing)
            server.stop()
            described = subprocess.run(
                [SLUICE, "--data-dir", server.data_dir, "topic", "describe", "from-config",
                 "-o", "json"], capture_output=True, check=True).stdout.decode()
            self.assertIn('"retention.ms":"12345"', described.replace(" ", ""))
        finally:
            server.cleanup()
