"""Apache Kafka 4.4 for tests, through scripts/kafka-fixture.sh: a real single-node KRaft broker in
a temporary directory on free 127.0.0.1 ports (KafkaBroker), Kafka's own command-line tools by
main class (kafka_tool: org.apache.kafka.tools.AclCommand is kafka-acls.sh, ...), and the
classpath of kafka-clients and its dependencies for Java test clients (java_client.py).

The jars are fetched by scripts/install-deps.sh; if they are missing the fixture fetches them (and
a failure to do so fails the test: a client that cannot be installed is not a skip). Differential
tests run one scenario against KafkaBroker and against SluiceServer, which have the same
start/stop/cleanup/bootstrap shape."""

import os
import shutil
import subprocess
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.normpath(os.path.join(HERE, "..", "..", "scripts", "kafka-fixture.sh"))
KAFKA_VERSION = "4.4.0"

# Main classes of the tools the Kafka distribution's bin/*.sh scripts run (Kafka 4.4).
ACL_COMMAND = "org.apache.kafka.tools.AclCommand"                  # kafka-acls.sh
CONFIG_COMMAND = "org.apache.kafka.tools.ConfigCommand"            # kafka-configs.sh
TOPIC_COMMAND = "org.apache.kafka.tools.TopicCommand"              # kafka-topics.sh
CONSOLE_PRODUCER = "org.apache.kafka.tools.ConsoleProducer"        # kafka-console-producer.sh
CONSOLE_CONSUMER = "org.apache.kafka.tools.consumer.ConsoleConsumer"  # kafka-console-consumer.sh
CONSUMER_GROUPS = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand"
GET_OFFSETS = "org.apache.kafka.tools.GetOffsetShell"              # kafka-get-offsets.sh
DELETE_RECORDS = "org.apache.kafka.tools.DeleteRecordsCommand"     # kafka-delete-records.sh

_classpath = None


def fixture(*args, timeout=300):
    """Runs scripts/kafka-fixture.sh; its failure is an AssertionError with its output."""
    out = subprocess.run([FIXTURE] + list(args), capture_output=True, timeout=timeout)
    if out.returncode != 0:
        raise AssertionError("kafka-fixture.sh %s exited %d:\n%s%s" % (
            " ".join(args), out.returncode, out.stdout.decode(errors="replace"),
            out.stderr.decode(errors="replace")))
    return out.stdout.decode().strip()


def classpath():
    """The classpath of Kafka 4.4 (broker, tools, kafka-clients and their dependencies)."""
    global _classpath
    if _classpath is None:
        _classpath = fixture("classpath")
    return _classpath


def libs():
    """The directory of the jars (and the fixture's log4j2 configurations)."""
    return fixture("libs")


def kafka_tool(main_class, *args, timeout=120, stdin=None):
    """Runs a Kafka tool (as its bin/*.sh script would) and returns the CompletedProcess."""
    return subprocess.run([FIXTURE, "run-class", main_class] + list(args), input=stdin,
                          capture_output=True, timeout=timeout)


class KafkaBroker:
    """A real Apache Kafka 4.4 broker+controller (KRaft, one node) in a temporary directory.
    `properties` ("key=value" strings) are added to its server.properties."""

    def __init__(self, *properties):
        self.properties = list(properties)
        self.dir = tempfile.mkdtemp(prefix="sluice-kafka-")
        self.bootstrap = None

    def start(self):
        self.bootstrap = fixture("start", self.dir, *self.properties)
        self.port = int(self.bootstrap.rsplit(":", 1)[1])
        return self

    def stop(self):
        fixture("stop", self.dir)

    def alive(self):
        try:
            with open(os.path.join(self.dir, "kafka.pid")) as f:
                os.kill(int(f.read()), 0)
            return True
        except (FileNotFoundError, ProcessLookupError, ValueError):
            return False

    def log(self):
        try:
            with open(os.path.join(self.dir, "kafka.log"), "rb") as f:
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def cleanup(self):
        if self.alive():
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()


def run_on_both(sluice, kafka, scenario, timeout=300):
    """Runs `scenario(name, broker)` against sluice and Apache Kafka at the same time: `sluice`
    (a SluiceServer) is started here and its scenario run on this thread, while `kafka` (a
    KafkaBroker) starts and runs its scenario on another (a JVM broker takes seconds to start).
    Returns {"sluice": result, "kafka": result}. A failure on either is raised once both ended,
    after the end of that broker's log is printed. Cleaning up both is the caller's."""
    results, errors = {}, {}

    def run(name, broker):
        try:
            if name == "kafka":
                broker.start()
            results[name] = scenario(name, broker)
        except BaseException as e:  # reported below, with the broker's log
            errors[name] = e

    sluice.start()
    kafka_thread = threading.Thread(target=run, args=("kafka", kafka))
    kafka_thread.start()
    run("sluice", sluice)
    kafka_thread.join(timeout)
    if kafka_thread.is_alive():
        raise AssertionError("the scenario on Kafka did not finish in %d s" % timeout)
    if "sluice" in errors:
        print(sluice.log()[-4000:])
        raise errors["sluice"]
    if "kafka" in errors:
        print(kafka.log()[-3000:])
        raise errors["kafka"]
    return results
