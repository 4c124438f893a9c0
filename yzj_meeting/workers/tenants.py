"""Where workers find each tenant's secret and base URL: a tenants file or the environment.

Jobs carry only the tenant's eid and where its schedule lives; the secret is looked up here,
in the worker process, and never written to the database, a job argument or a log.

A tenants file is JSON or TOML (by extension), one table per eid::

    {"17717": {"secret": "...", "base_url": "https://www.yunzhijia.com"}}

Without a file entry, ``YZJ_MEETING_SECRET_<EID>`` holds the secret and
``YZJ_MEETING_BASE_URL`` the base URL (default: the public service).
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from .._urls import canonical_base_url
from ..auth import DEFAULT_BASE_URL
from ..errors import ValidationError

__all__ = ["Tenant", "TenantError", "Tenants", "load_tenants"]

ENV_SECRET = "YZJ_MEETING_SECRET_"
ENV_BASE_URL = "YZJ_MEETING_BASE_URL"


class TenantError(ValidationError):
    """A tenant is unknown to this worker, or the tenants file is malformed."""


@attrs.frozen
class Tenant:
    """One tenant as a worker knows it; its ``repr`` never shows the secret."""

    eid: str
    secret: str = attrs.field(repr=False)
    base_url: str = DEFAULT_BASE_URL


@attrs.frozen
class Tenants:
    """The tenants a worker can sync: a file's entries, then the environment."""

    entries: Mapping[str, Tenant] = attrs.field(factory=dict, repr=False)
    environ: Mapping[str, str] = attrs.field(factory=lambda: os.environ, repr=False)

    def get(self, eid: str) -> Tenant:
        """The tenant ``eid``; ``TenantError`` if this worker has no secret for it."""
        found = self.entries.get(eid)
        if found is not None:
            return found
        secret = self.environ.get(ENV_SECRET + eid)
        if not secret:
            raise TenantError(
                "eid", f"{eid!r}: no secret in the tenants file or in ${ENV_SECRET}{eid}"
            )
        base_url = canonical_base_url(self.environ.get(ENV_BASE_URL) or DEFAULT_BASE_URL)
        return Tenant(eid, secret, base_url)


def load_tenants(
    path: str | os.PathLike[str] | None, environ: Mapping[str, str] | None = None
) -> Tenants:
    """Read a tenants file (``None``: the environment only); errors name the file and field."""
    env = os.environ if environ is None else environ
    if path is None:
        return Tenants({}, env)
    where = os.fspath(path)
    try:
        text = Path(where).read_text(encoding="utf-8")
        data: Any = tomllib.loads(text) if where.endswith(".toml") else json.loads(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise TenantError("tenants", f"{where}: cannot read ({type(exc).__name__})") from None
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise TenantError("tenants", f"{where}: not valid ({exc})") from None
    if not isinstance(data, dict):
        raise TenantError("tenants", f"{where}: must map each eid to its secret and base_url")
    entries: dict[str, Tenant] = {}
    for eid, fields in data.items():
        if not isinstance(fields, dict) or not isinstance(fields.get("secret"), str):
            raise TenantError(f"{eid}.secret", f"{where}: a string is required")
        base_url = fields.get("base_url", DEFAULT_BASE_URL)
        try:
            entries[str(eid)] = Tenant(str(eid), fields["secret"], canonical_base_url(base_url))
        except ValidationError as exc:
            raise TenantError(f"{eid}.base_url", f"{where}: {exc.message}") from None
    return Tenants(entries, env)
