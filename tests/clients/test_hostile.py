"""Hostile clients against a real `sluice serve`: the broker's memory stays bounded, and a real
client is served meanwhile.

Every attack is made of hand-built Kafka requests over raw sockets, and the broker's peak resident
memory (VmHWM in /proc/<pid>/status, which only ever grows) is read after it:
- decompression bombs in Produce: zstd frames whose header claims 1 GiB (8 at once), a real 1 GiB
  zstd bomb of 32 KiB (RLE blocks), with and without a declared content size, an LZ4 frame whose
  header claims 1 GiB, and snappy blocks that claim 1 GiB. Each is refused (MESSAGE_TOO_LARGE or
  CORRUPT_MESSAGE) after at most max.message.bytes of work, and nothing is stored;
- 40 connections announcing 25 MiB requests and sending all but their last byte: the memory budget
  (queued.max.request.bytes) stops reading from them, kcat is served while they hang, and the
  request receive timeout closes them;
- 1,000 idle connections that sent one byte each (a slow loris): they cost nothing measurable, and
  the receive timeout closes them;
- size prefixes of 2 GiB and of -1;
- a Fetch below v10 of zstd batches (transcoded for the old client) answers within max_bytes;
- 100 JoinGroups, each into a group of its own with 1 MiB of member metadata: group state stops at
  --group-max-state-bytes and the rest are answered COORDINATOR_NOT_AVAILABLE.
"""

import os
import resource
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest

from kafka.protocol.fetch import FetchRequest_v4
from kafka.protocol.group import JoinGroupRequest_v0
from kafka.record.default_records import DefaultRecordBatchBuilder

from sluice_server import SluiceServer, ServerTestCase
from test_idempotence import (CORRUPT_MESSAGE, MESSAGE_TOO_LARGE, NONE, RawKafka, create_topic,
                              make_batch, parse_batches, with_crc)

COORDINATOR_NOT_AVAILABLE = 15
MiB = 1 << 20
GiB = 1 << 30
BATCH_HEADER_SIZE = 61


def peak_rss(pid, what=None):
    """The process's peak resident set size in bytes (VmHWM); printed (for bench/RESULTS.md) with
    `what` it was measured after."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1]) * 1024
                if what:
                    print("peak RSS after %s: %.1f MiB" % (what, peak / MiB), file=sys.stderr)
                return peak
    raise AssertionError("no VmHWM for pid %d" % pid)


def with_body(codec, body):
    """A one-record batch whose records section is replaced by `body`, labelled `codec`, with its
    length and CRC made to match: what a hostile producer can send."""
    b = bytearray(make_batch([b"x"])[:BATCH_HEADER_SIZE]) + body
    attributes = struct.unpack_from(">h", b, 21)[0]
    struct.pack_into(">h", b, 21, (attributes & ~7) | codec)
    return with_crc(bytes(b), fix_length=True)


ZSTD, LZ4, SNAPPY = 4, 3, 2
ZSTD_MAGIC = struct.pack("<I", 0xFD2FB528)


def zstd_rle_blocks(total):
    """zstd RLE blocks of 128 KiB, `total` bytes in all: 4 bytes of input each."""
    blocks = bytearray()
    n = total // (128 << 10)
    for i in range(n):
        last = 1 if i == n - 1 else 0
        header = last | (1 << 1) | ((128 << 10) << 3)  # last flag, type RLE, size
        blocks += struct.pack("<I", header)[:3] + b"\0"
    return bytes(blocks)


def zstd_liar():
    """A zstd frame whose header declares 1 GiB of content and holds one raw byte."""
    header = ZSTD_MAGIC + bytes([0xE0]) + struct.pack("<Q", GiB)  # single segment, 8-byte size
    block = struct.pack("<I", 1 | (0 << 1) | (1 << 3))[:3] + b"x"  # last, raw, 1 byte
    return header + block


def zstd_bomb(declared):
    """A real zstd frame of about 32 KiB that inflates to 1 GiB of zeros, with or without its
    content size in the header."""
    if declared:
        header = ZSTD_MAGIC + bytes([0xE0]) + struct.pack("<Q", GiB)
    else:
        header = ZSTD_MAGIC + bytes([0x00, (17 - 10) << 3])  # a 128 KiB window, no content size
    return header + zstd_rle_blocks(GiB)


def xxh32(data, seed=0):
    """XXH32 (for the LZ4 frame header's checksum)."""
    p1, p2, p3, p4, p5 = 2654435761, 2246822519, 3266489917, 668265263, 374761393
    mask = 0xFFFFFFFF

    def rotl(x, r):
        return ((x << r) | (x >> (32 - r))) & mask

    n = len(data)
    i = 0
    if n >= 16:
        v = [(seed + p1 + p2) & mask, (seed + p2) & mask, seed & mask, (seed - p1) & mask]
        while i + 16 <= n:
            for j in range(4):
                (lane,) = struct.unpack_from("<I", data, i + 4 * j)
                v[j] = (rotl((v[j] + lane * p2) & mask, 13) * p1) & mask
            i += 16
        h = (rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18)) & mask
    else:
        h = (seed + p5) & mask
    h = (h + n) & mask
    while i + 4 <= n:
        (lane,) = struct.unpack_from("<I", data, i)
        h = (rotl((h + lane * p3) & mask, 17) * p4) & mask
        i += 4
    while i < n:
        h = (rotl((h + data[i] * p5) & mask, 11) * p1) & mask
        i += 1
    h ^= h >> 15
    h = (h * p2) & mask
    h ^= h >> 13
    h = (h * p3) & mask
    h ^= h >> 16
    return h


def lz4_liar():
    """An LZ4 frame whose header declares 1 GiB of content, with a valid header checksum."""
    descriptor = bytes([0x68, 0x70]) + struct.pack("<Q", GiB)  # v1, independent, content size; 4 MB
    checksum = (xxh32(descriptor) >> 8) & 0xFF
    block = struct.pack("<I", 0x80000001) + b"x"  # one uncompressed byte
    return struct.pack("<I", 0x184D2204) + descriptor + bytes([checksum]) + block + b"\0\0\0\0"


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def snappy_liars():
    """Snappy blocks that declare 1 GiB: raw, and in Kafka's xerial framing."""
    block = varint(GiB) + bytes([0x00]) + b"x"  # a 1-byte literal after the length
    xerial = b"\x82SNAPPY\x00" + struct.pack(">ii", 1, 1) + struct.pack(">i", len(block)) + block
    return [block, xerial]


def kcat_round_trip(bootstrap, topic, value):
    """Produces `value` with kcat (acks=all) and reads the topic back; returns what was read."""
    subprocess.run(["kcat", "-b", bootstrap, "-P", "-t", topic, "-X", "request.required.acks=-1"],
                   input=value + b"\n", check=True, capture_output=True, timeout=60)
    out = subprocess.run(["kcat", "-b", bootstrap, "-C", "-t", topic, "-o", "beginning", "-e",
                          "-q"], check=True, capture_output=True, timeout=60)
    return out.stdout


def closed_by_peer(sock, timeout=20):
    """True once the broker has closed `sock` (EOF or reset) within `timeout` seconds."""
    sock.settimeout(timeout)
    try:
        while sock.recv(65536):
            pass
        return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def raise_open_file_limit(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class DecompressionBombTest(ServerTestCase):
    """The broker's defaults (max.message.bytes 16 MiB, a 128 MiB budget)."""

    def setUp(self):
        self.server = SluiceServer()
        create_topic(self.server.data_dir, "bombs", 1)
        create_topic(self.server.data_dir, "other", 1)
        self.server.start()
        self.baseline = peak_rss(self.server.proc.pid, "start")

    def produce_refused(self, conn, body, codec):
        code, _ = conn.produce("bombs", 0, with_body(codec, body))
        self.assertIn(code, (MESSAGE_TOO_LARGE, CORRUPT_MESSAGE))
        return code

    def test_liar_headers_and_real_bombs_cost_no_more_than_max_message_bytes(self):
        liar = zstd_liar()
        # Eight liars at once, on eight connections.
        results = []

        def one():
            with RawKafka(self.server.port) as conn:
                results.append(conn.produce("bombs", 0, with_body(ZSTD, liar))[0])

        threads = [threading.Thread(target=one) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(len(results), 8)
        for code in results:
            self.assertIn(code, (MESSAGE_TOO_LARGE, CORRUPT_MESSAGE))
        with RawKafka(self.server.port) as conn:
            # The honest bomb: a 32 KiB frame that really inflates to 1 GiB, declared or streamed.
            self.assertEqual(self.produce_refused(conn, zstd_bomb(declared=True), ZSTD),
                             MESSAGE_TOO_LARGE)
            self.assertEqual(self.produce_refused(conn, zstd_bomb(declared=False), ZSTD),
                             MESSAGE_TOO_LARGE)
            self.produce_refused(conn, lz4_liar(), LZ4)
            for body in snappy_liars():
                self.produce_refused(conn, body, SNAPPY)
            self.assertEqual(conn.high_watermark("bombs", 0), 0, "a bomb was stored")
        grown = peak_rss(self.server.proc.pid,
                         "8 zstd liars, 2 real 1 GiB zstd bombs, lz4 and snappy liars") - self.baseline
        # Before the bounds: 8 GB for eight real bombs. Now a bomb costs at most max.message.bytes
        # (16 MiB) of output, and nothing of what a header claims. (Growth over the broker's own
        # peak at start, so that the sanitizers' shadow memory does not count.)
        self.assertLess(grown, 128 * MiB, "peak RSS grew by %d MiB" % (grown // MiB))
        self.assertEqual(kcat_round_trip(self.server.bootstrap, "other", b"still-served"),
                         b"still-served\n")

    def test_a_batch_just_under_max_message_bytes_decompressed_is_accepted(self):
        # The bound is the topic's max.message.bytes, not a fixed small number: a legitimate batch
        # that inflates to 12 MiB goes in.
        builder = DefaultRecordBatchBuilder(magic=2, compression_type=ZSTD, is_transactional=False,
                                            producer_id=-1, producer_epoch=-1, base_sequence=-1,
                                            batch_size=32 * MiB)
        for i in range(12):
            self.assertIsNotNone(builder.append(i, timestamp=int(time.time() * 1000), key=None,
                                                value=bytes([i]) * MiB, headers=[]))
        batch = bytes(builder.build())
        self.assertLess(len(batch), MiB)
        with RawKafka(self.server.port) as conn:
            code, base = conn.produce("bombs", 0, batch)
            self.assertEqual(code, NONE)
            self.assertEqual(conn.high_watermark("bombs", 0), base + 12)


class MemoryBudgetTest(ServerTestCase):
    """A 64 MiB budget with 25 MiB requests allowed, and a 3 s receive timeout."""

    BUDGET = 64 * MiB

    def setUp(self):
        self.server = SluiceServer("--queued-max-request-bytes", str(self.BUDGET),
                                   "--max-request-bytes", str(25 * MiB + 1024),
                                   "--request-receive-timeout-ms", "3000")
        create_topic(self.server.data_dir, "other", 1)
        self.server.start()
        self.baseline = peak_rss(self.server.proc.pid, "start")

    def test_half_sent_requests_stop_at_the_budget_and_time_out(self):
        request = 25 * MiB
        chunk = b"\0" * MiB
        socks = []
        stalled = []

        def half_send(s):
            # All but the last byte, as far as the broker reads it; it stops reading when the
            # budget is spent, and then the send blocks until the timeout here.
            try:
                s.sendall(struct.pack(">i", request))
                left = request - 1
                while left > 0:
                    n = min(left, len(chunk))
                    s.sendall(chunk[:n])
                    left -= n
            except socket.timeout:
                stalled.append(s)
            except OSError:
                pass  # closed by the broker's receive timeout

        for _ in range(40):
            s = socket.create_connection(("127.0.0.1", self.server.port))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 256 << 10)
            s.settimeout(2)
            socks.append(s)
        threads = [threading.Thread(target=half_send, args=(s,)) for s in socks]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # At most two 25 MiB requests fit in 64 MiB: the other senders found the broker not
        # reading.
        self.assertGreaterEqual(len(stalled), 30)
        # A real client is served while they hang (its small requests fit in what is left).
        self.assertEqual(kcat_round_trip(self.server.bootstrap, "other", b"served"), b"served\n")
        grown = peak_rss(self.server.proc.pid,
                         "40 half-sent 25 MiB requests (64 MiB budget)") - self.baseline
        # Before the budget: 1.9 GB for the same attack.
        self.assertLess(grown, self.BUDGET + 32 * MiB, "peak RSS grew by %d MiB" % (grown // MiB))
        # The receive timeout closes the connections whose requests were being read; the others
        # wait their turn (a wait for memory is the broker's doing and is not held against them),
        # so this test hangs up on them itself.
        admitted = [s for s in socks if s not in stalled]
        self.assertGreaterEqual(len(admitted), 1)
        for s in admitted:
            self.assertTrue(closed_by_peer(s), "a half-sent request stayed open")
        for s in socks:
            s.close()
        self.assertIn("bytes of a request and not the rest within 3000 ms", self.server.log())
        self.assertIn("memory budget spent", self.server.log())
        self.assertEqual(kcat_round_trip(self.server.bootstrap, "other", b"again"),
                         b"served\nagain\n")

    def test_a_thousand_idle_connections_cost_nothing_and_time_out(self):
        n = 1000
        if raise_open_file_limit(n + 64) < n + 64:
            self.skipTest("the open-file limit is below %d and cannot be raised" % (n + 64))
        before = self.baseline
        socks = []
        try:
            for _ in range(n):
                s = socket.create_connection(("127.0.0.1", self.server.port))
                s.sendall(b"\0")  # the first byte of a size prefix, and nothing more
                socks.append(s)
            self.assertEqual(kcat_round_trip(self.server.bootstrap, "other", b"loris"),
                             b"loris\n")
            grown = peak_rss(self.server.proc.pid, "1,000 idle connections") - before
            # A waiting connection holds its few received bytes, not a read buffer: 64 KiB each
            # would be 62 MiB.
            self.assertLess(grown, 24 * MiB, "1,000 idle connections took %d MiB" % (grown // MiB))
            for s in socks:
                self.assertTrue(closed_by_peer(s), "a slow loris stayed open")
        finally:
            for s in socks:
                s.close()

    def test_size_prefixes_out_of_range_close_the_connection(self):
        for size in (0x7FFFFFFF, -1, 7):
            with RawKafka(self.server.port) as conn:
                conn.sock.sendall(struct.pack(">i", size) + b"\0" * 16)
                self.assertTrue(conn.closed_by_peer(), "size prefix %d" % size)
        self.assertLess(peak_rss(self.server.proc.pid) - self.baseline, 32 * MiB)
        self.assertEqual(kcat_round_trip(self.server.bootstrap, "other", b"ok"), b"ok\n")


class TranscodedFetchTest(ServerTestCase):
    """A Fetch below v10 of zstd batches gets them decompressed, within its max_bytes."""

    def setUp(self):
        self.server = SluiceServer()
        create_topic(self.server.data_dir, "z", 1, "compression.type=zstd")
        self.server.start()

    def test_old_fetch_answer_respects_max_bytes_after_the_first_batch(self):
        # Three batches of 3 MiB of compressible records each: a few KiB stored, 3 MiB served.
        with RawKafka(self.server.port) as conn:
            for i in range(3):
                self.assertEqual(conn.produce("z", 0, make_batch([bytes([65 + i]) * (3 * MiB)]))[0],
                                 NONE)
            max_bytes = 4 * MiB
            fetch = FetchRequest_v4(replica_id=-1, max_wait_time=0, min_bytes=0,
                                    max_bytes=max_bytes, isolation_level=0,
                                    topics=[("z", [(0, 0, max_bytes)])])
            resp = conn.request(fetch)
            part = resp.topics[0][1][0]
            self.assertEqual(part[1], NONE)
            data = part[-1]
            batches = parse_batches(data)
            # The first batch whole (KIP-74), and no second one: it would pass max_bytes.
            self.assertEqual(len(batches), 1)
            self.assertEqual(batches[0][0]["codec"], 0)
            self.assertEqual(batches[0][1][0].value, b"A" * (3 * MiB))
            self.assertLessEqual(len(data), max_bytes)
            # The next fetch goes on from there.
            fetch = FetchRequest_v4(replica_id=-1, max_wait_time=0, min_bytes=0,
                                    max_bytes=max_bytes, isolation_level=0,
                                    topics=[("z", [(0, 1, max_bytes)])])
            batches = parse_batches(conn.request(fetch).topics[0][1][0][-1])
            self.assertEqual([b[1][0].value[:1] for b in batches], [b"B"])


class GroupStateTest(ServerTestCase):
    """Group membership state is bounded: a 16 MiB limit against 100 MiB of members."""

    LIMIT = 16 * MiB

    def setUp(self):
        # The join phase of each new group waits 4 s for more members; its members then wait
        # for the leader's SyncGroup for the rebalance timeout (6 s, the session timeout in
        # JoinGroup v0). Their state is held all that time.
        self.server = SluiceServer("--group-max-state-bytes", str(self.LIMIT),
                                   "--group-initial-rebalance-delay-ms", "4000")
        create_topic(self.server.data_dir, "other", 1)
        # In the ASan build, freed memory waits in ASan's quarantine (256 MiB) before it is reused:
        # the 100 requests of 1 MiB, each freed once decoded, would count 100 MiB of it. A small
        # quarantine keeps the peak about what the broker holds (other builds ignore the setting).
        saved = os.environ.get("ASAN_OPTIONS")
        os.environ["ASAN_OPTIONS"] = (saved + ":" if saved else "") + "quarantine_size_mb=4"
        try:
            self.server.start()
        finally:
            if saved is None:
                del os.environ["ASAN_OPTIONS"]
            else:
                os.environ["ASAN_OPTIONS"] = saved
        self.baseline = peak_rss(self.server.proc.pid, "start")

    def test_members_metadata_stops_at_the_limit_and_the_rest_is_refused(self):
        metadata = b"m" * MiB
        conns = [RawKafka(self.server.port, timeout=30) for _ in range(100)]
        try:
            # One connection per member: a JoinGroup is answered when its join phase ends.
            for i, conn in enumerate(conns):
                join = JoinGroupRequest_v0(group="hostile-%d" % i, session_timeout=6000,
                                           member_id="", protocol_type="consumer",
                                           group_protocols=[("range", metadata)])
                conn.send_frame(conn.request_bytes(join))
            errors = [conn.read_response(JoinGroupRequest_v0).error_code for conn in conns]
        finally:
            for conn in conns:
                conn.close()
        admitted = errors.count(NONE)
        refused = errors.count(COORDINATOR_NOT_AVAILABLE)
        self.assertEqual(admitted + refused, 100, errors)
        # 16 MiB holds fifteen 1 MiB members (and their overhead), never more.
        self.assertGreaterEqual(admitted, 1)
        self.assertLessEqual(admitted, 16)
        self.assertIn("groups: state memory spent", self.server.log())
        grown = peak_rss(self.server.proc.pid, "100 JoinGroups of 1 MiB (16 MiB group limit)")
        grown -= self.baseline
        # Unbounded, the members alone would hold 100 MiB.
        self.assertLess(grown, self.LIMIT + 40 * MiB, "peak RSS grew by %d MiB" % (grown // MiB))
        self.assertEqual(kcat_round_trip(self.server.bootstrap, "other", b"ok"), b"ok\n")


if __name__ == "__main__":
    unittest.main(verbosity=2)
