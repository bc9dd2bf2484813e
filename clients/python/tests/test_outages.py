"""Redis going away and coming back, under a subscription and a consumer group (blocking and asyncio)."""

from __future__ import annotations

import asyncio
import threading
import time

from switchyard import Event, Switchyard
from switchyard import aio

from conftest import CONTRACTS, RedisServer, unique


def test_a_subscription_resumes_without_gap_after_redis_restarts(durable_server: RedisServer) -> None:
    sy = Switchyard.from_url(durable_server.url, source="outage", contracts=CONTRACTS)
    publisher = Switchyard.from_url(durable_server.url, source="outage", contracts=CONTRACTS)
    channel = unique("user:")
    seen: list[int] = []
    with sy.subscribe(channel) as subscription:
        for n in (1, 2):
            publisher.publish(channel, {"n": n})
        while len(seen) < 2:
            event = subscription.get(timeout=5)
            assert event is not None
            seen.append(event.sequence_number)
        durable_server.stop()
        assert subscription.get(timeout=0.5) is None, "nothing while Redis is away, and no exception"
        durable_server.start()
        for n in (3, 4):  # stored before the subscription is back: not pushed to it live
            publisher.publish(channel, {"n": n})
        deadline = time.monotonic() + 15
        while len(seen) < 4 and time.monotonic() < deadline:
            event = subscription.get(timeout=0.5)
            if event is not None:
                seen.append(event.sequence_number)
        publisher.publish(channel, {"n": 5})
        event = subscription.get(timeout=5)
        assert event is not None
        seen.append(event.sequence_number)
    assert seen == [1, 2, 3, 4, 5]


def test_a_group_keeps_consuming_across_a_redis_restart(durable_server: RedisServer) -> None:
    sy = Switchyard.from_url(durable_server.url, source="outage", contracts=CONTRACTS)
    channel = unique("user:")
    sy.publish(channel, {"n": 1})
    group = sy.group(channel, group="g", consumer="c", block=0.1)
    handled: list[int] = []
    group.handler(lambda event: handled.append(event.sequence_number))
    worker = threading.Thread(target=group.run, kwargs={"until": lambda: 3 in handled, "timeout": 30})
    worker.start()
    deadline = time.monotonic() + 10
    while 1 not in handled and time.monotonic() < deadline:
        time.sleep(0.05)
    durable_server.stop()
    time.sleep(0.5)
    durable_server.start()
    publisher = Switchyard.from_url(durable_server.url, source="outage", contracts=CONTRACTS)
    publisher.publish(channel, {"n": 2})
    publisher.publish(channel, {"n": 3})
    worker.join(40)
    assert not worker.is_alive()
    assert handled == [1, 2, 3]


def test_the_asyncio_client_rides_out_a_restart_too(durable_server: RedisServer) -> None:
    async def scenario() -> None:
        sy = await aio.Switchyard.from_url(durable_server.url, source="outage", contracts=CONTRACTS)
        publisher = Switchyard.from_url(durable_server.url, source="outage", contracts=CONTRACTS)
        channel = unique("user:")
        subscription = await sy.subscribe(channel)
        publisher.publish(channel, {"n": 1})
        first = await subscription.get(timeout=5)
        assert first is not None and first.sequence_number == 1
        durable_server.stop()
        assert await subscription.get(timeout=0.5) is None
        durable_server.start()
        publisher.publish(channel, {"n": 2})
        seen: list[Event] = []
        deadline = time.monotonic() + 15
        while not seen and time.monotonic() < deadline:
            event = await subscription.get(timeout=0.5)
            if event is not None:
                seen.append(event)
        assert [e.sequence_number for e in seen] == [2]
        group = sy.group(channel, group="ag", consumer="a-1", block=0.1)
        handled: list[int] = []
        group.handler(lambda event: handled.append(event.sequence_number))
        await group.run(until=lambda: len(handled) == 2, timeout=10)
        assert handled == [1, 2]
        await subscription.close()
        await sy.close()
    asyncio.run(scenario())
