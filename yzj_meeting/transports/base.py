"""The transport protocol: send one HTTP request, get its answer; close."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from .._http import HttpRequest, HttpResponse

__all__ = ["Transport"]


@runtime_checkable
class Transport(Protocol):
    """What ``MeetingClient`` sends through.

    ``send`` returns the answer whatever its status; it raises only ``TransportError``
    subclasses (``ConnectError`` when the request provably never left). It never sees a token
    other than inside ``request.url`` and must never put that URL into an error or a log.
    """

    async def send(self, request: HttpRequest) -> HttpResponse:
        """Send one request and read its whole answer."""
        ...

    async def aclose(self) -> None:
        """Release what the transport opened (not what it was given)."""
        ...
