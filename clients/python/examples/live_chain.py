#!/usr/bin/env python3
"""Seed 001's live mode with the switchyard package: the backtester's components as async services.

    python3 live_chain.py --redis redis://127.0.0.1:6379 --contracts contracts/ --ticks 5

Position Monitor publishes `position:updated` and sets `position:snapshot` in one step; Exposure
Monitor, Risk Monitor, P&L Calculator and Strategy Manager each consume their upstream channel in a
consumer group of their own, publish their `{component}:{event}` notification and set their state
key (the seed's `TTL_CONFIG`: an hour). Each component is written as the seed writes it, with
`await sy.publish(...)` where it had `await redis.publish(...)` and `redis.set(..., ex=3600)`, so
every notification is checked against its contract, numbered and kept in a stream. A Risk Monitor
that fails once on its first delivery shows the group's retry. It prints one JSON report:
`{"channels": {CHANNEL: [sequence numbers]}, "state": {KEY: ttl}, "retried": [...]}`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from switchyard import Backoff, Event
from switchyard.aio import Group, Switchyard

CHAIN = [  # component, upstream channel, its channel, its state key
    ("exposure_monitor", "position:updated", "exposure:calculated", "exposure:current"),
    ("risk_monitor", "exposure:calculated", "risk:calculated", "risk:current"),
    ("pnl_calculator", "risk:calculated", "pnl:calculated", "pnl:current"),
    ("strategy_manager", "risk:calculated", "strategy:instructions", "strategy:rebalancing"),
]


def calculate(component: str, upstream: Event) -> dict[str, Any]:
    """Each component's calculation, reduced to the fields the seed shows."""
    timestamp = upstream.data.get("timestamp", "2024-05-12T14:00:00Z")
    if component == "exposure_monitor":
        return {"timestamp": timestamp, "net_delta_eth": -5.12}
    if component == "risk_monitor":
        return {"timestamp": timestamp, "overall_status": "WARNING", "alerts": ["BINANCE_MARGIN_WARNING"]}
    if component == "pnl_calculator":
        return {"timestamp": timestamp, "pnl_cumulative": 1238.45}
    return {"timestamp": timestamp, "instruction_count": 2, "priority": "CRITICAL"}


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--redis", required=True)
    parser.add_argument("--contracts", required=True)
    parser.add_argument("--ticks", type=int, default=5)
    arguments = parser.parse_args()

    services = {name: await Switchyard.from_url(arguments.redis, source=name, contracts=arguments.contracts, live=True)
                for name in ["position_monitor"] + [c[0] for c in CHAIN]}
    retried: list[int] = []
    handled: dict[str, int] = {name: 0 for name, *_ in CHAIN}
    groups: list[Group] = []
    for component, upstream, channel, key in CHAIN:
        sy = services[component]
        group = sy.group(upstream, group=component, consumer=f"{component}-1", block=0.1, backoff=Backoff(initial=0.05))

        def handler(sy: Switchyard = sy, component: str = component, channel: str = channel, key: str = key) -> Any:
            async def on_update(event: Event) -> None:
                if component == "risk_monitor" and event.sequence_number == 1 and event.deliveries == 1:
                    retried.append(event.sequence_number)
                    raise ConnectionError("exchange API timed out")  # retried by the group
                result = calculate(component, event)
                await sy.publish(channel, result, state=(key, result))
                handled[component] += 1
            return on_update

        group.handler(handler())
        groups.append(group)

    position = services["position_monitor"]
    for tick in range(arguments.ticks):
        timestamp = f"2024-05-12T14:{tick:02d}:00Z"
        snapshot = {"timestamp": timestamp, "wallet": {"ETH": 10 + tick}, "cex_accounts": {}, "perp_positions": {}}
        await position.publish("position:updated", {"timestamp": timestamp, "trigger": "GAS_FEE_PAID"},
                               state=("position:snapshot", snapshot))

    def done() -> bool:
        return all(count >= arguments.ticks for count in handled.values())

    await asyncio.wait_for(asyncio.gather(*(g.run(until=done) for g in groups)), timeout=60)
    channels = {c: [e.sequence_number for e in await position.replay(c)]
                for c in ["position:updated"] + [c[2] for c in CHAIN]}
    state = {}
    for key in ["position:snapshot"] + [c[3] for c in CHAIN]:
        value = await position.state.get(key)
        state[key] = round(value.remaining_seconds) if value and value.remaining_seconds else None
    print(json.dumps({"channels": channels, "state": state, "retried": retried}))
    for sy in services.values():
        await sy.close()


if __name__ == "__main__":
    asyncio.run(main())
