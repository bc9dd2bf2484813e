"""What the blocking and the asyncio clients share: preparing events, the script calls, the spool,
the retry rules of consumer groups, and the reading of replies. No I/O on Redis here."""

from __future__ import annotations

import importlib
import json
import os
import stat
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Mapping, Protocol, Sequence, runtime_checkable

from .contracts import CheckedPayload, PayloadGuard, Policy, compact, glob_regex
from .envelope import Event, envelope_parts, uuid7
from .errors import EncryptionKeyRequired, RateLimited, SpoolFull, SwitchyardError, ValidationError
from .security import KeyRing, seal, signature, unseal, verify
from .state import StateKeys

#: The channel registry, where pattern consumers find channels.
CHANNELS_KEY = "switchyard:channels"
#: Where payload-mode channels carry their envelopes.
COMPANION_PREFIX = "switchyard:envelope:"


def current_trace_context() -> dict[str, str]:
    """`traceparent` (and `tracestate`) of the caller's current OpenTelemetry span, when the
    `opentelemetry-api` package is installed and a span is active; else nothing."""
    try:
        propagate = importlib.import_module("opentelemetry.propagate")
    except ImportError:
        return {}
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return {k: v for k, v in carrier.items() if k in ("traceparent", "tracestate")}


def script_source(name: str) -> str:
    """`publish.lua` or `dead_letter.lua`, as shipped with the package (the Swift engine's own files)."""
    return resources.files("switchyard").joinpath("data", name).read_text(encoding="utf-8")


def now_ms() -> int:
    """The wall clock in unix milliseconds."""
    return int(time.time() * 1000)


def tag(channel: str) -> str:
    """The hash tag every key of a channel carries."""
    return "{" + channel + "}"


def stream_key(channel: str) -> str:
    return f"stream:{tag(channel)}"


def dlq_key(channel: str) -> str:
    return f"dlq:{tag(channel)}"


@runtime_checkable
class ContractPayload(Protocol):
    """A typed payload generated from a contract (`switchyard contracts codegen --language python`):
    it names its channel and turns itself into the JSON object the contract checks."""

    SWITCHYARD_CHANNEL: ClassVar[str]

    def to_payload(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class PublishRequest:
    """One event of a batch: its channel, payload, and optionally its id, metadata and a state key to set with it."""

    channel: str
    payload: Any
    event_id: str | None = None
    metadata: Mapping[str, Any] | None = None
    state: tuple[str, Any] | None = None


@dataclass(frozen=True)
class Receipt:
    """What a publish answers.

    `sequence_number` is the event's place in its channel (`None` while it waits in the spool),
    `duplicate` is true when its `event_id` was already published within the dedup window (the
    numbers are then the first publish's), `spooled` when Redis was away and the event waits in
    the local spool, to be stored in order once Redis answers.
    """

    event_id: str
    channel: str
    sequence_number: int | None
    stream_id: str
    duplicate: bool = False
    spooled: bool = False

    @property
    def stored(self) -> bool:
        """Whether this publish stored the event (not a duplicate, not spooled)."""
        return not self.duplicate and not self.spooled

    @property
    def status(self) -> str:
        """`stored`, `duplicate` or `spooled`."""
        return "spooled" if self.spooled else "duplicate" if self.duplicate else "stored"


@dataclass
class Prepared:
    """An event checked, sealed, signed and rendered, ready for `publish.lua` or the spool."""

    event_id: str
    channel: str
    accepted_ms: int
    source: str
    schema: str
    data: Any
    metadata: dict[str, Any]
    policy: Policy
    event_time: str | None = None
    state: tuple[str, str, int] | None = None  # key, JSON text, TTL ms (0: none)

    def parts(self) -> tuple[str, str]:
        return envelope_parts(
            event_id=self.event_id, channel=self.channel, accepted_ms=self.accepted_ms, source=self.source,
            schema=self.schema, data=self.data, metadata=self.metadata, event_time=self.event_time)

    def spool_line(self) -> str:
        line: dict[str, Any] = {
            "event_id": self.event_id, "channel": self.channel, "accepted_at_ms": self.accepted_ms,
            "source": self.source, "schema": self.schema, "data": self.data, "metadata": self.metadata,
        }
        if self.event_time is not None:
            line["event_time"] = self.event_time
        if self.state is not None:
            line["state"] = list(self.state)
        return compact(line)


@dataclass(frozen=True)
class Settings:
    """What every client of one service shares: who it is, its contracts, keys and limits."""

    source: str
    guard: PayloadGuard
    state_keys: StateKeys
    dedup_window_ms: int = 300_000
    hard_cap: int = 1_000_000
    enforce_rate_limits: bool = True
    signing_keys: KeyRing | None = None
    encryption_keys: KeyRing | None = None
    live: bool = False
    cluster: bool = False
    replicated_by_default: bool = False

    def waits_for_replica(self, policy: Policy) -> bool:
        """Whether a publish waits for a replica (`WAIT 1`): the contract's `acknowledge`, else
        `replicated` for critical channels where the deployment keeps replicas (Sentinel), as the Swift engine does."""
        if policy.acknowledge is not None:
            return policy.acknowledge == "replicated"
        return policy.critical and self.replicated_by_default

    def prepare(self, request: PublishRequest, accepted_ms: int | None = None) -> Prepared:
        """Runs every publish-time check on a request and renders its envelope; raises the refusal."""
        payload = request.payload
        channel = request.channel
        if isinstance(payload, ContractPayload):
            channel = channel or payload.SWITCHYARD_CHANNEL
            payload = payload.to_payload()
        checked: CheckedPayload = self.guard.check(channel, payload)
        metadata: dict[str, Any] = dict(checked.message_metadata or {})
        metadata.update(request.metadata or {})
        if "traceparent" not in metadata:
            metadata.update(current_trace_context())
        metadata.pop("sealed_fields", None)
        self.guard.check_metadata(metadata, checked)
        event_id = request.event_id or uuid7()
        if request.event_id is not None:
            try:
                event_id = str(uuid.UUID(request.event_id))
            except ValueError:
                raise ValidationError(invalid=[("event_id", "must be a UUID")]) from None
        data: Any = checked.payload
        contract = checked.contract
        if contract is not None and contract.sensitive_fields:
            if self.encryption_keys is None:
                raise EncryptionKeyRequired(
                    "encryption_key_required",
                    f"channel '{channel}' seals fields {list(contract.sensitive_fields)}, and this publisher has no encryption key",
                    {"channel": channel, "sensitive_fields": list(contract.sensitive_fields)})
            data, sealed = seal(data, contract.sensitive_fields, keys=self.encryption_keys, event_id=event_id, channel=channel)
            if sealed:
                metadata["sealed_fields"] = sealed
        if checked.policy.critical and self.signing_keys is not None:
            metadata.pop("signature", None)
            metadata["signature"] = signature(
                self.signing_keys, event_id=event_id, channel=channel, source=self.source, schema=checked.schema_id,
                data=data, metadata=metadata, event_time=checked.event_time)
        state = None
        if request.state is not None:
            key, value = request.state
            state = self.state_keys.prepare(key, value)
        return Prepared(
            event_id=event_id, channel=channel, accepted_ms=accepted_ms if accepted_ms is not None else now_ms(),
            source=self.source, schema=checked.schema_id, data=data, metadata=metadata, policy=checked.policy,
            event_time=checked.event_time, state=state)

    def from_spool(self, line: Mapping[str, Any]) -> Prepared:
        """An event read back from the spool, with its channel's policy as it is now."""
        _, policy = self.guard.resolve(str(line["channel"]))
        state = line.get("state")
        return Prepared(
            event_id=str(line["event_id"]), channel=str(line["channel"]), accepted_ms=int(line["accepted_at_ms"]),
            source=str(line["source"]), schema=str(line["schema"]), data=line["data"], metadata=dict(line["metadata"]),
            policy=policy, event_time=line.get("event_time"),
            state=(str(state[0]), str(state[1]), int(state[2])) if isinstance(state, list) else None)

    def script_call(self, events: Sequence[Prepared], *, rate_limits: bool, with_state: bool) -> tuple[list[str], list[str | int]]:
        """The keys and arguments of one `publish.lua` call for events of one channel."""
        first = events[0]
        channel, policy = first.channel, first.policy
        t = tag(channel)
        keys = [f"stream:{t}", f"seq:{t}", f"latest:{t}", f"rate:{t}:{first.source}", f"meta:{t}"]
        keys += [f"dedup:{t}:{event.event_id}" for event in events]
        limited = rate_limits and self.enforce_rate_limits
        live = "payload" if policy.live_message == "payload" else "publish"
        args: list[str | int] = [
            channel, policy.retention_seconds * 1000, self.dedup_window_ms, self.hard_cap, live,
            "0" if policy.delivery == "live" else "1",
            policy.rate_limit.per_second if limited else 0, policy.rate_limit.burst if limited else 0,
            now_ms(), len(events),
        ]
        for event in events:
            prefix, suffix = event.parts()
            args += [event.accepted_ms, prefix, suffix]
        last = events[-1]
        if with_state and last.state is not None:
            key, value, ttl = last.state
            keys.append(key)
            args += [value, ttl]
        return keys, args

    def receipts(self, events: Sequence[Prepared], reply: Sequence[Any]) -> list[Receipt]:
        """Receipts from the script's reply; `RateLimited` when the token bucket refused the call."""
        if int(reply[0]) == 0:
            first = events[0]
            limit = first.policy.rate_limit
            retry = int(reply[1])
            raise RateLimited(
                "rate_limited",
                f"'{first.source}' exceeded the rate limit of channel '{first.channel}' ({limit.per_second}/s, burst {limit.burst}); "
                f"retry after {retry} ms",
                {"channel": first.channel, "source": first.source, "per_second": limit.per_second, "burst": limit.burst,
                 "retry_after_ms": retry})
        out = []
        for event, (stored, sequence, stream_id, _) in zip(events, reply[3:]):
            text = stream_id.decode() if isinstance(stream_id, bytes) else str(stream_id)
            out.append(Receipt(event.event_id, event.channel, int(sequence), text, duplicate=int(stored) == 0))
        return out

    def open_envelope(self, event: Event, critical: bool) -> Event:
        """Verifies a delivered event's signature (on a critical channel, with signing keys) and opens
        its sealed fields (with encryption keys); raises the refusal a Swift consumer gives."""
        body = event.envelope
        if critical and self.signing_keys is not None:
            refusal = verify(body, self.signing_keys)
            if refusal is not None:
                raise refusal
        if self.encryption_keys is not None and "sealed_fields" in event.metadata:
            opened = unseal(body, self.encryption_keys)
            return replace(event, data=opened["data"], metadata=opened["metadata"])
        return event

    def is_critical(self, channel: str) -> bool:
        try:
            return self.guard.resolve(channel)[1].critical
        except (SwitchyardError, ValueError):
            return Policy.defaults(channel).critical


def by_channel(events: Sequence[Prepared]) -> list[list[int]]:
    """The events' positions grouped by channel, in order of first appearance, each group in publish order."""
    groups: dict[str, list[int]] = {}
    for index, event in enumerate(events):
        groups.setdefault(event.channel, []).append(index)
    return list(groups.values())


class Spool:
    """Events kept on local disk while Redis is away, one JSON line each, fsynced before the publish
    returns, and replayed in order once Redis answers (seed 004's fallback buffer, made durable).

    The file is created with mode 0600 (it holds payloads) and a symbolic link at its path is refused.
    """

    def __init__(self, path: str | os.PathLike[str], max_events: int = 100_000, max_bytes: int = 256 * 1024 * 1024) -> None:
        self.path = Path(path)
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.lock = threading.Lock()
        flags = os.O_RDWR | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0)
        try:
            descriptor = os.open(self.path, flags, 0o600)
        except OSError as error:
            raise OSError(f"the spool {self.path} cannot be opened (a symbolic link is refused): {error}") from error
        os.fchmod(descriptor, stat.S_IRUSR | stat.S_IWUSR)
        os.close(descriptor)
        self.depth = len(self.lines())

    def lines(self) -> list[dict[str, Any]]:
        """The spooled events, oldest first."""
        text = self.path.read_text(encoding="utf-8") if self.path.exists() else ""
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def append(self, events: Sequence[Prepared]) -> None:
        """Adds events and fsyncs; `spool_full` past the bounds, adding none of them."""
        text = "".join(event.spool_line() + "\n" for event in events).encode("utf-8")
        with self.lock:
            size = self.path.stat().st_size if self.path.exists() else 0
            if self.depth + len(events) > self.max_events or size + len(text) > self.max_bytes:
                raise SpoolFull(
                    "spool_full", f"Redis is unreachable and the spool {self.path} is full",
                    {"spool_depth": self.depth, "max_events": self.max_events, "max_bytes": self.max_bytes})
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0))
            try:
                os.write(descriptor, text)
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
            self.depth += len(events)

    def drop(self, count: int) -> None:
        """Removes the oldest `count` events (they were stored)."""
        with self.lock:
            rest = self.lines()[count:]
            temporary = self.path.with_suffix(self.path.suffix + ".tmp")
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
            try:
                os.write(descriptor, "".join(compact(line) + "\n" for line in rest).encode("utf-8"))
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
            os.replace(temporary, self.path)
            self.depth = len(rest)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff between retries of a handler that failed (seconds)."""

    initial: float = 0.1
    multiplier: float = 2.0
    maximum: float = 10.0

    def delay(self, failures: int) -> float:
        """The wait after the `failures`-th failure (1 for the first)."""
        delay = self.initial
        for _ in range(1, max(1, failures)):
            delay *= self.multiplier
            if delay >= self.maximum:
                return self.maximum
        return min(delay, self.maximum)


@dataclass(frozen=True)
class GroupOptions:
    """How a consumer of a group reads, retries, reclaims and gives up; the Swift router's defaults."""

    batch_size: int = 64
    max_deliveries: int = 5
    backoff: Backoff = field(default_factory=Backoff)
    visibility_timeout: float = 30.0
    claim_interval: float = 1.0
    block: float = 1.0
    start: str = "beginning"  # or "newest", for channels that exist when the group is created


def handler_error_body(error: BaseException) -> dict[str, Any]:
    """The body a dead letter records for what a handler raised."""
    if isinstance(error, SwitchyardError):
        return error.body
    return {"error_type": "handler_error", "message": f"the handler threw {type(error).__name__}", "details": {"error": str(error)}}


def processing_error(failure: Mapping[str, Any], *, service: str, event: Event, deliveries: int) -> dict[str, Any]:
    """Seed 000's processing error around the last failure, as a dead letter's `error`."""
    return {
        "error_type": "processing_error", "service": service, "message": failure.get("message", "the handler failed"),
        "original_message": event.envelope, "retry_count": max(0, deliveries - 1), "details": dict(failure),
    }


def unacked_body(times: int, max_deliveries: int) -> dict[str, Any]:
    return {"error_type": "handler_error", "message": f"delivered {times} times without an ack",
            "details": {"max_deliveries": max_deliveries}}


def decode(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def parse_entry(entry_id: Any, fields: Any) -> tuple[str, Event | None, str]:
    """An entry of `stream:{C}`: its id, its event (`None` when the entry is not an envelope), and the raw text."""
    text = ""
    if isinstance(fields, Mapping):
        raw = fields.get(b"envelope", fields.get("envelope"))
        text = decode(raw) if raw is not None else ""
    identifier = decode(entry_id)
    try:
        return identifier, Event.parse(text, stream_id=identifier), text
    except (ValueError, TypeError):
        return identifier, None, text


def matches(patterns: Sequence[str], channel: str) -> bool:
    return any(glob_regex(p).match(channel) for p in patterns)


def since_ms(since: int | float | datetime) -> int:
    """Unix ms of a `datetime`, or a number of unix seconds."""
    if isinstance(since, datetime):
        return int(since.timestamp() * 1000)
    return int(since * 1000)
