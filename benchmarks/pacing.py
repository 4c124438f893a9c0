"""Section 5: quota pacing - a bulk run of creates against the emulator enforcing a quota.

The real quota is 1,500 calls per minute per interface. To finish in well under a minute the
clock is compressed tenfold: the emulator (its own process) enforces ``QUOTA`` (1,500) calls per
``WINDOW`` (6) seconds per interface, and the client's limiter is replaced by
``RateLimiter(QUOTA, WINDOW, margin=MARGIN)``, the margin scaled by the same factor as the window
(0.5 s per 60 s by default). ``MeetingClient(calls_per_minute=...)`` has no window parameter, so
the benchmark assigns ``client._limiter`` directly.

Each create request is time-stamped when it is handed to the transport. A sender that respects
"at most Q calls in any W seconds" cannot send call k (0-based, k >= Q) earlier than W after call
k - Q, so in the steady state the gaps ``t[k] - t[k-Q]`` average W at best. Their mean is
``mean(last Q sends) - mean(first Q sends)`` over ``(N - Q) / Q``, so the steady rate is
``N - Q`` calls over the time between the centroids of the first Q and of the last Q sends (the
initial burst that any sliding window allows is thus not counted as pacing), and its fraction
of the quota rate ``Q / W`` is how much of the quota the run used. Throttled answers are
counted by the client (``on_attempt``) and by the emulator.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any

from ._common import (
    EID,
    SECRET,
    Section,
    Target,
    Versus,
    emulator,
    fmt,
    log,
    md_table,
    median,
    run_child,
    sample_create,
)

QUOTA = 1500
WINDOW = 6.0
MARGIN = 0.5 * WINDOW / 60.0
CONCURRENCY = 64


class Stamping:
    """Wraps a transport; keeps the monotonic time each meeting request was handed over."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.sends: list[float] = []

    async def send(self, request: Any) -> Any:
        """Stamp, forward."""
        if request.endpoint == "create":
            self.sends.append(time.monotonic())
        return await self.inner.send(request)

    async def aclose(self) -> None:
        """Close the inner transport."""
        await self.inner.aclose()


def _max_in_window(times: list[float], window: float) -> int:
    """The most stamps inside any half-open interval of ``window`` seconds."""
    best = 0
    inside: deque[float] = deque()
    for t in times:
        inside.append(t)
        while inside[0] <= t - window:
            inside.popleft()
        best = max(best, len(inside))
    return best


async def _bulk(base_url: str, calls: int) -> dict[str, Any]:
    from yzj_meeting import AiohttpTransport, Attempt, Credentials, MeetingClient
    from yzj_meeting.limits import RateLimiter

    attempts: list[Attempt] = []
    transport = Stamping(AiohttpTransport())
    async with MeetingClient(
        credentials=Credentials(eid=EID, secret=SECRET),
        base_url=base_url,
        transport=transport,
        calls_per_minute=QUOTA,
        max_in_flight=CONCURRENCY,
        on_attempt=attempts.append,
    ) as client:
        client._limiter = RateLimiter(QUOTA, WINDOW, margin=MARGIN)
        await client.token_provider.token()
        t0 = time.monotonic()
        outcomes = await client.run_many(
            (sample_create(i) for i in range(calls)), concurrency=CONCURRENCY
        )
        wall = time.monotonic() - t0
    sends = transport.sends
    throttled = sum(1 for a in attempts if a.error == "RateLimitError")
    span = sum(sends[-QUOTA:]) / QUOTA - sum(sends[:QUOTA]) / QUOTA
    steady_rate = (len(sends) - QUOTA) / span if span > 0 else float("nan")
    return {
        "calls": calls,
        "sends": len(sends),
        "failed": sum(1 for o in outcomes if not o.ok),
        "throttled_client": throttled,
        "wall": wall,
        "span": span,
        "steady_rate": steady_rate,
        "fraction": steady_rate / (QUOTA / WINDOW),
        "max_in_window": _max_in_window(sends, WINDOW),
    }


def measure(args: dict[str, Any]) -> dict[str, Any]:
    """Child entry: one bulk run."""
    return asyncio.run(_bulk(args["base_url"], args["calls"]))


# --- in the driver ---------------------------------------------------------------------------


def run(quick: bool, versus: Versus | None = None) -> Section:
    """Rounds of the bulk run against a freshly reset emulator."""
    calls = 3_000
    rounds = 1 if quick else 3
    section = Section("pacing", "5. Quota pacing")
    runs: list[dict[str, Any]] = []
    with emulator(calls_per_minute=QUOTA, rate_window=WINDOW) as server:
        for r in range(rounds):
            server.control("reset")
            result = run_child(
                "pacing", "measure", {"base_url": server.base_url, "calls": calls}, timeout=300
            )
            result["throttled_server"] = server.control("stats")["throttled"]
            runs.append(result)
            log(
                f"  round {r + 1}/{rounds}: {result['fraction'] * 100:.2f}% of the quota, "
                f"{result['throttled_server']} throttled, {result['wall']:.1f} s"
            )
    fraction = median([r["fraction"] for r in runs])
    throttled = max(max(r["throttled_client"], r["throttled_server"]) for r in runs)
    failed = sum(r["failed"] for r in runs)
    section.lines += [
        f"{calls:,} creates through `run_many(concurrency={CONCURRENCY})` against the emulator "
        f"enforcing **{QUOTA:,} calls per {WINDOW:g} s** per interface (1,500 per minute on a "
        f"clock running {60 / WINDOW:g}× fast; quota rate {QUOTA / WINDOW:g} calls/s); client "
        f"limiter `RateLimiter({QUOTA}, {WINDOW:g}, "
        f"margin={MARGIN:g})` assigned to `client._limiter` (the default margin, 0.5 s per "
        f"60 s, scaled alike). {rounds} round(s), each against a freshly reset emulator.",
        "",
        *md_table(
            [
                "round",
                "wall s",
                "first→last Q centroids s",
                "steady rate calls/s",
                "of quota",
                f"max sends in any {WINDOW:g} s",
                "throttled (client / emulator)",
                "failed",
            ],
            [
                [
                    i + 1,
                    fmt(r["wall"], 2),
                    fmt(r["span"], 3),
                    fmt(r["steady_rate"], 2),
                    f"{r['fraction'] * 100:.2f}%",
                    r["max_in_window"],
                    f"{r['throttled_client']} / {r['throttled_server']}",
                    r["failed"],
                ]
                for i, r in enumerate(runs)
            ],
        ),
        "",
        f"*Steady rate* = (N − {QUOTA}) calls over the time between the mean send time of the "
        f"first {QUOTA} calls and that of the last {QUOTA}: call k may not leave before call "
        f"k − {QUOTA} is {WINDOW:g} s old, so this is {QUOTA} over the mean of those gaps. The "
        f"limiter's margin alone caps it at {WINDOW / (WINDOW + MARGIN) * 100:.2f}%. *Max sends "
        f"in any {WINDOW:g} s* is counted on the client's clock at hand-over to the transport.",
    ]
    section.targets += [
        Target(
            "achieved steady rate as a fraction of the quota",
            ">= 98%",
            f"{fraction * 100:.2f}%",
            fraction >= 0.98,
            f"{(fraction - 0.98) * 100:+.2f} points",
        ),
        Target(
            "throttled answers received (client's `on_attempt` and the emulator's count)",
            "0",
            str(throttled) + (f", {failed} calls failed" if failed else ""),
            throttled == 0 and failed == 0,
        ),
    ]
    section.data = {"fraction": fraction, "throttled": throttled, "runs": runs}
    return section
