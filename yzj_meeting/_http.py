"""Frozen value types that cross the transport seam. They know nothing about meetings."""

from __future__ import annotations

from collections.abc import Mapping

import attrs

__all__ = ["HttpRequest", "HttpResponse", "Timeout", "redact_url"]


def redact_url(url: str) -> str:
    """The URL with its query hidden: the query carries the access token."""
    base, sep, _ = url.partition("?")
    return f"{base}?<redacted>" if sep else base


@attrs.frozen
class Timeout:
    """Time limits in seconds for one attempt; ``None`` means no limit for that phase.

    ``connect`` covers waiting for a pooled connection and opening it (the request has not left
    yet when it fires); ``read`` is the longest pause between bytes of the answer; ``total``
    bounds the whole attempt.
    """

    total: float | None = 30.0
    connect: float | None = 10.0
    read: float | None = 30.0


@attrs.frozen(repr=False)
class HttpRequest:
    """One HTTP request: what a transport sends. ``endpoint`` names it in errors and logs."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    endpoint: str = ""
    timeout: Timeout | None = None

    def __repr__(self) -> str:
        return (
            f"HttpRequest(method={self.method!r}, url={redact_url(self.url)!r}, "
            f"endpoint={self.endpoint!r}, body=<{len(self.body)} bytes>)"
        )


@attrs.frozen(repr=False)
class HttpResponse:
    """One HTTP answer. ``headers`` has lower-case names."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def __repr__(self) -> str:
        return f"HttpResponse(status={self.status}, body=<{len(self.body)} bytes>)"
