"""Section 1: ``create_meeting`` throughput on loopback, the emulator in its own process.

Every run is a fresh client process (so the SDK's JSON codec and the event loop can differ per
variant, and no run inherits another's heap) against the same emulator process, which is reset
to an empty service before each run. A run fetches its token and warms its connections up
untimed, then times ``calls`` creates from ``concurrency`` workers pulling from one counter:
requests/s from the wall clock, client CPU from ``time.process_time()`` (the client process
only; the emulator's CPU is read from ``/proc`` for the same span).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ._common import (
    CREATE_PATH,
    EID,
    GET_TOKEN_PATH,
    NO_ORJSON,
    SECRET,
    Section,
    Target,
    Versus,
    emulator,
    fmt,
    log,
    md_table,
    median,
    ratio,
    run_child,
    sample_create,
    spread,
    wire_body,
)

# key -> (label, environment, event loop)
VARIANTS: dict[str, tuple[str, dict[str, str], str]] = {
    "raw_json": ("raw aiohttp `json=` + `resp.json()`", NO_ORJSON, "asyncio"),
    "sdk": ("SDK + AiohttpTransport (plain install)", NO_ORJSON, "asyncio"),
    "sdk_orjson": ("SDK + `speed` extra (orjson)", {}, "asyncio"),
    "sdk_uvloop": ("SDK + `speed` + `uvloop` extras", {}, "uvloop"),
    "raw_bytes": ("raw aiohttp, bytes + `read()` (floor)", NO_ORJSON, "asyncio"),
    "httpx": ("httpx.AsyncClient `json=` + `.json()`", NO_ORJSON, "asyncio"),
}


# --- in the child process --------------------------------------------------------------------


async def drive(call: Callable[[], Awaitable[Any]], calls: int, concurrency: int) -> None:
    """``calls`` awaits of ``call()`` from ``concurrency`` workers."""
    remaining = calls

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def _timed(
    call: Callable[[], Awaitable[Any]], calls: int, concurrency: int, warmup: int
) -> dict[str, float]:
    await drive(call, warmup, concurrency)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    await drive(call, calls, concurrency)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return {"rps": calls / wall, "cpu_us": cpu / calls * 1e6, "wall": wall}


def _token_body() -> dict[str, Any]:
    return {
        "eid": EID,
        "secret": SECRET,
        "scope": "resGroupSecret",
        "timestamp": int(time.time() * 1000),
    }


def _meeting_id(answer: Any) -> str:
    if answer.get("success") is not True:
        raise RuntimeError(f"call refused: {answer.get('errorCode')} {answer.get('error')}")
    meeting_id: str = answer["data"]["meetingId"]
    return meeting_id


async def _raw_json(base: str, calls: int, concurrency: int, warmup: int) -> dict[str, float]:
    """What a user writes with aiohttp alone: ``params=``, ``json=``, ``resp.json()``."""
    import aiohttp

    body = wire_body(sample_create())
    url = base + CREATE_PATH
    async with aiohttp.ClientSession() as session:
        async with session.post(base + GET_TOKEN_PATH, json=_token_body()) as resp:
            token = (await resp.json())["data"]["accessToken"]
        params = {"accessToken": token}

        async def call() -> str:
            async with session.post(url, params=params, json=body) as resp:
                return _meeting_id(await resp.json())

        return await _timed(call, calls, concurrency, warmup)


async def _raw_bytes(base: str, calls: int, concurrency: int, warmup: int) -> dict[str, float]:
    """The floor: aiohttp with the body encoded once, the URL parsed once, ``read()``."""
    import aiohttp
    from yarl import URL

    body = json.dumps(wire_body(sample_create()), separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession() as session:
        async with session.post(base + GET_TOKEN_PATH, json=_token_body()) as resp:
            token = (await resp.json())["data"]["accessToken"]
        url = URL(f"{base}{CREATE_PATH}?accessToken={token}", encoded=True)

        async def call() -> str:
            async with session.post(url, data=body, headers=headers) as resp:
                raw = await resp.read()
            return _meeting_id(json.loads(raw))

        return await _timed(call, calls, concurrency, warmup)


async def _httpx(base: str, calls: int, concurrency: int, warmup: int) -> dict[str, float]:
    """The httpx equivalent of ``_raw_json``, with a pool that keeps every connection alive."""
    import httpx

    body = wire_body(sample_create())
    url = base + CREATE_PATH
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(limits=limits) as client:
        token = (await client.post(base + GET_TOKEN_PATH, json=_token_body())).json()["data"][
            "accessToken"
        ]
        params = {"accessToken": token}

        async def call() -> str:
            resp = await client.post(url, params=params, json=body)
            return _meeting_id(resp.json())

        return await _timed(call, calls, concurrency, warmup)


async def _sdk(base: str, calls: int, concurrency: int, warmup: int) -> dict[str, float]:
    """The SDK as documented: default transport, client-side rate limit off."""
    from yzj_meeting import Credentials, MeetingClient

    model = sample_create()
    async with MeetingClient(
        credentials=Credentials(eid=EID, secret=SECRET),
        base_url=base,
        calls_per_minute=None,
        max_in_flight=concurrency,
    ) as client:

        async def call() -> str:
            return await client.create_meeting(model)

        return await _timed(call, calls, concurrency, warmup)


_RUNNERS = {
    "raw_json": _raw_json,
    "raw_bytes": _raw_bytes,
    "httpx": _httpx,
    "sdk": _sdk,
    "sdk_orjson": _sdk,
    "sdk_uvloop": _sdk,
}


def measure(args: dict[str, Any]) -> dict[str, Any]:
    """Child entry: one timed run of one variant."""
    from yzj_meeting import _convert

    variant = args["variant"]
    coro = _RUNNERS[variant](args["base_url"], args["calls"], args["concurrency"], args["warmup"])
    if VARIANTS[variant][2] == "uvloop":
        import uvloop

        result = uvloop.run(coro)
    else:
        result = asyncio.run(coro)
    result["codec"] = "orjson" if _convert._orjson is not None else "json"
    return result


# --- in the driver ---------------------------------------------------------------------------


VERSUS = ("sdk", "sdk_orjson")
"""The variants also run with the ``--versus`` tree's SDK (key suffix ``@versus``)."""


def _base(key: str) -> str:
    return key.split("@", 1)[0]


def run(quick: bool, versus: Versus | None = None) -> Section:
    """Alternate the variants round by round at each concurrency; medians and ratios."""
    rounds = 2 if quick else 7
    calls = 5_000 if quick else 20_000
    httpx_calls = 1_000 if quick else 4_000
    levels = (64, 8)
    order = list(VARIANTS)
    labels = {key: VARIANTS[key][0] for key in order}
    if versus is not None:
        at = order.index("sdk_uvloop")
        extra = [f"{key}@versus" for key in VERSUS]
        order[at:at] = extra
        labels.update({f"{key}@versus": f"{VARIANTS[key][0]}, {versus.label}" for key in VERSUS})
    samples: dict[tuple[int, str], list[dict[str, float]]] = {}
    section = Section("throughput", "1. Throughput on loopback (`create_meeting`)")
    with emulator() as server:
        for concurrency in levels:
            for r in range(rounds):
                for variant in order:
                    base = _base(variant)
                    n = httpx_calls if variant == "httpx" else calls
                    server.control("reset")
                    cpu0 = server.cpu()
                    result = run_child(
                        "throughput",
                        "measure",
                        {
                            "variant": base,
                            "base_url": server.base_url,
                            "calls": n,
                            "concurrency": concurrency,
                            "warmup": max(500, 4 * concurrency) if variant != "httpx" else 200,
                        },
                        env=VARIANTS[base][1],
                        timeout=180,
                        tree=versus.tree if versus is not None and variant != base else None,
                    )
                    served = server.control("stats")["calls"]
                    result["server_cpu_us"] = (server.cpu() - cpu0) / served * 1e6
                    samples.setdefault((concurrency, variant), []).append(result)
                    log(
                        f"  c={concurrency} round {r + 1}/{rounds} {variant:<18} "
                        f"{result['rps']:8,.0f} req/s {result['cpu_us']:6.1f} us/req "
                        f"({result['codec']})"
                    )
    _report(section, samples, levels, order, labels, rounds, calls, httpx_calls, versus)
    return section


def _report(
    section: Section,
    samples: dict[tuple[int, str], list[dict[str, float]]],
    levels: tuple[int, ...],
    order: list[str],
    labels: dict[str, str],
    rounds: int,
    calls: int,
    httpx_calls: int,
    versus: Versus | None,
) -> None:
    def med(concurrency: int, variant: str, key: str) -> float:
        return median([s[key] for s in samples[(concurrency, variant)]])

    section.lines += [
        f"{calls:,} creates per run ({httpx_calls:,} for httpx, which is an order of magnitude "
        f"slower), {rounds} rounds per variant in the order "
        + ", ".join(f"`{v}`" for v in order)
        + ", repeated; medians. Client-side rate limit off. Emulator: the `yzj_meeting.fake` "
        "aiohttp app in its own process, rate limit off, `record_calls` off, reset before "
        "every run. The ratios compare medians of the same run. *emulator CPU* is the server "
        "process's CPU per request over the same span (on 2 cores the emulator, not the "
        "client, is the bottleneck, so requests/s is capped by it; client CPU per request is "
        "the figure the SDK controls).",
        "",
    ]
    rows = []
    for concurrency in levels:
        base_rps = med(concurrency, "raw_json", "rps")
        base_cpu = med(concurrency, "raw_json", "cpu_us")
        for variant in order:
            rps = [s["rps"] for s in samples[(concurrency, variant)]]
            cpu = [s["cpu_us"] for s in samples[(concurrency, variant)]]
            rows.append(
                [
                    concurrency,
                    labels[variant],
                    fmt(median(rps)),
                    spread(rps),
                    fmt(median(cpu), 1),
                    spread(cpu, 1),
                    f"{ratio(median(rps), base_rps):.2f}x",
                    f"{ratio(base_cpu, median(cpu)):.2f}x",
                    fmt(med(concurrency, variant, "server_cpu_us"), 1),
                ]
            )
    section.lines += md_table(
        [
            "conc.",
            "client",
            "req/s",
            "req/s range",
            "client CPU µs/req",
            "CPU range",
            "req/s vs raw `json=`",
            "CPU efficiency vs raw `json=`",
            "emulator CPU µs/req",
        ],
        rows,
    )
    section.lines += [
        "",
        "*CPU efficiency* is raw `json=` CPU per request divided by this client's: above 1.00x "
        "the client spends less CPU per request than the naive aiohttp client.",
    ]
    if versus is not None:
        rows = []
        for c in levels:
            raw = med(c, "raw_json", "cpu_us")
            for key in VERSUS:
                mine, theirs = med(c, key, "cpu_us"), med(c, f"{key}@versus", "cpu_us")
                rows.append(
                    [
                        c,
                        "orjson" if key == "sdk_orjson" else "json",
                        fmt(mine, 1),
                        fmt(theirs, 1),
                        f"{ratio(mine, theirs):.2f}x",
                        f"{ratio(raw, mine):.2f}x",
                        f"{ratio(raw, theirs):.2f}x",
                    ]
                )
        section.lines += [
            "",
            f"This tree's SDK beside {versus.label} (`{versus.tree}`), same run, alternating "
            "(*CPU ratio* = this tree's CPU per request over the other's):",
            "",
            *md_table(
                [
                    "conc.",
                    "codec",
                    "this tree µs/req",
                    f"{versus.label} µs/req",
                    "CPU ratio",
                    "this tree: CPU efficiency vs raw",
                    f"{versus.label}: CPU efficiency vs raw",
                ],
                rows,
            ),
        ]
    sdks = [("sdk", "")]
    if versus is not None:
        sdks.append(("sdk@versus", f", {versus.label}"))
    for key, suffix in sdks:
        for concurrency in levels:
            raw_rps, raw_cpu = (
                med(concurrency, "raw_json", "rps"),
                med(concurrency, "raw_json", "cpu_us"),
            )
            rps, cpu = med(concurrency, key, "rps"), med(concurrency, key, "cpu_us")
            rps_ratio, cpu_ratio = ratio(rps, raw_rps), ratio(raw_cpu, cpu)
            section.targets.append(
                Target(
                    f"SDK vs raw aiohttp `json=`, req/s, concurrency {concurrency}{suffix}",
                    ">= 1.00x",
                    f"{rps_ratio:.2f}x",
                    rps_ratio >= 1.0,
                    f"{(rps_ratio - 1) * 100:+.0f}%",
                )
            )
            section.targets.append(
                Target(
                    f"SDK vs raw aiohttp `json=`, client CPU per request, concurrency "
                    f"{concurrency}{suffix}",
                    ">= 1.00x (less CPU)",
                    f"{cpu_ratio:.2f}x ({fmt(cpu, 1)} vs {fmt(raw_cpu, 1)} µs)",
                    cpu_ratio >= 1.0,
                    f"{(cpu_ratio - 1) * 100:+.0f}%",
                )
            )
    httpx_share = ratio(med(64, "httpx", "rps"), med(64, "raw_json", "rps"))
    section.targets.append(
        Target(
            "httpx.AsyncClient, reported (req/s as a share of raw aiohttp, concurrency 64)",
            "report it",
            f"{httpx_share * 100:.0f}% ({fmt(med(64, 'httpx', 'rps'))} req/s, "
            f"{fmt(med(64, 'httpx', 'cpu_us'), 1)} µs/req)",
            True,
        )
    )
    section.data = {
        f"{c}/{v}": {
            "rps": med(c, v, "rps"),
            "cpu_us": med(c, v, "cpu_us"),
            "server_cpu_us": med(c, v, "server_cpu_us"),
            "rounds": samples[(c, v)],
        }
        for c in levels
        for v in order
    }
