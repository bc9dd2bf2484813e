#!/usr/bin/env python3
"""OPA_Machine on Switchyard: the quotes streamer and its subscriber, unchanged, through the bridge.

    switchyard serve --redis redis://127.0.0.1:6379 --bridge --allow-anonymous-publish &
    python3 examples/opa.py --redis redis://127.0.0.1:6379 --gateway http://127.0.0.1:8080

OPA's services (seed 003) publish with `r.publish('quotes.realtime', json.dumps(message))` and
subscribe with `pubsub.subscribe('quotes.realtime')`. This program is those two services as the
seed writes them, with plain redis-py and nothing of Switchyard:

- `QuotesStreamer` (`opa-quotes-streamer`) publishes quotes on `quotes.realtime`, a heartbeat on
  `system.health` and a score on `capacity.scores`, and one quote that breaks the contract (a
  lower-case ticker);
- `QuotesSubscriber` (`opa-capacity-api`) listens on `quotes.realtime` and reads `data['ticker']`.

Beside them, with nothing changed in either, Switchyard's bridge checks every message against its
contract and stores it: the program then reads what Switchyard kept (`stream:{quotes.realtime}`,
with gap-free sequence numbers, read by a consumer group, and the refused quote in
`dlq:{quotes.realtime}` with seed 000's `validation_error`). Last, a quote published through the gateway (a publisher already moved to
Switchyard) reaches the unchanged subscriber as the bare quote, because OPA's contracts ask for
`"live_message": "payload"`; and seed 003's own integration test runs as written.

Prints one JSON object and exits 0 when every check holds, 1 otherwise.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import urllib.request
from typing import Any, cast

import redis

Message = dict[str, Any]
TICKERS = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL"]


class QuotesSubscriber:
    """opa-capacity-api's listener, as seed 003 writes it."""

    def __init__(self, client: redis.Redis, expected: int) -> None:
        self.pubsub = client.pubsub()
        self.pubsub.subscribe("quotes.realtime")
        self.expected = expected
        self.tickers: list[str] = []
        self.thread = threading.Thread(target=self.listen, daemon=True)

    def listen(self) -> None:
        for msg in self.pubsub.listen():  # type: ignore[no-untyped-call]
            if msg["type"] == "message":
                data = json.loads(msg["data"])
                self.tickers.append(data["ticker"])
                if len(self.tickers) == self.expected:
                    return


class QuotesStreamer:
    """opa-quotes-streamer, as seed 003 writes it."""

    def __init__(self, client: redis.Redis) -> None:
        self.r = client

    def quote(self, ticker: str, price: float) -> Message:
        return {
            "ticker": ticker, "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "price": price, "volume": 45_000_000, "bid": round(price - 0.02, 2), "ask": round(price + 0.02, 2),
            "source": "yfinance",
        }

    def publish_quotes(self) -> None:
        for n, ticker in enumerate(TICKERS):
            self.r.publish("quotes.realtime", json.dumps(self.quote(ticker, 185.50 + n)))
        # A quote the contract refuses: tickers are 1 to 5 capital letters.
        self.r.publish("quotes.realtime", json.dumps(self.quote("aapl", 185.50)))

    def heartbeat(self) -> None:
        self.r.publish("system.health", json.dumps({
            "service": "opa-quotes-streamer", "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "status": "healthy", "details": {"uptime_seconds": 86400, "memory_mb": 256, "cpu_percent": 15.5},
        }))

    def score(self) -> None:
        self.r.publish("capacity.scores", json.dumps({
            "ticker": "AAPL", "timestamp": "2026-01-20T08:00:00.000Z", "score": 78.5, "confidence": 0.92,
            "model_version": "1.0.0", "features_count": 42,
        }))


def stored(client: redis.Redis, channel: str) -> list[Message]:
    entries = cast(list[tuple[bytes, dict[bytes, bytes]]], client.xrange(f"stream:{{{channel}}}"))
    return [json.loads(fields[b"envelope"]) for _, fields in entries]


def wait_for(condition: Any, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


def seed_integration_test(host: str, port: int) -> str:
    """Seed 003's "Test de integración ejemplo", as written (a timeout added so a failure ends)."""
    r = redis.Redis(host=host, port=port)
    pubsub = r.pubsub()
    pubsub.subscribe('quotes.realtime')

    message = {
        "ticker": "AAPL",
        "timestamp": "2026-01-20T14:30:00Z",
        "price": 185.50,
        "volume": 45000000,
        "source": "yfinance"
    }
    r.publish('quotes.realtime', json.dumps(message))

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        msg = pubsub.get_message(timeout=1)
        if msg and msg['type'] == 'message':
            data = json.loads(msg['data'])
            print(f"Received: {data}", file=sys.stderr)
            return str(data['ticker'])
    return ""


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--redis", required=True, help="redis://HOST:PORT, the Redis Switchyard's bridge runs on")
    parser.add_argument("--gateway", required=True, help="the gateway's base URL, http://HOST:PORT")
    args = parser.parse_args()
    client = redis.Redis.from_url(args.redis)

    subscriber = QuotesSubscriber(client, expected=len(TICKERS) + 2)
    subscriber.thread.start()
    streamer = QuotesStreamer(client)
    streamer.publish_quotes()
    streamer.heartbeat()
    streamer.score()

    kept = wait_for(lambda: len(stored(client, "quotes.realtime")) >= len(TICKERS) and client.xlen("dlq:{quotes.realtime}") >= 1)
    quotes = stored(client, "quotes.realtime")
    letters = cast(list[tuple[bytes, dict[bytes, bytes]]], client.xrange("dlq:{quotes.realtime}"))
    refusal = json.loads(letters[0][1][b"error"]) if letters else {}
    wait_for(lambda: bool(stored(client, "system.health")) and bool(stored(client, "capacity.scores")))
    # What the subscriber gains once it moves to a consumer group: every quote, even those sent
    # while it was down, acked one by one.
    client.xgroup_create("stream:{quotes.realtime}", "opa-capacity-api", id="0")
    replies = cast(list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]],
                   client.xreadgroup("opa-capacity-api", "capacity-api-1", {"stream:{quotes.realtime}": ">"}, count=100))
    group_tickers = [json.loads(fields[b"envelope"])["data"]["ticker"] for _, entries in replies for _, fields in entries]
    for _, entries in replies:
        client.xack("stream:{quotes.realtime}", "opa-capacity-api", *[entry_id for entry_id, _ in entries])

    # A publisher moved to Switchyard: the unchanged subscriber still gets the bare quote.
    request = urllib.request.Request(
        args.gateway.rstrip("/") + "/v1/channels/quotes.realtime/events",
        data=json.dumps(streamer.quote("TSLA", 250.0)).encode(), method="POST",
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        receipt = json.loads(response.read())
    subscriber.thread.join(timeout=30)

    host, port = client.connection_pool.connection_kwargs["host"], client.connection_pool.connection_kwargs["port"]
    integration = seed_integration_test(host, int(port))

    report: Message = {
        "subscriber_tickers": subscriber.tickers,
        "stored_sequences": [event["sequence_number"] for event in quotes],
        "stored_tickers": [event["data"]["ticker"] for event in quotes],
        "stored_source": sorted({event["source"] for event in quotes}),
        "refused": {"error_type": refusal.get("error_type"), "invalid_fields": sorted(refusal.get("details", {}).get("invalid_fields", {}))},
        "group_tickers": group_tickers,
        "health_stored": len(stored(client, "system.health")),
        "scores_stored": len(stored(client, "capacity.scores")),
        "gateway_receipt_sequence": receipt.get("sequence_number"),
        "seed_integration_test_ticker": integration,
    }
    report["ok"] = bool(
        kept
        and subscriber.tickers == TICKERS + ["aapl", "TSLA"]
        and report["stored_tickers"][: len(TICKERS)] == TICKERS
        and report["stored_sequences"] == list(range(1, len(quotes) + 1))
        and report["refused"] == {"error_type": "validation_error", "invalid_fields": ["ticker"]}
        and group_tickers == TICKERS
        and report["health_stored"] == 1 and report["scores_stored"] == 1
        and receipt.get("sequence_number") == len(TICKERS) + 1
        and integration == "AAPL"
    )
    print(json.dumps(report))
    raise SystemExit(0 if report["ok"] else 1)


if __name__ == "__main__":
    main()
