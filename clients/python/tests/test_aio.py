"""The asyncio client against a real redis-server: the seeds' async services use this one."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import redis

from switchyard import EngineUnavailable, Event, ValidationError
from switchyard.aio import Switchyard

from conftest import CONTRACTS, RedisServer, unique


async def client(server: RedisServer, source: str = "python_aio", **options: Any) -> Switchyard:
    options.setdefault("contracts", CONTRACTS)
    return await Switchyard.from_url(server.url, source=source, **options)


def test_publish_dedup_and_refusals(server: RedisServer, raw: redis.Redis) -> None:
    async def scenario() -> None:
        async with await client(server) as sy:
            channel = unique("user:")
            first = await sy.publish(channel, {"n": 1})
            again = await sy.publish(channel, {"n": 1}, event_id=first.event_id)
            second = await sy.publish(channel, {"n": 2})
            assert (first.sequence_number, again.duplicate, again.sequence_number, second.sequence_number) == (1, True, 1, 2)
            with pytest.raises(ValidationError) as refused:
                await sy.publish("signals.generated", {"strategy_id": "s"})
            assert set(refused.value.missing_fields) == {"timestamp", "symbols", "num_signals", "as_of_date"}
            latest = await sy.latest(channel)
            assert latest is not None and latest.data == {"n": 2}
    asyncio.run(scenario())


def test_subscribe_resumes_without_gap_or_duplicate(server: RedisServer) -> None:
    async def scenario() -> None:
        async with await client(server) as sy:
            channel = unique("user:")
            for n in range(1, 4):
                await sy.publish(channel, {"n": n})
            subscription = await sy.subscribe(channel, since_sequence={channel: 2})
            await sy.publish(channel, {"n": 4})
            seen = []
            async for event in subscription:
                seen.append(event.sequence_number)
                if len(seen) == 3:
                    break
            await subscription.close()
            assert seen == [2, 3, 4]
    asyncio.run(scenario())


def test_an_async_group_handler_retries_then_dead_letters(server: RedisServer) -> None:
    async def scenario() -> None:
        async with await client(server, source="pnl_calculator") as sy:
            channel = unique("user:")
            for n in range(1, 4):
                await sy.publish(channel, {"n": n})
            group = sy.group(channel, group="pnl", consumer="p-1", max_deliveries=2, block=0.1)
            calls: list[int] = []

            @group.handler
            async def on_event(event: Event) -> None:
                calls.append(event.data["n"])
                if event.data["n"] == 1:
                    raise ValueError("bad fill")

            letters: list[Any] = []

            async def until_done() -> None:
                while not letters or calls[-1:] != [3]:
                    await group.run(timeout=0.3)
                    letters[:] = await sy.dead_letters(channel)
            await asyncio.wait_for(until_done(), 15)
            assert calls == [1, 1, 2, 3]
            assert letters[0].error["service"] == "pnl_calculator" and letters[0].error["retry_count"] == 1
            assert letters[0].error["details"]["details"] == {"error": "bad fill"}
            assert (await group.info())[channel]["pending"] == 0
    asyncio.run(scenario())


def test_async_iteration_acks_and_retries_failed_events(server: RedisServer) -> None:
    async def scenario() -> None:
        async with await client(server) as sy:
            channel = unique("user:")
            for n in range(1, 3):
                await sy.publish(channel, {"n": n})
            group = sy.group(channel, group="it", consumer="i-1", block=0.1)
            seen: list[tuple[int, int]] = []
            async for event in group.events(timeout=2):
                seen.append((event.sequence_number, event.deliveries))
                if (event.sequence_number, event.deliveries) == (1, 1):
                    event.fail(RuntimeError("later"))
                else:
                    event.ack()
                if len(seen) == 3:
                    break
            assert seen == [(1, 1), (2, 1), (1, 2)]
            await asyncio.sleep(0)
            assert [e async for e in group.events(timeout=0.3)] == []
            assert (await group.info())[channel]["pending"] == 0
    asyncio.run(scenario())


def test_state_and_publish_with_state(server: RedisServer, raw: redis.Redis) -> None:
    async def scenario() -> None:
        async with await client(server, source="position_monitor") as sy:
            snapshot = {"timestamp": "2024-05-12T14:00:00Z", "wallet": {"ETH": 1}}
            receipt = await sy.publish("position:updated", {"trigger": "tick"}, state=("position:snapshot", snapshot))
            assert receipt.stored
            assert json.loads(raw.get("position:snapshot") or b"") == snapshot
            value = await sy.state.get("position:snapshot")
            assert value is not None and value.value == snapshot and 3590 < (value.remaining_seconds or 0) <= 3600
            assert await sy.state.set("cache:prices:btc:current", {"price": 1}) == 60
    asyncio.run(scenario())


def test_spool_and_live_mode(private_server: RedisServer, tmp_path: Path) -> None:
    async def scenario() -> None:
        with pytest.raises(EngineUnavailable, match="Redis required for live trading!"):
            await client(private_server, live=True)
        sy = await client(private_server, spool=tmp_path / "spool.jsonl")
        channel = unique("user:")
        spooled = [await sy.publish(channel, {"n": n}) for n in (1, 2)]
        assert all(r.spooled for r in spooled) and sy.spool_depth == 2
        private_server.start()
        assert await sy.flush_spool() == 2
        assert [(e.sequence_number, e.event_id) for e in await sy.replay(channel)] == [(1, spooled[0].event_id), (2, spooled[1].event_id)]
        await sy.close()
    asyncio.run(scenario())
