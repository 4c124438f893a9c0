"""Section 3: token storms.

*No-token storm*: a fresh client (no token held) starts 1,000 ``create_meeting`` calls at once;
how many token requests reach the token endpoint (goal: 1) and how long until the first call
answers. *Refusal storm*: a client holding a token that the service has just expired starts
1,000 calls at once; every call sees its token refused, and the renewals that follow must be one.
``max_in_flight`` is 1,000, so all 1,000 are on the wire together.

Two settings: in process (``FakeTransport`` with 5 ms of emulated latency on every answer, so
the storm really overlaps the token request) and on loopback against the emulator process
(``AiohttpTransport``; its pool opens at most 100 connections).
"""

from __future__ import annotations

import asyncio
import time
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

STORM = 1000
LATENCY = 0.005
STORMS = {"fresh": "no token", "held": "token held (reference)", "refused": "token refused"}


async def _storm(client: Any, model: Any, calls: int) -> dict[str, float]:
    """``calls`` creates at once; time to the first and to the last answer."""
    first: list[float] = []
    t0 = time.perf_counter()

    async def one() -> str:
        meeting_id: str = await client.create_meeting(model)
        if not first:
            first.append(time.perf_counter() - t0)
        return meeting_id

    results = await asyncio.gather(*(one() for _ in range(calls)), return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    return {
        "first_ms": first[0] * 1000 if first else float("nan"),
        "all_ms": (time.perf_counter() - t0) * 1000,
        "errors": len(errors),
        "error": repr(errors[0]) if errors else "",
    }


async def _in_process(calls: int) -> dict[str, Any]:
    from yzj_meeting import Credentials, MeetingClient
    from yzj_meeting.fake import FakeService, FakeTransport, Faults

    service = FakeService(
        calls_per_minute=None, record_calls=False, seed=0, faults=Faults(latency=LATENCY)
    )
    model = sample_create()
    async with MeetingClient(
        credentials=Credentials(eid=EID, secret=SECRET),
        base_url="http://bench.invalid",
        transport=FakeTransport(service),
        calls_per_minute=None,
        max_in_flight=calls,
    ) as client:
        fresh = await _storm(client, model, calls)
        fresh["token_requests"] = client.token_provider.token_requests
        fresh["server_token_requests"] = service.token_requests
        held = await _storm(client, model, calls)
        held["token_requests"] = client.token_provider.token_requests - 1
        service.expire_tokens()
        before = client.token_provider.token_requests
        server_before = service.token_requests
        refused = await _storm(client, model, calls)
        refused["token_requests"] = client.token_provider.token_requests - before
        refused["server_token_requests"] = service.token_requests - server_before
    return {"fresh": fresh, "held": held, "refused": refused}


async def _loopback(base_url: str, calls: int) -> dict[str, Any]:
    import urllib.request

    from yzj_meeting import Credentials, MeetingClient

    model = sample_create()
    async with MeetingClient(
        credentials=Credentials(eid=EID, secret=SECRET),
        base_url=base_url,
        calls_per_minute=None,
        max_in_flight=calls,
    ) as client:
        fresh = await _storm(client, model, calls)
        fresh["token_requests"] = client.token_provider.token_requests
        held = await _storm(client, model, calls)
        held["token_requests"] = client.token_provider.token_requests - 1

        def expire() -> None:
            request = urllib.request.Request(base_url + "/__bench__/expire", data=b"{}")
            with urllib.request.urlopen(request, timeout=10) as response:
                response.read()

        await asyncio.to_thread(expire)
        before = client.token_provider.token_requests
        refused = await _storm(client, model, calls)
        refused["token_requests"] = client.token_provider.token_requests - before
    return {"fresh": fresh, "held": held, "refused": refused}


def measure(args: dict[str, Any]) -> dict[str, Any]:
    """Child entry: one pair of storms (no token, then refused token)."""
    if args["where"] == "fake":
        return asyncio.run(_in_process(args["calls"]))
    return asyncio.run(_loopback(args["base_url"], args["calls"]))


# --- in the driver ---------------------------------------------------------------------------


def run(quick: bool, versus: Versus | None = None) -> Section:
    """Rounds of both storms in both settings, alternating."""
    rounds = 2 if quick else 5
    section = Section("tokens", "3. Token storms")
    samples: dict[str, list[dict[str, Any]]] = {}
    with emulator() as server:
        for r in range(rounds):
            for where in ("fake", "loopback"):
                server.control("reset")
                result = run_child(
                    "tokens",
                    "measure",
                    {"where": where, "calls": STORM, "base_url": server.base_url},
                    timeout=120,
                )
                if where == "loopback":
                    stats = server.control("stats")
                    result["server_token_requests"] = stats["token_requests"]
                for storm in STORMS:
                    samples.setdefault(f"{where}/{storm}", []).append(result[storm])
                log(
                    f"  round {r + 1}/{rounds} {where:<8} token requests "
                    f"{result['fresh']['token_requests']}, renewals "
                    f"{result['refused']['token_requests']}, first answer "
                    f"{result['fresh']['first_ms']:.1f} ms"
                )
    rows = []
    for key, runs in samples.items():
        where, storm = key.split("/")
        counts = sorted({s["token_requests"] for s in runs})
        rows.append(
            [
                "in process, 5 ms latency" if where == "fake" else "loopback emulator",
                STORMS[storm],
                ", ".join(map(str, counts)),
                fmt(median([s["first_ms"] for s in runs]), 1),
                fmt(median([s["all_ms"] for s in runs]), 1),
                sum(s["errors"] for s in runs),
            ]
        )
    section.lines += [
        f"{STORM:,} concurrent `create_meeting` calls, {rounds} rounds per setting (medians). "
        "*token requests* lists every distinct count seen over the rounds, counted by the "
        "client's `TokenProvider.token_requests` (the emulator's own count agrees"
        " in process). For the refusal storm it is the renewals after the service expired the "
        "token the client held; the *token held* storm is the reference (the same storm, no "
        "token work), so its token requests are 0. The first answer of a storm waits for the "
        "client to send all 1,000 requests (in process the emulator's work for each of them "
        "runs in the same process too); the difference to the reference is the token's cost.",
        "",
        *md_table(
            [
                "setting",
                "storm",
                "token requests (all rounds)",
                "first answer ms",
                f"all {STORM:,} answered ms",
                "failed calls",
            ],
            rows,
        ),
    ]
    for storm, label in (
        ("fresh", "token requests per no-token storm"),
        ("refused", "renewals per refusal storm"),
    ):
        counts = [s["token_requests"] for k, v in samples.items() if k.endswith(storm) for s in v]
        failed = sum(s["errors"] for k, v in samples.items() if k.endswith(storm) for s in v)
        worst = max(counts)
        section.targets.append(
            Target(
                f"{label} ({STORM:,} calls, every round, both settings)",
                "exactly 1",
                f"{worst if worst == min(counts) else f'{min(counts)}-{worst}'}"
                + (f", {failed} calls failed" if failed else ""),
                worst == 1 and min(counts) == 1 and failed == 0,
            )
        )
    for where, label in (("fake", "in process"), ("loopback", "loopback")):
        first = median([s["first_ms"] for s in samples[f"{where}/fresh"]])
        held = median([s["first_ms"] for s in samples[f"{where}/held"]])
        section.targets.append(
            Target(
                f"time to first answer, no-token storm, {label}",
                "report it",
                f"{first:.1f} ms ({first - held:+.1f} ms vs token held)",
                True,
            )
        )
    section.data = {
        k: {"first_ms": median([s["first_ms"] for s in v]), "runs": v} for k, v in samples.items()
    }
    return section
