"""Transports: the protocol, and the aiohttp implementation (``FakeTransport`` is in ``fake``)."""

from .._http import HttpRequest, HttpResponse, Timeout
from .aiohttp import AiohttpTransport
from .base import Transport

__all__ = ["AiohttpTransport", "HttpRequest", "HttpResponse", "Timeout", "Transport"]
