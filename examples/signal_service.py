#!/usr/bin/env python3
"""The signal service on Switchyard: its EventPublisher and fallback buffer, unchanged.

    switchyard bridge --redis redis://127.0.0.1:6379 &
    python3 examples/signal_service.py --redis redis://127.0.0.1:6379 --signals 12 --interval 1

Seed 004's signal service publishes `signals.generated` with a plain Redis `PUBLISH`
(`EventPublisher.publish_signal_event()`); when Redis is unreachable it keeps the payload in a
fallback buffer and replays it, in order, once Redis answers again. This program is that
publisher, with the seed's pydantic fields as a dataclass and no Switchyard code. Switchyard's
bridge, subscribed beside it, stores every message it sees as an event with a gap-free sequence
number in `stream:{signals.generated}`, so the signals gain durability and replay without a line
of the service changed.

It publishes `--signals` events, one every `--interval` seconds, and prints one JSON line per
attempt: `{"published": N, "subscribers": K}` or `{"buffered": N, "error": "..."}`, and
`{"replayed": N}` for each buffered event sent after Redis returns. Stop and restart Redis while
it runs to see the buffer at work. The last line is a summary:
`{"done": true, "published": [...], "buffered": [...], "stored": [...]}` where `stored` lists
`[sequence_number, signal number]` of what Switchyard kept.
"""
from __future__ import annotations

import argparse
import json
import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import cast
import redis

CHANNEL = "signals.generated"


@dataclass
class SignalEvent:
    """`libs/redis_client/events.py`'s SignalEvent."""

    strategy_id: str
    symbols: list[str]
    num_signals: int
    as_of_date: str
    timestamp: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    event_type: str = CHANNEL

    def to_json(self) -> str:
        body = asdict(self)
        body["timestamp"] = self.timestamp.isoformat()
        return json.dumps(body)


class FallbackBuffer:
    """`libs/redis_client/fallback_buffer.py`: payloads kept in order while Redis is away."""

    def __init__(self, max_size: int = 10_000) -> None:
        self.pending: deque[tuple[str, str]] = deque(maxlen=max_size)

    def add(self, channel: str, payload: str) -> None:
        self.pending.append((channel, payload))

    def __len__(self) -> int:
        return len(self.pending)


class EventPublisher:
    """`libs/redis_client/event_publisher.py`, with the retrying publish of `client.py`."""

    def __init__(self, client: redis.Redis, buffer: FallbackBuffer, retries: int = 2) -> None:
        self.redis = client
        self.buffer = buffer
        self.retries = retries

    def _publish(self, channel: str, payload: str) -> int:
        """`PUBLISH` with retries. A message no subscriber received (just after Redis restarted,
        before the bridge has subscribed again) counts as not sent, so it stays buffered."""
        for attempt in range(self.retries + 1):
            try:
                receivers = int(self.redis.publish(channel, payload))
                if receivers == 0:
                    raise redis.ConnectionError("no subscriber received the message")
                return receivers
            except (redis.ConnectionError, redis.TimeoutError):
                if attempt == self.retries:
                    raise
                time.sleep(0.05 * (attempt + 1))
        return 0

    def replay_buffer(self) -> int:
        """Sends the buffered payloads in order; stops at the first that fails."""
        replayed = 0
        while self.buffer.pending:
            channel, payload = self.buffer.pending[0]
            self._publish(channel, payload)
            self.buffer.pending.popleft()
            replayed += 1
        return replayed

    def publish_signal_event(self, event: SignalEvent) -> int:
        """Publishes the event, buffered (and `-1` returned) when Redis cannot be reached."""
        payload = event.to_json()
        try:
            if self.buffer.pending:
                replayed = self.replay_buffer()
                print(json.dumps({"replayed": replayed}), flush=True)
            return self._publish(CHANNEL, payload)
        except (redis.ConnectionError, redis.TimeoutError):
            self.buffer.add(CHANNEL, payload)
            return -1


def stored(client: redis.Redis) -> list[list[int]]:
    entries = cast(list[tuple[bytes, dict[bytes, bytes]]], client.xrange("stream:{signals.generated}"))
    events = [json.loads(fields[b"envelope"]) for _, fields in entries]
    return [[event["sequence_number"], event["data"]["num_signals"]] for event in events]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--redis", required=True, help="redis://HOST:PORT")
    parser.add_argument("--signals", type=int, default=12, help="signal events to publish")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between events")
    parser.add_argument("--settle", type=float, default=30.0, help="seconds to wait for Switchyard to store every event")
    args = parser.parse_args()
    client = redis.Redis.from_url(args.redis, socket_timeout=2, socket_connect_timeout=2)
    publisher = EventPublisher(client, FallbackBuffer())
    published: list[int] = []
    buffered: list[int] = []
    run_id = uuid.uuid4().hex[:8]

    for n in range(1, args.signals + 1):
        event = SignalEvent(strategy_id=f"alpha_baseline_{run_id}", symbols=["AAPL", "MSFT"], num_signals=n, as_of_date="2025-01-17")
        subscribers = publisher.publish_signal_event(event)
        if subscribers < 0:
            buffered.append(n)
            print(json.dumps({"buffered": n}), flush=True)
        else:
            published.append(n)
            print(json.dumps({"published": n, "subscribers": subscribers}), flush=True)
        time.sleep(args.interval)
    while publisher.buffer.pending:
        try:
            print(json.dumps({"replayed": publisher.replay_buffer()}), flush=True)
        except (redis.ConnectionError, redis.TimeoutError):
            time.sleep(args.interval)

    deadline = time.monotonic() + args.settle
    kept: list[list[int]] = []
    while time.monotonic() < deadline:
        kept = stored(client)
        if len(kept) >= args.signals:
            break
        time.sleep(0.1)
    print(json.dumps({"done": True, "published": published, "buffered": buffered, "stored": kept}), flush=True)
    ok = [number for _, number in kept] == list(range(1, args.signals + 1)) and [seq for seq, _ in kept] == list(range(1, len(kept) + 1))
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
