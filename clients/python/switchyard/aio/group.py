"""Consumer groups of the asyncio client: the Swift router's retry, reclaim and dead-letter rules."""

from __future__ import annotations

import asyncio
import inspect
import time
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable, Mapping, Union

import redis

from .._core import UNREACHABLE, decode, dlq_key, now_ms, parse_entry, stream_key
from ..delivery import GroupOptions, handler_error_body, processing_error, unacked_body
from ..contracts import compact, is_pattern
from ..envelope import Event, rfc3339_ms
from ..errors import SwitchyardError, ValidationError

if TYPE_CHECKING:
    from . import Switchyard


AsyncHandler = Callable[[Event], Union[Awaitable[Any], Any]]


class Group:
    """One consumer of a consumer group (the rules of `switchyard.Group`), with async handlers."""

    def __init__(self, owner: Switchyard, patterns: list[str], group: str, consumer: str, options: GroupOptions) -> None:
        self.owner, self.patterns, self.name, self.consumer, self.options = owner, patterns, group, consumer, options
        self.known: set[str] = set()
        self.handlers: list[AsyncHandler] = []
        self.cursors: dict[str, str] = {}
        self.next_claim = 0.0
        self.next_lookup = 0.0
        self.started = False
        self.retries: list[tuple[float, Event]] = []
        self.processed: ProcessedStore | None = None
        self.pending_settles: list[Awaitable[None]] = []

    async def _refresh(self) -> None:
        found: set[str] = set()
        for pattern in self.patterns:
            found.update(await self.owner.channels(pattern) if is_pattern(pattern) else [pattern])
        for channel in sorted(found - self.known):
            start = "$" if not self.started and self.options.start == "newest" else "0"
            try:
                await self.owner.redis.xgroup_create(stream_key(channel), self.name, id=start, mkstream=True)
            except redis.ResponseError as error:
                if "BUSYGROUP" not in str(error):
                    raise
            self.known.add(channel)
        self.started = True
        self.next_lookup = time.monotonic() + self.options.block

    def handler(self, function: AsyncHandler | None = None, *, idempotent: ProcessedStore | None = None) -> Any:
        """Registers the handler (`@group.handler`); a coroutine function or a plain one."""
        def register(fn: AsyncHandler) -> AsyncHandler:
            self.handlers.append(fn)
            self.processed = idempotent
            return fn
        return register(function) if function is not None else register

    async def run(self, *, until: Callable[[], bool] | None = None, timeout: float | None = None) -> None:
        """Runs the handler until `until()` is true, `timeout` seconds passed, or the task is cancelled."""
        if not self.handlers:
            raise ValueError("register a handler first: @group.handler")
        deadline = None if timeout is None else time.monotonic() + timeout
        while not (until and until()) and (deadline is None or time.monotonic() < deadline):
            try:
                for event in await self._next_batch(0.2 if until or deadline else self.options.block):
                    await self._handle(event)
            except UNREACHABLE:
                # Redis is away: what was not acked stays pending and is delivered again once it is back.
                await asyncio.sleep(0.2)

    async def _handle(self, event: Event) -> None:
        store = self.processed
        while True:
            if store is not None and await store.seen(self.name, event.event_id):
                await self._ack(event)
                return
            try:
                for handler in self.handlers:
                    result = handler(event)
                    if inspect.isawaitable(result):
                        await result
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if event.deliveries >= self.options.max_deliveries:
                    await self._give_up(event, handler_error_body(error))
                    return
                await asyncio.sleep(self.options.backoff.delay(event.deliveries))
                event.deliveries += 1
                continue
            if store is not None:
                await store.mark(self.name, event.event_id)
            await self._ack(event)
            return

    async def events(self, timeout: float | None = None) -> AsyncIterator[Event]:
        """Events to handle one by one: call `event.ack()` or `event.fail(error)` (the Redis write
        runs before the next event is handed out). Stops once no event came for `timeout` seconds."""
        idle_since = time.monotonic()
        while timeout is None or time.monotonic() - idle_since < timeout:
            await self._flush_settles()
            try:
                batch = await self._next_batch(min(self.options.block, timeout) if timeout else self.options.block)
            except UNREACHABLE:
                await asyncio.sleep(0.2)
                continue
            for event in batch:
                event._settle = self._settle
                yield event
                await self._flush_settles()
            if batch:
                idle_since = time.monotonic()
        await self._flush_settles()

    async def _flush_settles(self) -> None:
        settles, self.pending_settles = self.pending_settles, []
        for settle in settles:
            await settle

    def _settle(self, event: Event, error: BaseException | None) -> None:
        if error is None:
            self.pending_settles.append(self._ack(event))
        elif event.deliveries >= self.options.max_deliveries:
            self.pending_settles.append(self._give_up(event, handler_error_body(error)))
        else:
            due = time.monotonic() + self.options.backoff.delay(event.deliveries)
            event.deliveries += 1
            self.retries.append((due, event))

    async def _next_batch(self, block: float) -> list[Event]:
        try:
            return await self._poll(block)
        except redis.ResponseError as error:
            if "NOGROUP" not in str(error):
                raise
            self.known.clear()
            self.cursors.clear()
            return []

    async def _poll(self, block: float) -> list[Event]:
        now = time.monotonic()
        due = [event for at, event in self.retries if at <= now]
        if due:
            self.retries = [(at, event) for at, event in self.retries if at > now]
            return due
        if now >= self.next_lookup:
            await self._refresh()
        if now >= self.next_claim:
            self.next_claim = now + self.options.claim_interval
            claimed = await self._claim()
            if claimed:
                return claimed
        if self.retries:
            block = max(0.0, min(block, min(at for at, _ in self.retries) - now))
        return await self._read(block)

    async def _read(self, block: float) -> list[Event]:
        if not self.known:
            await asyncio.sleep(block)
            return []
        streams = {stream_key(c): ">" for c in sorted(self.known)}
        try:
            if self.owner.settings.cluster:
                reply: list[Any] = []
                for key in streams:
                    reply += await self.owner.redis.xreadgroup(self.name, self.consumer, {key: ">"}, count=self.options.batch_size) or []
                if not reply:
                    await asyncio.sleep(block)
            else:
                reply = await self.owner.redis.xreadgroup(
                    self.name, self.consumer, streams, count=self.options.batch_size, block=max(1, int(block * 1000))) or []
        except redis.ResponseError as error:
            if "NOGROUP" in str(error):
                self.known.clear()
                await self._refresh()
                return []
            raise
        return await self._deliveries(reply, {})

    async def _claim(self) -> list[Event]:
        claimed: list[Any] = []
        counts: dict[str, int] = {}
        for channel in sorted(self.known):
            key = stream_key(channel)
            reply = await self.owner.redis.xautoclaim(
                key, self.name, self.consumer, int(self.options.visibility_timeout * 1000),
                start_id=self.cursors.get(channel, "0-0"), count=self.options.batch_size)
            cursor, entries = decode(reply[0]), reply[1]
            deleted = reply[2] if len(reply) > 2 else []
            self.cursors[channel] = cursor
            if deleted:
                await self.owner.redis.xack(key, self.name, *deleted)
            if entries:
                ids = [decode(e[0]) for e in entries]
                for pending in await self.owner.redis.xpending_range(
                        key, self.name, min=ids[0], max=ids[-1], count=len(ids) + 64, consumername=self.consumer):
                    counts[decode(pending["message_id"])] = int(pending["times_delivered"])
                claimed.append([key, entries])
        return await self._deliveries(claimed, counts)

    async def _deliveries(self, reply: list[Any], counts: Mapping[str, int]) -> list[Event]:
        out: list[Event] = []
        for key, entries in reply:
            for entry_id, fields in entries:
                identifier, event, text = parse_entry(entry_id, fields)
                if event is None:
                    if fields:
                        channel = decode(key)[len("stream:{"):-1]
                        body = ValidationError(invalid=[("envelope", "is not a Switchyard envelope")], message="Invalid envelope").body
                        await self.owner._dead_letter_script(
                            keys=[dlq_key(channel), stream_key(channel)],
                            args=[self.name, identifier, text, compact(body), 1, rfc3339_ms(now_ms())])
                    continue
                event.deliveries = counts.get(identifier, 1)
                if event.deliveries > self.options.max_deliveries:
                    await self._give_up(event, unacked_body(event.deliveries - 1, self.options.max_deliveries))
                    continue
                try:
                    opened = self.owner.settings.open_envelope(event, self.owner.settings.is_critical(event.channel))
                except SwitchyardError as refusal:
                    await self.owner._dead_letter(event, group=self.name, error=refusal.body, deliveries=event.deliveries)
                    continue
                out.append(opened)
        return out

    async def _ack(self, event: Event) -> None:
        await self.owner.redis.xack(stream_key(event.channel), self.name, event.stream_id)

    async def _give_up(self, event: Event, failure: Mapping[str, Any]) -> None:
        error = processing_error(failure, service=self.owner.settings.source, event=event, deliveries=event.deliveries)
        await self.owner._dead_letter(event, group=self.name, error=error, deliveries=event.deliveries)

    async def info(self) -> dict[str, dict[str, int]]:
        """Per channel: entries pending for the group and its lag."""
        out: dict[str, dict[str, int]] = {}
        for channel in sorted(self.known):
            for group in await self.owner.redis.xinfo_groups(stream_key(channel)):
                if decode(group["name"]) == self.name:
                    out[channel] = {"pending": int(group["pending"]), "lag": int(group.get("lag") or 0)}
        return out


class ProcessedStore:
    """The processed-event marks of idempotent handlers, in Redis (as `switchyard.ProcessedStore`)."""

    def __init__(self, owner: Switchyard, ttl: float = 3600.0) -> None:
        self.owner = owner
        self.ttl_ms = int(ttl * 1000)

    async def seen(self, group: str, event_id: str) -> bool:
        """Whether the event was processed within the TTL."""
        return bool(await self.owner.redis.exists(f"switchyard:processed:{group}:{event_id}"))

    async def mark(self, group: str, event_id: str) -> None:
        """Marks the event processed (after its handler succeeded)."""
        await self.owner.redis.set(f"switchyard:processed:{group}:{event_id}", "1", px=self.ttl_ms)
