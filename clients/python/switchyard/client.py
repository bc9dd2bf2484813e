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
import time
from collections import deque
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Mapping, Sequence, Union

import redis
from redis.cluster import RedisCluster
from redis.sentinel import SentinelConnectionPool

from ._core import (
    CHANNELS_KEY, COMPANION_PREFIX, GroupOptions, Prepared, PublishRequest, Receipt, Settings, Spool, by_channel,
    decode, dlq_key, handler_error_body, matches, now_ms, parse_entry, processing_error, script_source, since_ms,
    stream_key, unacked_body,
)
from .contracts import ContractRegistry, PayloadGuard, compact, is_pattern
from .envelope import Event, rfc3339_ms
from .errors import EngineUnavailable, SwitchyardError, ValidationError
from .security import KeyRing
from .state import StateKeys, StateValue

RedisLike = Union[redis.Redis, RedisCluster]
#: Errors that mean Redis cannot be reached now (a reason to spool), as opposed to a refusal.
UNREACHABLE: tuple[type[BaseException], ...] = (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError)


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
        start = "-"
        if isinstance(since, datetime):
            start = f"{since_ms(since)}-0"
        elif isinstance(since, int):
            start = self._position_of_sequence(channel, since) or "+"
        stop = f"{since_ms(until)}-18446744073709551615" if isinstance(until, datetime) else "+"
        events: list[Event] = []
        while len(events) < limit and start != "+":
            page = self.redis.xrange(stream_key(channel), start, stop, count=min(512, limit - len(events) + 1))
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

    def _position_of_sequence(self, channel: str, sequence: int) -> str | None:
        """Where in `stream:{C}` the event numbered `sequence` (or the next stored one) is: a binary
        search over the ids' milliseconds, since sequence numbers grow with ids."""
        key = stream_key(channel)
        first = self.redis.xrange(key, "-", "+", count=1)
        if not first:
            return None
        _, head, _ = parse_entry(*first[0])
        if head is None or head.sequence_number >= sequence:
            return "-"
        last = self.redis.xrevrange(key, "+", "-", count=1)
        _, tail, _ = parse_entry(*last[0])
        if tail is None or tail.sequence_number < sequence:
            return None
        low, high = int(decode(first[0][0]).split("-")[0]), int(decode(last[0][0]).split("-")[0])
        while low < high:
            middle = (low + high) // 2
            probe = self.redis.xrange(key, f"{middle + 1}-0", "+", count=1)
            _, found, _ = parse_entry(*probe[0]) if probe else ("", None, "")
            if found is not None and found.sequence_number <= sequence:
                low = middle + 1
            else:
                high = middle
        return f"{low}-0"

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
        if channel not in self.last_ms:
            return [e for e in self.owner.replay(channel, since=last + 1) if upto is None or e.sequence_number < upto]
        found: list[Event] = []
        position = f"{self.last_ms[channel]}-0"
        while True:
            page = self.owner.redis.xrange(stream_key(channel), position, "+", count=512)
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


Handler = Callable[[Event], Any]


class Group:
    """One consumer of a consumer group, as the Swift router runs one: reads in batches, handles
    a channel's entries in order, acks on success, retries with backoff, reclaims entries another
    consumer left pending past the visibility timeout, and dead-letters an event after
    `max_deliveries` deliveries with seed 000's processing error.

    Handler style: `@group.handler` then `group.run(...)`. Iterator style:
    `for event in group.events(timeout=5): ...; event.ack()`.
    """

    def __init__(self, owner: Switchyard, patterns: list[str], group: str, consumer: str, options: GroupOptions) -> None:
        self.owner, self.patterns, self.name, self.consumer, self.options = owner, patterns, group, consumer, options
        self.known: set[str] = set()
        self.handlers: list[Handler] = []
        self.cursors: dict[str, str] = {}
        self.next_claim = 0.0
        self.next_lookup = 0.0
        self.retries: list[tuple[float, Event]] = []
        self.processed: ProcessedStore | None = None
        self._refresh(first=True)

    def _refresh(self, first: bool = False) -> None:
        found: set[str] = set()
        for pattern in self.patterns:
            found.update(self.owner.channels(pattern) if is_pattern(pattern) else [pattern])
        for channel in sorted(found - self.known):
            start = "$" if first and self.options.start == "newest" else "0"
            try:
                self.owner.redis.xgroup_create(stream_key(channel), self.name, id=start, mkstream=True)
            except redis.ResponseError as error:
                if "BUSYGROUP" not in str(error):
                    raise
            self.known.add(channel)
        self.next_lookup = time.monotonic() + self.options.block

    def handler(self, function: Handler | None = None, *, idempotent: ProcessedStore | None = None) -> Any:
        """Registers the handler (used as `@group.handler` or `@group.handler(idempotent=store)`).
        Returning acks; raising retries. With `idempotent`, an event whose id the store marked as
        processed is acked without running the handler, and the mark is set after it succeeds."""
        def register(fn: Handler) -> Handler:
            self.handlers.append(fn)
            self.processed = idempotent
            return fn
        return register(function) if function is not None else register

    def run(self, *, until: Callable[[], bool] | None = None, timeout: float | None = None) -> None:
        """Runs the registered handler until `until()` is true or `timeout` seconds passed (forever without either)."""
        if not self.handlers:
            raise ValueError("register a handler first: @group.handler")
        deadline = None if timeout is None else time.monotonic() + timeout
        while not (until and until()) and (deadline is None or time.monotonic() < deadline):
            try:
                for event in self._next_batch(0.2 if until or deadline else self.options.block):
                    self._handle(event)
            except UNREACHABLE:
                # Redis is away: what was not acked stays pending and is delivered again once it is back.
                time.sleep(0.2)

    def _handle(self, event: Event) -> None:
        store = self.processed
        while True:
            if store is not None and store.seen(self.name, event.event_id):
                self._ack(event)
                return
            try:
                for handler in self.handlers:
                    handler(event)
            except Exception as error:  # the handler's failure is the event's, not the consumer's
                if event.deliveries >= self.options.max_deliveries:
                    self._give_up(event, handler_error_body(error))
                    return
                time.sleep(self.options.backoff.delay(event.deliveries))
                event.deliveries += 1
                continue
            if store is not None:
                store.mark(self.name, event.event_id)
            self._ack(event)
            return

    def events(self, timeout: float | None = None) -> Iterator[Event]:
        """Events to handle one by one; each must be `ack()`ed or `fail(error)`ed. An event left
        unsettled stays pending and is reclaimed after the visibility timeout. Stops once no event
        came for `timeout` seconds (runs forever without it)."""
        idle_since = time.monotonic()
        while timeout is None or time.monotonic() - idle_since < timeout:
            try:
                batch = self._next_batch(min(self.options.block, timeout) if timeout else self.options.block)
            except UNREACHABLE:
                time.sleep(0.2)
                continue
            for event in batch:
                event._settle = self._settle
                yield event
            if batch:
                idle_since = time.monotonic()

    def _settle(self, event: Event, error: BaseException | None) -> None:
        if error is None:
            self._ack(event)
        elif event.deliveries >= self.options.max_deliveries:
            self._give_up(event, handler_error_body(error))
        else:
            due = time.monotonic() + self.options.backoff.delay(event.deliveries)
            event.deliveries += 1
            self.retries.append((due, event))

    def _next_batch(self, block: float) -> list[Event]:
        try:
            return self._poll(block)
        except redis.ResponseError as error:
            if "NOGROUP" not in str(error):
                raise
            self.known.clear()  # the stream or group went away (a Redis without persistence restarted)
            self.cursors.clear()
            return []

    def _poll(self, block: float) -> list[Event]:
        now = time.monotonic()
        due = [event for at, event in self.retries if at <= now]
        if due:
            self.retries = [(at, event) for at, event in self.retries if at > now]
            return due
        if now >= self.next_lookup:
            self._refresh()
        if now >= self.next_claim:
            self.next_claim = now + self.options.claim_interval
            claimed = self._claim()
            if claimed:
                return claimed
        if self.retries:
            block = max(0.0, min(block, min(at for at, _ in self.retries) - now))
        return self._read(block)

    def _read(self, block: float) -> list[Event]:
        if not self.known:
            time.sleep(block)
            return []
        streams = {stream_key(c): ">" for c in sorted(self.known)}
        try:
            if self.owner.settings.cluster:
                reply: list[Any] = []
                for key in streams:
                    reply += self.owner.redis.xreadgroup(self.name, self.consumer, {key: ">"}, count=self.options.batch_size) or []
                if not reply:
                    time.sleep(block)
            else:
                reply = self.owner.redis.xreadgroup(
                    self.name, self.consumer, streams, count=self.options.batch_size, block=max(1, int(block * 1000))) or []
        except redis.ResponseError as error:
            if "NOGROUP" in str(error):
                self.known.clear()
                self._refresh()
                return []
            raise
        return self._deliveries(reply, {})

    def _claim(self) -> list[Event]:
        claimed: list[Any] = []
        counts: dict[str, int] = {}
        for channel in sorted(self.known):
            key = stream_key(channel)
            reply = self.owner.redis.xautoclaim(
                key, self.name, self.consumer, int(self.options.visibility_timeout * 1000),
                start_id=self.cursors.get(channel, "0-0"), count=self.options.batch_size)
            cursor, entries = decode(reply[0]), reply[1]
            deleted = reply[2] if len(reply) > 2 else []
            self.cursors[channel] = cursor
            if deleted:
                self.owner.redis.xack(key, self.name, *deleted)
            if entries:
                ids = [decode(e[0]) for e in entries]
                for pending in self.owner.redis.xpending_range(key, self.name, min=ids[0], max=ids[-1], count=len(ids) + 64,
                                                               consumername=self.consumer):
                    counts[decode(pending["message_id"])] = int(pending["times_delivered"])
                claimed.append([key, entries])
        return self._deliveries(claimed, counts)

    def _deliveries(self, reply: list[Any], counts: Mapping[str, int]) -> list[Event]:
        out: list[Event] = []
        for _, entries in reply:
            for entry_id, fields in entries:
                identifier, event, text = parse_entry(entry_id, fields)
                if event is None:
                    if fields:
                        self._dead_letter_raw(identifier, text, reply)
                    continue
                event.deliveries = counts.get(identifier, 1)
                if event.deliveries > self.options.max_deliveries:
                    self._give_up(event, unacked_body(event.deliveries - 1, self.options.max_deliveries))
                    continue
                try:
                    opened = self.owner.settings.open_envelope(event, self.owner.settings.is_critical(event.channel))
                except SwitchyardError as refusal:
                    self.owner._dead_letter(event, group=self.name, error=refusal.body, deliveries=event.deliveries)
                    continue
                out.append(opened)
        return out

    def _dead_letter_raw(self, identifier: str, text: str, reply: list[Any]) -> None:
        for key, entries in reply:
            if any(decode(e[0]) == identifier for e in entries):
                channel = decode(key)[len("stream:{"):-1]
                body = ValidationError(invalid=[("envelope", "is not a Switchyard envelope")], message="Invalid envelope").body
                self.owner._dead_letter_script(
                    keys=[dlq_key(channel), stream_key(channel)],
                    args=[self.name, identifier, text, compact(body), 1, rfc3339_ms(now_ms())])

    def _ack(self, event: Event) -> None:
        self.owner.redis.xack(stream_key(event.channel), self.name, event.stream_id)

    def _give_up(self, event: Event, failure: Mapping[str, Any]) -> None:
        error = processing_error(failure, service=self.owner.settings.source, event=event, deliveries=event.deliveries)
        self.owner._dead_letter(event, group=self.name, error=error, deliveries=event.deliveries)

    def info(self) -> dict[str, dict[str, int]]:
        """Per channel: entries pending for the group and its lag (entries not yet delivered)."""
        out: dict[str, dict[str, int]] = {}
        for channel in sorted(self.known):
            for group in self.owner.redis.xinfo_groups(stream_key(channel)):
                if decode(group["name"]) == self.name:
                    out[channel] = {"pending": int(group["pending"]), "lag": int(group.get("lag") or 0)}
        return out


class ProcessedStore:
    """Remembers which events a group has processed, for idempotent handlers: in Redis
    (`SET switchyard:processed:GROUP:EVENT_ID 1 PX ttl`), shared by every consumer of the group."""

    def __init__(self, owner: Switchyard, ttl: float = 3600.0) -> None:
        self.owner = owner
        self.ttl_ms = int(ttl * 1000)

    def _key(self, group: str, event_id: str) -> str:
        return f"switchyard:processed:{group}:{event_id}"

    def seen(self, group: str, event_id: str) -> bool:
        """Whether the event was processed within the TTL."""
        return bool(self.owner.redis.exists(self._key(group, event_id)))

    def mark(self, group: str, event_id: str) -> None:
        """Marks the event processed (after its handler succeeded)."""
        self.owner.redis.set(self._key(group, event_id), "1", px=self.ttl_ms)
