"""A real `sluice serve` process for client tests: a temporary data directory, a free loopback
port (the server binds port 0 and prints the port it got), clean stop, SIGKILL, and restart on the
same directory. The binary comes from $SLUICE_BINARY (set by ctest)."""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import unittest

SLUICE = os.environ.get("SLUICE_BINARY", "sluice")


class SluiceServer:
    def __init__(self, *extra_args, data_dir=None, preexec_fn=None, listeners=None):
        """`listeners` ("SSL://127.0.0.1:0,PLAINTEXT://127.0.0.1:0") replaces --listen; each
        listener's bound port is then in self.ports by name, and self.port is the first's."""
        self._own_dir = data_dir is None
        self.listeners = listeners
        self.ports = {}
        self.preexec_fn = preexec_fn  # run in the child before exec (e.g. to set a signal's disposition)
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="sluice-clients-")
        self.extra_args = list(extra_args)
        self.proc = None
        self.port = None
        self.admin_port = None  # the admin HTTP listener's (/livez, /readyz, /metrics)
        self.log_path = os.path.join(self.data_dir + ".log")

    @property
    def bootstrap(self):
        return "127.0.0.1:%d" % self.port

    def start(self, port=0):
        """Starts the server (on `port`, or any free port) and waits until it listens."""
        self._log = open(self.log_path, "ab")
        where = (["--listeners", self.listeners] if self.listeners
                 else ["--listen", "127.0.0.1:%d" % port])
        # The admin listener on a free port unless the test chose one (the default port would be
        # taken by the first of several servers).
        admin = ([] if any(a.startswith("--admin-listen") for a in self.extra_args)
                 else ["--admin-listen", "127.0.0.1:0"])
        self.proc = subprocess.Popen(
            [SLUICE, "--data-dir", self.data_dir, "serve"] + where +
            ["--group-min-session-timeout-ms", "100"] + admin + self.extra_args,
            stdout=subprocess.PIPE, stderr=self._log, preexec_fn=self.preexec_fn)
        line = self.proc.stdout.readline().decode()
        m = re.match(r"listening on [^:]+:(\d+)", line)
        if not m:
            self.proc.kill()
            self.proc.wait()
            self.proc.stdout.close()
            self._log.close()
            raise RuntimeError("sluice serve did not start: %r\n%s" % (line, self.log()))
        self.port = int(m.group(1))
        # Then one `listener NAME://HOST:PORT` line per listener.
        for _ in range(len(self.listeners.split(",")) if self.listeners else 1):
            lm = re.match(r"listener (\w+)://.*:(\d+)$", self.proc.stdout.readline().decode().strip())
            if lm:
                self.ports[lm.group(1)] = int(lm.group(2))
        # Then `admin listening on HOST:PORT` unless --admin-listen none.
        self.admin_port = None
        if "none" not in self.extra_args:
            am = re.match(r"admin listening on [^:]+:(\d+)$",
                          self.proc.stdout.readline().decode().strip())
            if am:
                self.admin_port = int(am.group(1))
        return self

    def address(self, listener):
        return "127.0.0.1:%d" % self.ports[listener]

    def stop(self):
        """SIGTERM; the server must exit 0 (clean shutdown)."""
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=60)
        self.proc.stdout.close()
        self._log.close()
        if rc != 0:
            raise AssertionError("sluice serve exited %d\n%s" % (rc, self.log()))

    def kill(self):
        """SIGKILL, as a crash."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=60)
        self.proc.stdout.close()
        self._log.close()

    def restart(self):
        """Starts again on the same data directory and the same port."""
        return self.start(self.port)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def cleanup(self):
        if self.alive():
            self.kill()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            try:
                os.remove(self.log_path)
            except FileNotFoundError:
                pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()


class ServerTestCase(unittest.TestCase):
    """A test whose setUp makes `self.server`: the server's log is printed when the test fails, and
    the server and its data directory are removed after every test."""

    def tearDown(self):
        try:
            if not getattr(self._outcome, "success", True):
                print(self.server.log())
        finally:
            self.server.cleanup()
