"""The state directory's lock: one writer at a time on a journal (and the embedded emulator).

Two syncs on one journal would fight over its keys, and two processes writing the emulator's
file would lose each other's meetings; so every writer holds the directory's ``lock`` file
(an advisory ``flock``), waiting a few seconds for it before giving up with ``StateLocked``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import IO

from ..errors import YzjError

__all__ = ["DEFAULT_LOCK_TIMEOUT", "LOCK_FILE", "StateLock", "StateLocked"]

DEFAULT_LOCK_TIMEOUT = 5.0
"""Seconds a writer waits for the state lock before giving up."""
LOCK_FILE = "lock"
_POLL = 0.05


class StateLocked(YzjError):
    """Another process holds the state directory's lock (a sync, create or cancel running)."""


class StateLock:
    """The exclusive lock of a state directory (``DIR/lock``); also a context manager.

    ``acquire`` blocks (polling) for up to ``timeout`` seconds: run it off the event loop.
    Without ``fcntl`` (Windows) there is no lock and ``acquire`` always succeeds.
    """

    def __init__(self, state_dir: str | os.PathLike[str], timeout: float = DEFAULT_LOCK_TIMEOUT):
        self.state_dir = Path(state_dir)
        self.timeout = timeout
        self._handle: IO[str] | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._handle is not None

    def acquire(self) -> None:
        """Take the lock, waiting up to ``timeout`` seconds; ``StateLocked`` if still taken."""
        if self._handle is not None:
            return
        self.state_dir.mkdir(parents=True, exist_ok=True)
        handle = open(self.state_dir / LOCK_FILE, "a+")  # noqa: SIM115 - held until release
        try:
            if sys.platform != "win32":
                self._wait(handle)
        except BaseException:
            handle.close()
            raise
        self._handle = handle

    def _wait(self, handle: IO[str]) -> None:
        import fcntl

        deadline = time.monotonic() + max(self.timeout, 0.0)
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StateLocked(
                        f"{self.state_dir}{os.sep} is in use by another sync (or create or "
                        f"cancel); waited {self.timeout:g} s, try again when it is done"
                    ) from None
                time.sleep(_POLL)

    def release(self) -> None:
        """Give the lock back (closing the file releases the ``flock``)."""
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.close()

    def __enter__(self) -> StateLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
