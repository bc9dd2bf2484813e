#!/usr/bin/env python3
"""The DeFi backtester's component chain on Switchyard, in live mode and in backtest mode.

    switchyard serve --redis redis://127.0.0.1:6379 --allow-anonymous-publish &
    python3 examples/backtester.py --mode live --gateway http://127.0.0.1:8080 --redis redis://127.0.0.1:6379

    switchyard serve --allow-anonymous-publish &          # the embedded engine
    python3 examples/backtester.py --mode backtest --gateway http://127.0.0.1:8080

Seed 001's components, position -> exposure -> risk -> P&L and strategy, each publishing a
lightweight notification on `{component}:{event_type}` and keeping its full data under a
`{component}:{data_type}` state key with the seed's TTL table (1 h for `position:snapshot` and
the other `*:current` keys, none for `config:*`). No Switchyard library: plain HTTP to the gateway
(`POST /v1/events:batch` with a `state` member publishes the notification and sets the key in one
atomic step, the seed's `publish(...)` then `set(..., ex=3600)`), a WebSocket to be triggered by
the component upstream (the seed's `redis.subscribe('position:updated', callback)`), and in live
mode redis-py to read the keys back as an unchanged component would (`redis.get`, `redis.ttl`).

- backtest mode: the chain runs by direct method calls, as the seed's backtest does, and publishes
  to the gateway as it goes ("helps with debugging": the console shows it); Redis is optional;
- live mode: each component runs on its own, triggered by the events of the one before it, and
  Redis is required: without it the program stops with "Redis required for live trading!".

Prints one JSON object and exits 0 when every check holds, 1 otherwise.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from typing import Any, Optional, cast

import redis
import websockets

Message = dict[str, Any]
START = datetime(2024, 5, 12, 14, 0, tzinfo=timezone.utc)


class Gateway:
    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")

    def call(self, method: str, path: str, body: Optional[Any] = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def publish_and_set(self, channel: str, notification: Message, key: str, value: Message) -> int:
        """`publish(channel, notification)` then `set(key, value, ex=TTL)`, as one atomic step."""
        status, answer = self.call("POST", "/v1/events:batch", {
            "events": [{"channel": channel, "data": notification, "state": {"key": key, "value": value}}]})
        if status != 201:
            raise RuntimeError(f"publish to {channel} refused ({status}): {answer}")
        return int(answer["receipts"][0]["sequence_number"])

    def get(self, key: str) -> Optional[Message]:
        status, answer = self.call("GET", f"/v1/state/{key}")
        return cast(Message, answer) if status == 200 else None


class Component:
    """The seed's component interface: `calculate()` works in both modes and publishes its result."""

    name = ""
    channel = ""
    key = ""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.sequences: list[int] = []

    def calculate(self, data: Message, timestamp: str) -> Message:
        result = self._do_calculation(data, timestamp)
        notification = {"timestamp": timestamp, **self._notification(result)}
        self.sequences.append(self.gateway.publish_and_set(self.channel, notification, self.key, result))
        return result

    def _do_calculation(self, data: Message, timestamp: str) -> Message:
        raise NotImplementedError

    def _notification(self, result: Message) -> Message:
        raise NotImplementedError


class PositionMonitor(Component):
    name, channel, key = "position_monitor", "position:updated", "position:snapshot"

    def _do_calculation(self, data: Message, timestamp: str) -> Message:
        step = int(data["step"])
        return {"timestamp": timestamp, "wallet": {"ETH": 10.0 - 0.01 * step, "USDC": 25_000.0},
                "cex_accounts": {"binance": {"ETH": 5.0}}, "perp_positions": {"binance": {"ETH-PERP": -20.0 - step}}}

    def _notification(self, result: Message) -> Message:
        return {"component": self.name, "event": "updated", "trigger": "GAS_FEE_PAID",
                "metadata": {"trigger": "GAS_FEE_PAID", "changes_count": 1}}


class ExposureMonitor(Component):
    name, channel, key = "exposure_monitor", "exposure:calculated", "exposure:current"

    def _do_calculation(self, data: Message, timestamp: str) -> Message:
        eth = data["wallet"]["ETH"] + data["cex_accounts"]["binance"]["ETH"] + data["perp_positions"]["binance"]["ETH-PERP"]
        return {"timestamp": timestamp, "net_delta_eth": round(eth, 2)}

    def _notification(self, result: Message) -> Message:
        return {"net_delta_eth": result["net_delta_eth"]}


class RiskMonitor(Component):
    name, channel, key = "risk_monitor", "risk:calculated", "risk:current"

    def _do_calculation(self, data: Message, timestamp: str) -> Message:
        warning = abs(data["net_delta_eth"]) > 5
        return {"timestamp": timestamp, "overall_status": "WARNING" if warning else "OK",
                "alerts": ["BINANCE_MARGIN_WARNING"] if warning else [], "net_delta_eth": data["net_delta_eth"]}

    def _notification(self, result: Message) -> Message:
        return {"overall_status": result["overall_status"], "alerts": result["alerts"]}


class PnLCalculator(Component):
    name, channel, key = "pnl_calculator", "pnl:calculated", "pnl:current"

    def __init__(self, gateway: Gateway) -> None:
        super().__init__(gateway)
        self.cumulative = 1200.0

    def _do_calculation(self, data: Message, timestamp: str) -> Message:
        self.cumulative = round(self.cumulative + 12.8 - abs(data["net_delta_eth"]), 2)
        return {"timestamp": timestamp, "pnl_cumulative": self.cumulative}

    def _notification(self, result: Message) -> Message:
        return {"pnl_cumulative": result["pnl_cumulative"]}


class StrategyManager(Component):
    name, channel, key = "strategy_manager", "strategy:instructions", "strategy:rebalancing"

    def _do_calculation(self, data: Message, timestamp: str) -> Message:
        instructions = [{"action": "REDUCE_PERP", "venue": "binance", "size_eth": abs(data["net_delta_eth"])},
                        {"action": "TOP_UP_MARGIN", "venue": "binance", "usdc": 5000}] if data["overall_status"] == "WARNING" else []
        return {"timestamp": timestamp, "instructions": instructions}

    def _notification(self, result: Message) -> Message:
        count = len(result["instructions"])
        return {"instruction_count": count, "priority": "CRITICAL" if count else "LOW"}


class Chain:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.position = PositionMonitor(gateway)
        self.exposure = ExposureMonitor(gateway)
        self.risk = RiskMonitor(gateway)
        self.pnl = PnLCalculator(gateway)
        self.strategy = StrategyManager(gateway)

    @property
    def components(self) -> list[Component]:
        return [self.position, self.exposure, self.risk, self.pnl, self.strategy]

    def backtest(self, steps: int) -> None:
        """Synchronous, by direct method calls (the seed's backtest mode)."""
        for step in range(steps):
            timestamp = (START + timedelta(hours=step)).strftime("%Y-%m-%dT%H:%M:%SZ")
            position = self.position.calculate({"step": step}, timestamp)
            exposure = self.exposure.calculate(position, timestamp)
            risk = self.risk.calculate(exposure, timestamp)
            self.pnl.calculate(risk, timestamp)
            self.strategy.calculate(risk, timestamp)

    async def live(self, ws_url: str, steps: int) -> None:
        """Each component on its own, triggered by the notification of the one upstream; it reads
        the upstream's full data from its state key, as the seed's "keys for state" say."""
        wiring: list[tuple[Component, str, str]] = [
            (self.exposure, "position:updated", "position:snapshot"),
            (self.risk, "exposure:calculated", "exposure:current"),
            (self.pnl, "risk:calculated", "risk:current"),
            (self.strategy, "risk:calculated", "risk:current"),
        ]
        ready = [asyncio.Event() for _ in wiring]

        async def run(component: Component, channel: str, key: str, subscribed: asyncio.Event) -> None:
            async with websockets.connect(ws_url) as ws:
                await ws.send(json.dumps({"type": "subscribe", "patterns": [channel]}))
                async for text in ws:
                    frame = json.loads(text)
                    if frame["type"] == "subscribed":
                        subscribed.set()
                    elif frame["type"] == "event":
                        upstream = await asyncio.to_thread(self.gateway.get, key)
                        assert upstream is not None, f"{key} is missing"
                        await asyncio.to_thread(component.calculate, upstream["value"], frame["envelope"]["data"]["timestamp"])
                        if len(component.sequences) == steps:
                            return

        tasks = [asyncio.create_task(run(component, channel, key, event)) for (component, channel, key), event in zip(wiring, ready)]
        await asyncio.wait_for(asyncio.gather(*(event.wait() for event in ready)), 30)
        for step in range(steps):
            timestamp = (START + timedelta(hours=step)).strftime("%Y-%m-%dT%H:%M:%SZ")
            await asyncio.to_thread(self.position.calculate, {"step": step}, timestamp)
            # The next update comes once the chain has handled this one (an hourly tick, sped up).
            while len(self.strategy.sequences) <= step or len(self.pnl.sequences) <= step:
                await asyncio.sleep(0.02)
        await asyncio.wait_for(asyncio.gather(*tasks), 60)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--mode", choices=["live", "backtest"], required=True)
    parser.add_argument("--gateway", required=True, help="the gateway's base URL, http://HOST:PORT")
    parser.add_argument("--redis", help="redis://HOST:PORT: required in live mode, where the gateway runs on it")
    parser.add_argument("--steps", type=int, default=3, help="hourly steps to run")
    args = parser.parse_args()
    gateway = Gateway(args.gateway)
    client: Optional[redis.Redis] = None
    if args.mode == "live":
        try:
            client = redis.Redis.from_url(args.redis or "redis://127.0.0.1:6379", socket_connect_timeout=2)
            client.ping()
        except redis.ConnectionError:
            raise RuntimeError("Redis required for live trading!")

    status, _ = gateway.call("PUT", "/v1/state/config:strategy", {"strategy": "delta_neutral", "rebalance_threshold_eth": 5})
    assert status == 200, f"config:strategy refused ({status})"
    chain = Chain(gateway)
    if args.mode == "backtest":
        chain.backtest(args.steps)
    else:
        asyncio.run(chain.live(args.gateway.replace("http", "ws", 1).rstrip("/") + "/v1/ws", args.steps))

    keys = ["position:snapshot", "exposure:current", "risk:current", "pnl:current", "strategy:rebalancing", "config:strategy"]
    state = {key: gateway.get(key) for key in keys}
    report: Message = {
        "mode": args.mode,
        "sequences": {component.channel: component.sequences for component in chain.components},
        "ttl_seconds": {key: (value or {}).get("ttl_seconds") for key, value in state.items()},
        "pnl_cumulative": (state["pnl:current"] or {}).get("value", {}).get("pnl_cumulative"),
    }
    if client is not None:
        # What an unchanged Python component sees: plain keys, the seed's TTLs.
        raw = client.get("position:snapshot")
        report["redis"] = {
            "position_snapshot_wallet": json.loads(raw)["wallet"] if raw else None,
            "ttl": {key: client.ttl(key) for key in keys},
        }
    expected = list(range(1, args.steps + 1))
    report["ok"] = bool(
        all(sequences == expected for sequences in report["sequences"].values())
        and all(3595 <= (report["ttl_seconds"][key] or 0) <= 3600 for key in keys[:-1])
        and report["ttl_seconds"]["config:strategy"] is None and state["config:strategy"] is not None
        and (client is None or (all(3595 <= report["redis"]["ttl"][key] <= 3600 for key in keys[:-1])
                                and report["redis"]["ttl"]["config:strategy"] == -1))
    )
    print(json.dumps(report))
    raise SystemExit(0 if report["ok"] else 1)


if __name__ == "__main__":
    main()
