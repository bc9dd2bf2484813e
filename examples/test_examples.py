"""Runs each seed system's example against real servers and checks what it prints.

`scripts/test` runs this with pytest in its virtualenv (`scripts/test --examples` alone). Each test
starts a redis-server of its own on a free port (so sequence numbers start at 1) and the
`switchyard` binary (`SWITCHYARD_BIN`, else `.build/debug/switchyard`), runs the example as a
user would, and asserts on the JSON it prints.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest
import redis

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SWITCHYARD = os.environ.get("SWITCHYARD_BIN", str(ROOT / ".build" / "debug" / "switchyard"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """A throwaway redis-server with an append-only file, so that a restart keeps its data."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: Optional[subprocess.Popen[bytes]] = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory), "--save", "",
             "--appendonly", "yes", "--appendfsync", "always"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)


@contextmanager
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def switchyard(*arguments: str, port: Optional[int] = None) -> Iterator[str]:
    """Runs `switchyard ARGUMENTS`; for `serve`, waits until `/readyz` answers and yields its URL."""
    assert Path(SWITCHYARD).exists(), f"{SWITCHYARD} is missing: run `swift build` first"
    command = [SWITCHYARD, *arguments]
    url = ""
    if arguments[0] == "serve":
        port = port or free_port()
        command += ["--port", str(port)]
        url = f"http://127.0.0.1:{port}"
    # Only what the arguments say: scripts/test exports REDIS_URL and POSTGRES_URL, which serve would read.
    environment = {name: value for name, value in os.environ.items() if not name.startswith(("REDIS_", "POSTGRES_", "SWITCHYARD_"))}
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=environment)
    try:
        if url:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, f"switchyard exited: {process.stderr.read().decode() if process.stderr else ''}"
                try:
                    with urllib.request.urlopen(url + "/readyz", timeout=2) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                assert time.monotonic() < deadline, "switchyard serve did not become ready"
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def wait_for_bridge(server: RedisServer, timeout: float = 30.0) -> None:
    """Waits until the bridge has subscribed: it `PSUBSCRIBE`s every shipped contract's channel or
    pattern at once, so `PUBSUB NUMPAT` reaches at least their number."""
    contracts = len(list((ROOT / "contracts").rglob("*.json")))
    client = redis.Redis(port=server.port)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if int(client.pubsub_numpat()) >= contracts:
                return
        except redis.ConnectionError:
            pass
        time.sleep(0.05)
    raise AssertionError("the bridge did not subscribe")


def run_example(name: str, *arguments: str, timeout: float = 180) -> dict[str, Any]:
    result = subprocess.run([sys.executable, str(EXAMPLES / name), *arguments], capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{name} failed:\nstdout: {result.stdout}\nstderr: {result.stderr}"
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def test_recio(tmp_path: Path) -> None:
    with redis_server(tmp_path) as server, switchyard("serve", "--redis", server.url, "--allow-anonymous-publish") as gateway:
        report = run_example("recio.py", "--gateway", gateway, "--redis", server.url, "--ticks", "10")
    assert report["orders_placed"] == 1 and report["duplicate_retries_stored_once"] == 1
    assert report["handled"] == ["trades:new_order#1", "trades:order_filled#1"]
    assert report["reclaimed"] == 1 and report["skipped_duplicates"] == 1
    assert report["browser"] == {"market_data:btc_price": list(range(1, 11)), "trades:new_order": [1], "trades:order_filled": [1]}
    assert report["browser_gap_free"] and report["browser_shapes_ok"]
    assert report["cache_price"] == 43_250.50 + 25 * 9 and 0 < report["cache_ttl"] <= 60


def test_opa(tmp_path: Path) -> None:
    with redis_server(tmp_path) as server, \
            switchyard("serve", "--redis", server.url, "--bridge", "--allow-anonymous-publish") as gateway:
        wait_for_bridge(server)
        report = run_example("opa.py", "--redis", server.url, "--gateway", gateway)
    assert report["subscriber_tickers"] == ["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "aapl", "TSLA"]
    assert report["stored_tickers"][:5] == ["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL"]
    assert report["stored_sequences"] == list(range(1, len(report["stored_sequences"]) + 1))
    assert report["refused"] == {"error_type": "validation_error", "invalid_fields": ["ticker"]}
    assert report["group_tickers"] == ["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL"], "the plain publisher's quotes reach a consumer group"
    assert report["health_stored"] == 1 and report["scores_stored"] == 1
    assert report["gateway_receipt_sequence"] == 6
    assert report["seed_integration_test_ticker"] == "AAPL"


def test_backtester_live(tmp_path: Path) -> None:
    with redis_server(tmp_path) as server, switchyard("serve", "--redis", server.url, "--allow-anonymous-publish") as gateway:
        report = run_example("backtester.py", "--mode", "live", "--gateway", gateway, "--redis", server.url, "--steps", "3")
    assert report["sequences"] == {channel: [1, 2, 3] for channel in
                                   ["position:updated", "exposure:calculated", "risk:calculated", "pnl:calculated", "strategy:instructions"]}
    ttl = report["redis"]["ttl"]
    assert all(3595 <= ttl[key] <= 3600 for key in ["position:snapshot", "exposure:current", "risk:current", "pnl:current", "strategy:rebalancing"])
    assert ttl["config:strategy"] == -1
    assert report["redis"]["position_snapshot_wallet"] == {"ETH": 9.98, "USDC": 25_000.0}


def test_backtester_backtest_on_the_embedded_engine() -> None:
    with switchyard("serve", "--allow-anonymous-publish") as gateway:
        report = run_example("backtester.py", "--mode", "backtest", "--gateway", gateway, "--steps", "3")
    assert report["sequences"]["strategy:instructions"] == [1, 2, 3]
    assert report["ttl_seconds"]["position:snapshot"] >= 3595 and report["ttl_seconds"]["config:strategy"] is None
    assert "redis" not in report


def test_backtester_live_needs_redis() -> None:
    with switchyard("serve", "--allow-anonymous-publish") as gateway:
        result = subprocess.run(
            [sys.executable, str(EXAMPLES / "backtester.py"), "--mode", "live", "--gateway", gateway, "--redis", f"redis://127.0.0.1:{free_port()}"],
            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "Redis required for live trading!" in result.stderr


def test_signal_service_buffers_while_redis_is_down(tmp_path: Path) -> None:
    signals = 12
    with redis_server(tmp_path) as server, switchyard("bridge", "--redis", server.url):
        wait_for_bridge(server)
        process = subprocess.Popen(
            [sys.executable, str(EXAMPLES / "signal_service.py"), "--redis", server.url, "--signals", str(signals), "--interval", "0.3"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert process.stdout is not None
        lines: list[dict[str, Any]] = []
        stopped = restarted = False
        for text in process.stdout:
            line = json.loads(text)
            lines.append(line)
            if not stopped and sum("published" in item and "done" not in item for item in lines) == 3:
                server.stop()
                stopped = True
            if stopped and not restarted and sum("buffered" in item and "done" not in item for item in lines) == 3:
                server.start()
                restarted = True
        process.wait(timeout=120)
        errors = process.stderr.read() if process.stderr else ""
    assert process.returncode == 0, f"signal_service.py failed: {lines} {errors}"
    summary = lines[-1]
    assert stopped and restarted
    assert len(summary["buffered"]) >= 3, summary
    assert sorted(summary["published"] + summary["buffered"]) == list(range(1, signals + 1))
    assert any("replayed" in line for line in lines)
    assert summary["stored"] == [[n, n] for n in range(1, signals + 1)], "every signal stored once, in order, gap-free"


if __name__ == "__main__":
    raise SystemExit(pytest.main([__file__, "-v"]))
