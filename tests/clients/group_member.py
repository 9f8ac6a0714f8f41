"""One consumer-group member as its own process, for tests/clients/test_groups.py.

    group_member.py CONFIG_JSON

CONFIG_JSON: {"client": "confluent" | "kafka-python", "bootstrap": ..., "group": ..., "topic": ...,
"assignor": "range" | null (the client's default), "session_timeout_ms": ..., "client_id": ...}.

Subscribes to the topic and consumes from the earliest offset (without committed offsets). After
every batch it has printed it commits the batch's offsets synchronously, so a member killed at any
point leaves at most the records it printed uncommitted (at-least-once for the group). Prints
JSON lines on stdout, flushed one by one:
    {"event": "started"}
    {"event": "assigned", "partitions": [0, 3]}      (the member's whole assignment)
    {"event": "revoked", "partitions": [...]}
    {"event": "records", "records": [[partition, offset, value], ...]}
    {"event": "committed", "offsets": {"0": 17, ...}}
    {"event": "error", "error": "..."}                (a client error the member survived)
    {"event": "client_error", "error": "..."}         (kafka-python's group coordinator logged
                                                       an error)
    {"event": "closed"}
A line "close" on stdin makes it close the consumer (which sends LeaveGroup) and exit 0. EOF on
stdin (the test died) does the same."""

import json
import logging
import sys
import threading

CONFIG = json.loads(sys.argv[1])
_out_lock = threading.Lock()


def emit(**event):
    with _out_lock:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()


_close = threading.Event()


def _watch_stdin():
    for line in sys.stdin:
        if line.strip() == "close":
            break
    _close.set()


def run_confluent():
    from confluent_kafka import Consumer, KafkaError, TopicPartition

    conf = {
        "bootstrap.servers": CONFIG["bootstrap"],
        "group.id": CONFIG["group"],
        "client.id": CONFIG.get("client_id", "group-member"),
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "session.timeout.ms": CONFIG["session_timeout_ms"],
        "heartbeat.interval.ms": 500,
        "max.poll.interval.ms": max(10000, CONFIG["session_timeout_ms"]),
        "topic.metadata.refresh.interval.ms": 2000,
        "reconnect.backoff.max.ms": 500,
    }
    if CONFIG.get("assignor"):
        conf["partition.assignment.strategy"] = CONFIG["assignor"]
    consumer = Consumer(conf, error_cb=lambda err: emit(event="error", error=str(err)))

    def on_assign(c, partitions):
        emit(event="assigned", partitions=sorted(p.partition for p in partitions))

    def on_revoke(c, partitions):
        emit(event="revoked", partitions=sorted(p.partition for p in partitions))

    consumer.subscribe([CONFIG["topic"]], on_assign=on_assign, on_revoke=on_revoke)
    emit(event="started")
    while not _close.is_set():
        msgs = consumer.consume(num_messages=500, timeout=0.2)
        batch = []
        offsets = {}
        for m in msgs:
            if m.error():
                if m.error().code() != KafkaError._PARTITION_EOF:
                    emit(event="error", error=str(m.error()))
                continue
            batch.append([m.partition(), m.offset(), m.value().decode()])
            offsets[m.partition()] = m.offset() + 1
        if not batch:
            continue
        emit(event="records", records=batch)
        try:
            consumer.commit(offsets=[TopicPartition(CONFIG["topic"], p, o)
                                     for p, o in offsets.items()], asynchronous=False)
            emit(event="committed", offsets={str(p): o for p, o in offsets.items()})
        except Exception as e:  # a rebalance raced the commit: the records come again
            emit(event="error", error="commit: %s" % e)
    consumer.close()
    emit(event="closed")


class _EmitErrors(logging.Handler):
    def emit(self, record):
        emit(event="client_error", error=record.getMessage())


def run_kafka_python():
    from kafka import KafkaConsumer
    from kafka.consumer.subscription_state import ConsumerRebalanceListener
    from kafka.coordinator.assignors.range import RangePartitionAssignor
    from kafka.structs import OffsetAndMetadata

    kwargs = dict(
        bootstrap_servers=CONFIG["bootstrap"],
        group_id=CONFIG["group"],
        client_id=CONFIG.get("client_id", "group-member"),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=CONFIG["session_timeout_ms"],
        heartbeat_interval_ms=500,
        max_poll_interval_ms=max(10000, CONFIG["session_timeout_ms"]),
        metadata_max_age_ms=2000,
        reconnect_backoff_max_ms=500,
    )
    if CONFIG.get("assignor") == "range":
        kwargs["partition_assignment_strategy"] = [RangePartitionAssignor]
    # Group protocol errors kafka-python only logs (e.g. "Unexpected error from SyncGroup").
    handler = _EmitErrors(level=logging.ERROR)
    logging.getLogger("kafka.coordinator").addHandler(handler)
    consumer = KafkaConsumer(**kwargs)

    class Listener(ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked):
            emit(event="revoked", partitions=sorted(p.partition for p in revoked))

        def on_partitions_assigned(self, assigned):
            emit(event="assigned", partitions=sorted(p.partition for p in assigned))

    consumer.subscribe([CONFIG["topic"]], listener=Listener())
    emit(event="started")
    while not _close.is_set():
        polled = consumer.poll(timeout_ms=200, max_records=500)
        batch = []
        offsets = {}
        for tp, msgs in polled.items():
            for m in msgs:
                batch.append([tp.partition, m.offset, m.value.decode()])
                offsets[tp] = m.offset + 1
        if not batch:
            continue
        emit(event="records", records=batch)
        try:
            consumer.commit({tp: OffsetAndMetadata(o, "") for tp, o in offsets.items()})
            emit(event="committed", offsets={str(tp.partition): o for tp, o in offsets.items()})
        except Exception as e:  # a rebalance raced the commit: the records come again
            emit(event="error", error="commit: %s" % e)
    consumer.close()
    emit(event="closed")


if __name__ == "__main__":
    threading.Thread(target=_watch_stdin, daemon=True).start()
    if CONFIG["client"] == "confluent":
        run_confluent()
    elif CONFIG["client"] == "kafka-python":
        run_kafka_python()
    else:
        raise SystemExit("unknown client %r" % CONFIG["client"])
