"""Print a consumer group's committed offsets with an independent client.

Usage: committed.py BROKERS TOPIC GROUP PARTITIONS

Prints one line per partition, "PARTITION OFFSET", where OFFSET is the next offset
the group would read (-1: nothing committed). Reads only; never commits.
"""

import sys

from confluent_kafka import Consumer, TopicPartition


def main() -> int:
    brokers, topic, group, partitions = sys.argv[1:]
    consumer = Consumer({"bootstrap.servers": brokers, "group.id": group, "enable.auto.commit": False})
    try:
        wanted = [TopicPartition(topic, p) for p in range(int(partitions))]
        for tp in consumer.committed(wanted, timeout=30):
            if tp.error:
                raise SystemExit(f"{topic}[{tp.partition}]: {tp.error}")
            print(tp.partition, tp.offset if tp.offset >= 0 else -1)
    finally:
        consumer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
