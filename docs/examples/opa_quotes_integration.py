"""OPA's integration test for `quotes.realtime` (seed 003, "Test de integración ejemplo"), run
against Switchyard to check the migration path (docs/migration.md).

The part between the markers is the seed's code as written; only the connection (a URL instead of
localhost:6379) and the channel name (an argument) differ. With the channel's contract in payload
mode (`"live_message": "payload"`) and `switchyard bridge` running, it passes unchanged:

    --mode self   the test publishes its quote with a plain PUBLISH and reads it back, as written;
                  the bridge stores it without publishing it again (`extra` stays empty);
    --mode wait   it only subscribes and reads: publish a quote through Switchyard (the router,
                  the gateway or `switchyard publish`) and it receives the bare payload.

It prints one JSON line: {"ticker": ..., "received": {...}, "extra": [messages in the next second]}.
"""
import argparse
import json
import signal
import sys
import time

import redis

parser = argparse.ArgumentParser()
parser.add_argument("--url", default="redis://127.0.0.1:6379")
parser.add_argument("--channel", default="quotes.realtime")
parser.add_argument("--mode", choices=["self", "wait"], default="self")
parser.add_argument("--timeout", type=int, default=30, help="seconds before giving up (exit 2)")
args = parser.parse_args()
signal.signal(signal.SIGALRM, lambda *_: sys.exit(2))
signal.alarm(args.timeout)

# --- seed 003 ---
# Setup
r = redis.Redis.from_url(args.url)
pubsub = r.pubsub()
pubsub.subscribe(args.channel)

if args.mode == "self":
    # Publish
    message = {
        "ticker": "AAPL",
        "timestamp": "2026-01-20T14:30:00Z",
        "price": 185.50,
        "volume": 45000000,
        "source": "yfinance"
    }
    r.publish(args.channel, json.dumps(message))

# Subscribe (blocking)
for msg in pubsub.listen():
    if msg['type'] == 'message':
        data = json.loads(msg['data'])
        print(f"Received: {data}", file=sys.stderr)
        break
# --- end of seed 003 ---

extra = []
deadline = time.time() + 1
while time.time() < deadline:
    msg = pubsub.get_message(timeout=0.2)
    if msg and msg["type"] == "message":
        extra.append(json.loads(msg["data"]))
print(json.dumps({"ticker": data["ticker"], "received": data, "extra": extra}))
