"""What the blocking and the asyncio clients share: preparing events (checks, sealing, signing,
the envelope's two parts), the publish script's keys and arguments, receipts, and reading stream
entries. No I/O on Redis here; the spool is `switchyard.spool`, the group rules `switchyard.delivery`."""

from __future__ import annotations

import functools
import importlib
import time
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from importlib import resources
from typing import Any, ClassVar, Mapping, Protocol, Sequence, runtime_checkable

import redis

from .contracts import Policy, compact, glob_regex
from .guard import CheckedPayload, PayloadGuard
from .envelope import Event, envelope_parts, uuid7
from .errors import EncryptionKeyRequired, RateLimited, SwitchyardError, ValidationError
from .security import KeyRing, seal, signature, unseal, verify
from .state import StateKeys

#: Errors that mean Redis cannot be reached now (a reason to spool or retry), as opposed to a refusal.
UNREACHABLE: tuple[type[BaseException], ...] = (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError)

#: The channel registry, where pattern consumers find channels.
CHANNELS_KEY = "switchyard:channels"
#: Where payload-mode channels carry their envelopes.
COMPANION_PREFIX = "switchyard:envelope:"


@functools.lru_cache(maxsize=1)
def _propagate() -> Any:
    """OpenTelemetry's `propagate` module, looked for once; `None` without `opentelemetry-api`."""
    try:
        return importlib.import_module("opentelemetry.propagate")
    except ImportError:
        return None


def current_trace_context() -> dict[str, str]:
    """`traceparent` (and `tracestate`) of the caller's current OpenTelemetry span, when the
    `opentelemetry-api` package is installed and a span is active; else nothing."""
    propagate = _propagate()
    if propagate is None:
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
