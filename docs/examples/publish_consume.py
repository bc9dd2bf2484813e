#!/usr/bin/env python3
"""Publish to and consume from Switchyard channels with redis-py alone.

Publishing runs Switchyard's own publish script (Sources/SwitchyardRedis/Resources/publish.lua), so a
Python event gets the same dedup check, gap-free sequence number, envelope, retention with the trim
guard, latest state and pub/sub notification as one published by the Swift router. Consuming is
plain XREADGROUP on `stream:{CHANNEL}`; the field `envelope` holds the JSON envelope.
See docs/wire-format.md.

    python3 publish_consume.py --url redis://127.0.0.1:6379 --channel trades:order_filled \
        --publish-lua ../../Sources/SwitchyardRedis/Resources/publish.lua

It publishes two events (and the first one again, which dedup stores once), then consumes the
channel from the beginning in the consumer group `python-example`, acking each entry, and prints
one JSON object: {"published": [...], "republished": {...}, "consumed": [envelopes]}.

With --cluster it uses redis-py's RedisCluster on one node's URL: every key of a channel shares
the hash tag {CHANNEL}, so the script and the group read run on the node of the channel's slot.
"""
import argparse
import json
import os
import secrets
import time
from typing import Any

import redis


def uuid7() -> str:
    """A UUIDv7: 48 bits of unix milliseconds, version 7, variant 10, random bits."""
    value = (int(time.time() * 1000) & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= secrets.randbits(12) << 64
    value |= 0b10 << 62
    value |= secrets.randbits(62)
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def compact(value) -> str:
    return json.dumps(value, separators=(",", ":"))


class RateLimited(Exception):
    def __init__(self, retry_after_ms: int):
        super().__init__(f"rate limited; retry after {retry_after_ms} ms")
        self.retry_after_ms = retry_after_ms


class Publisher:
    """Publishes batches to one channel through publish.lua (EVALSHA, loaded again on NOSCRIPT)."""

    def __init__(self, client: "redis.Redis | redis.RedisCluster", script_source: str, source: str,
                 retention_ms: int = 24 * 3600 * 1000, dedup_window_ms: int = 300_000,
                 hard_cap: int = 1_000_000, rate_per_second: int = 1000, burst: int = 2000):
        self.script = client.register_script(script_source)
        self.source = source
        self.retention_ms = retention_ms
        self.dedup_window_ms = dedup_window_ms
        self.hard_cap = hard_cap
        self.rate_per_second = rate_per_second
        self.burst = burst
        self.client = client
        self.registered: set[str] = set()

    def publish(self, channel: str, schema: str, events):
        """events: (event_id, data, metadata) tuples. Returns one dict per event."""
        tag = "{" + channel + "}"
        now = int(time.time() * 1000)
        keys = [f"stream:{tag}", f"seq:{tag}", f"latest:{tag}", f"rate:{tag}:{self.source}", f"meta:{tag}"]
        args: list[str | int | float] = [channel, self.retention_ms, self.dedup_window_ms, self.hard_cap, "publish", "1",
                self.rate_per_second, self.burst, now, len(events)]
        for event_id, data, metadata in events:
            keys.append(f"dedup:{tag}:{event_id}")
            prefix = ('{"event_id":' + compact(event_id) + ',"channel":' + compact(channel)
                      + ',"topic":' + compact(channel) + ',"sequence_number":')
            suffix = (',"source":' + compact(self.source) + ',"schema":' + compact(schema)
                      + ',"data":' + compact(data) + ',"metadata":' + compact(metadata) + "}")
            args += [now, prefix, suffix]
        reply = self.script(keys=keys, args=args)
        if reply[0] == 0:
            raise RateLimited(reply[1])
        if channel not in self.registered:
            # The channel registry, where pattern consumers find channels (SSCAN).
            self.client.sadd("switchyard:channels", channel)
            self.registered.add(channel)
        results = []
        for (event_id, _, _), (stored, sequence, stream_id, ms) in zip(events, reply[3:]):
            results.append({"event_id": event_id, "stored": stored == 1, "sequence_number": sequence,
                            "stream_id": stream_id.decode() if isinstance(stream_id, bytes) else stream_id})
        return results


def consume(client: "redis.Redis | redis.RedisCluster", channel: str, group: str, consumer: str, block_ms: int = 200):
    """Reads every entry the group has not been delivered, acking each; returns the envelopes."""
    stream = "stream:{" + channel + "}"
    try:
        client.xgroup_create(stream, group, id="0", mkstream=True)
    except redis.ResponseError as error:
        if "BUSYGROUP" not in str(error):
            raise
    envelopes: list[dict] = []
    while True:
        reply: Any = client.xreadgroup(group, consumer, {stream: ">"}, count=100, block=block_ms)
        if not reply:
            return envelopes
        for _, entries in reply:
            for entry_id, fields in entries:
                envelopes.append(json.loads(fields[b"envelope"]))
                client.xack(stream, group, entry_id)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379"))
    parser.add_argument("--channel", required=True)
    parser.add_argument("--publish-lua", required=True, help="path of publish.lua")
    parser.add_argument("--cluster", action="store_true", help="the URL is a node of a Redis Cluster")
    arguments = parser.parse_args()

    client: "redis.Redis | redis.RedisCluster"
    client = redis.RedisCluster.from_url(arguments.url) if arguments.cluster else redis.Redis.from_url(arguments.url)
    with open(arguments.publish_lua, encoding="utf-8") as file:
        publisher = Publisher(client, file.read(), source="python-example")
    schema = arguments.channel + "@1"
    first = (uuid7(), {"n": 100, "note": "from python"}, {"user_id": "user_0001"})
    second = (uuid7(), {"n": 101}, {})
    published = publisher.publish(arguments.channel, schema, [first, second])
    republished = publisher.publish(arguments.channel, schema, [first])[0]
    consumed = consume(client, arguments.channel, group="python-example", consumer="py-1")
    print(json.dumps({"published": published, "republished": republished, "consumed": consumed}))


if __name__ == "__main__":
    main()
