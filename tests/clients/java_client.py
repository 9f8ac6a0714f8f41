"""The Java test client (tests/clients/java/SluiceJavaClient.java, Apache kafka-clients 4.4):
compiled with javac against the fixture's classpath into a temporary directory, then run with a
properties file of connection and security settings. See the Java source for what it does."""

import json
import os
import shutil
import subprocess
import tempfile

from kafka_fixture import classpath, libs

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "java", "SluiceJavaClient.java")


def _java(tool):
    home = os.environ.get("JAVA_HOME")
    return os.path.join(home, "bin", tool) if home else tool


class JavaClient:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="sluice-java-")
        self.classes = os.path.join(self.dir, "classes")
        out = subprocess.run([_java("javac"), "-J-Xmx256m", "-Xlint:all", "-Werror", "-d",
                              self.classes, "-cp", classpath(), SOURCE],
                             capture_output=True, timeout=180)
        if out.returncode != 0:
            raise AssertionError("javac failed:\n" + out.stderr.decode(errors="replace"))
        self.runs = 0

    def run(self, properties, topic, n, group, mode="both", timeout=150):
        """Runs the client with `properties` (a dict) and returns (exit code, [JSON lines])."""
        self.runs += 1
        props = os.path.join(self.dir, "client-%d.properties" % self.runs)
        with open(props, "w") as f:
            for k, v in properties.items():
                f.write("%s=%s\n" % (k, v))
        out = subprocess.run(
            [_java("java"), "-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
             "-Dlog4j2.configurationFile=" + os.path.join(libs(), "tools-log4j2.properties"),
             "-cp", self.classes + ":" + classpath(), "SluiceJavaClient", props, topic, str(n),
             group, mode], capture_output=True, timeout=timeout)
        lines = []
        for line in out.stdout.decode(errors="replace").splitlines():
            if line.startswith("{"):
                lines.append(json.loads(line))
        self.last_stderr = out.stderr.decode(errors="replace")
        return out.returncode, lines

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)
