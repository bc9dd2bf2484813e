"""Fixtures: a throwaway redis-server for the session (and private ones where a test stops its
server), the repository's shipped contracts, and contract folders of a test's own."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
import redis

ROOT = Path(__file__).resolve().parents[3]
CONTRACTS = ROOT / "contracts"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """A redis-server on a loopback port, in a folder of its own; `stop()` and `start()` keep its port."""

    def __init__(self, directory: Path, port: int | None = None, durable: bool = False) -> None:
        self.directory = directory
        self.durable = durable
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is missing: run the tests through scripts/test, which installs it")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes" if self.durable else "no",
             "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    instance = RedisServer(tmp_path_factory.mktemp("redis"))
    instance.start()
    yield instance
    instance.stop()


@pytest.fixture
def private_server(tmp_path: Path) -> Iterator[RedisServer]:
    instance = RedisServer(tmp_path)
    yield instance
    instance.stop()


@pytest.fixture
def durable_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A private server with an append-only file: a restart keeps its data."""
    instance = RedisServer(tmp_path, durable=True)
    instance.start()
    yield instance
    instance.stop()


@pytest.fixture
def raw(server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(server.url)
    yield client
    client.close()


def unique(prefix: str) -> str:
    """A channel name no other test uses, under a shipped contract's pattern or family."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def write_contract(folder: Path, channel: str, schema: dict[str, Any], **extra: Any) -> None:
    """Writes one contract file into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    document = {"channel": channel, "schema": schema, **extra}
    (folder / (channel.replace(":", "_").replace(".", "_").replace("*", "pattern") + ".json")).write_text(json.dumps(document))
