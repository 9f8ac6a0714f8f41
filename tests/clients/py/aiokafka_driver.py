"""aiokafka (PyPI, with its snappy/lz4/zstd extras) against a broker, run by the venv's python
(scripts/client-tools.sh python) for tests/clients/test_pypi_clients.py. The commands and their
JSON are those of confluent_driver.py:

  produce BOOTSTRAP TOPIC CODEC COUNT      idempotent producer, records 0..COUNT-1 to partition 0
  consume BOOTSTRAP TOPIC COUNT            the first COUNT records of partition 0
  group BOOTSTRAP TOPIC PARTITIONS GROUP   two members in a group that rebalances
  admin BOOTSTRAP TOPIC                    create with configs, describe configs, list, delete
"""

import asyncio
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import aiokafka  # noqa: E402
from aiokafka import (AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener,  # noqa: E402
                      TopicPartition)
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # noqa: E402
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType  # noqa: E402
from aiokafka.errors import KafkaError  # noqa: E402

import client_records as rec  # noqa: E402

TIMEOUT = 30
SOURCES = {1: "DYNAMIC_TOPIC_CONFIG", 2: "DYNAMIC_BROKER_CONFIG",
           3: "DYNAMIC_DEFAULT_BROKER_CONFIG", 4: "STATIC_BROKER_CONFIG", 5: "DEFAULT_CONFIG",
           6: "DYNAMIC_BROKER_LOGGER_CONFIG"}


async def produce(bootstrap, topic, codec, count, first=0, partitions=1, producer=None):
    own = producer is None
    if own:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True,
                                    compression_type=None if codec == "none" else codec,
                                    linger_ms=5)
        await producer.start()
    try:
        futures = []
        for i in range(first, first + count):
            futures.append(await producer.send(topic, value=rec.value(i), key=rec.key(i),
                                               headers=rec.headers(i), partition=i % partitions))
        metas = await asyncio.wait_for(asyncio.gather(*futures), TIMEOUT)
        return [[i, m.partition, m.offset] for i, m in zip(range(first, first + count), metas)]
    finally:
        if own:
            await producer.stop()


def record_json(msg):
    k = msg.key
    return {"partition": msg.partition, "offset": msg.offset,
            "key": None if k is None else k.hex(), "value": (msg.value or b"").hex(),
            "headers": [[n, (v or b"").hex()] for n, v in (msg.headers or [])]}


async def consume(bootstrap, topic, count):
    c = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                         auto_offset_reset="earliest")
    await c.start()
    try:
        tp = TopicPartition(topic, 0)
        c.assign([tp])
        await c.seek_to_beginning(tp)
        out, deadline = [], time.monotonic() + TIMEOUT
        while len(out) < count:
            if time.monotonic() > deadline:
                raise RuntimeError("consumed %d of %d records in %d s" % (len(out), count, TIMEOUT))
            for msgs in (await c.getmany(tp, timeout_ms=500)).values():
                out.extend(record_json(m) for m in msgs)
        return out[:count] if len(out) > count else out
    finally:
        await c.stop()


class Member(ConsumerRebalanceListener):
    """One consumer of the group: its assignments in order and what it consumed, each record
    committed right after it was consumed."""

    def __init__(self, name, bootstrap, topic, group_id):
        self.name = name
        self.topic = topic
        self.assigned = None
        self.log = {"assignments": [], "records": [], "commit_errors": []}
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group_id,
                                         enable_auto_commit=False, auto_offset_reset="earliest")

    async def start(self):
        await self.consumer.start()
        self.consumer.subscribe([self.topic], listener=self)

    async def on_partitions_revoked(self, revoked):
        self.assigned = None

    async def on_partitions_assigned(self, assigned):
        self.assigned = sorted(tp.partition for tp in assigned)
        self.log["assignments"].append(self.assigned)

    async def poll(self, phase):
        batches = await self.consumer.getmany(timeout_ms=50)
        for tp, msgs in batches.items():
            for msg in msgs:
                r = record_json(msg)
                r["phase"] = phase
                r["assignment"] = self.assigned
                self.log["records"].append(r)
                try:
                    await self.consumer.commit({tp: msg.offset + 1})
                except KafkaError as e:
                    self.log["commit_errors"].append([msg.partition, msg.offset, repr(e)])


async def wait(what, cond, members, phase):
    deadline = time.monotonic() + TIMEOUT
    while not cond():
        if time.monotonic() > deadline:
            raise RuntimeError("no %s in %d s: %s" % (what, TIMEOUT, {
                m.name: m.log for m in members}))
        for m in members:
            await m.poll(phase)


async def group(bootstrap, topic, partitions, group_id):
    """The phases of confluent_driver.group()."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, linger_ms=5)
    await producer.start()
    total = lambda ms: sum(len(m.log["records"]) for m in ms)  # noqa: E731
    a = Member("a", bootstrap, topic, group_id)
    await a.start()
    await produce(bootstrap, topic, "none", 4 * partitions, 0, partitions, producer)
    await wait("phase 1", lambda: total([a]) >= 4 * partitions, [a], 1)

    b = Member("b", bootstrap, topic, group_id)
    await b.start()
    both = [a, b]
    await wait("rebalance to two members",
               lambda: a.assigned and b.assigned and
               sorted(a.assigned + b.assigned) == list(range(partitions)), both, 2)
    await produce(bootstrap, topic, "none", 8 * partitions, 4 * partitions, partitions, producer)
    await wait("phase 2", lambda: total(both) >= 12 * partitions, both, 2)

    await b.consumer.stop()
    await wait("rebalance to one member", lambda: a.assigned == list(range(partitions)), [a], 3)
    await produce(bootstrap, topic, "none", 4 * partitions, 12 * partitions, partitions, producer)
    await wait("phase 3", lambda: total([a]) + len(b.log["records"]) >= 16 * partitions, [a], 3)
    await a.consumer.stop()
    await producer.stop()

    checker = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group_id,
                               enable_auto_commit=False)
    await checker.start()
    try:
        committed = {}
        for p in range(partitions):
            committed[str(p)] = await checker.committed(TopicPartition(topic, p))
    finally:
        await checker.stop()
    return {"members": {"a": a.log, "b": b.log}, "committed": committed}


def topic_errors(response):
    """[name, error code, message] of a CreateTopics / DeleteTopics response."""
    out = []
    for t in getattr(response, "topic_errors", None) or getattr(response, "topic_error_codes"):
        out.append([t[0], t[1], t[2] if len(t) > 2 else None])
    return out


async def admin(bootstrap, topic):
    client = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await client.start()
    out = {}
    try:
        configs = {"retention.ms": "3600000", "max.message.bytes": "200000",
                   "cleanup.policy": "delete", "message.timestamp.type": "LogAppendTime"}
        out["create"] = topic_errors(await client.create_topics(
            [NewTopic(topic, 3, 1, topic_configs=configs)]))
        out["bad_config"] = topic_errors(await client.create_topics(
            [NewTopic(topic + "-bad", 1, 1, topic_configs={"no.such.config": "1"})]))
        out["exists"] = topic_errors(await client.create_topics([NewTopic(topic, 3, 1)]))
        responses = await client.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic)], include_synonyms=True)
        out["configs"] = {}
        for resp in responses:
            for res in resp.resources:
                out["describe_error"] = res[0]
                for entry in res[4]:
                    out["configs"][entry[0]] = {"value": entry[1],
                                                "source": SOURCES.get(entry[3], entry[3])}
        out["listed"] = sorted(await client.list_topics())
        out["delete"] = topic_errors(await client.delete_topics([topic]))
        out["listed_after_delete"] = sorted(await client.list_topics())
    finally:
        await client.close()
    return out


async def main(argv):
    cmd, bootstrap = argv[1], argv[2]
    if cmd == "produce":
        result = {"delivered": await produce(bootstrap, argv[3], argv[4], int(argv[5]))}
    elif cmd == "consume":
        result = {"records": await consume(bootstrap, argv[3], int(argv[4]))}
    elif cmd == "group":
        result = await group(bootstrap, argv[3], int(argv[4]), argv[5])
    elif cmd == "admin":
        result = await admin(bootstrap, argv[3])
    else:
        raise SystemExit("unknown command " + cmd)
    result["client"] = "aiokafka %s" % aiokafka.__version__
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    asyncio.run(main(sys.argv))
