"""The one spelling of a service's base URL, so that every spelling names one target."""

from __future__ import annotations

from urllib.parse import urlsplit

from .errors import ValidationError

__all__ = ["canonical_base_url"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical_base_url(base_url: str) -> str:
    """``base_url`` with scheme and host lowercased, the default port, repeated slashes, dot
    segments and the trailing slash dropped: ``HTTPS://Host:443//api/`` -> ``https://host/api``.

    Raises ``ValidationError`` naming ``base_url`` for anything that is not an http(s) URL with a
    host, or that carries a query, fragment or user info.
    """
    if not isinstance(base_url, str):
        raise ValidationError("base_url", "must be a string")
    try:
        parts = urlsplit(base_url.strip())
        port = parts.port
    except ValueError as exc:
        raise ValidationError("base_url", f"is not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ValidationError("base_url", "must start with http:// or https://")
    host = (parts.hostname or "").lower()
    if not host:
        raise ValidationError("base_url", "has no host")
    if parts.query or parts.fragment or "?" in base_url or "#" in base_url:
        raise ValidationError("base_url", "must not carry a query or fragment")
    if parts.username is not None or parts.password is not None:
        raise ValidationError("base_url", "must not carry user info")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    segments: list[str] = []
    for segment in parts.path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    path = "/" + "/".join(segments) if segments else ""
    return f"{scheme}://{netloc}{path}"
