"""The attacks of the security review, replayed against a running `switchyard serve`.

scripts/api-fuzz runs this after schemathesis, against the same server (started with
`--allow-anonymous-publish`, so only the checks under test stand between a caller and the router):

- cross-origin: a WebSocket handshake and a POST from another site's Origin are refused, and the
  POST stores nothing;
- content type: a `text/plain` (form-like) POST without Origin is refused with 415 and stores nothing;
- DNS rebinding: a request whose Host is another site's name is refused with 403;
- pattern flood: a WebSocket subscription with more patterns than a session may hold is refused
  with an error frame, the session stays usable, and the server keeps answering;
- forged channel (with --redis): an envelope published straight to another channel's Pub/Sub
  channel, naming a channel it was not published on with the next sequence number, never reaches
  a subscriber, and the real event with that number does.

Usage: python3 scripts/api_attacks.py --port PORT [--redis URL]
Exits 0 when every attack failed to reach anything, 1 naming each that did not.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import socket
import sys
import time
import uuid
from typing import Any

CHANNEL = "trades:order_filled"
FILL = {
    "order_id": "ord_attack", "fill_id": "fill_attack", "filled_quantity": 1, "filled_price": 0.5,
    "fill_time": "2026-01-27T10:30:03Z", "commission": 0.01,
}


def http(port: int, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, bytes]:
    """One request on a fresh connection, every header as given (Host included)."""
    lines = [f"{method} {path} HTTP/1.1", "Connection: close", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    with socket.create_connection(("127.0.0.1", port), timeout=20) as connection:
        connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        data = b""
        while chunk := connection.recv(65536):
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), rest


class WebSocket:
    """A minimal client: masked text frames out, unmasked text and close frames in."""

    def __init__(self, port: int, headers: dict[str, str] | None = None) -> None:
        self.socket = socket.create_connection(("127.0.0.1", port), timeout=20)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            "GET /v1/ws HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket", "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13",
        ] + [f"{name}: {value}" for name, value in (headers or {}).items()]
        self.socket.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.socket.recv(1)
            if not chunk:
                break
            head += chunk
        self.status = int(head.split(b" ")[1]) if head else 0
        self.buffer = b""

    def send(self, value: Any) -> None:
        payload = json.dumps(value).encode()
        mask = os.urandom(4)
        header = bytes([0x81])
        if len(payload) < 126:
            header += bytes([0x80 | len(payload)])
        elif len(payload) <= 0xFFFF:
            header += bytes([0x80 | 126]) + len(payload).to_bytes(2, "big")
        else:
            header += bytes([0x80 | 127]) + len(payload).to_bytes(8, "big")
        self.socket.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def frame(self, timeout: float) -> dict[str, Any] | None:
        """The next text frame that is not a heartbeat; None on timeout or close."""
        deadline = time.monotonic() + timeout
        while True:
            parsed = self._parse()
            if parsed is not None:
                opcode, payload = parsed
                if opcode == 0x8:
                    return None
                if opcode == 0x1:
                    value: dict[str, Any] = json.loads(payload)
                    if value.get("type") != "heartbeat":
                        return value
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.socket.settimeout(remaining)
            try:
                chunk = self.socket.recv(65536)
            except socket.timeout:
                return None
            if not chunk:
                return None
            self.buffer += chunk

    def _parse(self) -> tuple[int, bytes] | None:
        if len(self.buffer) < 2:
            return None
        opcode, length, offset = self.buffer[0] & 0x0F, self.buffer[1] & 0x7F, 2
        if length == 126:
            if len(self.buffer) < 4:
                return None
            length, offset = int.from_bytes(self.buffer[2:4], "big"), 4
        elif length == 127:
            if len(self.buffer) < 10:
                return None
            length, offset = int.from_bytes(self.buffer[2:10], "big"), 10
        if len(self.buffer) < offset + length:
            return None
        payload = self.buffer[offset:offset + length]
        self.buffer = self.buffer[offset + length:]
        return opcode, payload

    def close(self) -> None:
        self.socket.close()


def stored(port: int, host: str) -> int:
    status, body = http(port, "GET", f"/v1/replay?channel={CHANNEL}&since=1&limit=10000", {"Host": host})
    assert status == 200, (status, body[:200])
    return len(json.loads(body)["events"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis", default="")
    args = parser.parse_args()
    port, host = args.port, f"127.0.0.1:{args.port}"
    failures: list[str] = []

    def check(condition: bool, what: str) -> None:
        print(("ok      " if condition else "FAILED  ") + what, flush=True)
        if not condition:
            failures.append(what)

    body = json.dumps(FILL).encode()
    before = stored(port, host)

    # Cross-origin.
    socket_ = WebSocket(port, {"Origin": "https://evil.example"})
    check(socket_.status not in (0, 101), f"a cross-origin WebSocket handshake is refused (status {socket_.status})")
    socket_.close()
    status, _ = http(port, "POST", f"/v1/channels/{CHANNEL}/events",
                     {"Host": host, "Origin": "https://evil.example", "Content-Type": "application/json"}, body)
    check(status == 403, f"a cross-origin POST is refused with 403 (got {status})")

    # Content type.
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {"Host": host} | ({"Content-Type": content_type} if content_type else {})
        status, _ = http(port, "POST", f"/v1/channels/{CHANNEL}/events", headers, body)
        check(status == 415, f"a POST with content type {content_type} is refused with 415 (got {status})")
    check(stored(port, host) == before, "nothing a refused request sent was stored")

    # DNS rebinding.
    for name in ("evil.example", f"evil.example:{port}"):
        status, _ = http(port, "GET", "/v1/channels", {"Host": name})
        check(status == 403, f"Host {name} is refused with 403 (got {status})")

    # Pattern flood.
    flood = WebSocket(port)
    flood.send({"type": "subscribe", "patterns": [f"flood:{i}:*" for i in range(10_000)], "id": "flood"})
    reply = flood.frame(30)
    check(reply is not None and reply.get("type") == "error", f"10,000 patterns on one session are refused ({reply and reply.get('type')})")
    flood.send({"type": "subscribe", "patterns": [CHANNEL], "id": "after"})
    reply = flood.frame(30)
    check(reply is not None and reply.get("type") == "subscribed", "the session is still usable after the refusal")
    flood.close()
    status, _ = http(port, "GET", "/healthz", {"Host": host})
    check(status == 200, "the server still answers /healthz")

    # Forged channel.
    if args.redis:
        import redis  # the test virtualenv's redis-py

        client = redis.Redis.from_url(args.redis)
        watcher = WebSocket(port)
        watcher.send({"type": "subscribe", "patterns": ["*"], "id": "all"})
        reply = watcher.frame(30)
        check(reply is not None and reply.get("type") == "subscribed", "a subscriber of * is live")
        last = int(client.get("seq:{" + CHANNEL + "}") or 0)
        forged = {
            "event_id": str(uuid.uuid4()), "channel": CHANNEL, "sequence_number": last + 1,
            "timestamp": "2026-01-27T10:30:05.000Z", "source": "forger", "schema": "", "data": {"forged": True},
            "metadata": {},
        }
        client.publish("market_data:btc_price", json.dumps(forged))
        status, _ = http(port, "POST", f"/v1/channels/{CHANNEL}/events", {"Host": host, "Content-Type": "application/json"}, body)
        check(status == 201, f"the real publish is stored (got {status})")
        got: list[dict[str, Any]] = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(f["envelope"]["source"] != "forger" for f in got):
            frame = watcher.frame(deadline - time.monotonic())
            if frame is None:
                break
            if frame.get("type") == "event" and frame["envelope"]["channel"] == CHANNEL:
                got.append(frame)
        check(all(f["envelope"]["source"] != "forger" for f in got), "the forged envelope reached no subscriber")
        check(any(f["envelope"]["sequence_number"] == last + 1 and f["envelope"]["data"] == FILL for f in got),
              "the real event with that sequence number was delivered")
        watcher.close()

    print(f"{len(failures)} of the attacks reached something" if failures else "every attack was refused", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
