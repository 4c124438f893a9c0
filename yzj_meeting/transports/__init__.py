"""Transports: the protocol, and the aiohttp implementation (``FakeTransport`` is in ``fake``).

``AiohttpTransport`` is imported on first use, so that importing the SDK does not load aiohttp.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .._http import HttpRequest, HttpResponse, Timeout
from .base import Transport

if TYPE_CHECKING:
    from .aiohttp import AiohttpTransport

__all__ = ["AiohttpTransport", "HttpRequest", "HttpResponse", "Timeout", "Transport"]


def __getattr__(name: str) -> Any:
    if name == "AiohttpTransport":
        value = importlib.import_module(".aiohttp", __name__).AiohttpTransport
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
