"""Per-partition trained zstd dictionaries (compression.zstd.dictionary=auto) seen by real Kafka
clients against a real `sluice serve`: confluent_kafka produces uncompressed telemetry in batches of
10 records; the server trains a dictionary once it has sampled 2 MiB, and compresses later batches
with it (`sluice dump` shows which). No client has that dictionary, so Fetch must serve those
batches as standard ones: re-compressed with plain zstd for Fetch v11 (checked on the wire: no
dictionary id in any frame), decompressed for Fetch v4 (kafka-python). Both clients read back
every record, CRC-checked; `sluice verify` is healthy; after a restart the same holds. A missing
dictionary file is a clear error for the reads that need it, and verify names it. A compacted topic
with a dictionary (cleanup.policy=compact) read by a consumer from the beginning after
`sluice topic compact` shows each key's latest value.
"""

import json
import os
import struct
import subprocess
import time
import unittest

import zstandard

from sluice_server import SLUICE, SluiceServer, ServerTestCase
from test_idempotence import RawKafka, create_topic
from test_python_clients import confluent_consume, confluent_produce, kp_consume

TOPIC = "tele"
METRICS = ["cpu.user", "mem.used_bytes", "disk.read_bytes", "net.rx_bytes", "http.latency_ms"]
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def telemetry(i):
    """~150-byte JSON records of 64 hosts and five metrics."""
    return json.dumps({"ts": 1767225600000 + i * 7, "host": "web-%02d.eu-west-1" % (i % 64),
                       "metric": METRICS[(i // 64) % 5], "value": (i * 7919) % 100000 / 100.0,
                       "unit": "gauge" if i % 2 else "count", "agent": "collector/2.1"},
                      separators=(",", ":")).encode()


def wire_batches(data):
    """(base offset, codec, zstd frame dictionary id or None, records' bytes) of each whole batch
    in `data`."""
    out, pos = [], 0
    while pos + 61 <= len(data):
        base, length = struct.unpack_from(">qi", data, pos)
        if pos + 12 + length > len(data):
            break
        attributes = struct.unpack_from(">h", data, pos + 21)[0]
        dict_id = None
        body = data[pos + 61:pos + 12 + length]
        if attributes & 7 == 4:
            assert body[:4] == ZSTD_MAGIC, body[:8]
            descriptor = body[4]
            size = [0, 1, 2, 4][descriptor & 3]
            start = 5 if descriptor & 0x20 else 6  # no window descriptor when single-segment
            dict_id = int.from_bytes(body[start:start + size], "little") if size else 0
        out.append((base, attributes & 7, dict_id, body))
        pos += 12 + length
    return out


class DictionaryTest(ServerTestCase):
    def setUp(self):
        self.server = SluiceServer()
        create_topic(self.server.data_dir, TOPIC, 1, "compression.type=zstd",
                     "compression.zstd.dictionary=auto", "segment.bytes=1048576")
        self.server.start()
        self.part_dir = os.path.join(self.server.data_dir, TOPIC + "-0")

    def dictionaries(self):
        return sorted(f for f in os.listdir(self.part_dir) if f.endswith(".zdict"))

    def produce(self, first, count):
        records = [{"value": telemetry(i)} for i in range(first, first + count)]
        delivered = confluent_produce(self.server.bootstrap, TOPIC, records,
                                      **{"compression.type": "none", "batch.num.messages": 10,
                                         "linger.ms": 2})
        self.assertEqual(len(delivered), count)

    def dump(self, part_dir=None):
        part_dir = part_dir or self.part_dir
        out = []
        for f in sorted(os.listdir(part_dir)):
            if f.endswith(".log"):
                r = subprocess.run([SLUICE, "--output", "json", "dump", os.path.join(part_dir, f)],
                                   capture_output=True, timeout=120)
                self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
                out += [json.loads(line) for line in r.stdout.decode().splitlines() if line.strip()]
        return out

    def verify(self):
        return subprocess.run([SLUICE, "--data-dir", self.server.data_dir, "verify"],
                              capture_output=True, timeout=120)

    def test_dictionary_batches_are_served_as_standard_batches(self):
        # 16,000 records (~2.4 MiB): the sample fills and a dictionary is trained in the background.
        self.produce(0, 16000)
        deadline = time.monotonic() + 60
        while not self.dictionaries() and time.monotonic() < deadline:
            time.sleep(0.05)  # polls for the file the server writes; the assertion below decides
        self.assertEqual(self.dictionaries(), ["0000032768.zdict"], self.server.log())
        self.produce(16000, 4000)
        total = 20000
        expected = [telemetry(i) for i in range(total)]

        stored = self.dump()
        with_dict = [b for b in stored if b.get("dictionary") == 32768]
        self.assertGreater(len(with_dict), 300)
        self.assertTrue(all(b["codec"] == "zstd" for b in stored))
        self.assertEqual(sum(b["records"] for b in stored), total)

        with RawKafka(self.server.port) as conn:
            for version, codec in ((11, 4), (4, 0)):
                offset, seen = 0, []
                while offset < total:
                    error, hw, data = conn.fetch_raw(TOPIC, 0, offset, version=version,
                                                     max_bytes=1 << 20)
                    self.assertEqual(error, 0)
                    batches = wire_batches(bytes(data))
                    self.assertTrue(batches)
                    seen += batches
                    offset = batches[-1][0] + 10
                if codec == 0:
                    self.assertEqual({c for _, c, _, _ in seen}, {0}, version)
                    continue
                # v11: zstd without a dictionary, except a batch that plain zstd (the topic's
                # level 3) would not make smaller, which is served uncompressed (a producer's
                # batch of one or two records: linger.ms=2 cuts some short).
                zstd = [d for _, c, d, _ in seen if c == 4]
                self.assertEqual(set(zstd), {0})  # no frame names a dictionary
                self.assertGreater(len(zstd), len(seen) * 9 // 10)
                for _, c, _, body in seen:
                    if c != 4:
                        self.assertEqual(c, 0)
                        self.assertGreaterEqual(
                            len(zstandard.ZstdCompressor(level=3).compress(body)), len(body))

        got = confluent_consume(self.server.bootstrap, TOPIC, **{"check.crcs": True})
        self.assertEqual([v for (_, _, _, v, _, _) in got], expected)
        self.assertEqual([o for (_, o, *_) in got], list(range(total)))
        got = kp_consume(self.server.bootstrap, TOPIC, total)
        self.assertEqual([v for (_, _, _, v, _, _) in got], expected)

        r = self.verify()
        self.assertEqual(r.returncode, 0, r.stdout.decode() + r.stderr.decode())

        self.server.stop()
        self.server.restart()
        got = confluent_consume(self.server.bootstrap, TOPIC, **{"check.crcs": True})
        self.assertEqual([v for (_, _, _, v, _, _) in got], expected)

        # Without its dictionary, the batches that need it are a clear error, never wrong data.
        self.server.stop()
        path = os.path.join(self.part_dir, "0000032768.zdict")
        os.rename(path, path + ".away")
        r = self.verify()
        self.assertEqual(r.returncode, 1)
        self.assertIn("0000032768.zdict", r.stdout.decode())
        self.server.restart()
        with RawKafka(self.server.port) as conn:
            error, _, _ = conn.fetch_raw(TOPIC, 0, total - 1, version=11)
            self.assertEqual(error, 2)  # CORRUPT_MESSAGE
        self.assertIn("0000032768.zdict: zstd dictionary 32768 is missing", self.server.log())
        with RawKafka(self.server.port) as conn:
            error, _, data = conn.fetch_raw(TOPIC, 0, 0, version=11, max_bytes=1 << 16)
            self.assertEqual(error, 0)  # batches from before the dictionary are served
            self.assertTrue(wire_batches(bytes(data)))

    def test_compacted_topic_with_a_dictionary_reads_from_the_beginning(self):
        # cleanup.policy=compact with a dictionary: keyed telemetry (320 keys, host/metric), a
        # dictionary trained part way, `sluice topic compact`, then a consumer from the beginning
        # sees each key's latest value at the offset it was written at.
        name = "changelog"
        self.server.stop()
        create_topic(self.server.data_dir, name, 1, "compression.type=zstd",
                     "compression.zstd.dictionary=auto", "cleanup.policy=compact",
                     "segment.bytes=262144")
        self.server.restart()
        part_dir = os.path.join(self.server.data_dir, name + "-0")

        def key(i):
            return ("web-%02d/%s" % (i % 64, METRICS[(i // 64) % 5])).encode()

        def produce(first, count):
            records = [{"key": key(i), "value": telemetry(i)} for i in range(first, first + count)]
            delivered = confluent_produce(self.server.bootstrap, name, records,
                                          **{"compression.type": "none",
                                             "batch.num.messages": 10, "linger.ms": 2})
            self.assertEqual(len(delivered), count)

        def zdicts():
            return sorted(f for f in os.listdir(part_dir) if f.endswith(".zdict"))

        produce(0, 16000)
        deadline = time.monotonic() + 60
        while not zdicts() and time.monotonic() < deadline:
            time.sleep(0.05)  # polls for the file the server writes; the assertion below decides
        self.assertEqual(zdicts(), ["0000032768.zdict"], self.server.log())
        produce(16000, 4000)
        total = 20000

        self.server.stop()
        out = subprocess.run([SLUICE, "--data-dir", self.server.data_dir, "--output", "json",
                              "topic", "compact", name], capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        part = json.loads(out.stdout)["partitions"][0]
        self.assertLess(part["records_after"], part["records_before"] // 2, part)
        # The batches the cleaner kept still name the dictionary.
        stored = self.dump(part_dir)
        self.assertTrue(any(b.get("dictionary") == 32768 for b in stored))
        self.assertEqual(zdicts(), ["0000032768.zdict"])

        self.server.restart()
        got = confluent_consume(self.server.bootstrap, name, **{"check.crcs": True})
        offsets = [o for (_, o, *_) in got]
        self.assertEqual(offsets, sorted(set(offsets)))
        self.assertLess(len(got), total // 2)
        seen = {}
        for (_, o, k, v, _, _) in got:
            self.assertEqual((k, v), (key(o), telemetry(o)), "offset %d" % o)
            seen[k] = o
        latest = {key(i): i for i in range(total)}
        self.assertEqual(seen, latest)
        r = self.verify()
        self.assertEqual(r.returncode, 0, r.stdout.decode() + r.stderr.decode())


if __name__ == "__main__":
    unittest.main()
