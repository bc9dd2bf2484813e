#!/usr/bin/env python3
"""REC.IO on Switchyard: price watchdog -> trade manager -> a browser's live view.

    python3 examples/recio.py --gateway http://127.0.0.1:8080 --redis redis://127.0.0.1:6379

Written the way REC.IO's seed documents write their services (seed 000's message contracts, seed
002's `RedisEventRouter`), with no Switchyard library: plain HTTP to the gateway, plain redis-py to
Redis, and a WebSocket as the browser's `live-data.js` would open it.

- `BTCPriceWatchdog` publishes seed 000's `market_data:btc_price` messages whole
  (`{"topic","timestamp","data","metadata"}`) to `POST /v1/publish`, and caches the current price
  under `cache:prices:btc:current` with `PUT /v1/state/...` (60 s, seed 002's TTL).
- When the price crosses the entry level it places seed 000's `trades:new_order`; the HTTP
  retry of that publish (same `Idempotency-Key`) is stored once.
- `TradeManager` consumes `trades:*` in the consumer group `trade_manager_consumer` straight on
  Redis (`XREADGROUP` on `stream:{CHANNEL}`, as seed 002's `subscribe_with_checkpointing`), with
  seed 002's `is_event_processed` / `mark_event_processed` dedup on `event_id`. It "crashes" once
  before acking; the entry is reclaimed with `XAUTOCLAIM` and the dedup mark keeps it from being
  handled twice. Each new order it handles is filled: `trades:order_filled`, seed 000's message.
- `LiveDataClient` follows `market_data:btc_price` and `trades:*` over `/v1/ws` as the frontend
  would instead of polling every 5 s, drops its connection halfway, and resumes from the last
  sequence number it saw per channel.

Prints one JSON object (see `main`) and exits 0 when every check holds, 1 otherwise.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import time
import urllib.error
import urllib.request
import uuid
from typing import Any, AsyncIterator, Callable, Optional, cast

import redis
import websockets

Message = dict[str, Any]


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Gateway:
    """The few HTTP calls REC.IO's services make to Switchyard's gateway."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")

    def request(self, method: str, path: str, body: Optional[Message] = None,
                headers: Optional[dict[str, str]] = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def publish(self, message: Message, idempotency_key: Optional[str] = None) -> Message:
        """Publishes a whole seed-000 message; its topic names the channel."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        status, receipt = self.request("POST", "/v1/publish", message, headers)
        if status not in (200, 201):
            raise RuntimeError(f"publish refused ({status}): {receipt}")
        return cast(Message, receipt)

    def set_state(self, key: str, value: Message) -> Message:
        status, answer = self.request("PUT", f"/v1/state/{key}", value)
        if status not in (200, 201):
            raise RuntimeError(f"state refused ({status}): {answer}")
        return cast(Message, answer)


class BTCPriceWatchdog:
    """btc_price_watchdog: publishes each tick, caches the latest, and places an order on a breakout."""

    ENTRY_LEVEL = 43_300.0

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.orders_placed: list[str] = []
        self.duplicate_retries = 0

    def update_price(self, price: float, sequence_id: int) -> None:
        price_data = {"symbol": "BTC-USD", "price": price, "volume": 1250.75, "change_24h": 2.5, "source": "coinbase_api"}
        self.gateway.publish({
            "topic": "market_data:btc_price", "timestamp": utc_now(), "data": price_data,
            "metadata": {"sequence_id": sequence_id, "version": "1.0"},
        })
        self.gateway.set_state("cache:prices:btc:current", {**price_data, "timestamp": utc_now()})
        if price >= self.ENTRY_LEVEL and not self.orders_placed:
            self.place_order(price)

    def place_order(self, price: float) -> None:
        order_id = f"ord_{uuid.uuid4().hex[:6]}"
        order = {
            "topic": "trades:new_order", "timestamp": utc_now(),
            "data": {"order_id": order_id, "user_id": "user_0001", "market_id": "BTC-2025-01-31", "side": "buy",
                     "quantity": 10, "price": 0.65, "order_type": "limit", "status": "pending"},
            "metadata": {"source": "btc_price_watchdog", "session_id": "sess_789", "trigger_price": price},
        }
        first = self.gateway.publish(order, idempotency_key=order_id)
        # The HTTP call is retried, as a service does after a timeout: stored once.
        again = self.gateway.publish(order, idempotency_key=order_id)
        if again["duplicate"] and again["event_id"] == first["event_id"]:
            self.duplicate_retries += 1
        self.orders_placed.append(order_id)


class TradeManager:
    """trade_manager: the `trades:*` consumer group, straight on Redis, with event-id dedup."""

    GROUP = "trade_manager_consumer"

    def __init__(self, client: redis.Redis, gateway: Gateway, consumer: str = "trade_manager-1") -> None:
        self.redis = client
        self.gateway = gateway
        self.consumer = consumer
        self.handled: list[tuple[str, int]] = []
        self.skipped_duplicates = 0

    def streams(self) -> list[str]:
        """The `trades:*` channels Switchyard has stored, from its channel registry."""
        channels = sorted(name.decode() for name in self.redis.sscan_iter("switchyard:channels", match="trades:*"))
        for channel in channels:
            try:
                self.redis.xgroup_create(f"stream:{{{channel}}}", self.GROUP, id="0", mkstream=True)
            except redis.ResponseError as error:
                if "BUSYGROUP" not in str(error):
                    raise
        return [f"stream:{{{channel}}}" for channel in channels]

    def is_event_processed(self, event_id: str) -> bool:
        return bool(self.redis.exists(f"processed:{self.GROUP}:{event_id}"))

    def mark_event_processed(self, event_id: str) -> None:
        self.redis.set(f"processed:{self.GROUP}:{event_id}", 1, ex=86_400)

    def handle_trade_event(self, event: Message) -> None:
        if self.is_event_processed(event["event_id"]):
            self.skipped_duplicates += 1
            return
        self.handled.append((event["topic"], event["sequence_number"]))
        if event["topic"] == "trades:new_order":
            order = event["data"]
            self.gateway.publish({
                "topic": "trades:order_filled", "timestamp": utc_now(),
                "data": {"order_id": order["order_id"], "fill_id": f"fill_{order['order_id'][4:]}",
                         "filled_quantity": order["quantity"], "filled_price": order["price"],
                         "fill_time": utc_now(), "commission": 0.10},
                "metadata": {"user_id": order["user_id"], "pnl_impact": 6.50},
            })
        self.mark_event_processed(event["event_id"])

    def poll(self, crash_before_ack: bool = False) -> int:
        """One `XREADGROUP` round; with `crash_before_ack`, handles the first entry and dies unacked."""
        streams = self.streams()
        if not streams:
            return 0
        replies = cast(
            list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]],
            self.redis.xreadgroup(self.GROUP, self.consumer, {key: ">" for key in streams}, count=10, block=500))
        count = 0
        for stream, entries in replies or []:
            for entry_id, fields in entries:
                event = json.loads(fields[b"envelope"])
                self.handle_trade_event(event)
                count += 1
                if crash_before_ack:
                    return count
                self.redis.xack(stream, self.GROUP, entry_id)
        return count

    def reclaim(self, min_idle_ms: int = 0) -> int:
        """Takes over entries another consumer left pending, as a restarted manager does."""
        reclaimed = 0
        for stream in self.streams():
            _, entries, _ = cast(
                tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]], list[bytes]],
                self.redis.xautoclaim(stream, self.GROUP, self.consumer, min_idle_time=min_idle_ms, start_id="0-0"))
            for entry_id, fields in entries:
                self.handle_trade_event(json.loads(fields[b"envelope"]))
                self.redis.xack(stream, self.GROUP, entry_id)
                reclaimed += 1
        return reclaimed


class LiveDataClient:
    """The browser's live view: `/v1/ws` with resume instead of `setInterval(fetchCore, 5000)`."""

    def __init__(self, url: str, patterns: list[str], channels: list[str]) -> None:
        self.url = url
        self.patterns = patterns
        self.channels = channels
        self.seen: dict[str, list[int]] = {}
        self.shapes_ok = True

    async def frames(self, ws: Any) -> AsyncIterator[Message]:
        async for text in ws:
            frame = json.loads(text)
            if frame.get("type") == "error":
                raise RuntimeError(f"error frame: {frame['error']}")
            if frame.get("type") != "heartbeat":
                yield frame

    def take(self, envelope: Message) -> None:
        # What a consumer written against seed 000 reads.
        if not all(key in envelope for key in ("topic", "timestamp", "data", "metadata")):
            self.shapes_ok = False
        self.seen.setdefault(envelope["topic"], []).append(envelope["sequence_number"])

    async def follow(self, until: Callable[[], bool], resume: Optional[dict[str, int]] = None) -> None:
        async with websockets.connect(self.url, max_size=None) as ws:
            await ws.send(json.dumps({"type": "subscribe", "patterns": self.patterns, "resume": resume or {}}))
            async for frame in self.frames(ws):
                if frame["type"] == "event":
                    self.take(frame["envelope"])
                if frame["type"] in ("event", "subscribed") and until():
                    return

    def resume_point(self) -> dict[str, int]:
        """The last sequence number seen per channel; 0 for a known channel not seen yet, so that
        what it published while the page was away is sent too."""
        point = {channel: 0 for channel in self.channels}
        point.update({channel: numbers[-1] for channel, numbers in self.seen.items() if numbers})
        return point

    def total(self) -> int:
        return sum(len(numbers) for numbers in self.seen.values())


async def run(gateway_url: str, redis_url: str, ticks: int) -> Message:
    gateway = Gateway(gateway_url)
    client: redis.Redis = redis.Redis.from_url(redis_url)
    ws_url = gateway_url.replace("http", "ws", 1).rstrip("/") + "/v1/ws"
    watchdog = BTCPriceWatchdog(gateway)
    manager = TradeManager(client, gateway)
    browser = LiveDataClient(
        ws_url, ["market_data:btc_price", "trades:*"], ["market_data:btc_price", "trades:new_order", "trades:order_filled"])

    # The browser is open before the first tick; it leaves after the first half of the ticks.
    half = ticks // 2
    subscribed = asyncio.Event()

    def first_half_seen() -> bool:
        subscribed.set()
        return len(browser.seen.get("market_data:btc_price", [])) >= half

    follow = asyncio.create_task(browser.follow(first_half_seen))
    await subscribed.wait()
    prices = [43_250.50 + 25 * n for n in range(ticks)]
    for n, price in enumerate(prices[:half]):
        await asyncio.to_thread(watchdog.update_price, price, 12_345 + n)
    await asyncio.wait_for(follow, 60)
    for n, price in enumerate(prices[half:], start=half):
        await asyncio.to_thread(watchdog.update_price, price, 12_345 + n)

    # The trade manager handles the order, crashing once before its ack; a restart reclaims it.
    deadline = time.monotonic() + 30
    while not manager.handled and time.monotonic() < deadline:
        await asyncio.to_thread(manager.poll, True)
    reclaimed = await asyncio.to_thread(manager.reclaim)
    while time.monotonic() < deadline and len(manager.handled) < 2:
        await asyncio.to_thread(manager.poll)

    # Back online: the browser resumes where it left and catches up, fills included.
    expected = ticks + 2
    await asyncio.wait_for(browser.follow(lambda: browser.total() >= expected, resume=browser.resume_point()), 60)

    cached = client.get("cache:prices:btc:current")
    cache_ttl = client.ttl("cache:prices:btc:current")
    gap_free = all(numbers == list(range(numbers[0], numbers[0] + len(numbers))) for numbers in browser.seen.values())
    report: Message = {
        "ticks": ticks,
        "orders_placed": len(watchdog.orders_placed),
        "duplicate_retries_stored_once": watchdog.duplicate_retries,
        "handled": [f"{topic}#{sequence}" for topic, sequence in manager.handled],
        "reclaimed": reclaimed,
        "skipped_duplicates": manager.skipped_duplicates,
        "browser": {channel: numbers for channel, numbers in sorted(browser.seen.items())},
        "browser_gap_free": gap_free,
        "browser_shapes_ok": browser.shapes_ok,
        "cache_price": json.loads(cached)["price"] if cached else None,
        "cache_ttl": cache_ttl,
    }
    report["ok"] = bool(
        report["orders_placed"] == 1 and report["duplicate_retries_stored_once"] == 1
        and len(manager.handled) == 2 and reclaimed == 1 and manager.skipped_duplicates == 1
        and gap_free and browser.shapes_ok and browser.total() == expected
        and report["cache_price"] == prices[-1] and 0 < cache_ttl <= 60
    )
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--gateway", required=True, help="the gateway's base URL, http://HOST:PORT")
    parser.add_argument("--redis", required=True, help="the Redis the gateway runs on, redis://HOST:PORT")
    parser.add_argument("--ticks", type=int, default=10, help="BTC price ticks to publish")
    args = parser.parse_args()
    report = asyncio.run(run(args.gateway, args.redis, args.ticks))
    print(json.dumps(report))
    raise SystemExit(0 if report["ok"] else 1)


if __name__ == "__main__":
    main()
