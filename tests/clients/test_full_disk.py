"""A full disk under a real `sluice serve`, as an operator meets it.

FullDiskTest: the disk fills for the server process alone: its file-size limit (RLIMIT_FSIZE) is lowered from
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

RealFullFilesystemTest: the same on a real file system that runs out of blocks (a small tmpfs, which
needs the privilege to mount; skipped, saying so, without it): fallocate and write fail with ENOSPC,
writes resume when a file is removed, and SIGTERM exits 0 even while the disk is still full.
"""

import os
import resource
import shutil
import signal
import subprocess
import tempfile
import unittest

from sluice_server import SluiceServer, ServerTestCase
from test_idempotence import NONE, RawKafka, create_topic, make_batch

KAFKA_STORAGE_ERROR = 56
LIMIT_BYTES = 300 * 1024  # the "disk" holds this much of any one file


def ignore_sigxfsz():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


class FullDiskTest(ServerTestCase):
    def setUp(self):
        self.server = SluiceServer(preexec_fn=ignore_sigxfsz)
        # 1 MiB segments, reserved whole when created: the limit is crossed inside the first one.
        create_topic(self.server.data_dir, "full", 1, "segment.bytes=1048576",
                     "compression.type=none")
        create_topic(self.server.data_dir, "other", 1)
        self.server.start()

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


class RealFullFilesystemTest(ServerTestCase):
    def setUp(self):
        self.mount_point = tempfile.mkdtemp(prefix="sluice-tmpfs-")
        # 80 MiB: room for the 64 MiB that the first segment of __consumer_offsets reserves when
        # the data directory is made (trimmed at the clean shutdown after it); a filler file then
        # takes all but a few MiB.
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=80m", "tmpfs",
                                  self.mount_point], capture_output=True)
        if mounted.returncode != 0:
            os.rmdir(self.mount_point)
            self.skipTest("cannot mount a small tmpfs to fill (needs root or CAP_SYS_ADMIN): %s"
                          % mounted.stderr.decode(errors="replace").strip())
        self.data_dir = os.path.join(self.mount_point, "data")
        self.filler = os.path.join(self.mount_point, "filler")
        self.server = SluiceServer(data_dir=self.data_dir)
        create_topic(self.data_dir, "full", 1, "segment.bytes=1048576", "compression.type=none")
        self.server.start()

    def tearDown(self):
        try:
            super().tearDown()
        finally:
            subprocess.run(["umount", self.mount_point], check=True)
            os.rmdir(self.mount_point)

    def fill(self, leave_bytes):
        st = os.statvfs(self.mount_point)
        with open(self.filler, "wb") as f:
            f.write(b"\0" * max(0, st.f_bavail * st.f_frsize - leave_bytes))

    def produce_until_refused(self, conn, acked, tag):
        """Produces 10 KB batches until 10 in a row are refused; returns how many were refused."""
        refused = 0
        for i in range(5000):
            value = b"%s-%d-" % (tag, i) + os.urandom(10000)
            code, offset = conn.produce("full", 0, make_batch([value]))
            if code == NONE:
                self.assertEqual(refused, 0, "a produce succeeded after one was refused")
                self.assertEqual(offset, len(acked))
                acked.append(value)
            else:
                self.assertEqual(code, KAFKA_STORAGE_ERROR)
                refused += 1
                if refused == 10:
                    return refused
        self.fail("the disk never filled")

    def test_enospc_is_undone_writes_resume_and_sigterm_exits_zero_while_full(self):
        acked = []
        with RawKafka(self.server.port) as conn:
            self.fill(leave_bytes=3 << 20)
            self.produce_until_refused(conn, acked, b"a")
            os.remove(self.filler)  # space returns: writes resume without a restart
            for i in range(20):
                value = b"b-%d" % i
                self.assertEqual(conn.produce("full", 0, make_batch([value])), (NONE, len(acked)))
                acked.append(value)
            self.fill(leave_bytes=1 << 20)
            self.produce_until_refused(conn, acked, b"c")
            values = [r.value for _, recs in conn.fetch_batches("full", 0) for r in recs]
            self.assertEqual(values, acked)
        self.server.stop()  # still full: raises unless the exit status is 0
        self.assertIn("stopped cleanly", self.server.log())
        os.remove(self.filler)
        self.server.restart()
        with RawKafka(self.server.port) as conn:
            values = [r.value for _, recs in conn.fetch_batches("full", 0) for r in recs]
            self.assertEqual(values, acked)
        self.server.stop()


if __name__ == "__main__":
    unittest.main()
