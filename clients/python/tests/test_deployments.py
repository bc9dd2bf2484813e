"""The client on the deployments `scripts/test` starts: a Redis Cluster and a Sentinel-managed primary."""

from __future__ import annotations

import asyncio
import os

import pytest

from switchyard import Event, PublishRequest, Switchyard
from switchyard import aio

from conftest import CONTRACTS, unique


def deployment(variable: str) -> str:
    url = os.environ.get(variable)
    if url is None:
        if os.environ.get("SWITCHYARD_TEST_SERVERS") == "required":
            pytest.fail(f"{variable} is not set: scripts/test starts that deployment")
        pytest.skip(f"needs {variable}: run through scripts/test, which starts it")
    return url


def test_on_a_cluster_each_channel_runs_on_its_slots_primary() -> None:
    sy = Switchyard.from_url(deployment("REDIS_CLUSTER_URL"), cluster=True, source="python_cluster", contracts=CONTRACTS)
    channels = [unique("user:") for _ in range(4)]
    receipts = sy.publish_batch([PublishRequest(c, {"n": n}) for c in channels for n in (1, 2)])
    assert [r.sequence_number for r in receipts] == [1, 2] * 4
    receipt = sy.publish("risk:calculated", {"overall_status": "ok"}, state=("risk:current", {"ok": True}))
    value = sy.state.get("risk:current")
    assert receipt.stored and value is not None and value.value == {"ok": True}
    group = sy.group(channels, group="cluster-g", consumer="c-1", block=0.1)
    seen: list[tuple[str, int]] = []
    group.handler(lambda event: seen.append((event.channel, event.sequence_number)))
    group.run(until=lambda: len(seen) == 8, timeout=15)
    assert sorted(seen) == sorted((c, n) for c in channels for n in (1, 2))
    assert [e.sequence_number for e in sy.replay(channels[0], since=2)] == [2]
    sy.close()


def test_under_sentinel_the_client_writes_to_the_primary() -> None:
    url = deployment("REDIS_SENTINEL_URL")

    async def scenario() -> None:
        async with await aio.Switchyard.from_url(url, source="python_sentinel", contracts=CONTRACTS) as sy:
            channel = unique("user:")
            first = await sy.publish(channel, {"n": 1})
            events: list[Event] = await sy.replay(channel)
            assert first.sequence_number == 1 and [e.event_id for e in events] == [first.event_id]
    asyncio.run(scenario())
    sy = Switchyard.from_url(url, source="python_sentinel", contracts=CONTRACTS)
    assert sy.publish(unique("user:"), {"n": 1}).sequence_number == 1
    # Under Sentinel a critical channel waits for the replica, as the Swift engine does: confirmed here.
    critical = sy.settings.guard.resolve("trades:x")[1]
    assert sy.settings.waits_for_replica(critical) and not sy.settings.waits_for_replica(sy.settings.guard.resolve("user:x")[1])
    assert sy.publish(unique("trades:"), {"n": 1}).sequence_number == 1
    sy.close()
