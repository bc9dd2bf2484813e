"""Named state keys (docs/state.md): seed 001's `position:snapshot`, seed 002's `cache:prices:btc:current`.

Plain Redis string keys holding compact JSON, with the TTL of the key's entry in the shipped table
(the Swift router's own `state-keys.json`), so `redis.get('position:snapshot')` keeps working.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from jsonschema import Draft7Validator

from .contracts import MAX_SIZE_BYTES, compact, duration_seconds, glob_regex, is_pattern, literal_prefix
from .guard import credential_fields
from .schema_errors import FORMATS, summarize
from .errors import PayloadTooLarge, StateKeyError, ValidationError

_KEY = re.compile(r"^[A-Za-z0-9_-]+([:.][A-Za-z0-9_-]+)*$")
#: How long a key no entry covers lives, where unknown keys are allowed (seed 001's hourly default).
UNKNOWN_KEY_TTL_SECONDS = 3600


@dataclass(frozen=True)
class StateEntry:
    """One entry of the table: a key or glob pattern, its TTL (`None`: never expires) and optional schema."""

    key: str
    ttl_seconds: int | None
    schema: Mapping[str, Any] | None = None


class StateKeys:
    """The state-key table, resolved as contracts are: the exact key, then the longest literal prefix,
    then the longer pattern."""

    def __init__(self, entries: list[StateEntry], allow_unknown: bool = False) -> None:
        self.exact = {e.key: e for e in entries if not is_pattern(e.key)}
        patterns = sorted((e for e in entries if is_pattern(e.key)),
                          key=lambda e: (-len(literal_prefix(e.key)), -len(e.key), e.key.encode()))
        self.patterns = [(glob_regex(e.key), e) for e in patterns]
        self.validators = {e.key: Draft7Validator(e.schema, format_checker=FORMATS) for e in entries if e.schema is not None}
        self.allow_unknown = allow_unknown

    @staticmethod
    def load(path: str | os.PathLike[str] | None = None, allow_unknown: bool = False) -> StateKeys:
        """The table at `path`, or the shipped one."""
        text = (Path(path).read_text(encoding="utf-8") if path is not None
                else resources.files("switchyard").joinpath("data", "state-keys.json").read_text(encoding="utf-8"))
        document = json.loads(text)
        entries = [
            StateEntry(str(e["key"]), None if e.get("ttl") is None else duration_seconds(str(e["ttl"])), e.get("schema"))
            for e in document["keys"]
        ]
        return StateKeys(entries, allow_unknown)

    def entry(self, key: str) -> StateEntry:
        """The entry covering `key`; `invalid_state_key` or `unknown_state_key` otherwise."""
        if not _KEY.match(key) or key.startswith("switchyard:"):
            raise StateKeyError(
                "invalid_state_key",
                f"'{key}' is not a state key: segments of A-Z a-z 0-9 _ - joined by ':' or '.', not starting with 'switchyard:'",
                {"key": key})
        found = self.exact.get(key) or next((e for regex, e in self.patterns if regex.match(key)), None)
        if found is None:
            if not self.allow_unknown:
                raise StateKeyError("unknown_state_key", f"no entry of the state-key table covers '{key}'", {"key": key})
            return StateEntry(key, UNKNOWN_KEY_TTL_SECONDS)
        return found

    def prepare(self, key: str, value: Any) -> tuple[str, str, int]:
        """Checks a value for a key as a payload is checked; returns the key, its JSON text and TTL ms (0: none)."""
        entry = self.entry(key)
        text = compact(value)
        if len(text.encode("utf-8")) > MAX_SIZE_BYTES:
            raise PayloadTooLarge("payload_too_large", f"the value has more than {MAX_SIZE_BYTES} bytes",
                                  {"size_bytes": len(text.encode("utf-8")), "max_size_bytes": MAX_SIZE_BYTES})
        credentials = credential_fields(value)
        if credentials:
            raise ValidationError(invalid=credentials)
        validator = self.validators.get(entry.key)
        if validator is not None:
            refusal = summarize(validator.iter_errors(value))
            if refusal is not None:
                raise refusal
        return key, text, (entry.ttl_seconds or 0) * 1000


@dataclass(frozen=True)
class StateValue:
    """A state key's value and how long it has left (`None`: it never expires)."""

    value: Any
    remaining_seconds: float | None
