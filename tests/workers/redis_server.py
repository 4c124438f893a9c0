"""A redis-server for the chaos test that restarts as a service manager would: ``SHUTDOWN
SAVE`` (its data written to disk), then started again on the same port, reloading it."""

from __future__ import annotations

import contextlib
from pathlib import Path

import redis

from ..redis.conftest import RedisServer


class RestartableRedis(RedisServer):
    """``RedisServer`` with a graceful ``restart`` and a ``dump`` of every key and value."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        super().__init__(directory)

    def restart(self) -> None:
        client = redis.Redis.from_url(self.url, socket_timeout=5)
        with contextlib.suppress(redis.ConnectionError):
            client.shutdown(save=True)
        client.close()
        if self._process is not None:
            self._process.wait(10)
        self.start()

    def dump(self) -> str:
        """Every key and its value, as text (to look for secrets)."""
        client = redis.Redis.from_url(self.url, socket_timeout=5)
        parts: list[str] = []
        try:
            for key in client.scan_iter():
                kind = client.type(key)
                if kind == b"hash":
                    value: object = client.hgetall(key)
                elif kind == b"zset":
                    value = client.zrange(key, 0, -1, withscores=True)
                elif kind == b"string":
                    value = client.get(key)
                else:
                    value = kind
                parts.append(f"{key!r} {value!r}")
        finally:
            client.close()
        return "\n".join(parts)
