#!/usr/bin/env python3
"""Signs and verifies Switchyard envelopes of critical channels (docs/security.md), standard library only.

    python3 signature.py sign KEY_ID BASE64_SECRET < envelope.json     # prints the envelope with metadata.signature
    python3 signature.py verify ID:BASE64[,ID:BASE64] < envelope.json  # prints "ok", or the refusal and exits 1

The test suite (SignatureInteropTests) checks that this script verifies what the Swift router
signs, and that the Swift consumer accepts what this script signs.
"""
import base64
import hashlib
import hmac
import json
import sys

DOMAIN = b"switchyard-signature-v1\n"


def canonical(value):
    """The canonical JSON text of a value: sorted members, no whitespace, numbers by value."""
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
    if isinstance(value, list):
        return "[" + ",".join(canonical(item) for item in value) + "]"
    if isinstance(value, dict):
        members = sorted(value.items(), key=lambda item: item[0].encode("utf-8"))
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + canonical(v) for k, v in members) + "}"
    raise TypeError(f"not JSON: {type(value)}")


def signed_bytes(envelope, key_id):
    metadata = {k: v for k, v in (envelope.get("metadata") or {}).items() if k != "signature"}
    document = {
        "channel": envelope["channel"], "data": envelope["data"], "event_id": envelope["event_id"], "key_id": key_id,
        "metadata": metadata, "schema": envelope["schema"], "source": envelope["source"],
    }
    if "event_time" in envelope:
        document["event_time"] = envelope["event_time"]
    return DOMAIN + canonical(document).encode("utf-8")


def sign(envelope, key_id, secret):
    mac = hmac.new(secret, signed_bytes(envelope, key_id), hashlib.sha256).digest()
    envelope.setdefault("metadata", {})["signature"] = {
        "alg": "HMAC-SHA256", "key_id": key_id, "value": base64.b64encode(mac).decode("ascii"),
    }
    return envelope


def verify(envelope, keys):
    """Returns None when the signature verifies, else the error_type a Switchyard consumer would give."""
    signature = (envelope.get("metadata") or {}).get("signature")
    if signature is None:
        return "unsigned_event"
    if not isinstance(signature, dict) or signature.get("alg") != "HMAC-SHA256":
        return "invalid_signature"
    secret = keys.get(signature.get("key_id"))
    if secret is None:
        return "unknown_signing_key"
    expected = hmac.new(secret, signed_bytes(envelope, signature["key_id"]), hashlib.sha256).digest()
    try:
        given = base64.b64decode(signature.get("value", ""), validate=True)
    except ValueError:
        return "invalid_signature"
    return None if hmac.compare_digest(expected, given) else "invalid_signature"


def main():
    envelope = json.load(sys.stdin)
    if sys.argv[1] == "sign":
        print(json.dumps(sign(envelope, sys.argv[2], base64.b64decode(sys.argv[3])), ensure_ascii=False, separators=(",", ":")))
        return 0
    keys = {}
    for entry in sys.argv[2].split(","):
        key_id, _, secret = entry.partition(":")
        keys[key_id] = base64.b64decode(secret)
    refusal = verify(envelope, keys)
    print(refusal or "ok")
    return 1 if refusal else 0


if __name__ == "__main__":
    sys.exit(main())
