"""Channel contracts: the `contracts/` folder the Swift router reads, resolved the same way.

A contract binds a channel (or a glob pattern of channels) to a draft-07 payload schema and a
policy (docs/contracts.md). `ContractRegistry.load("contracts/")` reads every `*.json` under a
folder and resolves a channel to its contract; `switchyard.guard.PayloadGuard` runs the
publish-time checks.
"""

from __future__ import annotations

import functools
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from jsonschema import Draft7Validator

from .schema_errors import FORMATS, summarize

#: The largest payload any channel accepts (REC.IO's "Maximum message size: 1MB").
MAX_SIZE_BYTES = 1_048_576
#: The largest envelope `metadata`, without `traceparent` and `tracestate`.
MAX_METADATA_BYTES = 8192


def compact(value: Any) -> str:
    """Compact JSON text, as Switchyard stores it: no spaces, non-ASCII characters as UTF-8."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def duration_seconds(text: str) -> int:
    """Seconds in a contract duration: `300s`, `5m`, `1h`, `7d`, or a bare number of seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
    multiplier = units.get(text[-1:], 1)
    digits = text[:-1] if text[-1:] in units else text
    if not digits.isascii() or not digits.isdigit() or int(digits) <= 0:
        raise ValueError(f"not a duration: {text!r} (an integer and s, m, h or d)")
    return int(digits) * multiplier


@functools.lru_cache(maxsize=1024)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """A Redis glob (`*`, `?`, `[...]` with `^` negation and ranges, `\\` escapes) as a regular expression."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        elif c == "[":
            j = pattern.find("]", i + 1)
            if j < 0:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : j]
                negate = body.startswith("^")
                body = body[1:] if negate else body
                out.append("[" + ("^" if negate else "") + body.replace("\\", "\\\\") + "]")
                i = j
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def literal_prefix(pattern: str) -> str:
    """The part of a pattern before its first glob character."""
    match = re.search(r"[*?\[\\]", pattern)
    return pattern if match is None else pattern[: match.start()]


def is_pattern(name: str) -> bool:
    """Whether a channel name holds glob characters."""
    return re.search(r"[*?\[\]^\\]", name) is not None


_CHANNEL = re.compile(r"^[A-Za-z0-9_-]+([:.][A-Za-z0-9_-]+)*$")


def check_channel_name(name: str) -> None:
    """Raises `ValueError` unless `name` is segments of `[A-Za-z0-9_-]` joined by `:` or `.`."""
    if not _CHANNEL.match(name):
        raise ValueError(f"'{name}' is not a channel name: segments of A-Z a-z 0-9 _ - joined by ':' or '.'")


@dataclass(frozen=True)
class RateLimit:
    """A token bucket per producing service and channel."""

    per_second: int = 1000
    burst: int = 2000


@dataclass(frozen=True)
class Policy:
    """A contract's delivery policy (docs/contracts.md, "Policy keys")."""

    retention_seconds: int
    max_size_bytes: int = MAX_SIZE_BYTES
    rate_limit: RateLimit = RateLimit()
    delivery: str = "durable"
    conflatable: bool = False
    critical: bool = False
    producers: tuple[str, ...] = ("*",)
    consumers: tuple[str, ...] = ("*",)
    live_message: str = "envelope"
    acknowledge: str | None = None

    @staticmethod
    def defaults(channel: str) -> Policy:
        """The policy of the family a channel (or pattern) belongs to."""
        family = re.split(r"[:.]", channel, maxsplit=1)[0]
        separator = channel[len(family) : len(family) + 1]
        key = (family, separator)
        if key in {("market_data", ":"), ("prices", ":"), ("quotes", "."), ("price", ".")}:
            return Policy(retention_seconds=300, conflatable=True)
        if key in {("trades", ":"), ("positions", ":"), ("settings", ":"), ("orders", "."), ("positions", "."), ("signals", ".")}:
            return Policy(retention_seconds=3600, critical=True)
        if family == "system" and separator in (":", "."):
            return Policy(retention_seconds=86_400)
        if key == ("user", ":"):
            return Policy(retention_seconds=1800)
        if separator == ":" and family in {"position", "exposure", "risk", "pnl", "strategy"}:
            return Policy(retention_seconds=3600)
        return Policy(retention_seconds=86_400)

    @staticmethod
    def parse(channel: str, document: Mapping[str, Any]) -> Policy:
        """The policy a contract file gives, with its family's defaults for the keys it leaves out."""
        base = Policy.defaults(channel)
        rate = document.get("rate_limit")
        return Policy(
            retention_seconds=duration_seconds(str(document["retention"])) if "retention" in document else base.retention_seconds,
            max_size_bytes=int(document.get("max_size_bytes", base.max_size_bytes)),
            rate_limit=RateLimit(int(rate["per_second"]), int(rate["burst"])) if isinstance(rate, Mapping) else base.rate_limit,
            delivery=str(document.get("delivery", base.delivery)),
            conflatable=bool(document.get("conflatable", base.conflatable)),
            critical=bool(document.get("critical", base.critical)),
            producers=tuple(document.get("producers", base.producers)),
            consumers=tuple(document.get("consumers", base.consumers)),
            live_message=str(document.get("live_message", base.live_message)),
            acknowledge=document.get("acknowledge"),
        )


@dataclass(frozen=True)
class Contract:
    """One contract file: a channel or pattern, its payload schema and its policy."""

    channel: str
    schema: Mapping[str, Any]
    policy: Policy
    version: int = 1
    description: str = ""
    sensitive_fields: tuple[str, ...] = ()
    validator: Draft7Validator = field(compare=False, repr=False, default=None)  # type: ignore[assignment]

    @property
    def id(self) -> str:
        """The envelope's `schema` member: `CHANNEL@VERSION` (`trades:*@1` for a pattern contract)."""
        return f"{self.channel}@{self.version}"

    @staticmethod
    def parse(document: Mapping[str, Any]) -> Contract:
        """A contract from a file's JSON object."""
        channel = str(document["channel"])
        schema = document["schema"]
        Draft7Validator.check_schema(schema)
        return Contract(
            channel=channel,
            schema=schema,
            policy=Policy.parse(channel, document.get("policy", {})),
            version=int(document.get("version", 1)),
            description=str(document.get("description", "")),
            sensitive_fields=tuple(document.get("sensitive_fields", ())),
            validator=Draft7Validator(schema, format_checker=FORMATS),
        )

    def validate(self, payload: Any) -> None:
        """Raises `ValidationError` when the payload breaks the schema."""
        refusal = summarize(self.validator.iter_errors(payload))
        if refusal is not None:
            raise refusal


class ContractRegistry:
    """Every contract of a folder, resolved as the Swift router resolves them: the exact channel
    first, then the pattern with the longest literal prefix, then the longer pattern, then the
    first byte by byte."""

    def __init__(self, contracts: Iterable[Contract]) -> None:
        self.exact: dict[str, Contract] = {}
        patterns: list[Contract] = []
        for contract in contracts:
            if contract.channel in self.exact or any(p.channel == contract.channel for p in patterns):
                raise ValueError(f"two contracts claim channel '{contract.channel}'")
            if is_pattern(contract.channel):
                patterns.append(contract)
            else:
                self.exact[contract.channel] = contract
        patterns.sort(key=lambda c: (-len(literal_prefix(c.channel)), -len(c.channel), c.channel.encode()))
        self.patterns = [(glob_regex(c.channel), c) for c in patterns]

    @staticmethod
    def load(path: str | os.PathLike[str]) -> ContractRegistry:
        """Reads every `*.json` file under `path`, recursively."""
        root = Path(path)
        if not root.is_dir():
            raise FileNotFoundError(f"no contracts folder at {root}")
        contracts = []
        for file in sorted(root.rglob("*.json")):
            try:
                contracts.append(Contract.parse(json.loads(file.read_text(encoding="utf-8"))))
            except (ValueError, KeyError, TypeError) as error:
                raise ValueError(f"{file}: {error}") from error
        return ContractRegistry(contracts)

    def __iter__(self) -> Iterator[Contract]:
        yield from self.exact.values()
        yield from (c for _, c in self.patterns)

    def contract(self, channel: str) -> Contract | None:
        """The contract that covers `channel`, or `None`."""
        found = self.exact.get(channel)
        if found is not None:
            return found
        for regex, contract in self.patterns:
            if regex.match(channel):
                return contract
        return None
