"""Consumer groups of the blocking client: the Swift router's retry, reclaim and dead-letter rules."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable, Iterator

from ._core import UNREACHABLE
from ._plans import GroupState, run
from .delivery import GroupOptions, handler_error_body
from .envelope import Event

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
        self.owner, self.name, self.options = owner, group, options
        self.state = GroupState(owner, patterns, group, consumer, options)
        self.handlers: list[Handler] = []
        self.processed: ProcessedStore | None = None
        run(self.state.refresh(), owner)

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
                for event in run(self.state.next_batch(0.2 if until or deadline else self.options.block), self.owner):
                    self._handle(event)
            except UNREACHABLE:
                # Redis is away: what was not acked stays pending and is delivered again once it is back.
                time.sleep(0.2)

    def _handle(self, event: Event) -> None:
        store = self.processed
        while True:
            if store is not None and store.seen(self.name, event.event_id):
                run(self.state.ack(event), self.owner)
                return
            try:
                for handler in self.handlers:
                    handler(event)
            except Exception as error:  # the handler's failure is the event's, not the consumer's
                if event.deliveries >= self.options.max_deliveries:
                    run(self.state.give_up(event, handler_error_body(error)), self.owner)
                    return
                time.sleep(self.options.backoff.delay(event.deliveries))
                event.deliveries += 1
                continue
            if store is not None:
                store.mark(self.name, event.event_id)
            run(self.state.ack(event), self.owner)
            return

    def events(self, timeout: float | None = None) -> Iterator[Event]:
        """Events to handle one by one; each must be `ack()`ed or `fail(error)`ed. An event left
        unsettled stays pending and is reclaimed after the visibility timeout. Stops once no event
        came for `timeout` seconds (runs forever without it)."""
        idle_since = time.monotonic()
        while timeout is None or time.monotonic() - idle_since < timeout:
            try:
                batch = run(self.state.next_batch(min(self.options.block, timeout) if timeout else self.options.block), self.owner)
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
            run(self.state.ack(event), self.owner)
        elif event.deliveries >= self.options.max_deliveries:
            run(self.state.give_up(event, handler_error_body(error)), self.owner)
        else:
            self.state.retry_later(event)

    def info(self) -> dict[str, dict[str, int]]:
        """Per channel: entries pending for the group and its lag (entries not yet delivered)."""
        return run(self.state.info(), self.owner)


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
