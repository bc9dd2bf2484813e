"""The reading and consuming logic both clients share, written once as plans.

A plan is a generator that yields the calls it needs (`Call`: a Redis command, a method of the
client, or a sleep) and receives each reply; `run` carries a plan out with the blocking client and
`run_async` with the asyncio one. An error a call raises is thrown into the plan at its `yield`,
so a plan handles Redis's replies and refusals itself, the same way in both clients.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from typing import Any, Generator, Mapping, NamedTuple, TypeVar

import redis

from ._core import decode, dlq_key, now_ms, parse_entry, stream_key
from .contracts import compact, is_pattern
from .delivery import GroupOptions, processing_error, unacked_body
from .envelope import Event, rfc3339_ms
from .errors import SwitchyardError, ValidationError

T = TypeVar("T")


class Call(NamedTuple):
    """One thing a plan needs done: `target` is `redis` (a command), `owner` (a client method) or `sleep`."""

    target: str
    method: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = {}


Plan = Generator[Call, Any, T]


def command(method: str, *args: Any, **kwargs: Any) -> Call:
    return Call("redis", method, args, kwargs)


def client_call(method: str, *args: Any, **kwargs: Any) -> Call:
    return Call("owner", method, args, kwargs)


def sleep(seconds: float) -> Call:
    return Call("sleep", "", (seconds,))


def run(plan: Plan[T], owner: Any) -> T:
    """Carries a plan out with the blocking client `owner`."""
    reply: Any = None
    error: BaseException | None = None
    while True:
        try:
            call = plan.throw(error) if error is not None else plan.send(reply)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        reply, error = None, None
        try:
            if call.target == "sleep":
                time.sleep(call.args[0])
            else:
                target = owner.redis if call.target == "redis" else owner
                reply = getattr(target, call.method)(*call.args, **call.kwargs)
        except Exception as failure:
            error = failure


async def run_async(plan: Plan[T], owner: Any) -> T:
    """Carries a plan out with the asyncio client `owner`."""
    reply: Any = None
    error: BaseException | None = None
    while True:
        try:
            call = plan.throw(error) if error is not None else plan.send(reply)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        reply, error = None, None
        try:
            if call.target == "sleep":
                await asyncio.sleep(call.args[0])
            else:
                target = owner.redis if call.target == "redis" else owner
                reply = getattr(target, call.method)(*call.args, **call.kwargs)
                if inspect.isawaitable(reply):
                    reply = await reply
        except Exception as failure:
            error = failure


# --- reading a stream ---

def position_of_sequence(channel: str, sequence: int) -> Plan[str | None]:
    """Where in `stream:{C}` the event numbered `sequence` (or the next stored one) is: a binary
    search over the ids' milliseconds, since sequence numbers grow with ids."""
    key = stream_key(channel)
    first = yield command("xrange", key, "-", "+", count=1)
    if not first:
        return None
    _, head, _ = parse_entry(*first[0])
    if head is None or head.sequence_number >= sequence:
        return "-"
    last = yield command("xrevrange", key, "+", "-", count=1)
    _, tail, _ = parse_entry(*last[0])
    if tail is None or tail.sequence_number < sequence:
        return None
    low, high = int(decode(first[0][0]).split("-")[0]), int(decode(last[0][0]).split("-")[0])
    while low < high:
        middle = (low + high) // 2
        probe = yield command("xrange", key, f"{middle + 1}-0", "+", count=1)
        _, found, _ = parse_entry(*probe[0]) if probe else ("", None, "")
        if found is not None and found.sequence_number <= sequence:
            low = middle + 1
        else:
            high = middle
    return f"{low}-0"


def replay(channel: str, since: int | None, since_ms: int | None, until: int | None, until_ms: int | None,
           limit: int) -> Plan[list[Event]]:
    """A channel's stored events, oldest first, from a sequence number or a time (ms), to one, at most `limit`."""
    start: str | None = "-"
    if since_ms is not None:
        start = f"{since_ms}-0"
    elif since is not None:
        start = yield from position_of_sequence(channel, since)
    stop = f"{until_ms}-18446744073709551615" if until_ms is not None else "+"
    events: list[Event] = []
    while start is not None and len(events) < limit:
        page = yield command("xrange", stream_key(channel), start, stop, count=min(512, limit - len(events) + 1))
        if not page:
            break
        for entry_id, fields in page:
            identifier, event, _ = parse_entry(entry_id, fields)
            start = "(" + identifier
            if event is None or (since is not None and event.sequence_number < since):
                continue
            if until is not None and event.sequence_number > until:
                return events
            events.append(event)
            if len(events) >= limit:
                break
        if len(page) < 2:
            break
    return events


def events_after(channel: str, last: int, last_ms: int | None, upto: int | None = None) -> Plan[list[Event]]:
    """The stored events of `channel` numbered after `last` (and before `upto`): from the stream,
    starting at the milliseconds of the last event seen when they are known."""
    if last_ms is None:
        found = yield from replay(channel, last + 1, None, None, None, 100_000)
        return [e for e in found if upto is None or e.sequence_number < upto]
    found = []
    position = f"{last_ms}-0"
    while True:
        page = yield command("xrange", stream_key(channel), position, "+", count=512)
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


# --- consumer groups ---

class GroupState:
    """One consumer's state and the plans of its Redis work: finding channels, reading, claiming,
    acking and dead-lettering, as the Swift router's consumer does them."""

    def __init__(self, owner: Any, patterns: list[str], group: str, consumer: str, options: GroupOptions) -> None:
        self.owner, self.patterns, self.name, self.consumer, self.options = owner, patterns, group, consumer, options
        self.known: set[str] = set()
        self.cursors: dict[str, str] = {}
        self.next_claim = 0.0
        self.next_lookup = 0.0
        self.started = False
        self.retries: list[tuple[float, Event]] = []

    def refresh(self) -> Plan[None]:
        """Finds the channels the patterns match and creates the group on the new ones."""
        found: set[str] = set()
        for pattern in self.patterns:
            if is_pattern(pattern):
                found.update((yield client_call("channels", pattern)))
            else:
                found.add(pattern)
        for channel in sorted(found - self.known):
            start = "$" if not self.started and self.options.start == "newest" else "0"
            try:
                yield command("xgroup_create", stream_key(channel), self.name, id=start, mkstream=True)
            except redis.ResponseError as error:
                if "BUSYGROUP" not in str(error):
                    raise
            self.known.add(channel)
        self.started = True
        self.next_lookup = time.monotonic() + self.options.block

    def next_batch(self, block: float) -> Plan[list[Event]]:
        """Retries that are due, else entries to reclaim, else new entries (waiting up to `block` s)."""
        try:
            return (yield from self._poll(block))
        except redis.ResponseError as error:
            if "NOGROUP" not in str(error):
                raise
            self.known.clear()  # the stream or group went away (a Redis without persistence restarted)
            self.cursors.clear()
            return []

    def _poll(self, block: float) -> Plan[list[Event]]:
        now = time.monotonic()
        due = [event for at, event in self.retries if at <= now]
        if due:
            self.retries = [(at, event) for at, event in self.retries if at > now]
            return due
        if now >= self.next_lookup:
            yield from self.refresh()
        if now >= self.next_claim:
            self.next_claim = now + self.options.claim_interval
            claimed = yield from self._claim()
            if claimed:
                return claimed
        if self.retries:
            block = max(0.0, min(block, min(at for at, _ in self.retries) - now))
        return (yield from self._read(block))

    def _read(self, block: float) -> Plan[list[Event]]:
        if not self.known:
            yield sleep(block)
            return []
        streams = {stream_key(c): ">" for c in sorted(self.known)}
        reply: list[Any] = []
        if self.owner.settings.cluster:
            for key in streams:  # one slot per call
                reply += (yield command("xreadgroup", self.name, self.consumer, {key: ">"}, count=self.options.batch_size)) or []
            if not reply:
                yield sleep(block)
        else:
            reply = (yield command("xreadgroup", self.name, self.consumer, streams, count=self.options.batch_size,
                                   block=max(1, int(block * 1000)))) or []
        return (yield from self._deliveries(reply, {}))

    def _claim(self) -> Plan[list[Event]]:
        claimed: list[Any] = []
        counts: dict[str, int] = {}
        for channel in sorted(self.known):
            key = stream_key(channel)
            reply = yield command("xautoclaim", key, self.name, self.consumer, int(self.options.visibility_timeout * 1000),
                                  start_id=self.cursors.get(channel, "0-0"), count=self.options.batch_size)
            cursor, entries = decode(reply[0]), reply[1]
            deleted = reply[2] if len(reply) > 2 else []
            self.cursors[channel] = cursor
            if deleted:  # trimmed under the pending list: acked and dropped
                yield command("xack", key, self.name, *deleted)
            if entries:
                ids = [decode(e[0]) for e in entries]
                pending = yield command("xpending_range", key, self.name, min=ids[0], max=ids[-1], count=len(ids) + 64,
                                        consumername=self.consumer)
                for row in pending:
                    counts[decode(row["message_id"])] = int(row["times_delivered"])
                claimed.append([key, entries])
        return (yield from self._deliveries(claimed, counts))

    def _deliveries(self, reply: list[Any], counts: Mapping[str, int]) -> Plan[list[Event]]:
        out: list[Event] = []
        for key, entries in reply:
            for entry_id, fields in entries:
                identifier, event, text = parse_entry(entry_id, fields)
                if event is None:
                    if fields:  # not an envelope: dead-lettered as it is
                        channel = decode(key)[len("stream:{"):-1]
                        body = ValidationError(invalid=[("envelope", "is not a Switchyard envelope")], message="Invalid envelope").body
                        yield client_call("_dead_letter_script", keys=[dlq_key(channel), stream_key(channel)],
                                          args=[self.name, identifier, text, compact(body), 1, rfc3339_ms(now_ms())])
                    continue
                event.deliveries = counts.get(identifier, 1)
                if event.deliveries > self.options.max_deliveries:
                    yield from self.give_up(event, unacked_body(event.deliveries - 1, self.options.max_deliveries))
                    continue
                try:
                    opened = self.owner.settings.open_envelope(event, self.owner.settings.is_critical(event.channel))
                except SwitchyardError as refusal:
                    yield client_call("_dead_letter", event, group=self.name, error=refusal.body, deliveries=event.deliveries)
                    continue
                out.append(opened)
        return out

    def ack(self, event: Event) -> Plan[None]:
        yield command("xack", stream_key(event.channel), self.name, event.stream_id)

    def give_up(self, event: Event, failure: Mapping[str, Any]) -> Plan[None]:
        """Dead-letters the event with seed 000's processing error around `failure`."""
        error = processing_error(failure, service=self.owner.settings.source, event=event, deliveries=event.deliveries)
        yield client_call("_dead_letter", event, group=self.name, error=error, deliveries=event.deliveries)

    def retry_later(self, event: Event) -> None:
        """Schedules a failed event's next delivery after the backoff."""
        due = time.monotonic() + self.options.backoff.delay(event.deliveries)
        event.deliveries += 1
        self.retries.append((due, event))

    def info(self) -> Plan[dict[str, dict[str, int]]]:
        """Per channel: entries pending for the group and its lag (entries not yet delivered)."""
        out: dict[str, dict[str, int]] = {}
        for channel in sorted(self.known):
            for group in (yield command("xinfo_groups", stream_key(channel))):
                if decode(group["name"]) == self.name:
                    out[channel] = {"pending": int(group["pending"]), "lag": int(group.get("lag") or 0)}
        return out
