"""Live subscriptions of the blocking client: per channel in sequence order, gaps filled from the stream."""

from __future__ import annotations

import time
from collections import deque
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Iterator, Mapping

from ._core import COMPANION_PREFIX, UNREACHABLE, decode, matches, since_ms
from ._plans import events_after, run
from .contracts import is_pattern
from .envelope import Event

if TYPE_CHECKING:
    from .client import Switchyard


class Subscription:
    """Live events, per channel in sequence order, with gaps filled from the stream. Iterate it, or
    call `get(timeout)`; `close()` ends it."""

    def __init__(self, owner: Switchyard, patterns: list[str], since: Mapping[str, int], since_time: datetime | None) -> None:
        self.owner = owner
        self.patterns = patterns
        self.last: dict[str, int] = {}
        self.last_ms: dict[str, int] = {}
        self.ready: deque[Event] = deque()
        self.interrupted = False
        self.pubsub = owner.redis.pubsub(ignore_subscribe_messages=True)
        self.pubsub.psubscribe(*patterns, *(COMPANION_PREFIX + p for p in patterns))
        while self.pubsub.get_message(timeout=0.05) is not None:
            pass
        starts = dict(since)
        if since_time is not None:
            for pattern in patterns:
                for channel in owner.channels(pattern) if is_pattern(pattern) else [pattern]:
                    starts.setdefault(channel, -1)
        for channel, first in starts.items():
            history = (owner.replay(channel, since=datetime.fromtimestamp(since_ms(since_time) / 1000, tz=timezone.utc))
                       if first < 0 and since_time is not None else owner.replay(channel, since=first))
            self.last[channel] = (first - 1) if first > 0 else 0
            for event in history:
                self._accept(event)

    def _accept(self, event: Event) -> None:
        if event.sequence_number <= self.last.get(event.channel, 0):
            return
        self.last[event.channel] = event.sequence_number
        self.last_ms[event.channel] = event.timestamp_ms
        self.ready.append(event)

    def _fill(self, event: Event) -> None:
        last = self.last.get(event.channel)
        if last is not None and event.sequence_number > last + 1:
            for missing in self._after(event.channel, last, upto=event.sequence_number):
                self._accept(missing)
        self._accept(event)

    def _after(self, channel: str, last: int, upto: int | None = None) -> list[Event]:
        """The stored events of `channel` numbered after `last` (and before `upto`), from the stream."""
        return run(events_after(channel, last, self.last_ms.get(channel), upto), self.owner)

    def _catch_up(self) -> None:
        """After the live connection came back: what was stored meanwhile, per channel, in order."""
        for channel, last in list(self.last.items()):
            for event in self._after(channel, last):
                self._accept(event)

    def get(self, timeout: float = 1.0) -> Event | None:
        """The next event, or `None` when none came within `timeout` seconds. While Redis is away it
        keeps trying; once the connection is back, the events stored meanwhile come first, in order."""
        deadline = time.monotonic() + timeout
        while not self.ready:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                message = self.pubsub.get_message(timeout=remaining)
            except UNREACHABLE:
                self.interrupted = True
                time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
                continue
            if self.interrupted:
                try:
                    self._catch_up()
                    self.interrupted = False
                except UNREACHABLE:
                    continue
            if message is None or message.get("type") != "pmessage":
                continue
            channel = decode(message["channel"])
            channel = channel[len(COMPANION_PREFIX):] if channel.startswith(COMPANION_PREFIX) else channel
            try:
                event = Event.parse(message["data"])
            except (ValueError, TypeError):
                continue  # a bare payload on a payload-mode channel: its envelope comes on the companion
            if event.channel != channel or not matches(self.patterns, channel):
                continue  # forged: an envelope must arrive on its own channel
            self._fill(event)
        return self.ready.popleft()

    def __iter__(self) -> Iterator[Event]:
        while True:
            event = self.get(timeout=1.0)
            if event is not None:
                yield event

    def close(self) -> None:
        """Unsubscribes and closes the connection."""
        self.pubsub.close()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
