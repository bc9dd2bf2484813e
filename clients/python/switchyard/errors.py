"""Switchyard's refusals, with the wire shape `{"error_type", "message", "details"}` of DESIGN.md."""

from __future__ import annotations

from typing import Any, Mapping, Sequence


class SwitchyardError(Exception):
    """A refusal or failure, carrying the body every Switchyard component uses.

    `error_type` is the code (`validation_error`, `rate_limited`, `unknown_channel`, ...),
    `message` a sentence for people, and `details` the structured part a program reads.
    """

    def __init__(self, error_type: str, message: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.details: dict[str, Any] = dict(details or {})

    @property
    def body(self) -> dict[str, Any]:
        """The error as Switchyard writes it: `{"error_type", "message", "details"}`."""
        return {"error_type": self.error_type, "message": self.message, "details": self.details}

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> SwitchyardError:
        """The error a body describes, as the most specific class that has its `error_type`."""
        error_type = str(body.get("error_type", "error"))
        message = str(body.get("message", ""))
        details = body.get("details")
        details = details if isinstance(details, Mapping) else {}
        kind = _CLASSES.get(error_type, SwitchyardError)
        if kind is SwitchyardError:
            return SwitchyardError(error_type, message, details)
        error = kind.__new__(kind)
        SwitchyardError.__init__(error, error_type, message, details)
        return error

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.error_type!r}, {self.message!r}, {self.details!r})"


class ValidationError(SwitchyardError):
    """`validation_error`: the payload is not an object, breaks its contract, or names a credential field.

    `details` holds `missing_fields` (field paths) and `invalid_fields` (path → reason).
    """

    def __init__(
        self,
        missing: Sequence[str] = (),
        invalid: Sequence[tuple[str, str]] = (),
        message: str = "Invalid message schema",
    ) -> None:
        super().__init__(
            "validation_error", message, {"missing_fields": list(missing), "invalid_fields": dict(invalid)}
        )

    @property
    def missing_fields(self) -> list[str]:
        """The missing fields' paths."""
        return list(self.details.get("missing_fields", []))

    @property
    def invalid_fields(self) -> dict[str, str]:
        """Each failing field's path and the first reason it fails."""
        return dict(self.details.get("invalid_fields", {}))


class UnknownChannel(SwitchyardError):
    """`unknown_channel`: no contract covers the channel."""

    def __init__(self, channel: str) -> None:
        super().__init__("unknown_channel", f"no contract covers channel '{channel}'", {"channel": channel})


class PayloadTooLarge(SwitchyardError):
    """`payload_too_large`: above the channel's `max_size_bytes` (or metadata above 8 KiB)."""


class RateLimited(SwitchyardError):
    """`rate_limited`: the (source, channel) token bucket is empty; nothing was stored."""

    @property
    def retry_after(self) -> float:
        """Seconds to wait before publishing again."""
        return float(self.details.get("retry_after_ms", 0)) / 1000.0


class EngineUnavailable(SwitchyardError):
    """`engine_unavailable`: Redis cannot be reached (and nothing was spooled)."""

    def __init__(self, message: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__("engine_unavailable", message, details)


class SpoolFull(SwitchyardError):
    """`spool_full`: Redis is away and the spool holds as much as it may."""


class EncryptionKeyRequired(SwitchyardError):
    """`encryption_key_required`: the contract seals fields and the publisher has no encryption key."""


class StateKeyError(SwitchyardError):
    """`invalid_state_key` or `unknown_state_key`: the name breaks the rules, or no entry covers it."""


_CLASSES: dict[str, type[SwitchyardError]] = {
    "validation_error": ValidationError,
    "unknown_channel": UnknownChannel,
    "payload_too_large": PayloadTooLarge,
    "rate_limited": RateLimited,
    "engine_unavailable": EngineUnavailable,
    "spool_full": SpoolFull,
    "encryption_key_required": EncryptionKeyRequired,
    "invalid_state_key": StateKeyError,
    "unknown_state_key": StateKeyError,
}
