"""Produce gateway records to Kafka with an independent client (confluent-kafka).

Usage: produce.py BROKERS TOPIC PARTITIONS FILE [FILE ...]

Creates TOPIC with PARTITIONS partitions (if it does not exist), then sends every
non-blank line of each FILE (.jsonl or .jsonl.gz) as one event, keyed by its line
number so events spread over the partitions. Prints the number of events sent.
"""

import gzip
import sys

from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic


def create_topic(brokers: str, topic: str, partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": brokers})
    futures = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    for future in futures.values():
        try:
            future.result(timeout=30)
        except KafkaException as e:
            if "TOPIC_ALREADY_EXISTS" not in str(e) and "already exists" not in str(e):
                raise


def main() -> int:
    brokers, topic, partitions, *files = sys.argv[1:]
    create_topic(brokers, topic, int(partitions))
    # One event per record batch. tansu 0.6 (the test broker) answers a fetch that
    # starts inside a batch with the *next* batch, and reports a partition's end as
    # the last batch's first offset; a consumer resuming mid-batch (after a commit
    # between two of a batch's records) would miss the rest of that batch. Real
    # Kafka and Event Hubs return the whole batch; single-event batches keep the
    # tests about tokentally, not about that broker.
    producer = Producer(
        {
            "bootstrap.servers": brokers,
            "linger.ms": 0,
            "batch.num.messages": 1,
            "message.max.bytes": 8 << 20,
        }
    )
    failures = []

    def delivered(err, _msg):
        if err is not None:
            failures.append(err)

    sent = 0
    for path in files:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rb") as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                producer.produce(topic, value=line, key=str(sent).encode(), on_delivery=delivered)
                sent += 1
                if sent % 500 == 0:
                    producer.poll(0)
    left = producer.flush(60)
    if left or failures:
        print(f"{left} events undelivered, failures: {failures[:3]}", file=sys.stderr)
        return 1
    print(sent)
    return 0


if __name__ == "__main__":
    sys.exit(main())
