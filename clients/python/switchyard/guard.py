"""The publish-time checks, in the Swift router's order (docs/contracts.md, "Publish-time checks"):
a contract covers the channel, the size, a JSON object (or a whole REC.IO message), no credential
field at any depth, the schema; and the envelope metadata's own limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from .contracts import MAX_METADATA_BYTES, Contract, ContractRegistry, Policy, check_channel_name, compact
from .errors import PayloadTooLarge, UnknownChannel, ValidationError
from .schema_errors import is_rfc3339


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
