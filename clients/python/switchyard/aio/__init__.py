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
import json
import os
from datetime import datetime
from typing import Any, Mapping, Sequence, Union

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.sentinel import SentinelConnectionPool

from .._core import (
    CHANNELS_KEY, UNREACHABLE, Prepared, PublishRequest, Receipt, by_channel, decode, dlq_key, now_ms,
    script_source, stream_key,
)
from ..delivery import GroupOptions
from ..spool import Spool
from .. import _plans as plans
from .._plans import run_async
from ..client import DeadLetter, bounds, make_settings, sentinel_parts
from ..contracts import ContractRegistry, compact
from ..envelope import Event, rfc3339_ms
from ..errors import EngineUnavailable, SwitchyardError, ValidationError
from ..security import KeyRing
from ..state import StateValue
from .group import Group, ProcessedStore
from .subscription import Subscription

__all__ = ["Group", "ProcessedStore", "StateStore", "Subscription", "Switchyard"]

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
        return await run_async(plans.replay(channel, *bounds(since, until), limit), self)

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
