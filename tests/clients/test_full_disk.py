"""A full disk under a real `sluice serve`, as an operator meets it.

The disk fills for the server process alone: its file-size limit (RLIMIT_FSIZE) is lowered from
outside with prlimit(2) while it runs, so that its next write past the limit fails with EFBIG, which
sluice reports as kNoSpace like ENOSPC (the limit is raised again the same way: "space returns").
SIGXFSZ is ignored in the server, as it would be killed by it otherwise.

- While full: produces are answered KAFKA_STORAGE_ERROR, nothing refused is stored, what was
  acknowledged stays readable, and the server logs the refusal once with a count of the repeats
  rather than once per produce.
- When space returns, produces succeed again by themselves (no restart), at the next offset: no gap,
  no reused offset.
- SIGTERM then exits 0 (a clean shutdown), and after a restart every acknowledged record, and only
  those, is there.
"""

import os
import re
import resource
import signal
import unittest

from sluice_server import SluiceServer
from test_idempotence import NONE, RawKafka, create_topic, make_batch

KAFKA_STORAGE_ERROR = 56
LIMIT_BYTES = 300 * 1024  # the "disk" holds this much of any one file


def ignore_sigxfsz():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


class FullDiskTest(unittest.TestCase):
    def setUp(self):
        self.server = SluiceServer(preexec_fn=ignore_sigxfsz)
        # 1 MiB segments, reserved whole when created: the limit is crossed inside the first one.
        create_topic(self.server.data_dir, "full", 1, "segment.bytes=1048576",
                     "compression.type=none")
        create_topic(self.server.data_dir, "other", 1)
        self.server.start()

    def tearDown(self):
        try:
            if not getattr(self._outcome, "success", True):
                print(self.server.log())
        finally:
            self.server.cleanup()

    def set_file_size_limit(self, soft):
        # Only the soft limit moves, so that raising it back needs no privilege.
        _, hard = resource.prlimit(self.server.proc.pid, resource.RLIMIT_FSIZE)
        resource.prlimit(self.server.proc.pid, resource.RLIMIT_FSIZE, (soft, hard))

    def test_writes_resume_when_space_returns_and_sigterm_exits_zero(self):
        acked = []  # (base offset, value) of every acknowledged batch (one record each)

        def produce(conn, value):
            code, offset = conn.produce("full", 0, make_batch([value]))
            if code == NONE:
                acked.append((offset, value))
            return code, offset

        with RawKafka(self.server.port) as conn:
            for i in range(10):
                self.assertEqual(produce(conn, b"before-%d-" % i + b"x" * 10000)[0], NONE)

            self.set_file_size_limit(LIMIT_BYTES)
            codes = []
            for i in range(60):
                codes.append(produce(conn, b"during-%d-" % i + b"y" * 10000)[0])
            # The ones that fit under the limit went in; from the first refusal on, all are refused.
            first_refused = codes.index(KAFKA_STORAGE_ERROR)
            self.assertGreater(first_refused, 0)
            self.assertEqual(codes[first_refused:], [KAFKA_STORAGE_ERROR] * (60 - first_refused))
            refused = 60 - first_refused
            hw_while_full = conn.high_watermark("full", 0)
            self.assertEqual(hw_while_full, len(acked))
            # Other topics are readable, and what was acknowledged still is.
            values = [r.value for _, recs in conn.fetch_batches("full", 0) for r in recs]
            self.assertEqual(values, [v for _, v in acked])

            self.set_file_size_limit(resource.RLIM_INFINITY)
            for i in range(20):
                code, offset = produce(conn, b"after-%d-" % i + b"z" * 10000)
                self.assertEqual(code, NONE)
                self.assertEqual(offset, hw_while_full + i)  # no gap, no reused offset
            offsets = [o for o, _ in acked]
            self.assertEqual(offsets, list(range(len(acked))))
            values = [r.value for _, recs in conn.fetch_batches("full", 0) for r in recs]
            self.assertEqual(values, [v for _, v in acked])
            self.assertEqual(conn.produce("other", 0, make_batch([b"o"]))[0], NONE)

        self.server.stop()  # raises unless the exit status is 0
        log = self.server.log()
        refusals = [l for l in log.splitlines() if "KAFKA_STORAGE_ERROR" in l]
        self.assertGreaterEqual(len(refusals), 1, log)
        self.assertLess(len(refusals), refused, log)  # rate-limited, not one line per produce
        self.assertRegex(log, r"\(\d+ more in the last \d+ (s|min|h)\)")
        self.assertIn("stopped cleanly", log)

        self.server.restart()
        with RawKafka(self.server.port) as conn:
            values = [r.value for _, recs in conn.fetch_batches("full", 0) for r in recs]
            self.assertEqual(values, [v for _, v in acked])
        self.server.stop()


if __name__ == "__main__":
    unittest.main()
