"""Consumer groups of the asyncio client: the Swift router's retry, reclaim and dead-letter rules."""

from __future__ import annotations

import asyncio
import inspect
import time
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable, Union

from .._core import UNREACHABLE
from .._plans import GroupState, run_async
from ..delivery import GroupOptions, handler_error_body
from ..envelope import Event

if TYPE_CHECKING:
    from . import Switchyard


AsyncHandler = Callable[[Event], Union[Awaitable[Any], Any]]


class Group:
    """One consumer of a consumer group (the rules of `switchyard.Group`), with async handlers."""

    def __init__(self, owner: Switchyard, patterns: list[str], group: str, consumer: str, options: GroupOptions) -> None:
        self.owner, self.name, self.options = owner, group, options
        self.state = GroupState(owner, patterns, group, consumer, options)
        self.handlers: list[AsyncHandler] = []
        self.processed: ProcessedStore | None = None
        self.pending_settles: list[Awaitable[None]] = []

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
                for event in await run_async(self.state.next_batch(0.2 if until or deadline else self.options.block), self.owner):
                    await self._handle(event)
            except UNREACHABLE:
                # Redis is away: what was not acked stays pending and is delivered again once it is back.
                await asyncio.sleep(0.2)

    async def _handle(self, event: Event) -> None:
        store = self.processed
        while True:
            if store is not None and await store.seen(self.name, event.event_id):
                await run_async(self.state.ack(event), self.owner)
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
                    await run_async(self.state.give_up(event, handler_error_body(error)), self.owner)
                    return
                await asyncio.sleep(self.options.backoff.delay(event.deliveries))
                event.deliveries += 1
                continue
            if store is not None:
                await store.mark(self.name, event.event_id)
            await run_async(self.state.ack(event), self.owner)
            return

    async def events(self, timeout: float | None = None) -> AsyncIterator[Event]:
        """Events to handle one by one: call `event.ack()` or `event.fail(error)` (the Redis write
        runs before the next event is handed out). Stops once no event came for `timeout` seconds."""
        idle_since = time.monotonic()
        while timeout is None or time.monotonic() - idle_since < timeout:
            await self._flush_settles()
            try:
                batch = await run_async(
                    self.state.next_batch(min(self.options.block, timeout) if timeout else self.options.block), self.owner)
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
            self.pending_settles.append(run_async(self.state.ack(event), self.owner))
        elif event.deliveries >= self.options.max_deliveries:
            self.pending_settles.append(run_async(self.state.give_up(event, handler_error_body(error)), self.owner))
        else:
            self.state.retry_later(event)

    async def info(self) -> dict[str, dict[str, int]]:
        """Per channel: entries pending for the group and its lag."""
        return await run_async(self.state.info(), self.owner)


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
