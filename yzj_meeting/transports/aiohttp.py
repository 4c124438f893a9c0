"""Real HTTP over one pooled ``aiohttp.ClientSession``; aiohttp's exceptions end here.

aiohttp's errors carry the request URL, and the URL carries the access token, so they are
translated into the SDK's own errors from safe parts only, and raised outside the ``except``
block: neither ``__cause__`` nor ``__context__`` points back at them.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .._http import HttpRequest, HttpResponse, Timeout
from ..errors import (
    ConnectError,
    NetworkError,
    ProtocolError,
    RequestTimeout,
    TransportError,
    YzjError,
)

if TYPE_CHECKING:
    import aiohttp
    from multidict import CIMultiDictProxy
    from yarl import URL

__all__ = ["AiohttpTransport"]


def _load() -> None:
    """Import aiohttp (~100 ms) when the transport is first used, not when it is made."""
    global aiohttp, URL
    if "aiohttp" not in globals():
        aiohttp = importlib.import_module("aiohttp")
        URL = importlib.import_module("yarl").URL  # type: ignore[misc]


_URL_CACHE_SIZE = 256


class AiohttpTransport:
    """The default transport.

    ``limit`` bounds pooled connections; ``timeout`` is the default per attempt (a request's own
    ``timeout`` overrides it); answers longer than ``max_body`` bytes are refused. Given a
    ``session``, the transport uses it and does not close it; otherwise it opens one lazily,
    inside the running loop, and closes it in ``aclose``. ``trace_configs`` are handed to the
    session it opens (aiohttp's hooks for metrics and tracing).
    """

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession | None = None,
        limit: int = 100,
        timeout: Timeout = Timeout(),
        max_body: int = 16 * 1024 * 1024,
        trace_configs: list[aiohttp.TraceConfig] | None = None,
    ) -> None:
        if session is not None:
            _load()
        self._session = session
        self._owns_session = session is None
        self._limit = limit
        self._default_timeout = timeout
        self._max_body = max_body
        self._trace_configs = trace_configs
        self._closed = False
        self._timeouts: dict[Timeout, aiohttp.ClientTimeout] = {}
        self._urls: dict[str, URL] = {}

    def _open(self) -> aiohttp.ClientSession:
        if self._closed:
            raise TransportError("transport is closed")
        _load()
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._limit, limit_per_host=0),
            timeout=self._client_timeout(self._default_timeout),
            trace_configs=self._trace_configs,
        )
        return self._session

    def _client_timeout(self, timeout: Timeout) -> aiohttp.ClientTimeout:
        client_timeout = self._timeouts.get(timeout)
        if client_timeout is None:
            # A read limit no shorter than the total can never fire first, and aiohttp enforces
            # it by re-arming a timer on every chunk received: leave it out then.
            read = timeout.read
            if read is not None and timeout.total is not None and read >= timeout.total:
                read = None
            client_timeout = self._timeouts[timeout] = aiohttp.ClientTimeout(
                total=timeout.total, connect=timeout.connect, sock_read=read
            )
        return client_timeout

    def _url(self, url: str) -> URL:
        parsed = self._urls.get(url)
        if parsed is None:
            if len(self._urls) >= _URL_CACHE_SIZE:
                self._urls.clear()
            parsed = self._urls[url] = URL(url, encoded=True)
        return parsed

    async def send(self, request: HttpRequest) -> HttpResponse:
        """Send one request and read its whole answer."""
        session = self._session
        if session is None or self._closed:
            session = self._open()
        timeout = (
            session.timeout if request.timeout is None else self._client_timeout(request.timeout)
        )
        error: YzjError
        try:
            async with session.request(
                request.method,
                self._url(request.url),
                data=request.body,
                headers=request.headers,
                # Never follow a redirect: a 307/308 would resend the body (the secret, for the
                # token endpoints) to wherever the answer points, off the configured base URL.
                allow_redirects=False,
                timeout=timeout,
            ) as resp:
                length = resp.content_length
                # Content-Length counts the bytes on the wire: a compressed answer may inflate
                # past max_body, so only an uncompressed one is read without counting.
                encoding = resp.headers.get("Content-Encoding")
                if (
                    length is not None
                    and length <= self._max_body
                    and (encoding is None or encoding.strip().lower() == "identity")
                ):
                    body = await resp.read()
                else:
                    body = await self._read_capped(resp, request.endpoint)
                return HttpResponse(resp.status, _Headers(resp.headers), body)
        except YzjError:
            raise
        except aiohttp.ConnectionTimeoutError:
            error = ConnectError("connect timed out", endpoint=request.endpoint)
        except aiohttp.SocketTimeoutError:
            error = RequestTimeout("read timed out", endpoint=request.endpoint)
        except aiohttp.ClientConnectorError as exc:
            error = ConnectError(f"cannot connect: {_os_reason(exc)}", endpoint=request.endpoint)
        except aiohttp.InvalidURL:
            error = ConnectError("invalid URL", endpoint=request.endpoint)
        except aiohttp.ServerDisconnectedError:
            error = NetworkError("server closed the connection", endpoint=request.endpoint)
        except TimeoutError:
            error = RequestTimeout("timed out", endpoint=request.endpoint)
        except (aiohttp.ClientError, OSError) as exc:
            error = NetworkError(
                f"connection failed: {type(exc).__name__}", endpoint=request.endpoint
            )
        raise error

    async def _read_capped(self, resp: aiohttp.ClientResponse, endpoint: str) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(65536):
            size += len(chunk)
            if size > self._max_body:
                resp.close()
                raise ProtocolError(f"answer larger than {self._max_body} bytes", endpoint=endpoint)
            chunks.append(chunk)
        return b"".join(chunks)

    async def aclose(self) -> None:
        """Close the session this transport opened (a given session is left open)."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None and self._owns_session and not session.closed:
            await session.close()

    async def __aenter__(self) -> AiohttpTransport:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class _Headers(Mapping[str, str]):
    """aiohttp's read-only answer headers seen with lower-case names, without copying them.

    Lookups are case-insensitive; a repeated header answers its last value, as a dict built
    from the headers in order would.
    """

    __slots__ = ("_raw",)

    def __init__(self, raw: CIMultiDictProxy[str]) -> None:
        self._raw = raw

    def __getitem__(self, name: str) -> str:
        return self._raw.getall(name)[-1]

    def get(self, name: str, default: Any = None) -> Any:
        values = self._raw.getall(name, None)
        return default if values is None else values[-1]

    def __contains__(self, name: object) -> bool:
        return name in self._raw

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(name.lower() for name in self._raw))

    def __len__(self) -> int:
        return len(dict.fromkeys(name.lower() for name in self._raw))

    def __repr__(self) -> str:
        return repr(dict(self))


def _os_reason(exc: aiohttp.ClientConnectorError) -> str:
    os_error = exc.os_error
    reason = os_error.strerror if isinstance(os_error, OSError) else None
    return reason or type(os_error).__name__
