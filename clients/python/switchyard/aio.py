"""The asyncio client: the same API as `switchyard.Switchyard`, with `await` (the seeds' services are async).

    from switchyard.aio import Switchyard
    sy = await Switchyard.from_url("redis://127.0.0.1:6379", source="position_monitor", contracts="contracts/")
    await sy.publish("position:updated", {...}, state=("position:snapshot", snapshot))

    group = sy.group("trades:*", group="fills", consumer="fills-1")
    @group.handler
    async def on_fill(event): ...
    await group.run()
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import time
from collections import deque
from datetime import datetime, timezone
from typing import Any, AsyncIterator, Awaitable, Callable, Mapping, Sequence, Union

import redis
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.sentinel import SentinelConnectionPool

from ._core import (
    CHANNELS_KEY, COMPANION_PREFIX, GroupOptions, Prepared, PublishRequest, Receipt, Spool, by_channel, decode, dlq_key,
    handler_error_body, matches, now_ms, parse_entry, processing_error, script_source, since_ms, stream_key, unacked_body,
)
from .client import UNREACHABLE, DeadLetter, make_settings, sentinel_parts
from .contracts import ContractRegistry, compact, is_pattern
from .envelope import Event, rfc3339_ms
from .errors import EngineUnavailable, SwitchyardError, ValidationError
from .security import KeyRing
from .state import StateValue

AsyncRedisLike = Union[aioredis.Redis, RedisCluster]


class Switchyard:
    """The asyncio twin of `switchyard.Switchyard`: every method that talks to Redis is a coroutine."""

    def __init__(
        self, client: AsyncRedisLike, *, source: str,
        contracts: str | os.PathLike[str] | ContractRegistry | None = None,
        allow_unknown_channels: bool = False, state_keys: str | os.PathLike[str] | None = None,
        dedup_window: float = 300.0, hard_cap: int = 1_000_000, enforce_rate_limits: bool = True,
        signing_keys: KeyRing | str | None = None, encryption_keys: KeyRing | str | None = None,
        spool: str | os.PathLike[str] | Spool | None = None, live: bool = False,
    ) -> None:
        if live and spool is not None:
            raise ValueError("live=True fails fast when Redis is away; it does not spool")
        self.redis: Any = client  # redis-py's own hints are unions of every protocol's reply shapes
        self.settings = make_settings(
            source=source, contracts=contracts, allow_unknown_channels=allow_unknown_channels, state_keys=state_keys,
            dedup_window=dedup_window, hard_cap=hard_cap, enforce_rate_limits=enforce_rate_limits,
            signing_keys=signing_keys, encryption_keys=encryption_keys, live=live, cluster=isinstance(client, RedisCluster),
            replicated_by_default=isinstance(getattr(client, "connection_pool", None), SentinelConnectionPool))
        self.spool = Spool(spool) if isinstance(spool, (str, os.PathLike)) else spool
        self._publish_script = client.register_script(script_source("publish.lua"))
        self._dead_letter_script = client.register_script(script_source("dead_letter.lua"))
        self._registered: set[str] = set()
        self._lock = asyncio.Lock()
        self.state = StateStore(self)

    @classmethod
    async def from_url(cls, url: str, *, source: str, cluster: bool = False, **options: Any) -> Switchyard:
        """A client on `redis://HOST:PORT`; with `live=True` it raises "Redis required for live trading!"
        when Redis does not answer."""
        client: AsyncRedisLike
        if url.startswith("redis+sentinel://"):
            from redis.asyncio.sentinel import Sentinel

            sentinels, name = sentinel_parts(url)
            client = Sentinel(sentinels, socket_timeout=2).master_for(name, socket_timeout=5, socket_connect_timeout=2)
        elif cluster:
            client = RedisCluster.from_url(url)
        else:
            client = aioredis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2, health_check_interval=10)
        sy = cls(client, source=source, **options)
        if sy.settings.live:
            try:
                await client.ping()
            except UNREACHABLE as error:
                raise EngineUnavailable("Redis required for live trading!", {"reason": str(error)}) from error
        return sy

    async def close(self) -> None:
        """Closes the Redis connections."""
        await self.redis.aclose()

    async def __aenter__(self) -> Switchyard:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def publish(
        self, channel: Any, payload: Any = None, *, event_id: str | None = None,
        metadata: Mapping[str, Any] | None = None, state: tuple[str, Any] | None = None,
    ) -> Receipt:
        """Publishes one event (see `switchyard.Switchyard.publish`)."""
        if payload is None and not isinstance(channel, str):
            request = PublishRequest("", channel, event_id, metadata, state)
        else:
            request = PublishRequest(str(channel), payload, event_id, metadata, state)
        return (await self._publish([request], batch=False))[0]

    async def publish_batch(self, requests: Sequence[PublishRequest]) -> list[Receipt]:
        """Publishes several events, every payload checked before any is sent."""
        return await self._publish(requests, batch=True)

    async def _publish(self, requests: Sequence[PublishRequest], *, batch: bool) -> list[Receipt]:
        prepared = []
        for index, request in enumerate(requests):
            try:
                prepared.append(self.settings.prepare(request))
            except SwitchyardError as error:
                if batch:
                    error.details.setdefault("index", index)
                raise
            except ValueError as error:
                raise ValidationError(invalid=[("channel", str(error))]) from error
        async with self._lock:
            if self.spool is not None and self.spool.depth > 0:
                try:
                    await self._replay_spool()
                except UNREACHABLE:
                    return self._spool(prepared)
            try:
                return await self._store(prepared, rate_limits=True)
            except UNREACHABLE as error:
                if self.spool is None:
                    raise EngineUnavailable(
                        "Redis required for live trading!" if self.settings.live else f"Redis cannot be reached: {error}",
                        {"reason": str(error)}) from error
                return self._spool(prepared)

    def _spool(self, prepared: list[Prepared]) -> list[Receipt]:
        assert self.spool is not None
        self.spool.append(prepared)
        return [Receipt(p.event_id, p.channel, None, "", spooled=True) for p in prepared]

    async def _store(self, prepared: Sequence[Prepared], *, rate_limits: bool) -> list[Receipt]:
        receipts: list[Receipt | None] = [None] * len(prepared)
        for positions in by_channel(prepared):
            events = [prepared[i] for i in positions]
            with_state = events[-1].state is not None and not self.settings.cluster
            keys, args = self.settings.script_call(events, rate_limits=rate_limits, with_state=with_state)
            if self.settings.waits_for_replica(events[0].policy):
                pipe = self.redis.pipeline(transaction=False)
                await self._publish_script(keys=keys, args=args, client=pipe)
                pipe.execute_command("WAIT", 1, 1000)
                reply, replicas = await pipe.execute()
            else:
                reply, replicas = await self._publish_script(keys=keys, args=args), 1
            stored = self.settings.receipts(events, reply)
            if int(replicas) < 1:
                raise EngineUnavailable(
                    "no replica confirmed the publish within 1 s; it is stored on the primary, and a retry with the same event ids is stored once",
                    {"replication": "unconfirmed", "channel": events[0].channel})
            last = events[-1]
            if self.settings.cluster and last.state is not None and not stored[-1].duplicate:
                key, value, ttl = last.state
                await self.redis.set(key, value, px=ttl or None)
            channel = events[0].channel
            if channel not in self._registered and any(r.stored for r in stored):
                await self.redis.sadd(CHANNELS_KEY, channel)
                self._registered.add(channel)
            for position, receipt in zip(positions, stored):
                receipts[position] = receipt
        return [r for r in receipts if r is not None]

    async def _replay_spool(self) -> int:
        """Stores the spool's events in batches of 500, reading the file once; the stored prefix is
        dropped once at the end, or when Redis goes away again part-way."""
        assert self.spool is not None
        lines = self.spool.lines()
        replayed = 0
        try:
            for start in range(0, len(lines), 500):
                batch = lines[start:start + 500]
                await self._store([self.settings.from_spool(line) for line in batch], rate_limits=False)
                replayed += len(batch)
        finally:
            if replayed:
                self.spool.drop(replayed)
        return replayed

    async def flush_spool(self) -> int:
        """Stores what the spool holds, in order; `EngineUnavailable` while Redis is still away."""
        if self.spool is None:
            return 0
        async with self._lock:
            try:
                return await self._replay_spool()
            except UNREACHABLE as error:
                raise EngineUnavailable(f"Redis cannot be reached: {error}", {"spool_depth": self.spool.depth}) from error

    @property
    def spool_depth(self) -> int:
        """How many events wait in the spool."""
        return self.spool.depth if self.spool is not None else 0

    async def replay(
        self, channel: str, since: int | datetime | None = None, until: int | datetime | None = None, limit: int = 10_000,
    ) -> list[Event]:
        """A channel's stored events, oldest first, from a sequence number or a time (see the blocking client)."""
        start = "-"
        if isinstance(since, datetime):
            start = f"{since_ms(since)}-0"
        elif isinstance(since, int):
            start = await self._position_of_sequence(channel, since) or "+"
        stop = f"{since_ms(until)}-18446744073709551615" if isinstance(until, datetime) else "+"
        events: list[Event] = []
        while len(events) < limit and start != "+":
            page = await self.redis.xrange(stream_key(channel), start, stop, count=min(512, limit - len(events) + 1))
            if not page:
                break
            for entry_id, fields in page:
                identifier, event, _ = parse_entry(entry_id, fields)
                start = "(" + identifier
                if event is None or (isinstance(since, int) and event.sequence_number < since):
                    continue
                if isinstance(until, int) and event.sequence_number > until:
                    return events
                events.append(event)
                if len(events) >= limit:
                    break
            if len(page) < 2:
                break
        return events

    async def _position_of_sequence(self, channel: str, sequence: int) -> str | None:
        key = stream_key(channel)
        first = await self.redis.xrange(key, "-", "+", count=1)
        if not first:
            return None
        _, head, _ = parse_entry(*first[0])
        if head is None or head.sequence_number >= sequence:
            return "-"
        last = await self.redis.xrevrange(key, "+", "-", count=1)
        _, tail, _ = parse_entry(*last[0])
        if tail is None or tail.sequence_number < sequence:
            return None
        low, high = int(decode(first[0][0]).split("-")[0]), int(decode(last[0][0]).split("-")[0])
        while low < high:
            middle = (low + high) // 2
            probe = await self.redis.xrange(key, f"{middle + 1}-0", "+", count=1)
            _, found, _ = parse_entry(*probe[0]) if probe else ("", None, "")
            if found is not None and found.sequence_number <= sequence:
                low = middle + 1
            else:
                high = middle
        return f"{low}-0"

    async def latest(self, channel: str) -> Event | None:
        """The channel's newest event, until its retention passed."""
        raw = await self.redis.get(f"latest:{{{channel}}}")
        return Event.parse(raw) if raw is not None else None

    async def channels(self, pattern: str = "*") -> list[str]:
        """Channels in the registry that match a glob, sorted."""
        return sorted([decode(c) async for c in self.redis.sscan_iter(CHANNELS_KEY, match=pattern, count=1000)])

    async def dead_letters(self, channel: str, limit: int = 1000) -> list[DeadLetter]:
        """The channel's dead letters, oldest first."""
        return [DeadLetter.parse(entry_id, fields) for entry_id, fields in await self.redis.xrange(dlq_key(channel), count=limit)]

    async def subscribe(
        self, patterns: str | Sequence[str], since_sequence: Mapping[str, int] | None = None,
        since_time: datetime | None = None,
    ) -> Subscription:
        """Live events with gap-free resume (see the blocking client); iterate with `async for`."""
        subscription = Subscription(self, [patterns] if isinstance(patterns, str) else list(patterns))
        await subscription.start(since_sequence or {}, since_time)
        return subscription

    def group(
        self, patterns: str | Sequence[str], *, group: str, consumer: str, options: GroupOptions | None = None,
        **overrides: Any,
    ) -> Group:
        """A consumer in a group (see the blocking client)."""
        settings = options or GroupOptions()
        if overrides:
            settings = GroupOptions(**{**settings.__dict__, **overrides})
        return Group(self, [patterns] if isinstance(patterns, str) else list(patterns), group, consumer, settings)

    async def _dead_letter(self, event: Event, *, group: str, error: Mapping[str, Any], deliveries: int) -> None:
        await self._dead_letter_script(
            keys=[dlq_key(event.channel), stream_key(event.channel)],
            args=[group, event.stream_id, event.raw or compact(event.envelope), compact(error), deliveries, rfc3339_ms(now_ms())])


class StateStore:
    """`await sy.state.set(key, value)` / `await sy.state.get(key)`."""

    def __init__(self, owner: Switchyard) -> None:
        self.owner = owner

    async def set(self, key: str, value: Any) -> float | None:
        """Checks and stores a value; returns its TTL in seconds (`None`: never expires)."""
        name, text, ttl = self.owner.settings.state_keys.prepare(key, value)
        try:
            await self.owner.redis.set(name, text, px=ttl or None)
        except UNREACHABLE as error:
            raise EngineUnavailable(f"Redis cannot be reached: {error}") from error
        return ttl / 1000 if ttl else None

    async def get(self, key: str) -> StateValue | None:
        """The key's value and remaining TTL, or `None` when missing or expired."""
        self.owner.settings.state_keys.entry(key)
        pipe = self.owner.redis.pipeline(transaction=False)
        pipe.get(key)
        pipe.pttl(key)
        raw, ttl = await pipe.execute()
        if raw is None:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            raise SwitchyardError("malformed_json", f"the value of '{key}' is not JSON", {"key": key}) from None
        return StateValue(value, ttl / 1000 if ttl is not None and ttl >= 0 else None)


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
        if channel not in self.last_ms:
            return [e for e in await self.owner.replay(channel, since=last + 1) if upto is None or e.sequence_number < upto]
        found: list[Event] = []
        position = f"{self.last_ms[channel]}-0"
        while True:
            page = await self.owner.redis.xrange(stream_key(channel), position, "+", count=512)
            for entry_id, fields in page:
                identifier, event, _ = parse_entry(entry_id, fields)
                position = "(" + identifier
                if event is None or event.sequence_number <= last:
                    continue
                if upto is not None and event.sequence_number >= upto:
                    return found
                found.append(event)
            if len(page) < 512:
                return found

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
