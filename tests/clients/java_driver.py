"""A long-lived Java process driven over stdin (tests/clients/java/SluiceGroupScenario.java,
Apache kafka-clients 4.4): compiled once with javac against the fixture's classpath, then started
per broker; each command is a line, each answer or event a JSON line on stdout, collected by a
reader thread so a test can wait for the events it expects (with a deadline, never a sleep)."""

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time

from java_client import _java
from kafka_fixture import classpath, libs

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "java", "SluiceGroupScenario.java")


class CompiledScenario:
    """SluiceGroupScenario.java compiled into a temporary directory."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="sluice-java-scenario-")
        out = subprocess.run([_java("javac"), "-J-Xmx256m", "-Xlint:all", "-Werror", "-d",
                              self.dir, "-cp", classpath(), SOURCE],
                             capture_output=True, timeout=180)
        if out.returncode != 0:
            raise AssertionError("javac failed:\n" + out.stderr.decode(errors="replace"))

    def start(self, bootstrap, *settings, cond=None):
        """A driver process; drivers given one `cond` share it, so a wait on one wakes at any
        event of the others too."""
        return JavaDriver(self.dir, bootstrap, settings, cond or threading.Condition())

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class JavaDriver:
    def __init__(self, classes, bootstrap, settings, cond):
        self.events = []
        self.cond = cond
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [_java("java"), "-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
             "-Dlog4j2.configurationFile=" + os.path.join(libs(), "tools-log4j2.properties"),
             "-cp", classes + ":" + classpath(), "SluiceGroupScenario", bootstrap] +
            list(settings),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").strip()
            if not line.startswith("{"):
                continue
            with self.cond:
                self.events.append(json.loads(line))
                self.cond.notify_all()
        with self.cond:
            self.events.append({"ev": "exit"})
            self.cond.notify_all()

    def send(self, *words):
        self.proc.stdin.write((" ".join(str(w) for w in words) + "\n").encode())
        self.proc.stdin.flush()

    def wait_for(self, predicate, timeout, what):
        """Waits until predicate(events) is true (re-checked at each new event) and returns it.
        An "error" event or the process exiting fails at once."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                result = predicate(self.events)
                if result:
                    return result
                errors = [e for e in self.events if e["ev"] in ("error", "exit")]
                if errors:
                    raise AssertionError("%s: the Java driver reported %s\n%s" %
                                         (what, errors, self.stderr_text()))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("%s: not within %d s; events: %s\n%s" % (
                        what, timeout, self.events[-20:], self.stderr_text()))
                self.cond.wait(left)

    def command(self, what, *words, timeout=60):
        """Sends a command and waits for the next event named `what` after it."""
        with self.cond:
            start = len(self.events)
        self.send(*words)
        return self.wait_for(
            lambda evs: next((e for e in evs[start:] if e["ev"] == what), None), timeout,
            " ".join(str(w) for w in words))

    def kill(self):
        self.proc.kill()
        self.proc.wait(timeout=30)

    def quit(self, timeout=60):
        self.send("quit")
        self.proc.stdin.close()
        rc = self.proc.wait(timeout=timeout)
        self.reader.join(10)
        return rc

    def stderr_text(self):
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")[-4000:]

    def cleanup(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self.reader.join(10)
        for f in (self.proc.stdin, self.proc.stdout, self.stderr):
            if not f.closed:
                try:
                    f.close()
                except BrokenPipeError:
                    pass
