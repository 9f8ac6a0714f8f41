"""Idempotent produce and hostile input against a real `sluice serve`.

- librdkafka's idempotent producer (enable.idempotence=true): 10k records over 3 partitions arrive
  once each, in order, and the stored batches carry the producer id and contiguous sequences.
- The idempotence rules themselves, with hand-built record batches over a raw socket (kafka-python's
  protocol classes; kafka-python 2.0.2 has no InitProducerId, so it is declared here): a resent batch
  is answered with its original base offset and stored once, a sequence gap is
  OUT_OF_ORDER_SEQUENCE_NUMBER, an older epoch after a bump is INVALID_PRODUCER_EPOCH.
- Bad input: an oversized or negative frame size, an unknown API key and a truncated request close
  that connection only; a corrupted CRC, and batches with a valid CRC but malformed contents
  (record count, offset deltas, data that does not decompress, broken records) are CORRUPT_MESSAGE
  and store nothing, not even the good batches of the same request; pipelined requests are
  answered in order (none for acks=0); clients that vanish mid-request, with a parked fetch or in
  the middle of a large answer, and a slow reader, do not disturb the server. Afterwards it still
  serves kcat and stops with exit status 0, with no error in its log.

RawKafka and the batch helpers are also used by the other client tests.
"""

import os
import socket
import struct
import subprocess
import time
import unittest

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from kafka.protocol.api import Request, RequestHeader, Response
from kafka.protocol.fetch import FetchRequest_v4, FetchRequest_v11
from kafka.protocol.offset import OffsetRequest_v1
from kafka.protocol.produce import ProduceRequest_v7
from kafka.protocol.types import Int16, Int32, Int64, Schema, String
from kafka.record import MemoryRecords
from kafka.record.default_records import DefaultRecordBatchBuilder
from kafka.record.util import calc_crc32c

from sluice_server import SLUICE, SluiceServer, ServerTestCase

NONE = 0
CORRUPT_MESSAGE = 2
MESSAGE_TOO_LARGE = 10
OUT_OF_ORDER_SEQUENCE_NUMBER = 45
INVALID_PRODUCER_EPOCH = 47


class InitProducerIdResponse_v0(Response):
    API_KEY = 22
    API_VERSION = 0
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("error_code", Int16),
        ("producer_id", Int64),
        ("producer_epoch", Int16))


class InitProducerIdRequest_v0(Request):
    API_KEY = 22
    API_VERSION = 0
    RESPONSE_TYPE = InitProducerIdResponse_v0
    SCHEMA = Schema(
        ("transactional_id", String("utf-8")),
        ("transaction_timeout_ms", Int32))


class RawKafka:
    """One plain TCP connection speaking the Kafka framing; requests are kafka-python structs."""

    def __init__(self, port, timeout=20, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:  # before connecting, so that the window stays small
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self.correlation_id = 0

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send_frame(self, payload):
        self.sock.sendall(struct.pack(">i", len(payload)) + payload)

    def request_bytes(self, request):
        self.correlation_id += 1
        header = RequestHeader(request, correlation_id=self.correlation_id, client_id="sluice-raw")
        return header.encode() + request.encode()

    def request(self, request):
        self.send_frame(self.request_bytes(request))
        return self.read_response(request)

    def read_response(self, request):
        """The answer to the last request sent, of `request`'s type (or class)."""
        (size,) = struct.unpack(">i", self._recv_exact(4))
        body = self._recv_exact(size)
        (correlation_id,) = struct.unpack(">i", body[:4])
        if correlation_id != self.correlation_id:
            raise AssertionError("correlation id %d, expected %d" % (correlation_id, self.correlation_id))
        return request.RESPONSE_TYPE.decode(body[4:])

    def _recv_exact(self, n):
        out = bytearray()
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise ConnectionError("the server closed the connection")
            out += chunk
        return bytes(out)

    def closed_by_peer(self, timeout=20):
        """True once the server has closed the connection (EOF or reset) within `timeout` s."""
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    # --- requests ---

    def init_producer_id(self):
        resp = self.request(InitProducerIdRequest_v0(transactional_id=None, transaction_timeout_ms=60000))
        if resp.error_code != NONE:
            raise AssertionError("InitProducerId failed: error %d" % resp.error_code)
        return resp.producer_id, resp.producer_epoch

    def produce(self, topic, partition, records, version_class=ProduceRequest_v7):
        """Returns (error_code, base_offset) of one partition."""
        resp = self.request(version_class(transactional_id=None, required_acks=-1, timeout=10000,
                                          topics=[(topic, [(partition, bytes(records))])]))
        (_, parts) = resp.topics[0]
        part = parts[0]
        return part[1], part[2]

    def high_watermark(self, topic, partition):
        resp = self.request(OffsetRequest_v1(replica_id=-1, topics=[(topic, [(partition, -1)])]))
        (_, parts) = resp.topics[0]
        (_, error_code, _, offset) = parts[0]
        if error_code != NONE:
            raise AssertionError("ListOffsets error %d" % error_code)
        return offset

    def fetch_raw(self, topic, partition, offset, version=4, max_bytes=50 << 20):
        """One Fetch (no waiting); returns (error_code, high_watermark, records bytes)."""
        if version == 4:
            req = FetchRequest_v4(replica_id=-1, max_wait_time=0, min_bytes=0, max_bytes=max_bytes,
                                  isolation_level=0, topics=[(topic, [(partition, offset, max_bytes)])])
        else:
            req = FetchRequest_v11(replica_id=-1, max_wait_time=0, min_bytes=0, max_bytes=max_bytes,
                                   isolation_level=0, session_id=0, session_epoch=-1,
                                   topics=[(topic, [(partition, -1, offset, -1, max_bytes)])],
                                   forgotten_topics_data=[], rack_id="")
        resp = self.request(req)
        part = resp.topics[0][1][0]
        return part[1], part[2], part[-1]

    def fetch_batches(self, topic, partition, offset=0, version=4, decode=True):
        """Every batch from `offset` to the high watermark: a list of (header dict, [records])."""
        out = []
        while True:
            error_code, hw, data = self.fetch_raw(topic, partition, offset, version)
            if error_code != NONE:
                raise AssertionError("Fetch error %d" % error_code)
            if offset >= hw:
                return out
            batches = parse_batches(data, decode)
            if not batches:
                raise AssertionError("Fetch at %d below the high watermark %d returned nothing"
                                     % (offset, hw))
            out.extend(batches)
            offset = batches[-1][0]["last_offset"] + 1


BATCH_HEADER = struct.Struct(">qiibIhiqqqhii")


def parse_batches(data, decode=True):
    """Record batches v2 in `data` (a trailing partial batch is ignored): (header, records), the
    records decoded by kafka-python (which needs the codec's module) unless decode is False."""
    out = []
    records = MemoryRecords(bytes(data))
    pos = 0
    while records.has_next():
        (base_offset, length, _, magic, crc, attributes, last_delta, base_ts, max_ts, pid, epoch,
         base_seq, count) = BATCH_HEADER.unpack_from(data, pos)
        batch = records.next_batch()
        header = {"base_offset": base_offset, "magic": magic, "crc": crc, "codec": attributes & 7,
                  "attributes": attributes, "last_offset": base_offset + last_delta,
                  "base_timestamp": base_ts, "max_timestamp": max_ts, "producer_id": pid,
                  "producer_epoch": epoch, "base_sequence": base_seq, "count": count}
        out.append((header, list(batch) if decode else None))
        pos += 12 + length
    return out


def make_batch(values, producer_id=-1, epoch=-1, sequence=-1, codec=0, timestamp=None):
    builder = DefaultRecordBatchBuilder(magic=2, compression_type=codec, is_transactional=False,
                                        producer_id=producer_id, producer_epoch=epoch,
                                        base_sequence=sequence, batch_size=1 << 20)
    ts = int(time.time() * 1000) if timestamp is None else timestamp
    for i, v in enumerate(values):
        builder.append(i, timestamp=ts, key=None, value=v, headers=[])
    return bytes(builder.build())


def with_crc(batch, fix_length=False):
    """`batch` with its CRC-32C (and with fix_length its batch length) made to match its bytes."""
    b = bytearray(batch)
    if fix_length:
        struct.pack_into(">i", b, 8, len(b) - 12)
    struct.pack_into(">I", b, 17, calc_crc32c(bytes(b[21:])))
    return bytes(b)


def create_topic(data_dir, name, partitions, *configs):
    """Creates a topic in a stopped server's data directory with the sluice CLI."""
    cmd = [SLUICE, "--data-dir", data_dir, "topic", "create", name, "--partitions", str(partitions)]
    for c in configs:
        cmd += ["--config", c]
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)


def kcat_list(bootstrap, topic):
    out = subprocess.run(["kcat", "-b", bootstrap, "-L", "-t", topic, "-m", "20"],
                         capture_output=True, timeout=60)
    return out.returncode, out.stdout.decode(errors="replace") + out.stderr.decode(errors="replace")


class IdempotentProducerTest(ServerTestCase):
    def setUp(self):
        self.server = SluiceServer()
        create_topic(self.server.data_dir, "idem", 3)
        self.server.start()

    def test_confluent_idempotent_10k_once_in_order(self):
        n_per_partition = {0: 3334, 1: 3333, 2: 3333}
        delivered = []
        errors = []

        def on_delivery(err, msg):
            if err is not None:
                errors.append(err)
            else:
                delivered.append((msg.partition(), msg.offset(), msg.value()))

        producer = Producer({"bootstrap.servers": self.server.bootstrap, "enable.idempotence": True,
                             "linger.ms": 5, "batch.num.messages": 500,
                             "max.in.flight.requests.per.connection": 5})
        for i in range(10000):
            p = i % 3
            producer.produce("idem", value=b"%d" % (i // 3), partition=p, on_delivery=on_delivery)
            producer.poll(0)
        self.assertEqual(producer.flush(60), 0, "records still queued after flush")
        self.assertEqual(errors, [])
        self.assertEqual(len(delivered), 10000)
        for p, n in n_per_partition.items():
            got = sorted((off, val) for (part, off, val) in delivered if part == p)
            self.assertEqual(got, [(k, b"%d" % k) for k in range(n)], "partition %d" % p)

        consumer = Consumer({"bootstrap.servers": self.server.bootstrap, "group.id": "idem-check",
                             "enable.auto.commit": False, "enable.partition.eof": True})
        consumer.assign([TopicPartition("idem", p, OFFSET_BEGINNING) for p in range(3)])
        consumed = {0: [], 1: [], 2: []}
        at_eof = set()
        deadline = time.monotonic() + 60
        while len(at_eof) < 3 and time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    at_eof.add(msg.partition())
                    continue
                self.fail("consume error: %s" % msg.error())
            consumed[msg.partition()].append((msg.offset(), msg.value()))
        consumer.close()
        for p, n in n_per_partition.items():
            self.assertEqual(consumed[p], [(k, b"%d" % k) for k in range(n)], "partition %d" % p)

        # The stored batches carry the producer id and sequences that match the offsets.
        with RawKafka(self.server.port) as conn:
            pids = set()
            for p, n in n_per_partition.items():
                batches = conn.fetch_batches("idem", p)
                self.assertEqual(sum(h["count"] for h, _ in batches), n)
                for h, _ in batches:
                    self.assertGreaterEqual(h["producer_id"], 0)
                    self.assertEqual(h["base_sequence"], h["base_offset"], h)
                    pids.add((h["producer_id"], h["producer_epoch"]))
            self.assertEqual(len(pids), 1, pids)


class IdempotentRetryAcrossRestartTest(ServerTestCase):
    """A retry, after the server restarts, of a batch that a roll sealed before the restart is
    answered with its original offset and stored once (producer snapshots)."""

    def setUp(self):
        self.server = SluiceServer()
        create_topic(self.server.data_dir, "sealed", 1, "segment.bytes=4096",
                     "compression.type=none")
        self.server.start()

    def check_retry_after(self, stop):
        with RawKafka(self.server.port) as conn:
            pid, epoch = conn.init_producer_id()
            first = make_batch([b"first"], pid, epoch, 0)
            self.assertEqual(conn.produce("sealed", 0, first), (NONE, 0))
            # Big enough batches that 4 KiB segments roll: the first batch is sealed.
            for i in range(1, 4):
                batch = make_batch([b"x" * 3000], pid, epoch, i)
                self.assertEqual(conn.produce("sealed", 0, batch), (NONE, i))
        segments = [n for n in os.listdir(os.path.join(self.server.data_dir, "sealed-0"))
                    if n.endswith(".log")]
        self.assertGreater(len(segments), 1, segments)
        stop()
        self.server.restart()
        with RawKafka(self.server.port) as conn:
            self.assertEqual(conn.produce("sealed", 0, first), (NONE, 0))
            self.assertEqual(conn.high_watermark("sealed", 0), 4)
            values = [r.value for _, recs in conn.fetch_batches("sealed", 0) for r in recs]
            self.assertEqual(values.count(b"first"), 1)

    def test_retry_after_a_clean_restart_is_a_duplicate(self):
        self.check_retry_after(self.server.stop)

    def test_retry_after_a_kill_is_a_duplicate(self):
        self.check_retry_after(self.server.kill)


class RawProtocolTest(unittest.TestCase):
    """One server through every case; at the end it must still serve and stop cleanly."""

    @classmethod
    def setUpClass(cls):
        cls.server = SluiceServer()
        for name in ("dup", "gap", "epoch", "crc", "malformed", "pipeline", "large", "other",
                     "allornone"):
            create_topic(cls.server.data_dir, name, 1)
        create_topic(cls.server.data_dir, "allornone-small", 1, "max.message.bytes=2048")
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        try:
            code, out = kcat_list(cls.server.bootstrap, "other")
            if code != 0 or 'topic "other" with 1 partitions' not in out:
                raise AssertionError("the server stopped serving: kcat -L said\n" + out)
            cls.server.stop()  # raises unless the exit status is 0
            errors = [l for l in cls.server.log().splitlines()
                      if "invariant violated" in l or " error " in l[:40]]
            if errors:
                raise AssertionError("the server logged errors:\n" + "\n".join(errors))
        except Exception:
            print(cls.server.log())
            raise
        finally:
            cls.server.cleanup()

    def tearDown(self):
        if not getattr(self._outcome, "success", True):
            print(self.server.log())

    def assert_still_serving(self):
        code, out = kcat_list(self.server.bootstrap, "other")
        self.assertEqual(code, 0, out)
        self.assertIn('topic "other" with 1 partitions', out)
        self.assertTrue(self.server.alive())

    def test_duplicate_batch_is_acknowledged_with_its_original_offset(self):
        with RawKafka(self.server.port) as conn:
            pid, epoch = conn.init_producer_id()
            self.assertGreaterEqual(pid, 0)
            self.assertEqual(epoch, 0)
            first = make_batch([b"a0", b"a1", b"a2"], pid, epoch, 0)
            self.assertEqual(conn.produce("dup", 0, first), (NONE, 0))
            self.assertEqual(conn.produce("dup", 0, first), (NONE, 0))  # retry of the same batch
            second = make_batch([b"b0", b"b1"], pid, epoch, 3)
            self.assertEqual(conn.produce("dup", 0, second), (NONE, 3))
            self.assertEqual(conn.produce("dup", 0, second), (NONE, 3))
            self.assertEqual(conn.produce("dup", 0, first), (NONE, 0))  # still remembered
            self.assertEqual(conn.high_watermark("dup", 0), 5)
            values = [r.value for _, recs in conn.fetch_batches("dup", 0) for r in recs]
            self.assertEqual(values, [b"a0", b"a1", b"a2", b"b0", b"b1"])
            # A second producer's batches are independent of the first's.
            pid2, _ = conn.init_producer_id()
            self.assertNotEqual(pid2, pid)
            self.assertEqual(conn.produce("dup", 0, make_batch([b"c0"], pid2, 0, 0)), (NONE, 5))
            self.assertEqual(conn.high_watermark("dup", 0), 6)

    def test_sequence_gap_is_out_of_order(self):
        with RawKafka(self.server.port) as conn:
            pid, epoch = conn.init_producer_id()
            self.assertEqual(conn.produce("gap", 0, make_batch([b"x0", b"x1"], pid, epoch, 0)), (NONE, 0))
            code, offset = conn.produce("gap", 0, make_batch([b"x5"], pid, epoch, 5))
            self.assertEqual(code, OUT_OF_ORDER_SEQUENCE_NUMBER)
            self.assertEqual(offset, -1)
            self.assertEqual(conn.high_watermark("gap", 0), 2)
            # The expected sequence is still accepted afterwards.
            self.assertEqual(conn.produce("gap", 0, make_batch([b"x2"], pid, epoch, 2)), (NONE, 2))
            values = [r.value for _, recs in conn.fetch_batches("gap", 0) for r in recs]
            self.assertEqual(values, [b"x0", b"x1", b"x2"])

    def test_older_epoch_after_bump_is_fenced(self):
        with RawKafka(self.server.port) as conn:
            pid, _ = conn.init_producer_id()
            self.assertEqual(conn.produce("epoch", 0, make_batch([b"e0", b"e1"], pid, 0, 0)), (NONE, 0))
            # The producer bumps its epoch: a new epoch starts at sequence 0.
            self.assertEqual(conn.produce("epoch", 0, make_batch([b"f0"], pid, 1, 0)), (NONE, 2))
            # A newer epoch that does not start at sequence 0 is out of order.
            code, _ = conn.produce("epoch", 0, make_batch([b"bad"], pid, 2, 5))
            self.assertEqual(code, OUT_OF_ORDER_SEQUENCE_NUMBER)
            code, _ = conn.produce("epoch", 0, make_batch([b"old"], pid, 0, 2))
            self.assertEqual(code, INVALID_PRODUCER_EPOCH)
            # A retry of the old epoch's batch is fenced too, not taken for a duplicate.
            code, _ = conn.produce("epoch", 0, make_batch([b"e0", b"e1"], pid, 0, 0))
            self.assertEqual(code, INVALID_PRODUCER_EPOCH)
            self.assertEqual(conn.high_watermark("epoch", 0), 3)
            values = [r.value for _, recs in conn.fetch_batches("epoch", 0) for r in recs]
            self.assertEqual(values, [b"e0", b"e1", b"f0"])

    def test_corrupted_crc_is_refused_and_not_stored(self):
        with RawKafka(self.server.port) as conn:
            good = make_batch([b"payload-%d" % i for i in range(10)])
            bad = bytearray(good)
            bad[-3] ^= 0x5A  # inside the last record: the CRC no longer matches
            self.assertEqual(conn.produce("crc", 0, bad), (CORRUPT_MESSAGE, -1))
            bad_crc = bytearray(good)
            bad_crc[17] ^= 0xFF  # the CRC field itself
            self.assertEqual(conn.produce("crc", 0, bad_crc), (CORRUPT_MESSAGE, -1))
            # A good batch followed by a corrupt one in the same request: nothing of the corrupt one.
            code, _ = conn.produce("crc", 0, good + bytes(bad))
            self.assertEqual(code, CORRUPT_MESSAGE)
            # All or none, as in Kafka: the good batch is not stored under an error answer.
            self.assertEqual(conn.high_watermark("crc", 0), 0)
            self.assertEqual(conn.fetch_batches("crc", 0), [])
            # The connection is still usable and a good batch is stored.
            self.assertEqual(conn.produce("crc", 0, good), (NONE, 0))
            self.assertEqual(conn.produce("crc", 0, good + good), (NONE, 10))
            self.assertEqual(conn.high_watermark("crc", 0), 30)
            values = [r.value for _, recs in conn.fetch_batches("crc", 0) for r in recs]
            self.assertEqual(values, [b"payload-%d" % i for i in range(10)] * 3)
        self.assertIn("CORRUPT_MESSAGE", self.server.log())

    def test_three_batches_whose_third_is_refused_store_nothing(self):
        # Batches that are each well formed, but the third is refused by the engine: a sequence
        # gap after the first two (checked against them, not against the state before the
        # request), or too large for max.message.bytes. Kafka appends a partition's batches all or
        # none, so the answer is the error and none of the three is stored; the client's retry of
        # the whole set then stores each batch once.
        with RawKafka(self.server.port) as conn:
            pid, epoch = conn.init_producer_id()
            a = make_batch([b"a0", b"a1", b"a2"], pid, epoch, 0)
            b = make_batch([b"b0", b"b1"], pid, epoch, 3)
            gap = make_batch([b"c0"], pid, epoch, 9)
            self.assertEqual(conn.produce("allornone", 0, a + b + gap),
                             (OUT_OF_ORDER_SEQUENCE_NUMBER, -1))
            self.assertEqual(conn.high_watermark("allornone", 0), 0)
            self.assertEqual(conn.fetch_batches("allornone", 0), [])
            c = make_batch([b"c0"], pid, epoch, 5)
            self.assertEqual(conn.produce("allornone", 0, a + b + c), (NONE, 0))
            self.assertEqual(conn.produce("allornone", 0, a + b + c), (NONE, 0))  # a retry
            batches = conn.fetch_batches("allornone", 0)
            self.assertEqual([h["base_offset"] for h, _ in batches], [0, 3, 5])
            self.assertEqual([r.value for _, recs in batches for r in recs],
                             [b"a0", b"a1", b"a2", b"b0", b"b1", b"c0"])

            big = make_batch([os.urandom(4000)])
            small = make_batch([b"s0"])
            self.assertEqual(conn.produce("allornone-small", 0, small + small + big),
                             (MESSAGE_TOO_LARGE, -1))
            self.assertEqual(conn.high_watermark("allornone-small", 0), 0)
            self.assertEqual(conn.produce("allornone-small", 0, small + small + small), (NONE, 0))
            self.assertEqual(conn.high_watermark("allornone-small", 0), 3)

    def test_malformed_batches_with_valid_crc_are_refused(self):
        # Batches a buggy or hostile producer could send with a correct CRC. Each would be stored
        # and then break every reader of the partition (or its offsets); Kafka's LogValidator
        # refuses them all.
        good = make_batch([b"r0", b"r1", b"r2"])

        def altered(fmt, pos, value, base=good):
            b = bytearray(base)
            struct.pack_into(fmt, b, pos, value)
            return with_crc(b)

        cases = {
            "record count above the records": altered(">i", 57, 5),
            "record count below the records": altered(">i", 57, 2),
            "last offset delta past the records": altered(">i", 23, 7),
            "plain records labelled gzip": altered(">h", 21, 1),
            "plain records labelled zstd": altered(">h", 21, 4),
            "unknown codec 5": altered(">h", 21, 5),
            "a record length past the batch": altered(">b", 61, 0x7F),
            "gzip data cut short": with_crc(make_batch([b"z" * 1000], codec=1)[:-20], fix_length=True),
        }
        with RawKafka(self.server.port) as conn:
            for why, batch in cases.items():
                self.assertEqual(conn.produce("malformed", 0, batch), (CORRUPT_MESSAGE, -1), why)
            self.assertEqual(conn.high_watermark("malformed", 0), 0)
            # Well-formed batches, compressed or not, still go in and read back.
            gzipped = make_batch([b"g0", b"g1"], codec=1)
            self.assertEqual(conn.produce("malformed", 0, good), (NONE, 0))
            self.assertEqual(conn.produce("malformed", 0, gzipped), (NONE, 3))
            values = [r.value for _, recs in conn.fetch_batches("malformed", 0) for r in recs]
            self.assertEqual(values, [b"r0", b"r1", b"r2", b"g0", b"g1"])

    def test_pipelined_requests_are_answered_in_order(self):
        # Clients pipeline requests (librdkafka up to max.in.flight); the answers must come back in
        # request order, and an acks=0 produce in between must not get one.
        with RawKafka(self.server.port) as conn:
            base = conn.high_watermark("pipeline", 0)
            expected, payload = [], b""
            for i in range(60):
                acks = 0 if i % 3 == 2 else 1
                req = ProduceRequest_v7(transactional_id=None, required_acks=acks, timeout=5000,
                                        topics=[("pipeline", [(0, make_batch([b"p%d" % i]))])])
                frame = conn.request_bytes(req)
                payload += struct.pack(">i", len(frame)) + frame
                if acks:
                    expected.append((conn.correlation_id, req))
                req = OffsetRequest_v1(replica_id=-1, topics=[("pipeline", [(0, -1)])])
                frame = conn.request_bytes(req)
                payload += struct.pack(">i", len(frame)) + frame
                expected.append((conn.correlation_id, req))
            conn.sock.sendall(payload)
            for i, (correlation_id, req) in enumerate(expected):
                (size,) = struct.unpack(">i", conn._recv_exact(4))
                body = conn._recv_exact(size)
                self.assertEqual(struct.unpack(">i", body[:4])[0], correlation_id, "answer %d" % i)
                resp = req.RESPONSE_TYPE.decode(body[4:])
                self.assertEqual(resp.topics[0][1][0][1], NONE)
            # Every produce landed, in order.
            self.assertEqual(conn.high_watermark("pipeline", 0), base + 60)
            values = [r.value for _, recs in conn.fetch_batches("pipeline", 0, base) for r in recs]
            self.assertEqual(values, [b"p%d" % i for i in range(60)])

    def test_large_response_to_a_slow_or_vanishing_reader(self):
        # 6 MiB of incompressible records: the answer fills the socket buffers, so the server has
        # to wait for the reader (EPOLLOUT), or notice that it went away in the middle.
        values = [os.urandom(1 << 20) for _ in range(6)]
        with RawKafka(self.server.port) as conn:
            base = conn.high_watermark("large", 0)
            for v in values:
                self.assertEqual(conn.produce("large", 0, make_batch([v]))[0], NONE)
        fetch = FetchRequest_v4(replica_id=-1, max_wait_time=0, min_bytes=0, max_bytes=64 << 20,
                                isolation_level=0, topics=[("large", [(0, base, 64 << 20)])])
        for _ in range(3):  # readers that take 64 KiB of the answer and leave
            conn = RawKafka(self.server.port, rcvbuf=16384)
            conn.send_frame(conn.request_bytes(fetch))
            conn._recv_exact(65536)
            conn.close()
        with RawKafka(self.server.port, rcvbuf=16384) as conn:  # a slow reader
            conn.send_frame(conn.request_bytes(fetch))
            (size,) = struct.unpack(">i", conn._recv_exact(4))
            self.assertGreater(size, 6 << 20)
            body = bytearray()
            while len(body) < size:
                body += conn._recv_exact(min(4096, size - len(body)))
            resp = FetchRequest_v4.RESPONSE_TYPE.decode(bytes(body[4:]))
            got = [r.value for _, recs in parse_batches(resp.topics[0][1][0][-1]) for r in recs]
            self.assertEqual(got, values)
        self.assert_still_serving()

    def test_oversized_frame_closes_only_that_connection(self):
        with RawKafka(self.server.port) as bystander, RawKafka(self.server.port) as conn:
            self.assertGreaterEqual(bystander.high_watermark("other", 0), 0)
            conn.sock.sendall(struct.pack(">i", 200 << 20) + b"\0" * 64)
            self.assertTrue(conn.closed_by_peer(), "a 200 MiB frame did not close the connection")
            self.assertGreaterEqual(bystander.high_watermark("other", 0), 0)
        self.assertIn("socket.request.max.bytes", self.server.log())
        self.assert_still_serving()

    def test_negative_frame_size_closes_the_connection(self):
        with RawKafka(self.server.port) as conn:
            conn.sock.sendall(struct.pack(">i", -5) + b"\0" * 16)
            self.assertTrue(conn.closed_by_peer())
        self.assert_still_serving()

    def test_unknown_api_key_closes_the_connection(self):
        with RawKafka(self.server.port) as conn:
            client_id = b"sluice-raw"
            frame = struct.pack(">hhih", 999, 0, 7, len(client_id)) + client_id + b"\0" * 8
            conn.send_frame(frame)
            self.assertTrue(conn.closed_by_peer(), "an unknown API key did not close the connection")
        self.assertIn("closing the connection", self.server.log())
        self.assert_still_serving()

    def test_truncated_request_body_closes_the_connection(self):
        # A Produce whose body ends in the middle of its topics array: malformed, not a crash.
        with RawKafka(self.server.port) as conn:
            whole = conn.request_bytes(ProduceRequest_v7(
                transactional_id=None, required_acks=1, timeout=1000,
                topics=[("other", [(0, make_batch([b"v"]))])]))
            conn.send_frame(whole[:40])
            self.assertTrue(conn.closed_by_peer())
        self.assert_still_serving()

    def test_client_disconnecting_mid_request(self):
        # Half a frame, then gone.
        conn = RawKafka(self.server.port)
        conn.sock.sendall(struct.pack(">i", 1000) + b"\0" * 20)
        conn.close()
        # A whole request whose answer has nowhere to go: a produce, and a fetch parked at the end.
        conn = RawKafka(self.server.port)
        hw = conn.high_watermark("other", 0)
        conn.send_frame(conn.request_bytes(ProduceRequest_v7(
            transactional_id=None, required_acks=-1, timeout=1000,
            topics=[("other", [(0, make_batch([b"orphan"]))])])))
        conn.close()
        conn = RawKafka(self.server.port)
        conn.send_frame(conn.request_bytes(FetchRequest_v4(
            replica_id=-1, max_wait_time=300, min_bytes=1 << 20, max_bytes=1 << 20, isolation_level=0,
            topics=[("other", [(0, hw + 1, 1 << 20)])])))
        conn.close()
        with RawKafka(self.server.port) as other:
            # This fetch waits as long as the orphaned one, so that one has answered into the void.
            deadline = time.monotonic() + 20
            while other.high_watermark("other", 0) < hw + 1 and time.monotonic() < deadline:
                pass
            self.assertEqual(other.high_watermark("other", 0), hw + 1)  # the orphan produce landed
            started = time.monotonic()
            req = FetchRequest_v4(replica_id=-1, max_wait_time=600, min_bytes=1 << 20, max_bytes=1 << 20,
                                  isolation_level=0, topics=[("other", [(0, hw + 1, 1 << 20)])])
            resp = other.request(req)
            self.assertGreaterEqual(time.monotonic() - started, 0.5)
            self.assertEqual(resp.topics[0][1][0][1], NONE)
        self.assertIn("client disconnected in the middle of a request", self.server.log())
        self.assert_still_serving()


if __name__ == "__main__":
    unittest.main()
