"""Section 2: the SDK's own cost per call, in process, no sockets.

Two transports: ``FakeTransport`` (the emulator answers; its share is timed alone too) and a
*replay* transport that hands back the emulator's recorded answer, so that what is left is the
SDK alone. Each call is split into build (model -> ``Request``: unstructure + encode), decode
(envelope + JSON + structuring into the answer type) and the client's own bookkeeping (the
rest: limiter, in-flight bound, token, URL, ``HttpRequest``, attempt loop), beside a baseline
of ``json.dumps`` + ``json.loads`` of the same request body and answer. Runs once per JSON codec,
each in a fresh process (the codec is chosen at import). Blocks of calls are timed with the
measurements interleaved round by round; medians of µs per call.
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from ._common import (
    EID,
    NO_ORJSON,
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
    shanghai,
    spread,
)

QUERY_SIZE = 50
CODECS = {"json": NO_ORJSON, "orjson": {}}


class Replay:
    """A transport that answers each endpoint with one recorded ``HttpResponse``."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers

    async def send(self, request: Any) -> Any:
        """The recorded answer of ``request.endpoint``."""
        return self.answers[request.endpoint]

    async def aclose(self) -> None:
        """Nothing to release."""


class Recorder:
    """Wraps a transport and keeps the last answer per endpoint."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.answers: dict[str, Any] = {}

    async def send(self, request: Any) -> Any:
        """Forward, remember, return."""
        response = await self.inner.send(request)
        self.answers[request.endpoint] = response
        return response

    async def aclose(self) -> None:
        """Close the inner transport."""
        await self.inner.aclose()


def _sync(fn: Callable[[], object], n: int) -> float:
    t0 = time.perf_counter_ns()
    for _ in range(n):
        fn()
    return (time.perf_counter_ns() - t0) / n / 1000


async def _async(fn: Callable[[], Awaitable[object]], n: int) -> float:
    t0 = time.perf_counter_ns()
    for _ in range(n):
        await fn()
    return (time.perf_counter_ns() - t0) / n / 1000


def measure(args: dict[str, Any]) -> dict[str, Any]:
    """Child entry: every measurement of this codec, interleaved over ``rounds``."""
    return asyncio.run(_measure(args["rounds"], args["create_block"], args["query_block"]))


async def _measure(rounds: int, create_block: int, query_block: int) -> dict[str, Any]:
    import attrs

    from yzj_meeting import CancelMeeting, CreateMeeting, Credentials, MeetingClient, QueryByDay
    from yzj_meeting._convert import _orjson, converter, decode_json, encode_json
    from yzj_meeting._envelope import decode_envelope
    from yzj_meeting._http import HttpRequest
    from yzj_meeting._operations import build_create, build_query_by_day, parse_create
    from yzj_meeting.auth import JSON_HEADERS
    from yzj_meeting.errors import DEFAULT_TOKEN_ERROR_CODES
    from yzj_meeting.fake import FakeService, FakeTransport

    credentials = Credentials(eid=EID, secret=SECRET)

    def client(transport: Any) -> MeetingClient:
        return MeetingClient(
            credentials=credentials,
            base_url="http://bench.invalid",
            transport=transport,
            calls_per_minute=None,
        )

    # Record real answers from the emulator: a create, and a day holding 50 meetings.
    model = sample_create()
    create_fake = FakeTransport(FakeService(calls_per_minute=None, record_calls=False, seed=0))
    create_recorder = Recorder(create_fake)
    on_fake = client(create_recorder)
    await on_fake.create_meeting(model)
    query_service = FakeService(calls_per_minute=None, record_calls=False, seed=1)
    query_client = client(Recorder(FakeTransport(query_service)))
    day = datetime(2030, 6, 3, 8, 0, tzinfo=shanghai())
    for i in range(QUERY_SIZE):
        start = day + timedelta(minutes=10 * i)
        created = await query_client.create_meeting(
            attrs.evolve(sample_create(i), start_date=start, end_date=start + timedelta(minutes=30))
        )
        if i % 10 == 9:  # a few cancelled ones, as a real day has
            await query_client.cancel_meeting(CancelMeeting(id=created, openid=model.openid))
    query = QueryByDay(day)
    meetings = await query_client.query_by_day(query)
    assert len(meetings) == QUERY_SIZE, len(meetings)
    query_fake = query_client.transport
    answers = {**create_recorder.answers, **query_fake.answers}  # type: ignore[attr-defined]
    replay = client(Replay(answers))
    query_replay = replay
    await replay.create_meeting(model)

    create_answer = answers["create"]
    query_answer = answers["queryByDay"]
    create_wire = converter.unstructure(model)
    query_wire = converter.unstructure(query)
    create_request = build_create(model)
    query_request = build_query_by_day(query)
    token = await on_fake.token_provider.token()
    http_create = HttpRequest(
        "POST",
        getattr(on_fake, "_sender", on_fake)._url(create_request.path, token),
        JSON_HEADERS,
        create_request.body,
        "create",
        None,
    )
    codes = frozenset(DEFAULT_TOKEN_ERROR_CODES)

    def envelope(answer: Any, endpoint: str) -> Any:
        return decode_envelope(
            answer.status, answer.headers, answer.body, endpoint=endpoint, token_error_codes=codes
        )

    query_data = envelope(query_answer, "queryByDay")
    # The same day as a real deployment answers it (meeting-api.md): every meeting read field
    # by field, off the fast path.
    odd_data = [
        {
            **{k: v for k, v in item.items() if k != "openid"},
            "openId": item.get("openid"),
            "noticeTime": [],
            "createDate": 0,
            "meetingPlace": None,
        }
        for item in query_data
    ]
    counter = iter(range(10**9))

    def built(i: int) -> Any:
        return CreateMeeting(
            openid=model.openid,
            title=f"Weekly sync #{i}",
            content=model.content,
            meeting_place=model.meeting_place,
            start_date=model.start_date,
            end_date=model.end_date,
            notice_time=model.notice_time,
            top_state=False,
            actors=model.actors,
            submit_experience=False,
        )

    sync_create: dict[str, Callable[[], object]] = {
        "baseline": lambda: (json.dumps(create_wire), json.loads(create_answer.body)),
        "build": lambda: build_create(model),
        "unstructure": lambda: converter.unstructure(model),
        "encode": lambda: encode_json(create_wire),
        "decode": lambda: parse_create(envelope(create_answer, "create")),
        "decode_json": lambda: decode_json(create_answer.body),
    }
    async_create: dict[str, Callable[[], Awaitable[object]]] = {
        "sdk": lambda: replay.create_meeting(model),
        "sdk_built": lambda: replay.create_meeting(built(next(counter))),
        "send": lambda: replay.send(create_request),
        "sdk_fake": lambda: on_fake.create_meeting(model),
        "emulator": lambda: create_fake.send(http_create),
    }
    sync_query: dict[str, Callable[[], object]] = {
        "baseline": lambda: (json.dumps(query_wire), json.loads(query_answer.body)),
        "build": lambda: build_query_by_day(query),
        "decode": lambda: query_request.decode(envelope(query_answer, "queryByDay")),
        "decode_json": lambda: decode_json(query_answer.body),
        "structure": lambda: query_request.decode(query_data),
        "structure_odd": lambda: query_request.decode(odd_data),
    }
    async_query: dict[str, Callable[[], Awaitable[object]]] = {
        "sdk": lambda: query_replay.query_by_day(query),
        "send": lambda: query_replay.send(query_request),
        "sdk_fake": lambda: query_client.query_by_day(query),
    }
    bulk_items = [model] * create_block

    async def bulk() -> float:
        t0 = time.perf_counter_ns()
        await replay.run_many(bulk_items, concurrency=64)
        return (time.perf_counter_ns() - t0) / create_block / 1000

    samples: dict[str, list[float]] = {}
    for _ in range(rounds):
        for name, fn in sync_create.items():
            gc.collect()
            samples.setdefault(f"create/{name}", []).append(_sync(fn, create_block))
        for name, afn in async_create.items():
            gc.collect()
            samples.setdefault(f"create/{name}", []).append(await _async(afn, create_block))
        gc.collect()
        samples.setdefault("create/run_many", []).append(await bulk())
        for name, fn in sync_query.items():
            gc.collect()
            samples.setdefault(f"query/{name}", []).append(_sync(fn, query_block))
        for name, afn in async_query.items():
            gc.collect()
            samples.setdefault(f"query/{name}", []).append(await _async(afn, query_block))
    await on_fake.aclose()
    await query_client.aclose()
    await replay.aclose()
    return {
        "codec": "orjson" if _orjson is not None else "json",
        "create_bytes": len(create_request.body),
        "create_answer_bytes": len(create_answer.body),
        "query_answer_bytes": len(query_answer.body),
        "samples": samples,
    }


def _bookkeeping(value: float) -> str:
    return fmt(value, 1) if value >= 0.5 else "~0"


# --- in the driver ---------------------------------------------------------------------------


def run(quick: bool, versus: Versus | None = None) -> Section:
    """Both codecs, each in its own process; derived figures and targets."""
    args = {
        "rounds": 7 if quick else 21,
        "create_block": 1000 if quick else 2000,
        "query_block": 100 if quick else 200,
    }
    section = Section("overhead", "2. Overhead in process (no sockets)")
    results = {}
    for codec, env in CODECS.items():
        log(f"  codec {codec}")
        results[codec] = run_child("overhead", "measure", args, env=env, timeout=600)
        if versus is not None:
            log(f"  codec {codec}, {versus.label}")
            results[f"{codec}, {versus.label}"] = run_child(
                "overhead", "measure", args, env=env, timeout=600, tree=versus.tree
            )
    _report(section, results, args)
    return section


def _report(section: Section, results: dict[str, dict[str, Any]], args: dict[str, Any]) -> None:
    med: dict[str, dict[str, float]] = {
        codec: {k: median(v) for k, v in r["samples"].items()} for codec, r in results.items()
    }
    first = results["json"]
    section.lines += [
        f"Medians of {args['rounds']} rounds; a round times {args['create_block']:,} creates "
        f"({first['create_bytes']} B body, {first['create_answer_bytes']} B answer) and "
        f"{args['query_block']:,} queryByDay answers of {QUERY_SIZE} meetings "
        f"({first['query_answer_bytes']:,} B) per measurement, measurements interleaved. "
        "*SDK* is a full `client.create_meeting()` / `client.query_by_day()` over a transport "
        "replaying the emulator's recorded answer (so no emulator time is in it); *bookkeeping* "
        "is SDK − build − decode (for queryByDay it is below the noise of a 250 µs decode, "
        "shown as ~0 when under 0.5 µs). The JSON baseline is the standard library's "
        "`json.dumps` of the request body + `json.loads` of the answer, whatever the codec.",
        "",
    ]
    rows = []
    for codec, m in med.items():
        for op, per in (("create", 1), ("query", QUERY_SIZE)):
            sdk = m[f"{op}/sdk"]
            decode = m[f"{op}/decode"]
            build = m[f"{op}/build"]
            label = "create" if op == "create" else f"queryByDay ({QUERY_SIZE} meetings)"
            rows.append(
                [
                    label,
                    codec,
                    fmt(m[f"{op}/baseline"], 1),
                    f"{fmt(build, 1)} ({fmt(m['create/encode'], 1)})"
                    if op == "create"
                    else fmt(build, 1),
                    fmt(decode, 1) + (f" ({fmt(decode / per, 2)}/mtg)" if per > 1 else ""),
                    _bookkeeping(sdk - build - decode),
                    fmt(sdk, 1),
                    fmt(sdk - m[f"{op}/baseline"], 1),
                    fmt(m[f"{op}/sdk_fake"], 1),
                ]
            )
    section.lines += md_table(
        [
            "call",
            "codec",
            "JSON baseline µs",
            "build µs (of which encode)",
            "decode µs",
            "bookkeeping µs",
            "SDK µs",
            "SDK − baseline µs",
            "over FakeTransport µs",
        ],
        rows,
    )
    section.lines += ["", "Detail (µs per call, median and range of the rounds):", ""]
    detail = [
        ("create/unstructure", "create: unstructure (model -> dict)"),
        ("create/encode", "create: encode (dict -> bytes)"),
        ("create/decode_json", "create: JSON decode of the answer"),
        ("create/send", "create: `client.send(prebuilt Request)`"),
        ("create/run_many", "create: per item through `run_many` (concurrency 64)"),
        ("create/emulator", "create: the emulator alone (`FakeTransport.send`)"),
        ("query/decode_json", f"queryByDay: JSON decode of the {QUERY_SIZE}-meeting answer"),
        ("create/sdk_built", "create: `create_meeting(CreateMeeting(...))`, model built per call"),
        ("query/structure", f"queryByDay: structuring {QUERY_SIZE} `MeetingInfo`"),
        (
            "query/structure_odd",
            f"queryByDay: structuring {QUERY_SIZE} real-deployment-shaped meetings "
            "(`openId`, `noticeTime: []`, `createDate: 0`, `meetingPlace: null`; field by field)",
        ),
    ]
    section.lines += md_table(
        ["measurement", *[f"{c} median" for c in med], *[f"{c} range" for c in med]],
        [
            [
                label,
                *[fmt(med[c][key], 2) for c in med],
                *[spread(results[c]["samples"][key], 2) for c in med],
            ]
            for key, label in detail
        ],
    )
    for codec in med:
        m = med[codec]
        over = m["create/sdk"] - m["create/baseline"]
        section.targets.append(
            Target(
                f"in-process overhead per create above the JSON baseline ({codec})",
                "<= 25 µs",
                f"{over:.1f} µs (SDK {m['create/sdk']:.1f} − baseline {m['create/baseline']:.1f})",
                over <= 25.0,
                f"{25.0 - over:+.1f} µs",
            )
        )
        per = m["query/decode"] / QUERY_SIZE
        section.targets.append(
            Target(
                f"queryByDay decoding per meeting, JSON + structuring ({codec})",
                "<= 5 µs",
                f"{per:.2f} µs",
                per <= 5.0,
                f"{5.0 - per:+.2f} µs",
            )
        )
    section.data = dict(med)
