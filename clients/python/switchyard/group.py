"""Consumer groups of the blocking client: the Swift router's retry, reclaim and dead-letter rules."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

import redis

from ._core import UNREACHABLE, decode, dlq_key, now_ms, parse_entry, stream_key
from .delivery import GroupOptions, handler_error_body, processing_error, unacked_body
from .contracts import compact, is_pattern
from .envelope import Event, rfc3339_ms
from .errors import SwitchyardError, ValidationError

if TYPE_CHECKING:
    from .client import Switchyard


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
