"""Fault injection: which failure (if any) strikes a call, drawn from the service's random."""

from __future__ import annotations

import random
from typing import Any, Final

import attrs

__all__ = ["BEFORE_FAULTS", "FAULT_NAMES", "Faults", "draw"]

FAULT_NAMES: Final = (
    "server_error",
    "server_error_after",
    "drop_before",
    "drop_after",
    "malformed",
    "throttle",
    "http_429",
    "token_expiry",
    "refuse",
)
"""Fault kinds, in the order the random draw walks them; ``script`` also takes ``"ok"``."""
SCRIPT_NAMES: Final = frozenset((*FAULT_NAMES, "ok"))
BEFORE_FAULTS: Final = frozenset(("server_error", "drop_before", "throttle", "http_429", "refuse"))
"""The faults that strike before the service acts (it then does nothing)."""


def _check_rate(_: Any, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be between 0 and 1, not {value!r}")


def _check_script(_: Any, __: attrs.Attribute[list[str]], value: list[str]) -> None:
    unknown = [name for name in value if name not in SCRIPT_NAMES]
    if unknown:
        raise ValueError(f"unknown fault names in script: {unknown!r}")


def _rate() -> Any:
    return attrs.field(default=0.0, validator=_check_rate)


@attrs.define
class Faults:
    """Failures to inject. Rates are fractions of calls, drawn from the service's seeded random.

    Before acting: ``server_error`` (HTTP 503), ``drop_before`` (connection broken),
    ``throttle`` (errorCode 10000429), ``http_429`` (HTTP 429, ``retry-after: 1``),
    ``token_expiry`` (the presented token expires now: errorCode 10000401), ``refuse``
    (connection refused). After acting: ``server_error_after`` (HTTP 500), ``drop_after``
    (connection broken), ``malformed`` (the answer cut in half: not JSON). ``latency`` is added
    to every answer. ``script`` is a queue of fault names (or ``"ok"``) consumed one per call
    before any draw. Attributes may be changed at any time, also while a server runs.
    """

    latency: float = attrs.field(default=0.0, validator=attrs.validators.ge(0.0))
    server_error: float = _rate()
    server_error_after: float = _rate()
    drop_before: float = _rate()
    drop_after: float = _rate()
    malformed: float = _rate()
    throttle: float = _rate()
    http_429: float = _rate()
    token_expiry: float = _rate()
    refuse: float = _rate()
    script: list[str] = attrs.field(factory=list, validator=_check_script)
    apply_to_tokens: bool = False


def draw(faults: Faults, rng: random.Random) -> str | None:
    """The fault of one call: the next ``script`` entry, else at most one random pick.

    No draw is made while every rate is 0, so the ids of a seeded run do not depend on an idle
    ``Faults``.
    """
    if faults.script:
        name = faults.script.pop(0)
        if name not in SCRIPT_NAMES:
            raise ValueError(f"unknown fault name in script: {name!r}")
        return None if name == "ok" else name
    rates = [getattr(faults, name) for name in FAULT_NAMES]
    if sum(rates) <= 0.0:
        return None
    left = rng.random()
    for name, rate in zip(FAULT_NAMES, rates, strict=True):
        left -= rate
        if left < 0.0:
            return name
    return None
