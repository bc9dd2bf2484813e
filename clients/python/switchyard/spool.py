"""The spool: events kept on local disk while Redis is away, replayed in order once it is back."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from .contracts import compact
from .errors import SpoolFull

if TYPE_CHECKING:
    from ._core import Prepared


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
