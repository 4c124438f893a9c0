"""A real redis-server per test module (127.0.0.1, a free port, no persistence, a temp dir).

Tests needing it are skipped, with the reason, only when ``redis-server`` is not on PATH (CI
installs it: see ``.ci/run``). ``RedisServer.kill()``/``start()`` stop and restart it on the
same port, for the "Redis went away" tests.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

redis = pytest.importorskip("redis", reason="the redis extra is not installed")

from redis.asyncio import Redis  # noqa: E402

SERVER = shutil.which("redis-server")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    """One redis-server process on 127.0.0.1:``port``."""

    def __init__(self, directory: Path) -> None:
        assert SERVER is not None
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert SERVER is not None
        self._process = subprocess.Popen(
            [
                SERVER,
                "--bind", "127.0.0.1",
                "--port", str(self.port),
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.directory),
                "--protected-mode", "yes",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock,
            ):
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return
            if self._process.poll() is not None:
                break
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def kill(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    if SERVER is None:
        pytest.skip("redis-server is not on PATH (apt-get install redis-server; .ci/run does)")
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
async def redis_client(redis_server: RedisServer) -> AsyncIterator[Redis]:
    """A client of the module's server, emptied first, closed after."""
    client = Redis.from_url(redis_server.url, socket_timeout=2, socket_connect_timeout=2)
    await client.flushall()
    try:
        yield client
    finally:
        await client.aclose()
