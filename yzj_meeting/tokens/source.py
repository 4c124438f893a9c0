"""What ``MeetingClient`` needs from whatever supplies its access tokens."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["TokenSource"]


@runtime_checkable
class TokenSource(Protocol):
    """Supplies access tokens. ``TokenProvider`` is the SDK's; any object with these works."""

    def peek(self) -> str | None:
        """A valid token without awaiting, or ``None`` (then ``token()`` is awaited)."""
        ...

    async def token(self) -> str:
        """A valid token, fetched when none is held."""
        ...

    async def renew(self, refused: str) -> str:
        """A new token after the server refused ``refused``: one renewal for all its callers."""
        ...

    async def aclose(self) -> None:
        """Release what the source holds."""
        ...
