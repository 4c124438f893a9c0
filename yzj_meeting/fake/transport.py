"""``FakeTransport``: the Transport protocol served in-process by a :class:`FakeService`."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .._http import HttpRequest, HttpResponse
from ..errors import ConnectError, NetworkError, RequestTimeout, TransportError
from .service import FakeService

__all__ = ["FakeTransport"]

_SPLIT_CACHE_SIZE = 64


class FakeTransport:
    """Sends every request to ``service`` (made from ``service_kwargs`` when not given).

    Faults become the errors a real transport raises: a refused connection is
    ``ConnectError``, a dropped one ``NetworkError``, a delay longer than the request's
    ``total`` or ``read`` timeout ``RequestTimeout`` (after waiting that long). Errors name
    ``request.endpoint``, never the URL, which carries the access token.
    """

    def __init__(self, service: FakeService | None = None, **service_kwargs: Any) -> None:
        if service is not None and service_kwargs:
            raise TypeError("pass either a FakeService or the arguments to make one, not both")
        self.service = service if service is not None else FakeService(**service_kwargs)
        self.closed = False
        self._split: dict[str, tuple[str, dict[str, str]]] = {}

    async def send(self, request: HttpRequest) -> HttpResponse:
        """Answer ``request`` from the service, as a network round trip would."""
        if self.closed:
            raise TransportError("the transport is closed", endpoint=request.endpoint)
        url = request.url
        split = self._split.get(url)
        if split is None:
            parts = urlsplit(url)
            split = (parts.path, dict(parse_qsl(parts.query)))
            if len(self._split) >= _SPLIT_CACHE_SIZE:  # old tokens' URLs: drop them all
                self._split.clear()
            self._split[url] = split
        answer = self.service.handle(request.method, split[0], split[1], request.body)
        if answer.refuse:
            raise ConnectError("connection refused", endpoint=request.endpoint)
        delay = answer.delay
        if delay > 0.0:
            timeout = request.timeout
            limit = None
            if timeout is not None:
                limits = [t for t in (timeout.total, timeout.read) if t is not None]
                limit = min(limits) if limits else None
            if limit is not None and limit < delay:
                await asyncio.sleep(limit)
                raise RequestTimeout(f"no answer within {limit:g} s", endpoint=request.endpoint)
            await asyncio.sleep(delay)
        if answer.drop:
            raise NetworkError(
                "the server closed the connection without answering", endpoint=request.endpoint
            )
        return HttpResponse(answer.status, answer.headers, answer.body)

    async def aclose(self) -> None:
        """Mark the transport closed; the service is left as it is."""
        self.closed = True

    async def __aenter__(self) -> FakeTransport:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"FakeTransport(closed={self.closed}, meetings={len(self.service.meetings)})"
