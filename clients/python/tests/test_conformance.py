"""The shared delivery conformance cases (Tests/Conformance/delivery.json), run with the Python package.

The Swift suite runs the same cases with the Swift router, and across the two languages."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from switchyard import uuid7

from conftest import RedisServer
from conformance_runner import CASES, matches, run_step

DOCUMENT = json.loads(CASES.read_text(encoding="utf-8"))


def substitute(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        return names.get(value, value)
    if isinstance(value, list):
        return [substitute(v, names) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, names) for k, v in value.items()}
    return value


def names_for_run() -> dict[str, str]:
    run = uuid.uuid4().hex[:10]
    names = {"$C": f"user:conformance-{run}-c", "$D": f"user:conformance-{run}-d"}
    names.update({f"$E{i}": uuid7() for i in range(1, 10)})
    return names


@pytest.mark.parametrize("case", DOCUMENT["cases"], ids=[c["name"] for c in DOCUMENT["cases"]])
def test_case(case: dict[str, Any], server: RedisServer, tmp_path: Path) -> None:
    names = names_for_run()
    names["$SPOOL"] = str(tmp_path / "spool.jsonl")
    target = server
    if case.get("server") == "private":
        target = RedisServer(tmp_path, durable=True)
        target.start()
    try:
        for number, step in enumerate(substitute(case["steps"], names), start=1):
            if "stop_redis" in step:
                target.stop()
                continue
            if "start_redis" in step:
                target.start()
                continue
            answer = run_step(step, target.url)
            assert matches(step["expect"], answer), f"step {number} {json.dumps(step)}\nanswered {json.dumps(answer)}"
    finally:
        if target is not server:
            target.stop()


def test_matching_is_strict_where_it_must_be() -> None:
    assert matches({"a": [1, 2]}, {"a": [1, 2], "b": 3})
    assert not matches({"a": [1, 2]}, {"a": [1, 2, 3]})
    assert not matches({"duplicate": False}, {"duplicate": 0})
    assert not matches({"n": 1}, {"n": True})
    assert not matches({"x": {"y": 1}}, {"x": {"y": 2}})
    assert not matches({"missing": None}, {})
