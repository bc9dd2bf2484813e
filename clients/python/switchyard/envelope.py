"""The envelope every Switchyard event travels in (docs/wire-format.md, "The envelope")."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

from .contracts import compact


def uuid7(now_ms: int | None = None) -> str:
    """A UUIDv7: 48 bits of unix milliseconds, version 7, variant 10, random bits."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= secrets.randbits(12) << 64
    value |= 0b10 << 62
    value |= secrets.randbits(62)
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def rfc3339_ms(ms: int) -> str:
    """Unix milliseconds as RFC 3339 in UTC with exactly three fraction digits (`…T10:30:05.123Z`)."""
    moment = datetime.fromtimestamp(ms // 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


def unix_ms(text: str) -> int:
    """Unix milliseconds of an RFC 3339 time."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


def envelope_parts(
    *, event_id: str, channel: str, accepted_ms: int, source: str, schema: str, data: Any,
    metadata: Mapping[str, Any], event_time: str | None = None,
) -> tuple[str, str]:
    """The two strings `publish.lua` writes the sequence number between: the envelope's JSON up to and
    including `"sequence_number":`, and the rest, starting with the 39-byte timestamp of `accepted_ms`."""
    prefix = (
        '{"event_id":' + compact(event_id) + ',"channel":' + compact(channel)
        + ',"topic":' + compact(channel) + ',"sequence_number":'
    )
    suffix = ',"timestamp":"' + rfc3339_ms(accepted_ms) + '"'
    if event_time is not None:
        suffix += ',"event_time":' + compact(event_time)
    suffix += (
        ',"source":' + compact(source) + ',"schema":' + compact(schema)
        + ',"data":' + compact(data) + ',"metadata":' + compact(dict(metadata)) + "}"
    )
    return prefix, suffix


@dataclass
class Event:
    """One event as a reader gets it: the envelope's members, and where it came from.

    `stream_id` is the entry's id in `stream:{C}` (empty for a live event), `deliveries` how many
    times a consumer group has delivered it (0 outside groups). Events a group hands out have
    `ack()` and `fail(error)`.
    """

    event_id: str
    channel: str
    sequence_number: int
    timestamp: str
    source: str
    schema: str
    data: Any
    metadata: dict[str, Any]
    event_time: str | None = None
    stream_id: str = ""
    deliveries: int = 0
    raw: str = ""
    _settle: Callable[[Event, BaseException | None], None] | None = field(default=None, repr=False, compare=False)

    @property
    def topic(self) -> str:
        """The channel again, as REC.IO's `{"topic", "timestamp", "data", "metadata"}` reads it."""
        return self.channel

    @property
    def envelope(self) -> dict[str, Any]:
        """The envelope as a JSON object, members in the wire order."""
        body: dict[str, Any] = {
            "event_id": self.event_id, "channel": self.channel, "topic": self.channel,
            "sequence_number": self.sequence_number, "timestamp": self.timestamp,
        }
        if self.event_time is not None:
            body["event_time"] = self.event_time
        body.update(source=self.source, schema=self.schema, data=self.data, metadata=self.metadata)
        return body

    @property
    def traceparent(self) -> str | None:
        """The W3C trace context the event carries (`metadata.traceparent`): the publish span's,
        for a consumer to continue the trace with its own tracer."""
        value = self.metadata.get("traceparent")
        return value if isinstance(value, str) else None

    @property
    def timestamp_ms(self) -> int:
        """The envelope's timestamp in unix milliseconds (the stream id's milliseconds)."""
        return unix_ms(self.timestamp)

    def ack(self) -> None:
        """Acknowledges an event a consumer group handed out: the group moves past it."""
        if self._settle is None:
            raise RuntimeError("only events from a consumer group are acknowledged")
        self._settle(self, None)

    def fail(self, error: BaseException) -> None:
        """Reports that handling failed: the group retries it after the backoff, and dead-letters it
        once it was delivered `max_deliveries` times."""
        if self._settle is None:
            raise RuntimeError("only events from a consumer group can fail")
        self._settle(self, error)

    @staticmethod
    def parse(text: str | bytes, stream_id: str = "") -> Event:
        """An event from an envelope's JSON text; `ValueError` when it is not an envelope."""
        raw = text.decode("utf-8") if isinstance(text, bytes) else text
        body = json.loads(raw)
        return Event.from_json(body, stream_id=stream_id, raw=raw)

    @staticmethod
    def from_json(body: Any, stream_id: str = "", raw: str = "") -> Event:
        """An event from an envelope's JSON object; `ValueError` when it is not an envelope."""
        if not isinstance(body, dict):
            raise ValueError("an envelope is a JSON object")
        try:
            sequence = body["sequence_number"]
            if not isinstance(sequence, int) or isinstance(sequence, bool):
                raise ValueError("sequence_number must be an integer")
            metadata = body.get("metadata") or {}
            if not isinstance(metadata, dict):
                raise ValueError("metadata must be an object")
            return Event(
                event_id=str(body["event_id"]), channel=str(body["channel"]), sequence_number=sequence,
                timestamp=str(body["timestamp"]), source=str(body.get("source", "")), schema=str(body.get("schema", "")),
                data=body.get("data"), metadata=metadata, event_time=body.get("event_time"),
                stream_id=stream_id, raw=raw or compact(body),
            )
        except KeyError as missing:
            raise ValueError(f"the envelope has no {missing}") from None
