#!/usr/bin/env python3
"""Runs the steps of the shared delivery conformance cases (Tests/Conformance/delivery.json) with
the Python package, and answers each in the shape the cases expect.

pytest runs whole cases with it (test_conformance.py); the Swift suite hands it single steps, so a
case can publish from one language and consume in the other:

    python3 conformance_runner.py --url redis://127.0.0.1:6379 < step.json   # prints the answer
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, Mapping

from switchyard import Backoff, PublishRequest, Switchyard, SwitchyardError
from switchyard.group import Group

ROOT = Path(__file__).resolve().parents[3]
CASES = ROOT / "Tests" / "Conformance" / "delivery.json"
SOURCE = "conformance"


def client(url: str, source: str = SOURCE, spool: str | None = None) -> Switchyard:
    return Switchyard.from_url(url, source=source, contracts=ROOT / "contracts", spool=spool)


def receipt(r: Any) -> dict[str, Any]:
    return {"sequence_number": r.sequence_number, "duplicate": r.duplicate, "event_id": r.event_id, "spooled": r.spooled}


def run_step(step: Mapping[str, Any], url: str) -> dict[str, Any]:
    """Executes one step; returns its answer (`{"error": body}` for a refusal)."""
    kind = next(k for k in step if k != "expect" and k != "by")
    arguments = step[kind]
    sy = client(url, arguments.get("source", SOURCE), arguments.get("spool"))
    try:
        if kind == "flush_spool":
            sy.flush_spool()
            return {"depth": sy.spool_depth}
        if kind == "publish":
            return receipt(sy.publish(arguments["channel"], arguments["payload"], event_id=arguments.get("event_id"),
                                      metadata=arguments.get("metadata")))
        if kind == "publish_batch":
            requests = [PublishRequest(e["channel"], e["payload"], e.get("event_id"), e.get("metadata")) for e in arguments["events"]]
            return {"receipts": [receipt(r) for r in sy.publish_batch(requests)]}
        if kind == "replay":
            events = sy.replay(arguments["channel"], since=arguments.get("since"), until=arguments.get("until"))
            return history(events)
        if kind == "latest":
            latest = sy.latest(arguments["channel"])
            return {"sequence_number": latest.sequence_number if latest else None}
        if kind == "subscribe":
            return subscribe(sy, arguments)
        if kind == "consume":
            return consume(sy, arguments)
        raise ValueError(f"unknown step {kind!r}")
    except SwitchyardError as error:
        return {"error": error.body}
    finally:
        sy.close()


def history(events: list[Any]) -> dict[str, Any]:
    return {
        "sequences": [e.sequence_number for e in events], "payloads": [e.data for e in events],
        "event_times": [e.event_time for e in events], "metadata": [e.metadata for e in events],
        "event_ids": [e.event_id for e in events],
    }


def subscribe(sy: Switchyard, arguments: Mapping[str, Any]) -> dict[str, Any]:
    channel = arguments["channel"]
    events: list[Any] = []
    with sy.subscribe(channel, since_sequence={channel: arguments["since_sequence"]}) as subscription:
        for payload in arguments.get("then_publish", []):
            sy.publish(channel, payload)
        deadline = time.monotonic() + 10
        while len(events) < arguments["count"] and time.monotonic() < deadline:
            event = subscription.get(timeout=0.5)
            if event is not None:
                events.append(event)
    return history(events)


def consume(sy: Switchyard, arguments: Mapping[str, Any]) -> dict[str, Any]:
    channel, name = arguments["channel"], arguments["group"]
    group: Group = sy.group(channel, group=name, consumer=name + "-1", max_deliveries=arguments["max_deliveries"],
                            backoff=Backoff(initial=0.01, multiplier=2, maximum=0.1), block=0.1)
    calls: Counter[int] = Counter()
    handled: list[list[int]] = []
    failing = set(arguments.get("fail_on", []))

    @group.handler
    def handle(event: Any) -> None:
        calls[event.sequence_number] += 1
        handled.append([event.sequence_number, calls[event.sequence_number]])
        n = event.data.get("n")
        if n in failing:
            raise SwitchyardError("handler_error", f"refused n={n}", {})

    def settled() -> bool:
        info = group.info().get(channel)
        return info is not None and info["lag"] == 0 and info["pending"] == 0

    group.run(until=settled, timeout=20)
    letters = [
        {"sequence_number": letter.event.sequence_number if letter.event else None, "group": letter.group,
         "deliveries": letter.deliveries, "error": letter.error}
        for letter in sy.dead_letters(channel) if letter.group == name
    ]
    return {"handled": handled, "dead_letters": letters, "pending": group.info().get(channel, {}).get("pending")}


def matches(expected: Any, answer: Any) -> bool:
    """Whether `answer` has every member `expected` gives, with that value (arrays element by element)."""
    if isinstance(expected, Mapping):
        return isinstance(answer, Mapping) and all(k in answer and matches(v, answer[k]) for k, v in expected.items())
    if isinstance(expected, list):
        return isinstance(answer, list) and len(expected) == len(answer) and all(matches(e, a) for e, a in zip(expected, answer))
    if isinstance(expected, bool) or isinstance(answer, bool):
        return type(expected) is type(answer) and expected == answer
    return bool(expected == answer)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--url", required=True)
    arguments = parser.parse_args()
    print(json.dumps(run_step(json.loads(sys.stdin.read()), arguments.url)))


if __name__ == "__main__":
    main()
