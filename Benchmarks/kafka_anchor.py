"""The Python side of Benchmarks/run-kafka: confluent-kafka (on librdkafka) against the same Tansu.

Subcommands (each prints one JSON object):
  contracts DIR SHIPPED          writes the bench's two contracts to DIR, made from the shipped
                                 quotes.realtime contract: bench.one.* (one partition per channel)
                                 and bench.keyed.* (6 partitions keyed by ticker, as OPA's topic)
  sample SERVERS TOPIC FILE      reads the first record of TOPIC, writes its value to FILE and
                                 prints its value's and headers' sizes
  produce SERVERS TOPIC PARTITIONS COUNT FILE KEYS BROKER_PID
                                 creates TOPIC, produces COUNT records whose value is FILE's bytes
                                 with the engine's four headers, idempotent, acks=all, keyed by
                                 KEYS tickers (0: a 36-byte key per record, all in partition 0),
                                 waits for every acknowledgement and prints records/s, this
                                 process's CPU per record and the broker's (from /proc)
  steady SERVERS PREFIX TOPICS RATE SECONDS FILE BROKER_PID
                                 the same records at RATE records/s in all for SECONDS, spread over
                                 TOPICS one-partition topics (PREFIX-1 …) as the bench's channels
                                 are; each record's acknowledgement is timed from when it was due
                                 (as `switchyard bench` times its publishes, after the same 1 s of
                                 warm-up): p50, p99, p99.9, max
  count SERVERS TOPIC PARTITIONS counts TOPIC's records by reading them all (Tansu's high
                                 watermark is wrong for batches of several records)
"""

import json
import os
import resource
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition, OFFSET_BEGINNING
from confluent_kafka.admin import AdminClient, NewTopic


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def key_value(n: int) -> str:
    """The nth key as `switchyard bench --keys` makes it: A … Z, AA, AB, …"""
    rest, letters = n + 1, ""
    while rest > 0:
        rest -= 1
        letters = chr(65 + rest % 26) + letters
        rest //= 26
    return letters


def contracts(folder: str, shipped: str) -> None:
    with open(shipped) as file:
        quotes = json.load(file)
    for name, kafka in [("one", {"partitions": 1}), ("keyed", {"partitions": 6, "partition_key": "ticker"})]:
        contract = dict(quotes, channel=f"bench.{name}.*")
        contract["policy"] = dict(quotes["policy"], kafka=kafka)
        with open(os.path.join(folder, f"bench_{name}.json"), "w") as file:
            json.dump(contract, file, indent=2)
    print(json.dumps({"contracts": folder}))


def sample(servers: str, topic: str, path: str) -> None:
    consumer = Consumer({"bootstrap.servers": servers, "group.id": "bench-sample", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    deadline = time.time() + 30
    while time.time() < deadline:
        message = consumer.poll(0.5)
        if message is None or message.error():
            continue
        with open(path, "wb") as file:
            file.write(message.value())
        headers = message.headers() or []
        print(json.dumps({"value_bytes": len(message.value()), "key_bytes": len(message.key() or b""),
                          "header_bytes": sum(len(k) + len(v) for k, v in headers), "headers": len(headers)}))
        consumer.close()
        return
    sys.exit(f"no record in {topic}")


def produce(servers: str, topic: str, partitions: int, count: int, path: str, keys: int, broker: int) -> None:
    admin = AdminClient({"bootstrap.servers": servers})
    for future in admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)]).values():
        future.result(30)
    with open(path, "rb") as file:
        value = file.read()
    headers = [("switchyard-id", b"1765100000000-0"), ("switchyard-retention-ms", b"300000"),
               ("switchyard-durable", b"1"), ("switchyard-dedup-until", b"1765100300000")]
    tickers = [key_value(n).encode() for n in range(keys)]
    producer = Producer({"bootstrap.servers": servers, "enable.idempotence": True, "acks": "all", "linger.ms": 1,
                         "partitioner": "murmur2_random", "queue.buffering.max.messages": 1_000_000})
    state = {"acked": 0, "failed": 0}

    def delivered(error, _message):
        state["failed" if error else "acked"] += 1

    broker_before, own_before = cpu_seconds(broker), own_cpu_seconds()
    start = time.perf_counter()
    for n in range(count):
        key = tickers[n % keys] if keys else b"%036d" % n
        while True:
            try:
                producer.produce(topic, value=value, key=key, headers=headers, on_delivery=delivered,
                                 **({} if keys else {"partition": 0}))
                break
            except BufferError:
                producer.poll(0.01)
        if n % 1000 == 0:
            producer.poll(0)
    remaining = producer.flush(120)
    elapsed = time.perf_counter() - start
    broker_cpu, own_cpu = cpu_seconds(broker) - broker_before, own_cpu_seconds() - own_before
    print(json.dumps({
        "topic": topic, "partitions": partitions, "keys": keys, "records": count, "acked": state["acked"],
        "failed": state["failed"], "unflushed": remaining, "seconds": round(elapsed, 3),
        "records_per_second": round(state["acked"] / elapsed), "value_bytes": len(value),
        "client_cpu_us_per_record": round(own_cpu / max(1, state["acked"]) * 1e6, 2),
        "client_cpu_percent": round(own_cpu / elapsed * 100),
        "broker_cpu_us_per_record": round(broker_cpu / max(1, state["acked"]) * 1e6, 2),
        "broker_cpu_percent": round(broker_cpu / elapsed * 100),
    }))


def steady(servers: str, prefix: str, topics: int, rate: int, seconds: float, path: str, broker: int) -> None:
    names = [f"{prefix}-{n + 1}" for n in range(topics)]
    admin = AdminClient({"bootstrap.servers": servers})
    for future in admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1) for name in names]).values():
        future.result(30)
    with open(path, "rb") as file:
        value = file.read()
    headers = [("switchyard-id", b"1765100000000-0"), ("switchyard-retention-ms", b"300000"),
               ("switchyard-durable", b"1"), ("switchyard-dedup-until", b"1765100300000")]
    producer = Producer({"bootstrap.servers": servers, "enable.idempotence": True, "acks": "all", "linger.ms": 1,
                         "partitioner": "murmur2_random"})
    latencies, failed = [], [0]
    total = int(rate * seconds)
    broker_before, own_before = cpu_seconds(broker), own_cpu_seconds()
    start = time.monotonic() + 0.2
    for n in range(total):
        due = start + n / rate
        wait = due - time.monotonic()
        if wait > 0:
            producer.poll(wait)
        def delivered(error, _message, due=due):
            if error:
                failed[0] += 1
            elif due >= start + 1:
                latencies.append(time.monotonic() - due)
        producer.produce(names[n % topics], value=value, key=b"%036d" % n, headers=headers, partition=0, on_delivery=delivered)
        producer.poll(0)
    producer.flush(60)
    elapsed = time.monotonic() - start
    broker_cpu, own_cpu = cpu_seconds(broker) - broker_before, own_cpu_seconds() - own_before
    ordered = sorted(latencies)

    def percentile(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, max(0, int(round(p * len(ordered))) - 1))] * 1000, 2)

    print(json.dumps({
        "topics": topics, "rate": rate, "seconds": seconds, "measured": len(latencies), "failed": failed[0],
        "ack_vs_schedule_ms": {"p50": percentile(0.5), "p99": percentile(0.99), "p999": percentile(0.999), "max": percentile(1.0)},
        "client_cpu_us_per_record": round(own_cpu / total * 1e6, 2),
        "broker_cpu_us_per_record": round(broker_cpu / total * 1e6, 2),
        "broker_cpu_percent": round(broker_cpu / elapsed * 100),
    }))


def count(servers: str, topic: str, partitions: int) -> None:
    consumer = Consumer({"bootstrap.servers": servers, "group.id": "bench-count", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    records, quiet_since = 0, time.time()
    while time.time() - quiet_since < 3:
        batch = consumer.consume(10_000, 0.5)
        records += sum(1 for message in batch if not message.error())
        if batch:
            quiet_since = time.time()
    consumer.close()
    print(json.dumps({"topic": topic, "records": records}))


if __name__ == "__main__":
    command, arguments = sys.argv[1], sys.argv[2:]
    if command == "contracts":
        contracts(*arguments)
    elif command == "sample":
        sample(*arguments)
    elif command == "produce":
        servers, topic, partitions, records, path, keys, broker = arguments
        produce(servers, topic, int(partitions), int(records), path, int(keys), int(broker))
    elif command == "steady":
        servers, prefix, topics, rate, seconds, path, broker = arguments
        steady(servers, prefix, int(topics), int(rate), float(seconds), path, int(broker))
    elif command == "count":
        count(arguments[0], arguments[1], int(arguments[2]))
    else:
        sys.exit(__doc__)
