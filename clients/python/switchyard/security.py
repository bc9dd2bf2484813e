"""Signed events on critical channels and sealed sensitive fields (docs/security.md).

Both follow the Swift router byte for byte: the same canonical JSON and HMAC-SHA256 for
signatures, the same AES-256-GCM layout and additional data for sealed fields, so each side opens
and verifies what the other wrote. Sealing needs the `cryptography` package
(`pip install './clients/python[crypto]'`); signing needs only the standard library.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from .errors import EncryptionKeyRequired, SwitchyardError

SIGNATURE_DOMAIN = b"switchyard-signature-v1\n"
SEAL_DOMAIN = "switchyard-seal-v1\n"
SEAL_ALGORITHM = "AES-256-GCM"
SIGNATURE_ALGORITHM = "HMAC-SHA256"
_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass(frozen=True)
class KeyRing:
    """Keys newest first, at most two: the first signs (or seals), either verifies (or opens).

    Read from text as the Swift router reads it: `ID:BASE64` per line or separated by commas,
    blank lines and `#` comments skipped. Prints its ids only, never a secret.
    """

    keys: tuple[tuple[str, bytes], ...]

    @staticmethod
    def parse(text: str, *, purpose: str = "signing", origin: str = "keys") -> KeyRing:
        """Keys from text; `purpose` is `signing` (secrets of 32 bytes or more) or `encryption` (exactly 32)."""
        keys: list[tuple[str, bytes]] = []
        entries = [e.strip() for line in text.splitlines() for e in line.split(",")]
        for number, entry in enumerate((e for e in entries if e and not e.startswith("#")), start=1):
            key_id, separator, secret = entry.partition(":")
            if not separator or not _KEY_ID.match(key_id):
                raise ValueError(f"{origin}, entry {number}: not ID:BASE64 with an id of 1 to 64 of A-Z a-z 0-9 . _ -")
            try:
                raw = base64.b64decode(secret, validate=True)
            except binascii.Error:
                raise ValueError(f"{origin}, entry {number}: the secret of key '{key_id}' is not base64") from None
            if purpose == "encryption" and len(raw) != 32:
                raise ValueError(f"{origin}, entry {number}: an encryption secret has exactly 32 bytes")
            if purpose == "signing" and len(raw) < 32:
                raise ValueError(f"{origin}, entry {number}: a signing secret has at least 32 bytes")
            keys.append((key_id, raw))
        if not keys:
            raise ValueError(f"{origin}: no key")
        if len(keys) > 2:
            raise ValueError(f"{origin}: at most two keys are active at a time")
        return KeyRing(tuple(keys))

    @staticmethod
    def from_file(path: str | os.PathLike[str], *, purpose: str = "signing") -> KeyRing:
        """Keys from a file (mode 0600 recommended)."""
        return KeyRing.parse(Path(path).read_text(encoding="utf-8"), purpose=purpose, origin=str(path))

    @property
    def current(self) -> tuple[str, bytes]:
        """The key that signs or seals."""
        return self.keys[0]

    def secret(self, key_id: str) -> bytes | None:
        """The secret of a key id, when the ring holds it."""
        return next((raw for kid, raw in self.keys if kid == key_id), None)

    @property
    def ids(self) -> list[str]:
        """The key ids, newest first."""
        return [kid for kid, _ in self.keys]

    def __repr__(self) -> str:
        return "KeyRing(" + ", ".join(self.ids) + ")"


def canonical(value: Any) -> str:
    """The canonical JSON text of a value: members sorted by UTF-8 bytes, no whitespace, numbers by value."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 2**63:
            return str(int(value))
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(canonical(item) for item in value) + "]"
    if isinstance(value, Mapping):
        members = sorted(value.items(), key=lambda item: str(item[0]).encode("utf-8"))
        return "{" + ",".join(json.dumps(str(k), ensure_ascii=False) + ":" + canonical(v) for k, v in members) + "}"
    raise TypeError(f"not JSON: {type(value).__name__}")


def signed_bytes(
    *, event_id: str, channel: str, source: str, schema: str, data: Any, metadata: Mapping[str, Any],
    key_id: str, event_time: str | None = None,
) -> bytes:
    """The bytes the MAC covers: the domain line, then the canonical form of the signed members."""
    document: dict[str, Any] = {
        "channel": channel, "data": data, "event_id": event_id, "key_id": key_id,
        "metadata": {k: v for k, v in metadata.items() if k != "signature"}, "schema": schema, "source": source,
    }
    if event_time is not None:
        document["event_time"] = event_time
    return SIGNATURE_DOMAIN + canonical(document).encode("utf-8")


def signature(
    keys: KeyRing, *, event_id: str, channel: str, source: str, schema: str, data: Any,
    metadata: Mapping[str, Any], event_time: str | None = None,
) -> dict[str, str]:
    """The `metadata.signature` member for an event, made with the ring's newest key."""
    key_id, secret = keys.current
    mac = hmac.new(
        secret,
        signed_bytes(event_id=event_id, channel=channel, source=source, schema=schema, data=data,
                     metadata=metadata, key_id=key_id, event_time=event_time),
        hashlib.sha256,
    ).digest()
    return {"alg": SIGNATURE_ALGORITHM, "key_id": key_id, "value": base64.b64encode(mac).decode("ascii")}


def verify(envelope: Mapping[str, Any], keys: KeyRing) -> SwitchyardError | None:
    """`None` when the envelope's signature verifies, else the refusal a Switchyard consumer gives:
    `unsigned_event`, `invalid_signature` or `unknown_signing_key`."""
    metadata = envelope.get("metadata") or {}
    details: dict[str, Any] = {
        "channel": envelope.get("channel"), "event_id": envelope.get("event_id"),
        "sequence_number": envelope.get("sequence_number"),
    }
    found = metadata.get("signature") if isinstance(metadata, Mapping) else None
    if found is None:
        return SwitchyardError(
            "unsigned_event", f"the event on critical channel '{envelope.get('channel')}' carries no signature", details)
    given: bytes | None = None
    if isinstance(found, Mapping) and found.get("alg") == SIGNATURE_ALGORITHM and isinstance(found.get("key_id"), str):
        try:
            given = base64.b64decode(str(found.get("value", "")), validate=True)
        except binascii.Error:
            given = None
    if given is None or len(given) != 32 or not isinstance(found, Mapping):
        return SwitchyardError(
            "invalid_signature",
            'the signature of the event is malformed: {"alg":"HMAC-SHA256","key_id":…,"value":<base64>} is expected',
            details)
    key_id = str(found["key_id"])
    details["key_id"] = key_id
    secret = keys.secret(key_id)
    if secret is None:
        details["known_key_ids"] = keys.ids
        return SwitchyardError(
            "unknown_signing_key", f"the event is signed with key '{key_id}', which this consumer does not hold", details)
    expected = hmac.new(
        secret,
        signed_bytes(event_id=str(envelope["event_id"]), channel=str(envelope["channel"]), source=str(envelope.get("source", "")),
                     schema=str(envelope.get("schema", "")), data=envelope.get("data"), metadata=metadata,
                     key_id=key_id, event_time=envelope.get("event_time")),
        hashlib.sha256,
    ).digest()
    if not hmac.compare_digest(expected, given):
        return SwitchyardError(
            "invalid_signature",
            "the signature does not match the event: it was changed after it was signed, or signed with another secret",
            details)
    return None


def _aad(event_id: str, channel: str, path: str) -> bytes:
    return f"{SEAL_DOMAIN}{event_id}\n{channel}\n{path}".encode("utf-8")


def _aesgcm(secret: bytes) -> Any:
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError:  # pragma: no cover - depends on the installation
        raise EncryptionKeyRequired(
            "encryption_key_required",
            "sealed fields need the cryptography package: pip install './clients/python[crypto]'") from None
    return AESGCM(secret)


def _get(value: Any, path: Sequence[str]) -> Any:
    for name in path:
        if not isinstance(value, Mapping) or name not in value:
            return None
        value = value[name]
    return value


def _replace(value: Any, path: Sequence[str], replacement: Any) -> Any:
    if not path:
        return replacement
    if not isinstance(value, Mapping) or path[0] not in value:
        return value
    copy = dict(value)
    copy[path[0]] = _replace(value[path[0]], path[1:], replacement)
    return copy


def seal(data: Any, fields: Sequence[str], *, keys: KeyRing, event_id: str, channel: str) -> tuple[Any, list[str]]:
    """The payload with each listed field that is present sealed, and the paths sealed."""
    key_id, secret = keys.current
    cipher = _aesgcm(secret)
    sealed_paths: list[str] = []
    for path in fields:
        components = path.split(".")
        clear = _get(data, components)
        if clear is None and not _present(data, components):
            continue
        nonce = os.urandom(12)
        box = cipher.encrypt(nonce, json.dumps(clear, separators=(",", ":"), ensure_ascii=False).encode("utf-8"),
                             _aad(event_id, channel, path))
        data = _replace(data, components, {
            "sealed": SEAL_ALGORITHM, "key_id": key_id, "ciphertext": base64.b64encode(nonce + box).decode("ascii"),
        })
        sealed_paths.append(path)
    return data, sealed_paths


def _present(data: Any, path: Sequence[str]) -> bool:
    parent = _get(data, path[:-1])
    return isinstance(parent, Mapping) and path[-1] in parent


def unseal(envelope: dict[str, Any], keys: KeyRing) -> dict[str, Any]:
    """The envelope with every field it can open in clear, `sealed_fields` listing the ones left sealed
    (a key id the ring lacks). Raises `invalid_ciphertext` for a field that does not open with its key."""
    metadata = envelope.get("metadata") or {}
    listed = metadata.get("sealed_fields") if isinstance(metadata, Mapping) else None
    if not isinstance(listed, list):
        return envelope
    data = envelope.get("data")
    still: list[Any] = []
    for path in listed:
        sealed = _get(data, str(path).split("."))
        if not (isinstance(sealed, Mapping) and sealed.get("sealed") == SEAL_ALGORITHM):
            continue
        key_id = str(sealed.get("key_id"))
        secret = keys.secret(key_id)
        if secret is None:
            still.append(path)
            continue
        try:
            combined = base64.b64decode(str(sealed.get("ciphertext")), validate=True)
            clear = json.loads(_aesgcm(secret).decrypt(combined[:12], combined[12:],
                                                       _aad(str(envelope["event_id"]), str(envelope["channel"]), str(path))))
        except SwitchyardError:
            raise
        except Exception:
            raise SwitchyardError(
                "invalid_ciphertext",
                f"sealed field '{path}' does not open with key '{key_id}': it was changed, or moved from another event",
                {"channel": envelope.get("channel"), "event_id": envelope.get("event_id"), "field": path, "key_id": key_id},
            ) from None
        data = _replace(data, str(path).split("."), clear)
    opened = dict(envelope)
    opened["data"] = data
    new_metadata = {k: v for k, v in metadata.items() if k != "sealed_fields"}
    if still:
        new_metadata["sealed_fields"] = still
    opened["metadata"] = new_metadata
    return opened
