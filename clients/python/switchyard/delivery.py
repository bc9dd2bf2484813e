"""The consumer-group rules shared by the blocking and the asyncio clients: options, backoff, and
the bodies a dead letter records (seed 000's processing error)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from .envelope import Event
from .errors import SwitchyardError


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
