"""Writes or reads records with librdkafka (Debian's python3-confluent-kafka), not kafkajs.

Tests use it as another team's client would be used: to produce batches with, e.g.,
compression.type=zstd, and to read what the connector produced in each codec. Reads one JSON job
on stdin and prints one JSON answer on stdout; exits 0 even when records failed (the caller
asserts on the counts).

  {"mode": "produce", "bootstrap": "127.0.0.1:9092", "topic": "t", "compression": "lz4",
   "records": [{"key": "k" | null, "value": "<base64>"}]}
  -> {"delivered": N, "errors": ["..."]}

  {"mode": "consume", "bootstrap": "...", "topic": "t", "count": N, "timeout_s": 20}
  -> {"records": [{"key": "k" | null, "value": "<base64>"}], "errors": ["..."]}
"""
import base64
import json
import sys
import time
import uuid

from confluent_kafka import Consumer, Producer


def produce(job):
    producer = Producer({
        "bootstrap.servers": job["bootstrap"],
        "compression.type": job["compression"],
        "acks": "all",
        # a linger so the records of one call share a few batches, as a real producer's would
        "linger.ms": 20,
    })
    delivered = 0
    errors = []

    def on_delivery(err, _msg):
        nonlocal delivered
        if err is None:
            delivered += 1
        else:
            errors.append(str(err))

    for record in job["records"]:
        key = record["key"].encode() if record["key"] is not None else None
        producer.produce(job["topic"], key=key, value=base64.b64decode(record["value"]), on_delivery=on_delivery)
        producer.poll(0)
    remaining = producer.flush(30)
    if remaining:
        errors.append(f"{remaining} records not delivered within 30 s")
    return {"delivered": delivered, "errors": errors}


def consume(job):
    consumer = Consumer({
        "bootstrap.servers": job["bootstrap"],
        "group.id": f"foreign-{uuid.uuid4()}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    consumer.subscribe([job["topic"]])
    records = []
    errors = []
    deadline = time.monotonic() + job.get("timeout_s", 20)
    try:
        while len(records) < job["count"] and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                errors.append(str(msg.error()))
                continue
            key = msg.key().decode() if msg.key() is not None else None
            value = base64.b64encode(msg.value()).decode() if msg.value() is not None else None
            records.append({"key": key, "value": value})
    finally:
        consumer.close()
    return {"records": records, "errors": errors}


def main():
    job = json.load(sys.stdin)
    answer = produce(job) if job["mode"] == "produce" else consume(job)
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main()
