"""Section 4: memory of a bulk run - 100,000 creates through ``run_many`` at concurrency 256.

Each measurement runs in a fresh process. The items come from a generator (a distinct
``CreateMeeting`` each); the transport is ``FakeTransport`` over a ``FakeService`` with
``record_calls`` off, wrapped so that every 64th request counts ``asyncio.all_tasks()``.
Peak RSS growth is ``VmHWM`` at the end (the peak having been reset through
``/proc/self/clear_refs`` after the warm-up) minus ``VmRSS`` before the run.

The emulator keeps every meeting it creates, in the same process; a second process sends the
same 100,000 bodies straight to ``FakeService.handle`` (no SDK) to measure that share, and the
SDK's share is the difference. A third runs the SDK against a stateless transport (an answer
per call, nothing stored) as a cross-check of that difference.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

from ._common import (
    EID,
    SECRET,
    Section,
    Target,
    Versus,
    fmt,
    log,
    md_table,
    median,
    run_child,
    sample_create,
)

CONCURRENCY = 256
MODES = {
    "sdk": "SDK `run_many` over `FakeTransport` (emulator in process)",
    "stream": "SDK `run_many(collect=False)` + `on_outcome` over `FakeTransport`",
    "emulator": "the emulator alone (`FakeService.handle`, no SDK)",
    "stub": "SDK `run_many` over a stateless transport (cross-check)",
    "stream_stub": "SDK `run_many(collect=False)` over a stateless transport (cross-check)",
    "items": "the 100,000 items alone, kept in a list (no SDK)",
}


def _status(field: str) -> int:
    """A ``/proc/self/status`` field in KiB."""
    with open("/proc/self/status", encoding="ascii") as file:
        for line in file:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as file:
            file.write("5")
    except OSError:
        return False
    return True


class Counting:
    """Wraps a transport; every 64th request counts the tasks alive."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.requests = 0
        self.peak_tasks = 0

    async def send(self, request: Any) -> Any:
        """Count, sample, forward."""
        self.requests += 1
        if self.requests % 64 == 0:
            self.peak_tasks = max(self.peak_tasks, len(asyncio.all_tasks()))
        return await self.inner.send(request)

    async def aclose(self) -> None:
        """Close the inner transport."""
        await self.inner.aclose()


class Stub:
    """Answers every create with a fresh id and keeps nothing (a server with no state)."""

    def __init__(self) -> None:
        self.ids = itertools.count()

    async def send(self, request: Any) -> Any:
        """A token answer or a create answer."""
        from yzj_meeting.transports import HttpResponse

        if request.endpoint == "getAccessToken":
            body = b'{"success":true,"errorCode":0,"error":null,"data":{"accessToken":'
            body += b'"t0","expireIn":7200,"refreshToken":"r0"}}'
        else:
            body = b'{"success":true,"errorCode":0,"error":null,"data":{"meetingId":"%024x"}}'
            body %= next(self.ids)
        return HttpResponse(200, {"content-type": "application/json"}, body)

    async def aclose(self) -> None:
        """Nothing to release."""


def _items(n: int) -> Iterator[Any]:
    return (sample_create(i) for i in range(n))


def streaming_supported() -> bool:
    """Whether this SDK's ``run_many`` can leave the outcomes to ``on_outcome`` (``collect``)."""
    import inspect

    from yzj_meeting import MeetingClient

    return "collect" in inspect.signature(MeetingClient.run_many).parameters


async def _sdk(items: int, stub: bool, stream: bool = False) -> dict[str, Any]:
    from yzj_meeting import Credentials, MeetingClient
    from yzj_meeting.fake import FakeService, FakeTransport

    inner: Any = (
        Stub()
        if stub
        else FakeTransport(FakeService(calls_per_minute=None, record_calls=False, seed=0))
    )
    transport = Counting(inner)
    async with MeetingClient(
        credentials=Credentials(eid=EID, secret=SECRET),
        base_url="http://bench.invalid",
        transport=transport,
        calls_per_minute=None,
        max_in_flight=CONCURRENCY,
    ) as client:
        await client.run_many(_items(1000), concurrency=CONCURRENCY)  # warm-up
        gc.collect()
        before = _status("VmRSS")
        peak_reset = _reset_peak()
        transport.peak_tasks = 0
        if stream:
            landed = [0, 0]

            def count(outcome: Any) -> None:
                landed[0] += 1
                landed[1] += not outcome.ok

            await client.run_many(
                _items(items), concurrency=CONCURRENCY, collect=False, on_outcome=count
            )
            outcomes, failed = range(landed[0]), landed[1]
        else:
            outcomes = await client.run_many(_items(items), concurrency=CONCURRENCY)
            failed = sum(1 for o in outcomes if not o.ok)
        peak = _status("VmHWM")
        after = _status("VmRSS")
        tasks_after = len(asyncio.all_tasks())
    return {
        "before_kib": before,
        "peak_kib": peak,
        "after_kib": after,
        "peak_reset": peak_reset,
        "peak_tasks": transport.peak_tasks,
        "tasks_after": tasks_after,
        "outcomes": len(outcomes),
        "failed": failed,
    }


def _emulator_alone(items: int) -> dict[str, Any]:
    from yzj_meeting._convert import encode_json, unstructure
    from yzj_meeting.fake import FakeService

    service = FakeService(calls_per_minute=None, record_calls=False, seed=0)
    now = int(time.time() * 1000)
    token = service.handle(
        "POST",
        "/gateway/oauth2/token/getAccessToken",
        {},
        encode_json({"eid": EID, "secret": SECRET, "scope": "resGroupSecret", "timestamp": now}),
    )
    query = {"accessToken": json.loads(token.body)["data"]["accessToken"]}
    path = "/gateway/cloudwork/meeting/create"
    for model in _items(1000):
        service.handle("POST", path, query, encode_json(unstructure(model)))
    gc.collect()
    before = _status("VmRSS")
    peak_reset = _reset_peak()
    failed = 0
    for model in _items(items):
        answer = service.handle("POST", path, query, encode_json(unstructure(model)))
        failed += answer.status != 200
    return {
        "before_kib": before,
        "peak_kib": _status("VmHWM"),
        "after_kib": _status("VmRSS"),
        "peak_reset": peak_reset,
        "peak_tasks": 0,
        "tasks_after": 0,
        "outcomes": items,
        "failed": failed,
    }


def _items_alone(items: int) -> dict[str, Any]:
    kept = list(_items(1000))
    gc.collect()
    before = _status("VmRSS")
    peak_reset = _reset_peak()
    kept = list(_items(items))
    return {
        "before_kib": before,
        "peak_kib": _status("VmHWM"),
        "after_kib": _status("VmRSS"),
        "peak_reset": peak_reset,
        "peak_tasks": 0,
        "tasks_after": 0,
        "outcomes": len(kept),
        "failed": 0,
    }


def supported(args: dict[str, Any]) -> dict[str, Any]:
    """Child entry: whether the SDK under test has ``run_many(collect=...)``."""
    return {"yes": streaming_supported()}


def measure(args: dict[str, Any]) -> dict[str, Any]:
    """Child entry: one mode, one run."""
    mode, items = args["mode"], args["items"]
    if mode == "emulator":
        return _emulator_alone(items)
    if mode == "items":
        return _items_alone(items)
    return asyncio.run(_sdk(items, stub="stub" in mode, stream="stream" in mode))


# --- in the driver ---------------------------------------------------------------------------


def run(quick: bool, versus: Versus | None = None) -> Section:
    """Each mode in fresh processes, alternating; medians of the growth."""
    items = 100_000
    rounds = 1 if quick else 3
    section = Section("memory", "4. Memory of a bulk run")
    samples: dict[str, list[dict[str, Any]]] = {}
    streaming = run_child("memory", "supported", {})["yes"]
    modes = [
        m
        for m in (("sdk", "stream", "emulator") if quick else MODES)
        if streaming or "stream" not in m
    ]
    labels = dict(MODES)
    if versus is not None:
        theirs = run_child("memory", "supported", {}, tree=versus.tree)["yes"]
        for mode in ("sdk", "stream") if quick else ("sdk", "stream", "stub", "stream_stub"):
            if theirs or "stream" not in mode:
                modes.append(f"{mode}@versus")
                labels[f"{mode}@versus"] = f"{MODES[mode]}, {versus.label}"
    for r in range(rounds):
        for mode in modes:
            result = run_child(
                "memory",
                "measure",
                {"mode": mode.split("@")[0], "items": items},
                timeout=300,
                tree=versus.tree if versus is not None and "@" in mode else None,
            )
            result["growth_mib"] = (result["peak_kib"] - result["before_kib"]) / 1024
            result["retained_mib"] = (result["after_kib"] - result["before_kib"]) / 1024
            samples.setdefault(mode, []).append(result)
            log(
                f"  round {r + 1}/{rounds} {mode:<8} peak growth {result['growth_mib']:.1f} MiB, "
                f"tasks at peak {result['peak_tasks']}"
            )
    growth = {m: median([s["growth_mib"] for s in v]) for m, v in samples.items()}
    rows = [
        [
            labels[mode],
            fmt(growth[mode], 1),
            fmt(median([s["retained_mib"] for s in runs]), 1),
            max(s["peak_tasks"] for s in runs) if mode not in ("emulator", "items") else "-",
            sum(s["failed"] for s in runs),
        ]
        for mode, runs in samples.items()
    ]
    sdk_share = growth["sdk"] - growth["emulator"]
    stream_share = growth["stream"] - growth["emulator"] if "stream" in growth else None
    section.lines += [
        f"{items:,} creates from a generator, `run_many(concurrency={CONCURRENCY})`, "
        f"`max_in_flight={CONCURRENCY}`, client-side rate limit off; {rounds} fresh process(es) "
        "per mode (median). *Peak growth* is `VmHWM` after the run − `VmRSS` before it; "
        "*retained* is `VmRSS` after − before (the outcomes `run_many` returns are still "
        "referenced then). "
        "Tasks alive: the largest `len(asyncio.all_tasks())` seen, including the main task.",
        "",
        *md_table(
            ["process", "peak RSS growth MiB", "retained MiB", "tasks alive (max)", "failed"],
            rows,
        ),
        "",
        f"The SDK's share of the peak with the default `run_many`: {fmt(growth['sdk'], 1)} − "
        f"{fmt(growth['emulator'], 1)} (the emulator's meetings) = **{fmt(sdk_share, 1)} MiB**"
        + (
            f"; the stateless cross-check measures {fmt(growth['stub'], 1)} MiB. For scale, the "
            f"100,000 items alone take {fmt(growth['items'], 1)} MiB: an outcome that holds its "
            "item keeps that alive too."
            if "stub" in growth and "items" in growth
            else "."
        ),
    ]
    if stream_share is not None:
        section.lines += [
            "",
            f"With `collect=False` (outcomes handed to `on_outcome` only, nothing kept) the "
            f"SDK's share is {fmt(growth['stream'], 1)} − {fmt(growth['emulator'], 1)} = "
            f"**{fmt(stream_share, 1)} MiB**"
            + (
                f"; the stateless cross-check measures {fmt(growth['stream_stub'], 1)} MiB."
                if "stream_stub" in growth
                else "."
            ),
        ]
    if versus is not None:
        theirs = [
            f"{MODES[m]}: {fmt(growth[f'{m}@versus'] - growth['emulator'], 1)} MiB"
            if m in ("sdk", "stream")
            else f"{MODES[m]}: {fmt(growth[f'{m}@versus'], 1)} MiB"
            for m in MODES
            if f"{m}@versus" in growth
        ]
        section.lines += ["", f"The SDK's share with {versus.label}: " + "; ".join(theirs) + "."]
    if not all(s["peak_reset"] for v in samples.values() for s in v):
        section.lines.append("(`/proc/self/clear_refs` was refused: the peak includes start-up.)")
    tasks = max(s["peak_tasks"] for m, v in samples.items() if "@" not in m for s in v)
    default = max(sdk_share, growth.get("stub", sdk_share))
    judged = default
    measured = f"default `run_many` {sdk_share:.1f} MiB"
    if "stub" in growth:
        measured += f" (stateless cross-check {growth['stub']:.1f})"
    if stream_share is not None:
        judged = max(stream_share, growth.get("stream_stub", stream_share))
        measured = (
            f"`collect=False` {stream_share:.1f} MiB"
            + (
                f" (stateless cross-check {growth['stream_stub']:.1f})"
                if "stream_stub" in growth
                else ""
            )
            + "; "
            + measured
        )
    mb = judged * 1.048576
    if versus is not None:
        theirs_default = growth["sdk@versus"] - growth["emulator"]
        theirs_measured = f"default `run_many` {theirs_default:.1f} MiB"
        theirs_judged = theirs_default
        if "stream@versus" in growth:
            theirs_judged = growth["stream@versus"] - growth["emulator"]
            if "stream_stub@versus" in growth:
                theirs_judged = max(theirs_judged, growth["stream_stub@versus"])
            theirs_measured = f"`collect=False` {theirs_judged:.1f} MiB; " + theirs_measured
        section.targets.append(
            Target(
                f"peak RSS growth for {items:,} items through the bulk runner, the SDK's share, "
                + versus.label,
                "<= 60 MB",
                theirs_measured,
                theirs_judged * 1.048576 <= 60,
                f"{60 - theirs_judged * 1.048576:+.1f} MB",
            )
        )
    section.targets[:0] = [
        Target(
            f"peak RSS growth for {items:,} items through the bulk runner, the SDK's share"
            + (
                " (`collect=False`, the mode for large batches)" if stream_share is not None else ""
            ),
            "<= 60 MB",
            measured,
            mb <= 60,
            f"{60 - mb:+.1f} MB",
        ),
        Target(
            f"tasks alive at the peak, concurrency {CONCURRENCY}",
            f"bounded by the concurrency (<= {CONCURRENCY} + 1 main task)",
            str(tasks),
            tasks <= CONCURRENCY + 1,
        ),
    ]
    section.data = {
        "growth_mib": growth,
        "sdk_share_mib": sdk_share,
        "stream_share_mib": stream_share,
        "runs": samples,
    }
    return section
