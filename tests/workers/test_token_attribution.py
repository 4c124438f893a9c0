"""The chaos test's attribution of token requests (``renewals``), on hand-written request logs:
only a renewal whose worker ended before presenting its token excuses the next one."""

from __future__ import annotations

from typing import Any

from .test_chaos import renewals, token_gaps


def row(at: float, pid: int, endpoint: str, token: str | None, eid: str = "t01") -> list[Any]:
    return [at, f"http://e#{eid}|vm:{pid}:x|1", endpoint, None, token]


def test_a_renewal_lost_with_its_worker_excuses_the_next_one_only() -> None:
    log = [
        row(10.0, 1, "refreshToken", "T2"),  # then pid 1 is killed, T2 never presented
        row(13.1, 2, "refreshToken", None),  # refused: pid 1 spent the refresh token
        row(13.1, 2, "getAccessToken", "T2"),  # its fallback: one renewal with the refusal
        row(13.2, 2, "create", "T2"),
        row(14.0, 3, "refreshToken", "T3"),  # a real double: nobody died
        row(14.1, 3, "create", "T3"),
    ]
    found = renewals(log, {1: [10.2]})["t01"]
    assert [(r.pid, r.lost, r.refused_first) for r in found] == [
        (1, True, False),
        (2, False, True),
        (3, False, False),
    ]
    assert [round(g, 1) for g in token_gaps({"t01": found})["t01"]] == [0.9]


def test_a_worker_that_presented_its_token_or_died_late_is_not_excused() -> None:
    log = [
        row(10.0, 1, "refreshToken", "T2"),
        row(10.1, 1, "create", "T2"),  # presented: it was stored, then pid 1 died
        row(20.0, 4, "refreshToken", "T3"),  # pid 4 dies long after: not why T3 was lost
        row(30.0, 2, "refreshToken", "T4"),
        row(30.5, 5, "refreshToken", "T5"),
    ]
    found = renewals(log, {1: [10.3], 4: [29.0]})["t01"]
    assert [r.lost for r in found] == [False, False, False, False]
    assert [round(g, 1) for g in token_gaps({"t01": found})["t01"]] == [10.0, 10.0, 0.5]
