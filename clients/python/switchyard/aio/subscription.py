"""Live subscriptions of the asyncio client: per channel in sequence order, gaps filled from the stream."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from datetime import datetime, timezone
from typing import TYPE_CHECKING, AsyncIterator, Mapping

from .._core import COMPANION_PREFIX, UNREACHABLE, decode, matches, since_ms
from .._plans import events_after, run_async
from ..contracts import is_pattern
from ..envelope import Event

if TYPE_CHECKING:
    from . import Switchyard


class Subscription:
    """Live events, per channel in sequence order, gaps filled from the stream; `async for` over it."""

    def __init__(self, owner: Switchyard, patterns: list[str]) -> None:
        self.owner = owner
        self.patterns = patterns
        self.last: dict[str, int] = {}
        self.last_ms: dict[str, int] = {}
        self.ready: deque[Event] = deque()
        self.interrupted = False
        self.pubsub = owner.redis.pubsub(ignore_subscribe_messages=True)

    async def start(self, since: Mapping[str, int], since_time: datetime | None) -> None:
        await self.pubsub.psubscribe(*self.patterns, *(COMPANION_PREFIX + p for p in self.patterns))
        while await self.pubsub.get_message(timeout=0.05) is not None:
            pass
        starts = dict(since)
        if since_time is not None:
            for pattern in self.patterns:
                for channel in await self.owner.channels(pattern) if is_pattern(pattern) else [pattern]:
                    starts.setdefault(channel, -1)
        for channel, first in starts.items():
            history = (await self.owner.replay(channel, since=datetime.fromtimestamp(since_ms(since_time) / 1000, tz=timezone.utc))
                       if first < 0 and since_time is not None else await self.owner.replay(channel, since=first))
            self.last[channel] = (first - 1) if first > 0 else 0
            for event in history:
                self._accept(event)

    def _accept(self, event: Event) -> None:
        if event.sequence_number <= self.last.get(event.channel, 0):
            return
        self.last[event.channel] = event.sequence_number
        self.last_ms[event.channel] = event.timestamp_ms
        self.ready.append(event)

    async def _fill(self, event: Event) -> None:
        last = self.last.get(event.channel)
        if last is not None and event.sequence_number > last + 1:
            for missing in await self._after(event.channel, last, upto=event.sequence_number):
                self._accept(missing)
        self._accept(event)

    async def _after(self, channel: str, last: int, upto: int | None = None) -> list[Event]:
        """The stored events of `channel` numbered after `last` (and before `upto`), from the stream."""
        return await run_async(events_after(channel, last, self.last_ms.get(channel), upto), self.owner)

    async def get(self, timeout: float = 1.0) -> Event | None:
        """The next event, or `None` when none came within `timeout` seconds; while Redis is away it
        keeps trying, and once it is back the events stored meanwhile come first, in order."""
        deadline = time.monotonic() + timeout
        while not self.ready:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                message = await self.pubsub.get_message(timeout=remaining)
            except UNREACHABLE:
                self.interrupted = True
                await asyncio.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
                continue
            if self.interrupted:
                try:
                    for channel, last in list(self.last.items()):
                        for missed in await self._after(channel, last):
                            self._accept(missed)
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
                continue
            if event.channel != channel or not matches(self.patterns, channel):
                continue
            await self._fill(event)
        return self.ready.popleft()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while True:
            event = await self.get(timeout=1.0)
            if event is not None:
                yield event

    async def close(self) -> None:
        """Unsubscribes and closes the connection."""
        await self.pubsub.aclose()

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()
