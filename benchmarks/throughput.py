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
import importlib.util
import itertools
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ._common import (
    ACTORS,
    CREATE_PATH,
    EID,
    GET_TOKEN_PATH,
    NO_ORJSON,
    SECRET,
    Section,
    Target,
    Versus,
    create_inputs,
    emulator,
    fmt,
    log,
    md_table,
    median,
    ratio,
    run_child,
    spread,
    wire_body,
)

OPENID = "5d9c2e7be4b0a8c3f0e1d2c3"
CONTENT = "Agenda: status, risks, next steps"
PLACE = "Room 301"

# key -> (label, environment, event loop)
VARIANTS: dict[str, tuple[str, dict[str, str], str]] = {
    "raw_json": ("raw aiohttp `json=` + `resp.json()`", NO_ORJSON, "asyncio"),
    "sdk": ("SDK + AiohttpTransport (plain install)", NO_ORJSON, "asyncio"),
    "sdk_orjson": ("SDK + `speed` extra (orjson)", {}, "asyncio"),
    "raw_uvloop": ("raw aiohttp `json=` + `resp.json()`, uvloop", NO_ORJSON, "uvloop"),
    "sdk_uvloop": ("SDK (plain install), uvloop", NO_ORJSON, "uvloop"),
    "sdk_uvloop_orjson": ("SDK + `speed` extra (orjson), uvloop", {}, "uvloop"),
    "raw_bytes": ("raw aiohttp, one prebuilt body + `read()` (floor)", NO_ORJSON, "asyncio"),
    "httpx": ("httpx.AsyncClient `json=` + `.json()`", NO_ORJSON, "asyncio"),
}

PAIRS: tuple[tuple[str, str, str, float], ...] = (
    ("sdk", "raw_json", "plain install, default loop", 1.0),
    ("sdk_orjson", "raw_json", "`speed` extra (orjson), default loop", 0.85),
    ("sdk_uvloop", "raw_uvloop", "plain install, both on uvloop", 1.0),
    ("sdk_uvloop_orjson", "raw_uvloop", "`speed` extra (orjson), both on uvloop", 0.85),
)
"""(SDK variant, the raw client on the same loop, what, target CPU ratio): the paired rows."""


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


def sdk_model_builder() -> Any:
    """``build(title, start, end)``: the SDK's request for one create, built (and validated)
    anew on each call; the imports are done once, here, off the timed path."""
    from yzj_meeting import CreateMeeting, NoticeTime

    def build(title: str, start: Any, end: Any) -> Any:
        return CreateMeeting(
            openid=OPENID,
            title=title,
            content=CONTENT,
            meeting_place=PLACE,
            start_date=start,
            end_date=end,
            notice_time=NoticeTime.MINUTES_15,
            top_state=False,
            actors=ACTORS,
            submit_experience=False,
        )

    return build


def _check_body(body: dict[str, Any]) -> None:
    """The hand-built body must be the SDK's wire body of the same create."""
    model = sdk_model_builder()(*create_inputs(0))
    if json.loads(json.dumps(body)) != json.loads(json.dumps(wire_body(model))):
        raise RuntimeError(f"raw body {body} differs from the SDK's {wire_body(model)}")


def _raw_body(i: int) -> dict[str, Any]:
    """What a hand-written client builds per call: the wire dict, epoch ms by hand."""
    title, start, end = create_inputs(i)
    return {
        "openid": OPENID,
        "title": title,
        "startDate": int(start.timestamp() * 1000),
        "endDate": int(end.timestamp() * 1000),
        "content": CONTENT,
        "meetingPlace": PLACE,
        "noticeTime": 15,
        "topState": 0,
        "actors": list(ACTORS),
        "submitExperience": False,
    }


async def _raw_json(base: str, calls: int, concurrency: int, warmup: int) -> dict[str, float]:
    """What a user writes with aiohttp alone: the body built per call, ``params=``, ``json=``,
    ``resp.json()``."""
    import aiohttp

    _check_body(_raw_body(0))
    url = base + CREATE_PATH
    counter = itertools.count()
    async with aiohttp.ClientSession() as session:
        async with session.post(base + GET_TOKEN_PATH, json=_token_body()) as resp:
            token = (await resp.json())["data"]["accessToken"]
        params = {"accessToken": token}

        async def call() -> str:
            body = _raw_body(next(counter))
            async with session.post(url, params=params, json=body) as resp:
                return _meeting_id(await resp.json())

        return await _timed(call, calls, concurrency, warmup)


async def _raw_bytes(base: str, calls: int, concurrency: int, warmup: int) -> dict[str, float]:
    """The floor: aiohttp with one body encoded once, the URL parsed once, ``read()``."""
    import aiohttp
    from yarl import URL

    body = json.dumps(_raw_body(0), separators=(",", ":")).encode()
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

    url = base + CREATE_PATH
    counter = itertools.count()
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(limits=limits) as client:
        token = (await client.post(base + GET_TOKEN_PATH, json=_token_body())).json()["data"][
            "accessToken"
        ]
        params = {"accessToken": token}

        async def call() -> str:
            resp = await client.post(url, params=params, json=_raw_body(next(counter)))
            return _meeting_id(resp.json())

        return await _timed(call, calls, concurrency, warmup)


async def _sdk(base: str, calls: int, concurrency: int, warmup: int) -> dict[str, float]:
    """The SDK as documented and as callers use it: a ``CreateMeeting`` built per call,
    default transport, client-side rate limit off."""
    from yzj_meeting import Credentials, MeetingClient

    sdk_model = sdk_model_builder()

    counter = itertools.count()
    async with MeetingClient(
        credentials=Credentials(eid=EID, secret=SECRET),
        base_url=base,
        calls_per_minute=None,
        max_in_flight=concurrency,
    ) as client:

        async def call() -> str:
            title, start, end = create_inputs(next(counter))
            return await client.create_meeting(sdk_model(title, start, end))

        return await _timed(call, calls, concurrency, warmup)


_RUNNERS = {
    "raw_json": _raw_json,
    "raw_bytes": _raw_bytes,
    "httpx": _httpx,
    "sdk": _sdk,
    "sdk_orjson": _sdk,
    "sdk_uvloop": _sdk,
    "raw_uvloop": _raw_json,
    "sdk_uvloop_orjson": _sdk,
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


def _reference(variant: str) -> str:
    """The raw client a variant is compared with: raw aiohttp on the same event loop."""
    return "raw_uvloop" if VARIANTS[_base(variant)][2] == "uvloop" else "raw_json"


def _paired(
    samples: dict[tuple[int, str], list[dict[str, float]]], concurrency: int, a: str, b: str
) -> list[float]:
    """``a``'s CPU per request over ``b``'s, round by round."""
    return [
        ratio(x["cpu_us"], y["cpu_us"])
        for x, y in zip(samples[(concurrency, a)], samples[(concurrency, b)], strict=True)
    ]


def run(quick: bool, versus: Versus | None = None) -> Section:
    """Alternate the variants round by round at each concurrency; medians and ratios."""
    rounds = 2 if quick else 7
    calls = 5_000 if quick else 20_000
    httpx_calls = 1_000 if quick else 4_000
    levels = (64, 8)
    order = [v for v in VARIANTS if v != "httpx" or importlib.util.find_spec("httpx")]
    labels = {key: VARIANTS[key][0] for key in order}
    if versus is not None:
        at = order.index("raw_uvloop")
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
        for variant in order:
            ref = _reference(variant)
            base_rps = med(concurrency, ref, "rps")
            base_cpu = med(concurrency, ref, "cpu_us")
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
                    f"{ratio(median(cpu), base_cpu):.2f}x",
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
            "req/s vs raw `json=`, same loop",
            "CPU vs raw `json=`, same loop",
            "emulator CPU µs/req",
        ],
        rows,
    )
    section.lines += [
        "",
        "*CPU vs raw* is this client's CPU per request over raw aiohttp `json=` on the same event "
        "loop (uvloop rows against raw aiohttp on uvloop): below 1.00x the client spends less "
        "CPU per request than the hand-written aiohttp client. Both build their body per call: "
        "the SDK a `CreateMeeting(...)` (validated), raw aiohttp the wire dict with epoch "
        "milliseconds computed by hand (checked equal to the SDK's wire body). Only the floor "
        "row reuses one prebuilt body.",
        "",
        "Paired ratios: client CPU per request of the SDK over raw aiohttp on the same loop, "
        "computed round by round (the two runs of a round are adjacent in time), median and "
        "range over the rounds:",
        "",
    ]
    rows = []
    for concurrency in levels:
        for sdk, raw, what, goal in PAIRS:
            paired = _paired(samples, concurrency, sdk, raw)
            rows.append(
                [
                    concurrency,
                    what,
                    f"{median(paired):.2f}x",
                    f"{min(paired):.2f}-{max(paired):.2f}x",
                    f"{med(concurrency, sdk, 'cpu_us') - med(concurrency, raw, 'cpu_us'):+.1f}",
                    f"<= {goal:.2f}x",
                ]
            )
    section.lines += md_table(
        ["conc.", "SDK vs raw aiohttp", "CPU ratio", "range", "µs per create", "target"], rows
    )
    section.lines.append("")
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
                        f"{ratio(mine, raw):.2f}x",
                        f"{ratio(theirs, raw):.2f}x",
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
                    "this tree: CPU vs raw",
                    f"{versus.label}: CPU vs raw",
                ],
                rows,
            ),
        ]
    for concurrency in levels:
        for sdk, raw, what, goal in PAIRS:
            paired = median(_paired(samples, concurrency, sdk, raw))
            section.targets.append(
                Target(
                    f"client CPU per create, model built per call, vs raw aiohttp `json=`: "
                    f"{what}, concurrency {concurrency}",
                    f"<= {goal:.2f}x",
                    f"{paired:.2f}x ({fmt(med(concurrency, sdk, 'cpu_us'), 1)} vs "
                    f"{fmt(med(concurrency, raw, 'cpu_us'), 1)} µs)",
                    paired <= goal,
                    f"{(goal - paired) * 100:+.0f} points",
                )
            )
    if "httpx" in order:
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
