"""Channel contracts: the `contracts/` folder the Swift router reads, checked the same way.

A contract binds a channel (or a glob pattern of channels) to a draft-07 payload schema and a
policy (docs/contracts.md). `ContractRegistry.load("contracts/")` reads every `*.json` under a
folder; `PayloadGuard` runs the publish-time checks in the router's order: a contract covers the
channel, the size, a JSON object (or a whole REC.IO `{"topic","timestamp","data","metadata"}`
message), no credential field at any depth, and the schema.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence, cast

from jsonschema import Draft7Validator, FormatChecker
from jsonschema.exceptions import ValidationError as SchemaError

from .errors import PayloadTooLarge, SwitchyardError, UnknownChannel, ValidationError

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


_DATE_TIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$"
)
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_IPV4 = re.compile(r"^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$")


def _valid_date(year: str, month: str, day: str) -> bool:
    try:
        datetime(int(year), int(month), int(day))
    except ValueError:
        return False
    return True


def is_rfc3339(text: str) -> bool:
    """Whether `text` is an RFC 3339 date-time with an offset (leap seconds allowed, as the spec does)."""
    match = _DATE_TIME.match(text)
    if match is None or not _valid_date(match[1], match[2], match[3]):
        return False
    hour, minute, second = int(match[4]), int(match[5]), int(match[6])
    if hour > 23 or minute > 59 or second > 60:
        return False
    return match[9] is None or (int(match[9]) <= 23 and int(match[10]) <= 59)


#: The formats the Swift validator checks; others are annotations.
FORMATS = FormatChecker(formats=())
FORMATS.checks("date-time")(lambda value: not isinstance(value, str) or is_rfc3339(value))
FORMATS.checks("date")(
    lambda value: not isinstance(value, str) or (bool(m := _DATE.match(value)) and m is not None and _valid_date(m[1], m[2], m[3]))
)
FORMATS.checks("ipv4")(lambda value: not isinstance(value, str) or _IPV4.match(value) is not None)


def _display(value: Any) -> str:
    return value if isinstance(value, str) else compact(value)


_TYPE_NAMES = [
    ("null", "null"), ("boolean", "a boolean"), ("integer", "an integer"), ("number", "numeric"),
    ("string", "a string"), ("array", "an array"), ("object", "an object"),
]


def _type_reason(types: Any) -> str:
    wanted = {types} if isinstance(types, str) else set(types)
    names = [text for name, text in _TYPE_NAMES if name in wanted]
    return f"must be {names[0]}" if len(names) == 1 else "must be one of: " + ", ".join(names)


def _reasons(error: SchemaError) -> Iterator[tuple[str, str | None, list[str]]]:
    """(reason, missing property, extra path) for one jsonschema error, worded as the Swift validator words it."""
    keyword, argument, instance = error.validator, cast(Any, error.validator_value), cast(Any, error.instance)
    if keyword == "required" and isinstance(instance, Mapping):
        for name in argument:
            if name not in instance:
                yield ("is required", str(name), [])
        return
    if keyword == "dependencies" and isinstance(instance, Mapping):
        for name, needed in argument.items():
            if name in instance and isinstance(needed, list):
                for missing in needed:
                    if missing not in instance:
                        yield (f"is required when {name} is present", str(missing), [])
        return
    if keyword == "additionalProperties" and isinstance(instance, Mapping):
        schema = error.schema if isinstance(error.schema, Mapping) else {}
        declared = set(schema.get("properties", {}))
        patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
        for name in instance:
            if name not in declared and not any(p.search(name) for p in patterns):
                yield ("is not allowed", None, [str(name)])
        return
    simple: dict[str, Callable[[], str]] = {
        "type": lambda: _type_reason(argument),
        "enum": lambda: "must be one of: " + ", ".join(_display(v) for v in argument),
        "const": lambda: f"must be {_display(argument)}",
        "minimum": lambda: f"must be at least {_display(argument)}",
        "exclusiveMinimum": lambda: f"must be greater than {_display(argument)}",
        "maximum": lambda: f"must be at most {_display(argument)}",
        "exclusiveMaximum": lambda: f"must be less than {_display(argument)}",
        "multipleOf": lambda: f"must be a multiple of {_display(argument)}",
        "minLength": lambda: f"must be at least {argument} characters long",
        "maxLength": lambda: f"must be at most {argument} characters long",
        "pattern": lambda: f"must match pattern {argument}",
        "format": lambda: f"must be a valid {argument}",
        "minItems": lambda: f"must have at least {argument} items",
        "maxItems": lambda: f"must have at most {argument} items",
        "uniqueItems": lambda: "must not contain duplicate items",
        "contains": lambda: "must contain at least one matching item",
        "minProperties": lambda: f"must have at least {argument} properties",
        "maxProperties": lambda: f"must have at most {argument} properties",
        "anyOf": lambda: "must match at least one of the allowed schemas",
        "oneOf": lambda: "must match exactly one of the allowed schemas",
        "not": lambda: "must not match the disallowed schema",
        "false": lambda: "is not allowed",
    }
    reason = simple.get(str(keyword))
    yield (reason() if reason else error.message, None, [])


def summarize(errors: Iterable[SchemaError]) -> ValidationError | None:
    """The `validation_error` for schema errors, as the Swift router reports them: missing fields,
    and each failing field once with its first reason; `$` names the payload itself."""
    missing: list[str] = []
    invalid: list[tuple[str, str]] = []
    seen: set[str] = set()
    for error in sorted(errors, key=lambda e: list(map(str, e.absolute_path))):
        for reason, missing_name, extra in _reasons(error):
            parts = [str(p) for p in error.absolute_path] + extra + ([missing_name] if missing_name else [])
            name = ".".join(parts) if parts else "$"
            if name in seen:
                continue
            seen.add(name)
            if missing_name is not None:
                missing.append(name)
            else:
                invalid.append((name, reason))
    return ValidationError(missing, invalid) if missing or invalid else None


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


CREDENTIAL_NAMES = (
    "api_key", "apikey", "api_secret", "secret", "secret_key", "client_secret", "password", "passwd",
    "token", "access_token", "refresh_token", "private_key", "authorization",
)


def _normalize(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")


_EXACT_CREDENTIALS = {_normalize(n) for n in CREDENTIAL_NAMES}
_SUFFIX_CREDENTIALS = [n for n in _EXACT_CREDENTIALS if len(n) >= 6]


def is_credential_name(name: str) -> bool:
    """Whether a member name is named like a credential (compared without case, `_` or `-`; a name of
    six letters or more also matches as a suffix: `db_password`, but not `base_token`)."""
    normalized = _normalize(name)
    return normalized in _EXACT_CREDENTIALS or any(normalized.endswith(n) for n in _SUFFIX_CREDENTIALS)


def credential_fields(value: Any, path: Sequence[str] = ()) -> list[tuple[str, str]]:
    """Every member named like a credential, by its dotted path."""
    found: list[tuple[str, str]] = []
    if isinstance(value, Mapping):
        for key, member in value.items():
            here = [*path, str(key)]
            if is_credential_name(str(key)):
                found.append((".".join(here), "credentials are not allowed in messages"))
            else:
                found.extend(credential_fields(member, here))
    elif isinstance(value, list):
        for index, element in enumerate(value):
            found.extend(credential_fields(element, [*path, str(index)]))
    return found


TOPIC_MESSAGE_MEMBERS = frozenset({"topic", "timestamp", "data", "metadata"})


def is_event_time(text: str) -> bool:
    """An ISO 8601 date-time: RFC 3339, or without offset as Python's `isoformat()` writes it (read as UTC)."""
    return is_rfc3339(text) or (len(text) >= 19 and text[-1:].isdigit() and is_rfc3339(text + "Z"))


@dataclass(frozen=True)
class CheckedPayload:
    """A payload that passed every publish-time check."""

    channel: str
    payload: dict[str, Any]
    contract: Contract | None
    policy: Policy
    size_bytes: int
    event_time: str | None = None
    message_metadata: Mapping[str, Any] | None = None

    @property
    def schema_id(self) -> str:
        """The envelope's `schema` member; empty without a contract."""
        return self.contract.id if self.contract else ""


class PayloadGuard:
    """The publish-time checks, in the Swift router's order (docs/contracts.md, "Publish-time checks")."""

    def __init__(self, registry: ContractRegistry, allow_unknown_channels: bool = False) -> None:
        self.registry = registry
        self.allow_unknown_channels = allow_unknown_channels

    def resolve(self, channel: str) -> tuple[Contract | None, Policy]:
        """The contract and policy for a channel; `unknown_channel` when none covers it."""
        check_channel_name(channel)
        contract = self.registry.contract(channel)
        if contract is not None:
            return contract, contract.policy
        if not self.allow_unknown_channels:
            raise UnknownChannel(channel)
        return None, Policy.defaults(channel)

    def check(self, channel: str, payload: Any) -> CheckedPayload:
        """Runs every check on `payload` for `channel`; raises the refusal the router would."""
        contract, policy = self.resolve(channel)
        size = len(compact(payload).encode("utf-8"))
        self._check_size(size, policy, channel)
        if isinstance(payload, Mapping) and "topic" in payload and set(payload) <= TOPIC_MESSAGE_MEMBERS:
            return self._check_topic_message(channel, payload, contract, policy)
        if not isinstance(payload, Mapping):
            raise ValidationError(invalid=[("$", "the payload must be a JSON object")])
        credentials = credential_fields(payload)
        if credentials:
            raise ValidationError(invalid=credentials)
        if contract is not None:
            contract.validate(payload)
        return CheckedPayload(channel, dict(payload), contract, policy, size)

    def _check_topic_message(
        self, channel: str, message: Mapping[str, Any], contract: Contract | None, policy: Policy
    ) -> CheckedPayload:
        missing: list[str] = []
        invalid: list[tuple[str, str]] = []
        if message.get("topic") != channel:
            invalid.append(("topic", f"must be the channel the message is published to, '{channel}'"))
        timestamp = message.get("timestamp")
        if "timestamp" not in message:
            missing.append("timestamp")
        elif not (isinstance(timestamp, str) and is_event_time(timestamp)):
            invalid.append(("timestamp", "must be an ISO 8601 date-time"))
        data = message.get("data")
        if "data" not in message:
            missing.append("data")
        elif not isinstance(data, Mapping):
            invalid.append(("data", "must be a JSON object"))
        metadata = message.get("metadata")
        if metadata is not None and not isinstance(metadata, Mapping):
            invalid.append(("metadata", "must be a JSON object"))
        if missing or invalid:
            raise ValidationError(missing, invalid)
        assert isinstance(data, Mapping) and isinstance(timestamp, str)
        inner = self.check(channel, dict(data))
        return CheckedPayload(
            channel, inner.payload, contract, policy, inner.size_bytes, event_time=timestamp,
            message_metadata=dict(metadata) if isinstance(metadata, Mapping) else None,
        )

    @staticmethod
    def _check_size(size: int, policy: Policy, channel: str) -> None:
        if size > policy.max_size_bytes:
            raise PayloadTooLarge(
                "payload_too_large",
                f"the payload has {size} bytes; channel '{channel}' accepts at most {policy.max_size_bytes}",
                {"size_bytes": size, "max_size_bytes": policy.max_size_bytes},
            )

    @staticmethod
    def check_metadata(metadata: Mapping[str, Any], checked: CheckedPayload) -> None:
        """At most 8 KiB of metadata (trace context left out), no credential field, and the payload
        and metadata within the channel's `max_size_bytes` together."""
        counted = {k: v for k, v in metadata.items() if k not in ("traceparent", "tracestate")}
        size = len(compact(counted).encode("utf-8")) if counted else 0
        if size > MAX_METADATA_BYTES:
            raise PayloadTooLarge(
                "payload_too_large",
                f"the metadata has {size} bytes; metadata may have at most {MAX_METADATA_BYTES}",
                {"metadata_size_bytes": size, "max_metadata_bytes": MAX_METADATA_BYTES},
            )
        if checked.size_bytes + size > checked.policy.max_size_bytes:
            raise PayloadTooLarge(
                "payload_too_large",
                f"the payload and metadata have {checked.size_bytes + size} bytes together; "
                f"channel '{checked.channel}' accepts at most {checked.policy.max_size_bytes}",
                {"size_bytes": checked.size_bytes, "metadata_size_bytes": size, "max_size_bytes": checked.policy.max_size_bytes},
            )
        credentials = credential_fields(metadata, ["metadata"])
        if credentials:
            raise ValidationError(invalid=credentials)

