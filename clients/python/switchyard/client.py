"""The blocking client: `Switchyard.from_url("redis://HOST:PORT", source=..., contracts=...)`.

It speaks Switchyard's wire format (docs/wire-format.md) to Redis with redis-py and the Swift
engine's own `publish.lua` and `dead_letter.lua`, so an event published here is numbered, deduped,
rate-limited, retained and pushed live exactly as one published by the Swift router, and a
consumer group here retries, reclaims and dead-letters exactly as a Swift one.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import datetime
from typing import Any, Mapping, Sequence, Union

import redis
from redis.cluster import RedisCluster
from redis.sentinel import SentinelConnectionPool

from ._core import (
    CHANNELS_KEY, UNREACHABLE, Prepared, PublishRequest, Receipt, Settings, by_channel, decode, dlq_key, now_ms,
    script_source, since_ms, stream_key,
)
from .delivery import GroupOptions
from .spool import Spool
from . import _plans as plans
from ._plans import run
from .group import Group
from .subscription import Subscription
from .contracts import ContractRegistry, compact
from .guard import PayloadGuard
from .envelope import Event, rfc3339_ms
from .errors import EngineUnavailable, SwitchyardError, ValidationError
from .security import KeyRing
from .state import StateKeys, StateValue

RedisLike = Union[redis.Redis, RedisCluster]


def bounds(since: int | datetime | None, until: int | datetime | None) -> tuple[int | None, int | None, int | None, int | None]:
    """A replay's bounds as (since sequence, since ms, until sequence, until ms)."""
    return (since if isinstance(since, int) else None, since_ms(since) if isinstance(since, datetime) else None,
            until if isinstance(until, int) else None, since_ms(until) if isinstance(until, datetime) else None)


def sentinel_parts(url: str) -> tuple[list[tuple[str, int]], str]:
    """The Sentinels and the primary's name in `redis+sentinel://H1:P1,H2:P2/NAME` (the Swift router's form)."""
    rest = url[len("redis+sentinel://"):]
    hosts, _, name = rest.partition("/")
    sentinels = []
    for host in hosts.split(","):
        address, _, port = host.rpartition(":")
        sentinels.append((address or host, int(port) if port.isdigit() else 26379))
    if not name:
        raise ValueError("a Sentinel URL names the primary: redis+sentinel://HOST:PORT[,HOST:PORT...]/NAME")
    return sentinels, name.split("?")[0]


def sentinel_primary(url: str) -> redis.Redis:
    """A client on the primary a set of Sentinels names; it asks them again after a failover."""
    from redis.sentinel import Sentinel

    sentinels, name = sentinel_parts(url)
    primary: redis.Redis = Sentinel(sentinels, socket_timeout=2).master_for(name, socket_timeout=5, socket_connect_timeout=2)
    return primary


def _registry(contracts: str | os.PathLike[str] | ContractRegistry | None) -> ContractRegistry:
    if isinstance(contracts, ContractRegistry):
        return contracts
    path = contracts if contracts is not None else os.environ.get("SWITCHYARD_CONTRACTS")
    if path is None:
        raise ValueError("no contracts: pass contracts='contracts/' (the folder the Swift router reads) or set SWITCHYARD_CONTRACTS")
    return ContractRegistry.load(path)


def make_settings(
    *, source: str, contracts: str | os.PathLike[str] | ContractRegistry | None, allow_unknown_channels: bool,
    state_keys: str | os.PathLike[str] | None, dedup_window: float, hard_cap: int, enforce_rate_limits: bool,
    signing_keys: KeyRing | str | None, encryption_keys: KeyRing | str | None, live: bool, cluster: bool,
    replicated_by_default: bool = False,
) -> Settings:
    """The settings both clients build from their keyword arguments."""
    if not source:
        raise ValueError("source names the publishing service; it may not be empty")
    signing = KeyRing.parse(signing_keys, purpose="signing") if isinstance(signing_keys, str) else signing_keys
    sealing = KeyRing.parse(encryption_keys, purpose="encryption") if isinstance(encryption_keys, str) else encryption_keys
    return Settings(
        source=source, guard=PayloadGuard(_registry(contracts), allow_unknown_channels),
        state_keys=StateKeys.load(state_keys, allow_unknown=allow_unknown_channels),
        dedup_window_ms=int(dedup_window * 1000), hard_cap=hard_cap, enforce_rate_limits=enforce_rate_limits,
        signing_keys=signing, encryption_keys=sealing, live=live, cluster=cluster, replicated_by_default=replicated_by_default)


class Switchyard:
    """A Switchyard client for one service, on Redis (single server, Sentinel-managed primary or Cluster).

    Publishing checks the payload against its contract before anything is sent; with `spool` set,
    an event that cannot reach Redis is kept on disk and stored, in order, once Redis answers; with
    `live=True` (seed 001's rule for live trading) an unreachable Redis fails at once instead.
    """

    def __init__(
        self, client: RedisLike, *, source: str,
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
        self._lock = threading.Lock()
        self.state = StateStore(self)

    @classmethod
    def from_url(cls, url: str, *, source: str, cluster: bool = False, **options: Any) -> Switchyard:
        """A client on `redis://HOST:PORT` (`rediss://` for TLS; `cluster=True` for one node of a Redis
        Cluster; `redis+sentinel://H1:P1,H2:P2/NAME` for the primary Sentinels name, followed across failovers). With `live=True` it checks Redis at once and raises "Redis required for live trading!"
        when it does not answer. Other keyword arguments are those of the constructor."""
        client: RedisLike
        if url.startswith("redis+sentinel://"):
            client = sentinel_primary(url)
        elif cluster:
            client = RedisCluster.from_url(url)
        else:
            client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2, health_check_interval=10)
        sy = cls(client, source=source, **options)
        if sy.settings.live:
            try:
                client.ping()
            except UNREACHABLE as error:
                raise EngineUnavailable("Redis required for live trading!", {"reason": str(error)}) from error
        return sy

    def close(self) -> None:
        """Closes the Redis connections."""
        self.redis.close()

    def __enter__(self) -> Switchyard:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- publishing ---

    def publish(
        self, channel: Any, payload: Any = None, *, event_id: str | None = None,
        metadata: Mapping[str, Any] | None = None, state: tuple[str, Any] | None = None,
    ) -> Receipt:
        """Publishes one event; returns its receipt.

        `channel` is a channel name, or a typed payload generated from a contract (then `payload`
        is left out). `state=("position:snapshot", value)` sets a state key in the same atomic step,
        only when the event is stored. Raises the refusal (`ValidationError`, `RateLimited`,
        `UnknownChannel`, `PayloadTooLarge`, `EngineUnavailable`, ...) and stores nothing then.
        """
        if payload is None and not isinstance(channel, str):
            request = PublishRequest("", channel, event_id, metadata, state)
        else:
            request = PublishRequest(str(channel), payload, event_id, metadata, state)
        return self._publish([request], batch=False)[0]

    def publish_batch(self, requests: Sequence[PublishRequest]) -> list[Receipt]:
        """Publishes several events; every payload is checked before any is sent (a refusal names the
        request's `index`). Events of one channel are stored in one script call, in order."""
        return self._publish(requests, batch=True)

    def _publish(self, requests: Sequence[PublishRequest], *, batch: bool) -> list[Receipt]:
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
        with self._lock:
            return self._store_or_spool(prepared)

    def _store_or_spool(self, prepared: list[Prepared]) -> list[Receipt]:
        if self.spool is not None and self.spool.depth > 0:
            try:
                self._replay_spool()
            except UNREACHABLE:
                return self._spool(prepared)
        try:
            return self._store(prepared, rate_limits=True)
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

    def _store(self, prepared: Sequence[Prepared], *, rate_limits: bool) -> list[Receipt]:
        receipts: list[Receipt | None] = [None] * len(prepared)
        for positions in by_channel(prepared):
            events = [prepared[i] for i in positions]
            with_state = events[-1].state is not None and not self.settings.cluster
            keys, args = self.settings.script_call(events, rate_limits=rate_limits, with_state=with_state)
            if self.settings.waits_for_replica(events[0].policy):
                pipe = self.redis.pipeline(transaction=False)
                self._publish_script(keys=keys, args=args, client=pipe)
                pipe.execute_command("WAIT", 1, 1000)
                reply, replicas = pipe.execute()
            else:
                reply, replicas = self._publish_script(keys=keys, args=args), 1
            stored = self.settings.receipts(events, reply)
            if int(replicas) < 1:
                raise EngineUnavailable(
                    "no replica confirmed the publish within 1 s; it is stored on the primary, and a retry with the same event ids is stored once",
                    {"replication": "unconfirmed", "channel": events[0].channel})
            last = events[-1]
            if self.settings.cluster and last.state is not None and not stored[-1].duplicate:
                key, value, ttl = last.state
                self.redis.set(key, value, px=ttl or None)
            channel = events[0].channel
            if channel not in self._registered and any(r.stored for r in stored):
                self.redis.sadd(CHANNELS_KEY, channel)
                self._registered.add(channel)
            for position, receipt in zip(positions, stored):
                receipts[position] = receipt
        return [r for r in receipts if r is not None]

    def _replay_spool(self) -> int:
        """Stores the spool's events in batches of 500, reading the file once; the stored prefix is
        dropped once at the end, or when Redis goes away again part-way."""
        assert self.spool is not None
        lines = self.spool.lines()
        replayed = 0
        try:
            for start in range(0, len(lines), 500):
                batch = lines[start:start + 500]
                self._store([self.settings.from_spool(line) for line in batch], rate_limits=False)
                replayed += len(batch)
        finally:
            if replayed:
                self.spool.drop(replayed)
        return replayed

    def flush_spool(self) -> int:
        """Stores what the spool holds, in order, with the same event ids (dedup on, rate limits off);
        returns how many events it stored. Raises `EngineUnavailable` while Redis is still away."""
        if self.spool is None:
            return 0
        with self._lock:
            try:
                return self._replay_spool()
            except UNREACHABLE as error:
                raise EngineUnavailable(f"Redis cannot be reached: {error}", {"spool_depth": self.spool.depth}) from error

    @property
    def spool_depth(self) -> int:
        """How many events wait in the spool."""
        return self.spool.depth if self.spool is not None else 0

    # --- reading ---

    def replay(
        self, channel: str, since: int | datetime | None = None, until: int | datetime | None = None, limit: int = 10_000,
    ) -> list[Event]:
        """A channel's stored events, oldest first: from a sequence number (`int`) or a time
        (`datetime`), to one (inclusive), at most `limit`."""
        return run(plans.replay(channel, *bounds(since, until), limit), self)

    def latest(self, channel: str) -> Event | None:
        """The channel's newest event, until its retention passed."""
        raw = self.redis.get(f"latest:{{{channel}}}")
        return Event.parse(raw) if raw is not None else None

    def channels(self, pattern: str = "*") -> list[str]:
        """Channels in the registry that match a glob, sorted."""
        return sorted(decode(c) for c in self.redis.sscan_iter(CHANNELS_KEY, match=pattern, count=1000))

    def dead_letters(self, channel: str, limit: int = 1000) -> list[DeadLetter]:
        """The channel's dead letters, oldest first."""
        return [DeadLetter.parse(entry_id, fields) for entry_id, fields in self.redis.xrange(dlq_key(channel), count=limit)]

    # --- live and groups ---

    def subscribe(
        self, patterns: str | Sequence[str], since_sequence: Mapping[str, int] | None = None,
        since_time: datetime | None = None,
    ) -> Subscription:
        """Live events of every channel matching the patterns, in order per channel, with gaps filled
        from the stream. `since_sequence={channel: n}` starts those channels at event `n` (gap-free
        resume); `since_time` starts every matching channel at that time. Other channels start live."""
        return Subscription(self, [patterns] if isinstance(patterns, str) else list(patterns), since_sequence or {}, since_time)

    def group(
        self, patterns: str | Sequence[str], *, group: str, consumer: str, options: GroupOptions | None = None,
        **overrides: Any,
    ) -> Group:
        """A consumer in a group over every channel matching the patterns (new channels are picked up).
        Options as `GroupOptions`, or given here by name (`max_deliveries=3`)."""
        settings = options or GroupOptions()
        if overrides:
            settings = GroupOptions(**{**settings.__dict__, **overrides})
        return Group(self, [patterns] if isinstance(patterns, str) else list(patterns), group, consumer, settings)

    def _dead_letter(self, event: Event, *, group: str, error: Mapping[str, Any], deliveries: int) -> None:
        self._dead_letter_script(
            keys=[dlq_key(event.channel), stream_key(event.channel)],
            args=[group, event.stream_id, event.raw or compact(event.envelope), compact(error), deliveries, rfc3339_ms(now_ms())])


class DeadLetter:
    """An entry of `dlq:{C}`: the event as stored, the group that gave up, why, and when."""

    def __init__(self, id: str, envelope: str, group: str, error: Any, deliveries: int, failed_at: str, stream_id: str) -> None:
        self.id, self.envelope, self.group, self.error = id, envelope, group, error
        self.deliveries, self.failed_at, self.stream_id = deliveries, failed_at, stream_id

    @staticmethod
    def parse(entry_id: Any, fields: Mapping[Any, Any]) -> DeadLetter:
        def text(name: str) -> str:
            value = fields.get(name.encode(), fields.get(name))
            return decode(value) if value is not None else ""
        try:
            error: Any = json.loads(text("error"))
        except ValueError:
            error = text("error")
        return DeadLetter(decode(entry_id), text("envelope"), text("group"), error, int(text("deliveries") or 0),
                          text("failed_at"), text("stream_id"))

    @property
    def event(self) -> Event | None:
        """The dead event, when its envelope reads as one."""
        try:
            return Event.parse(self.envelope, stream_id=self.stream_id)
        except ValueError:
            return None


class StateStore:
    """`sy.state.set(key, value)` / `sy.state.get(key)`: plain `GET`-able keys with the table's TTL."""

    def __init__(self, owner: Switchyard) -> None:
        self.owner = owner

    def set(self, key: str, value: Any) -> float | None:
        """Checks and stores a value; returns its TTL in seconds (`None`: never expires)."""
        name, text, ttl = self.owner.settings.state_keys.prepare(key, value)
        try:
            self.owner.redis.set(name, text, px=ttl or None)
        except UNREACHABLE as error:
            raise EngineUnavailable(f"Redis cannot be reached: {error}") from error
        return ttl / 1000 if ttl else None

    def get(self, key: str) -> StateValue | None:
        """The key's value and remaining TTL, or `None` when missing or expired."""
        self.owner.settings.state_keys.entry(key)
        pipe = self.owner.redis.pipeline(transaction=False)
        pipe.get(key)
        pipe.pttl(key)
        raw, ttl = pipe.execute()
        if raw is None:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            raise SwitchyardError("malformed_json", f"the value of '{key}' is not JSON", {"key": key}) from None
        return StateValue(value, ttl / 1000 if ttl is not None and ttl >= 0 else None)
