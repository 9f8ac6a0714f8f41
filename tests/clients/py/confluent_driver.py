"""confluent-kafka-python (PyPI) against a broker, run by the venv's python
(scripts/client-tools.sh python) for tests/clients/test_pypi_clients.py. Each command prints one
JSON object on stdout; a failure is an exception (exit 1, traceback on stderr).

  produce BOOTSTRAP TOPIC CODEC COUNT      idempotent producer, records 0..COUNT-1 to partition 0
  consume BOOTSTRAP TOPIC COUNT            the first COUNT records of partition 0
  group BOOTSTRAP TOPIC PARTITIONS GROUP   two members in a group that rebalances (see group())
  admin BOOTSTRAP TOPIC                    create with configs, describe configs, list, delete
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import confluent_kafka  # noqa: E402
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic  # noqa: E402

import client_records as rec  # noqa: E402

TIMEOUT = 30


def produce(bootstrap, topic, codec, count, first=0, partitions=1, producer=None):
    """Records first..first+count-1, record i to partition i % partitions; returns the delivered
    [index, partition, offset] in delivery order."""
    own = producer is None
    if own:
        producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                             "compression.type": codec, "linger.ms": 5})
    delivered, errors = [], []

    def report(i):
        def on_delivery(err, msg):
            if err is not None:
                errors.append(str(err))
            else:
                delivered.append([i, msg.partition(), msg.offset()])
        return on_delivery

    for i in range(first, first + count):
        producer.produce(topic, key=rec.key(i), value=rec.value(i), headers=rec.headers(i),
                         partition=i % partitions, on_delivery=report(i))
        producer.poll(0)
    left = producer.flush(TIMEOUT)
    if left or errors:
        raise RuntimeError("%d undelivered, errors %s" % (left, errors))
    return delivered


def record_json(msg):
    k = msg.key()
    return {"partition": msg.partition(), "offset": msg.offset(),
            "key": None if k is None else k.hex(), "value": (msg.value() or b"").hex(),
            "headers": [[n, (v or b"").hex()] for n, v in (msg.headers() or [])]}


def consume(bootstrap, topic, count):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "check-" + topic,
                  "enable.auto.commit": False})
    c.assign([TopicPartition(topic, 0, confluent_kafka.OFFSET_BEGINNING)])
    out, deadline = [], time.monotonic() + TIMEOUT
    while len(out) < count:
        if time.monotonic() > deadline:
            raise RuntimeError("consumed %d of %d records in %d s" % (len(out), count, TIMEOUT))
        msg = c.poll(0.5)
        if msg is None:
            continue
        if msg.error():
            raise KafkaException(msg.error())
        out.append(record_json(msg))
    c.close()
    return out


class Member:
    """One consumer of the group: what it was assigned (each assignment in order) and what it
    consumed, each record committed (synchronously) right after it was consumed."""

    def __init__(self, name, bootstrap, topic, group_id):
        self.name = name
        self.assigned = None  # the current assignment, None while there is none
        self.log = {"assignments": [], "records": [], "commit_errors": []}
        self.consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group_id,
                                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
        self.consumer.subscribe([topic], on_assign=self._on_assign, on_revoke=self._on_revoke)

    def _on_assign(self, consumer, parts):
        self.assigned = sorted(p.partition for p in parts)
        self.log["assignments"].append(self.assigned)

    def _on_revoke(self, consumer, parts):
        self.assigned = None

    def poll(self, phase):
        msg = self.consumer.poll(0.05)
        if msg is None:
            return
        if msg.error():
            raise KafkaException(msg.error())
        r = record_json(msg)
        r["phase"] = phase
        r["assignment"] = self.assigned
        self.log["records"].append(r)
        try:
            self.consumer.commit(message=msg, asynchronous=False)
        except KafkaException as e:
            self.log["commit_errors"].append([msg.partition(), msg.offset(), str(e)])


def wait(what, cond, members, phase):
    deadline = time.monotonic() + TIMEOUT
    while not cond():
        if time.monotonic() > deadline:
            raise RuntimeError("no %s in %d s: %s" % (what, TIMEOUT, {
                m.name: m.log for m in members}))
        for m in members:
            m.poll(phase)


def group(bootstrap, topic, partitions, group_id):
    """Phase 1: member a alone in the group consumes records 0..4P-1 (4 per partition). Phase 2:
    b joins; once both hold disjoint assignments covering every partition, records 4P..12P-1 are
    produced and the two consume them. Phase 3: b leaves (close); once a holds every partition,
    records 12P..16P-1 are produced and a consumes them. Then the group's committed offsets are
    read by a new consumer of the group."""
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                         "linger.ms": 5})
    total = lambda ms: sum(len(m.log["records"]) for m in ms)  # noqa: E731
    a = Member("a", bootstrap, topic, group_id)
    produce(bootstrap, topic, "none", 4 * partitions, 0, partitions, producer)
    wait("phase 1", lambda: total([a]) >= 4 * partitions, [a], 1)

    b = Member("b", bootstrap, topic, group_id)
    both = [a, b]
    wait("rebalance to two members",
         lambda: a.assigned is not None and b.assigned is not None and
         sorted(a.assigned + b.assigned) == list(range(partitions)) and a.assigned and b.assigned,
         both, 2)
    produce(bootstrap, topic, "none", 8 * partitions, 4 * partitions, partitions, producer)
    wait("phase 2", lambda: total(both) >= 12 * partitions, both, 2)

    b.consumer.close()
    wait("rebalance to one member", lambda: a.assigned == list(range(partitions)), [a], 3)
    produce(bootstrap, topic, "none", 4 * partitions, 12 * partitions, partitions, producer)
    wait("phase 3", lambda: total([a]) + len(b.log["records"]) >= 16 * partitions, [a], 3)
    a.consumer.close()

    checker = Consumer({"bootstrap.servers": bootstrap, "group.id": group_id})
    committed = checker.committed([TopicPartition(topic, p) for p in range(partitions)],
                                  timeout=TIMEOUT)
    checker.close()
    return {"members": {"a": a.log, "b": b.log},
            "committed": {str(tp.partition): tp.offset for tp in committed}}


def admin(bootstrap, topic):
    client = AdminClient({"bootstrap.servers": bootstrap})
    out = {}
    configs = {"retention.ms": "3600000", "max.message.bytes": "200000",
               "cleanup.policy": "delete", "message.timestamp.type": "LogAppendTime"}
    client.create_topics([NewTopic(topic, 3, 1, config=configs)])[topic].result(TIMEOUT)
    try:
        client.create_topics([NewTopic(topic + "-bad", 1, 1, config={"no.such.config": "1"})])[
            topic + "-bad"].result(TIMEOUT)
        out["bad_config"] = None
    except KafkaException as e:
        out["bad_config"] = {"code": e.args[0].name(), "message": e.args[0].str()}
    try:
        client.create_topics([NewTopic(topic, 3, 1)])[topic].result(TIMEOUT)
        out["exists"] = None
    except KafkaException as e:
        out["exists"] = e.args[0].name()
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    described = client.describe_configs([res])[res].result(TIMEOUT)
    out["configs"] = {k: {"value": v.value,
                          "source": confluent_kafka.admin.ConfigSource(v.source).name}
                      for k, v in described.items()}
    md = client.list_topics(timeout=TIMEOUT)
    out["listed"] = {t: len(m.partitions) for t, m in md.topics.items()}
    client.delete_topics([topic])[topic].result(TIMEOUT)
    deadline = time.monotonic() + TIMEOUT
    while topic in client.list_topics(timeout=TIMEOUT).topics:
        if time.monotonic() > deadline:
            raise RuntimeError("%s still listed %d s after its deletion" % (topic, TIMEOUT))
        time.sleep(0.1)
    out["listed_after_delete"] = sorted(client.list_topics(timeout=TIMEOUT).topics)
    return out


def main(argv):
    cmd, bootstrap = argv[1], argv[2]
    if cmd == "produce":
        result = {"delivered": produce(bootstrap, argv[3], argv[4], int(argv[5]))}
    elif cmd == "consume":
        result = {"records": consume(bootstrap, argv[3], int(argv[4]))}
    elif cmd == "group":
        result = group(bootstrap, argv[3], int(argv[4]), argv[5])
    elif cmd == "admin":
        result = admin(bootstrap, argv[3])
    else:
        raise SystemExit("unknown command " + cmd)
    result["client"] = "confluent-kafka %s (librdkafka %s)" % (
        confluent_kafka.__version__, confluent_kafka.libversion()[0])
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main(sys.argv)
