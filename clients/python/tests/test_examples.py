"""The package's examples, run as a user runs them, against a redis-server of their own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import CONTRACTS, RedisServer

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_seed_001s_live_chain_runs_on_the_package(private_server: RedisServer) -> None:
    private_server.start()
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "live_chain.py"), "--redis", private_server.url, "--contracts", str(CONTRACTS), "--ticks", "4"],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["channels"] == {channel: [1, 2, 3, 4] for channel in [
        "position:updated", "exposure:calculated", "risk:calculated", "pnl:calculated", "strategy:instructions"]}
    assert all(3590 <= ttl <= 3600 for ttl in report["state"].values()), report["state"]
    assert report["retried"] == [1], "the risk monitor's first failure was retried by its group, not lost"


def test_live_mode_refuses_to_start_without_redis(private_server: RedisServer) -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "live_chain.py"), "--redis", private_server.url, "--contracts", str(CONTRACTS)],
        capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "Redis required for live trading!" in result.stderr
