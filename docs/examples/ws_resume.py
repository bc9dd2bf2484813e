#!/usr/bin/env python3
"""Follow Switchyard channels over the gateway's WebSocket, drop the connection, and resume.

    python3 ws_resume.py --url ws://127.0.0.1:8080/v1/ws --pattern 'trades:py_*' \
        --channels trades:py_a,trades:py_b --events 20

A subscriber subscribes to the pattern while a second connection publishes `--events` events per
channel with publish frames. The subscriber reads about half of them, remembers the last sequence
number it saw per channel, and drops the connection. More events are published while it is away.
It then reconnects with `{"type":"subscribe","patterns":[...],"resume":{channel: last_seen}}` and
reads until it has every event. It prints one JSON object with the sequence numbers received per
channel and exits 0 when, per channel, they run 1, 2, 3, ... with no gap and no duplicate
(1 otherwise). Needs `pip install websockets`. See docs/websocket.md.
"""
import argparse
import asyncio
import json

import websockets


async def frames(ws):
    """The server's frames as objects, heartbeats left out."""
    async for text in ws:
        frame = json.loads(text)
        if frame.get("type") != "heartbeat":
            yield frame


async def expect(ws, kind):
    async for frame in frames(ws):
        if frame.get("type") == kind:
            return frame
        if frame.get("type") == "error":
            raise SystemExit(f"error frame: {frame['error']}")
    raise SystemExit(f"connection closed before a {kind} frame")


async def publish(url, channels, first, last):
    async with websockets.connect(url) as ws:
        for n in range(first, last + 1):
            for channel in channels:
                await ws.send(json.dumps({"type": "publish", "id": f"{channel}-{n}", "channel": channel, "data": {"n": n}}))
                await expect(ws, "published")


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--pattern", required=True)
    parser.add_argument("--channels", required=True, help="comma-separated channels matching the pattern")
    parser.add_argument("--events", type=int, default=20, help="events per channel")
    args = parser.parse_args()
    channels = args.channels.split(",")
    half = args.events // 2
    received = {channel: [] for channel in channels}

    def take(frame):
        envelope = frame["envelope"]
        received[envelope["channel"]].append(envelope["sequence_number"])

    async with websockets.connect(args.url, max_size=None) as ws:
        await ws.send(json.dumps({"type": "subscribe", "patterns": [args.pattern]}))
        await expect(ws, "subscribed")
        await publish(args.url, channels, 1, half)
        while sum(len(seen) for seen in received.values()) < half * len(channels):
            take(await expect(ws, "event"))
    # The connection is gone; these events are published while nobody listens.
    await publish(args.url, channels, half + 1, args.events)

    resume = {channel: seen[-1] for channel, seen in received.items() if seen}
    async with websockets.connect(args.url, max_size=None) as ws:
        await ws.send(json.dumps({"type": "subscribe", "patterns": [args.pattern], "resume": resume}))
        await expect(ws, "subscribed")
        while sum(len(seen) for seen in received.values()) < args.events * len(channels):
            frame = await expect(ws, "event")
            take(frame)

    ok = all(seen == list(range(1, args.events + 1)) for seen in received.values())
    print(json.dumps({"ok": ok, "resume": resume, "received": received}))
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    asyncio.run(main())
