"""OpenTelemetry (extra ``otel``): spans and metrics of a fault-suite run agree with the
emulator's call log; nothing captured carries the token or the secret; sync spans; the URL
filter; the switch. Skipped when opentelemetry's SDK is not installed (``.[dev]`` has it)."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from yzj_meeting import (
    CancelMeeting,
    Credentials,
    FakeTransport,
    MeetingClient,
    ModifyMeeting,
    OutcomeUnknownError,
    QueryByDay,
    RetryPolicy,
    ValidationError,
    YzjError,
)
from yzj_meeting.errors import DEFAULT_TOKEN_ERROR_CODES, THROTTLED_ERROR_CODE
from yzj_meeting.fake import FakeService, Faults
from yzj_meeting.fake.wire import TOKEN_ENDPOINTS
from yzj_meeting.otel import Telemetry, strip_access_token
from yzj_meeting.transports import HttpRequest, HttpResponse

from .test_reliability import CREATOR, FAULT_MIX, START, TOKEN_EXPIRY_EVERY, _create

SECRET = "secret-otel-7f3a9c"


class Capture:
    """An in-memory span exporter and metric reader behind one ``Telemetry``."""

    def __init__(self, **options: Any) -> None:
        self.spans_out = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans_out))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        self.telemetry = Telemetry(
            tracer_provider=self.tracer_provider,
            meter_provider=self.meter_provider,
            **options,
        )

    def spans(self) -> tuple[ReadableSpan, ...]:
        return self.spans_out.get_finished_spans()

    def points(self) -> dict[str, list[tuple[dict[str, Any], Any]]]:
        """Metric name -> [(attributes, point)] of the latest collection."""
        out: dict[str, list[tuple[dict[str, Any], Any]]] = {}
        data = self.reader.get_metrics_data()
        assert data is not None
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    for point in metric.data.data_points:
                        out.setdefault(metric.name, []).append((dict(point.attributes), point))
        return out


def total(points: dict[str, list[tuple[dict[str, Any], Any]]], name: str, **match: str) -> int:
    """The sum of counter ``name`` over the points whose attributes include ``match``."""
    return sum(
        p.value
        for attrs, p in points.get(name, [])
        if all(attrs.get(k) == v for k, v in match.items())
    )


def count(points: dict[str, list[tuple[dict[str, Any], Any]]], name: str, **match: str) -> int:
    """The count of histogram ``name`` over the points whose attributes include ``match``."""
    return sum(
        p.count
        for attrs, p in points.get(name, [])
        if all(attrs.get(k) == v for k, v in match.items())
    )


class TokenTap(FakeTransport):
    """The emulator's transport, remembering every token it handed out."""

    def __init__(self, service: FakeService) -> None:
        super().__init__(service)
        self.issued: set[str] = set()

    async def send(self, request: HttpRequest) -> HttpResponse:
        response = await super().send(request)
        if request.endpoint in TOKEN_ENDPOINTS and response.body:
            data = json.loads(response.body).get("data") or {}
            self.issued.update(v for k, v in data.items() if k.endswith("Token") and v)
        return response


async def _no_sleep(_: float) -> None:
    await asyncio.sleep(0)


@pytest.fixture
def records() -> Iterator[list[logging.LogRecord]]:
    """Every log record of the SDK, at DEBUG."""
    logger = logging.getLogger("yzj_meeting")
    captured: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            captured.append(record)

    handler, level = Keep(logging.DEBUG), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield captured
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _strings(value: Any) -> Iterator[str]:
    """Every string in ``value`` (attributes, sequences, mappings, exceptions' args)."""
    if isinstance(value, str | bytes):
        yield value if isinstance(value, str) else value.decode("latin-1")
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(value, list | tuple | set | frozenset):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, BaseException):
        yield repr(value)
        yield from _strings(value.args)
    elif value is not None:
        yield repr(value)


async def test_fault_run_spans_and_metrics_agree_with_the_emulator_and_hold_no_secret(
    records: list[logging.LogRecord],
) -> None:
    """2,000 mixed calls at concurrency 50 with the fault suite's mix and token expiries."""
    calls, concurrency = 2_000, 50
    service = FakeService(seed=42, calls_per_minute=None, credentials={"eid-otel": SECRET})
    tap = TokenTap(service)
    capture = Capture()
    client = MeetingClient(
        credentials=Credentials(eid="eid-otel", secret=SECRET),
        base_url="http://emulator.invalid",
        transport=tap,
        calls_per_minute=None,
        sleep=_no_sleep,
        retry=RetryPolicy(max_attempts=10, base_delay=0.0, max_delay=0.0, deadline=60.0),
        max_in_flight=concurrency,
        telemetry=capture.telemetry,
    )
    rng = random.Random(7)
    sent: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    async with client:
        seeded = [await client.create_meeting(_create(100_000 + i)) for i in range(20)]
        sent["create"] += len(seeded)
        service.faults = FAULT_MIX

        async def one(i: int) -> None:
            kind = rng.choice(["create", "create", "queryByDay", "modify", "cancel"])
            sent[kind] += 1
            if i % TOKEN_EXPIRY_EVERY == TOKEN_EXPIRY_EVERY - 1:
                service.expire_tokens()
            try:
                if kind == "create":
                    await client.create_meeting(_create(i))
                elif kind == "queryByDay":
                    await client.query_by_day(QueryByDay(START + timedelta(days=i % 20)))
                elif kind == "modify":
                    target = seeded[i % 15]
                    await client.modify_meeting(
                        ModifyMeeting(
                            id=target,
                            openid=CREATOR,
                            title="seeded",
                            start_date=START,
                            end_date=START + timedelta(hours=1),
                        )
                    )
                else:
                    await client.cancel_meeting(
                        CancelMeeting(id=seeded[15 + i % 5], openid=CREATOR)
                    )
            except YzjError as exc:
                outcomes[type(exc).__name__] += 1
            else:
                outcomes["ok"] += 1

        await client.run_many([lambda i=i: one(i) for i in range(calls)], concurrency=concurrency)
    outcomes["ok"] += len(seeded)

    log = [c for c in service.calls if c.endpoint not in TOKEN_ENDPOINTS]
    spans = capture.spans()
    call_spans = [s for s in spans if s.name.startswith("yzj.meeting.") and "." not in s.name[12:]]
    call_spans = [s for s in call_spans if s.name != "yzj.meeting.quota_wait"]
    points = capture.points()
    # A refusal the client saw (a refused call's answer cut or lost is a network error to it).
    refused = sum(1 for c in log if c.error_code in DEFAULT_TOKEN_ERROR_CODES and not c.fault)
    throttled = sum(1 for c in log if c.error_code == THROTTLED_ERROR_CODE)
    assert refused > 0
    assert throttled > 0
    assert outcomes["OutcomeUnknownError"] > 0  # the mix really was hostile

    # Calls: one span and one count per call, by endpoint and outcome.
    assert Counter(s.name.removeprefix("yzj.meeting.") for s in call_spans) == sent
    assert count(points, "yzj.meeting.call.duration") == sum(sent.values())
    for endpoint, n in sent.items():
        assert count(points, "yzj.meeting.call.duration", **{"yzj.endpoint": endpoint}) == n
    for outcome, n in outcomes.items():
        assert count(points, "yzj.meeting.call.duration", **{"yzj.outcome": outcome}) == n
    assert Counter(str(s.attributes["yzj.outcome"]) for s in call_spans) == outcomes
    unknown = [s for s in call_spans if s.attributes["yzj.outcome_unknown"]]
    assert len(unknown) == outcomes["OutcomeUnknownError"]
    assert all(s.name == "yzj.meeting.create" for s in unknown)

    # Attempts: every request the emulator logged is one attempt, one span event, per endpoint.
    events = [e for s in call_spans for e in s.events if e.name == "attempt"]
    assert total(points, "yzj.meeting.attempts") == len(log) == len(events)
    assert sum(int(s.attributes["yzj.attempts"]) for s in call_spans) + refused == len(log)
    for endpoint, n in Counter(c.endpoint for c in log).items():
        assert total(points, "yzj.meeting.attempts", **{"yzj.endpoint": endpoint}) == n
    ok = total(points, "yzj.meeting.attempts", **{"yzj.outcome": "ok"})
    assert ok == sum(1 for c in log if c.error_code == 0 and c.status == 200 and not c.fault)
    assert len([e for e in events if "yzj.error" in e.attributes]) == len(log) - ok

    # Retries: each attempt is the call's first, a retry or a resend after a renewal.
    retries = total(points, "yzj.meeting.retries")
    assert retries == len([e for e in events if "yzj.retry_delay_s" in e.attributes])
    assert len(log) == sum(sent.values()) + retries + refused

    # Throttles and renewals agree with the emulator's answers.
    assert total(points, "yzj.meeting.throttled") == throttled
    assert total(points, "yzj.meeting.token.waits", **{"yzj.kind": "renew"}) == refused
    assert len([s for s in spans if s.name == "yzj.meeting.token.renew"]) == refused
    assert total(points, "yzj.meeting.token.requests") == service.token_requests
    assert service.token_requests >= 1 + 2000 // TOKEN_EXPIRY_EVERY

    # The token spans nest in the call that waited.
    by_id = {s.context.span_id: s for s in spans}
    for span in spans:
        if span.name.startswith("yzj.meeting.token."):
            assert span.parent is not None
            assert by_id[span.parent.span_id].name.startswith("yzj.meeting.")

    # Nothing captured carries a token or the secret: spans, events, metrics, log records.
    secrets = {SECRET, *tap.issued}
    assert len(tap.issued) >= 2
    captured: list[str] = []
    for span in spans:
        captured += [span.name, str(span.status.description)]
        captured += _strings(dict(span.attributes or {}))
        for event in span.events:
            captured += [event.name, *_strings(dict(event.attributes or {}))]
    for name, rows in points.items():
        captured += [name, *(v for attrs, _ in rows for v in _strings(attrs))]
    for record in records:
        captured += [record.getMessage(), *_strings(record.__dict__)]
    leaks = [s for s in captured if any(secret in s for secret in secrets)]
    assert leaks == []

    # Every log record of a call carries the structured fields.
    assert records
    for record in records:
        for field in ("endpoint", "attempt", "status", "error_code", "elapsed_ms", "tenant"):
            assert hasattr(record, field), (record.getMessage(), field)
        assert record.__dict__["tenant"] == "eid-otel"


async def test_quota_waits_get_a_span_from_the_threshold_on() -> None:
    capture = Capture(quota_span_threshold=0.01)
    service = FakeService(seed=1, calls_per_minute=None)
    client = MeetingClient(
        credentials=Credentials(eid="eid-1", secret="s"),
        base_url="http://emulator.invalid",
        transport=FakeTransport(service),
        calls_per_minute=3,
        telemetry=capture.telemetry,
    )
    from yzj_meeting.limits import RateLimiter

    client._sender.limiter = RateLimiter(3, 0.1, margin=0.0)
    async with client:
        for _ in range(7):
            await client.query_by_day(QueryByDay(START))
    waits = [s for s in capture.spans() if s.name == "yzj.meeting.quota_wait"]
    recorded = capture.points()["yzj.meeting.quota.wait"]
    assert sum(p.count for _, p in recorded) >= 2
    assert 1 <= len(waits) <= sum(p.count for _, p in recorded)
    assert all(s.attributes["yzj.endpoint"] == "queryByDay" for s in waits)
    assert all(s.end_time - s.start_time >= 0.01e9 for s in waits)  # type: ignore[operator]


async def test_a_sync_run_is_a_span_with_its_counts_and_a_child_per_key(tmp_path: Path) -> None:
    from yzj_meeting.sync.apply import sync
    from yzj_meeting.sync.journal import Journal, target_name

    from .sync import entries, make_client, series, single

    capture = Capture()
    service = FakeService(seed=7)
    records = [single("a"), single("b", title="Budget"), series("s")]
    async with (
        make_client(service, telemetry=capture.telemetry) as client,
        await Journal.open(tmp_path / "j.sqlite3", target_name("http://x", "e")) as journal,
    ):
        first = await sync(client, journal, entries(*records))
        service.faults = Faults(script=["server_error_after"] * 5)  # the modify fails
        second = await sync(client, journal, entries(single("a", title="New"), series("s")))
    assert first.counts()["created"] == 3
    assert second.failed == 1
    spans = capture.spans()
    runs = [s for s in spans if s.name == "yzj.sync"]
    assert len(runs) == 2
    for run, result in zip(runs, (first, second), strict=True):
        for name, n in {**result.counts(), "kept": result.kept}.items():
            assert run.attributes[f"yzj.sync.{name}"] == n
        assert run.attributes["yzj.tenant"] == "test-eid"
    keys = [s for s in spans if s.name.startswith("yzj.sync.")]
    by_id = {s.context.span_id: s for s in spans}
    assert sorted(s.name for s in keys) == ["yzj.sync.create"] * 3 + ["yzj.sync.modify"]
    assert all(s.parent is not None and by_id[s.parent.span_id].name == "yzj.sync" for s in keys)
    modify = next(s for s in keys if s.name == "yzj.sync.modify")
    assert modify.attributes["error.type"] == "ServerError"
    assert modify.status.status_code.name == "ERROR"
    assert {s.attributes["yzj.sync.result"] for s in keys if s is not modify} == {"created"}
    calls = [s for s in spans if s.name.startswith("yzj.meeting.") and ".token." not in s.name]
    # The first run reads each desired day once (adopt before create), inside the run's span.
    reads = [s for s in calls if s.name == "yzj.meeting.queryByDay"]
    assert reads
    assert all(s.parent is not None and by_id[s.parent.span_id].name == "yzj.sync" for s in reads)
    calls = [s for s in calls if s not in reads]
    assert sorted(s.name for s in calls) == sorted(
        ["yzj.meeting.create"] * 2 + ["yzj.meeting.repeatMeeting", "yzj.meeting.modify"]
    )
    for call in calls:  # each call nests in its key's span
        assert call.parent is not None
        assert by_id[call.parent.span_id] in keys


TOKEN = "4f1d2a0b9c8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"https://h/p/create?accessToken={TOKEN}", "https://h/p/create"),
        (f"https://h/p?accessToken={TOKEN}&a=1", "https://h/p?a=1"),
        (f"https://h/p?a=1&accessToken={TOKEN}&b=%20x", "https://h/p?a=1&b=%20x"),
        (f"https://h/p?a=1&b=2&accessToken={TOKEN}", "https://h/p?a=1&b=2"),
        ("https://h/p?accessToken=a%2Fb%3D%3D&x=y", "https://h/p?x=y"),
        (f"https://h/p?access%54oken={TOKEN}", "https://h/p"),
        (f"https://h/p?ACCESSTOKEN={TOKEN}&x=1", "https://h/p?x=1"),
        (f"https://h/p?accessToken={TOKEN}&x=1&accessToken=other", "https://h/p?x=1"),
        (f"https://h/p?accessToken={TOKEN}#frag", "https://h/p#frag"),
        ("https://h/p?accessToken=", "https://h/p"),
        ("https://h/p?accessToken", "https://h/p"),
        ("https://h/p?x=accessToken", "https://h/p?x=accessToken"),
        ("https://h/p", "https://h/p"),
    ],
)
def test_url_filter_strips_the_token_from_every_shape(url: str, expected: str) -> None:
    assert strip_access_token(url) == expected
    yarl = pytest.importorskip("yarl")
    stripped = strip_access_token(yarl.URL(url))
    assert "accessToken" not in stripped.replace("x=accessToken", "")
    assert TOKEN not in stripped


async def test_url_filter_on_the_urls_the_sdk_sends() -> None:
    """Whatever the token's characters, the URL the client sends loses it and only it."""
    seen: list[str] = []
    service = FakeService(seed=3, calls_per_minute=None)

    class Tap(FakeTransport):
        async def send(self, request: HttpRequest) -> HttpResponse:
            seen.append(request.url)
            return await super().send(request)

    async with MeetingClient(
        credentials=Credentials(eid="e", secret="s"),
        base_url="http://emulator.invalid",
        transport=Tap(service),
        calls_per_minute=None,
    ) as client:
        await client.query_by_day(QueryByDay(START))
        token = await client.token_provider.token()
    meeting = [u for u in seen if "queryByDay" in u]
    assert meeting
    assert token in meeting[0]
    assert strip_access_token(meeting[0]) == meeting[0].partition("?")[0]
    odd = "a/b+c=d&e f%"
    from urllib.parse import quote

    assert strip_access_token(f"https://h/p?accessToken={quote(odd, safe='')}") == "https://h/p"


def test_telemetry_switch() -> None:
    service = FakeService(seed=1)
    base = {
        "credentials": Credentials(eid="e", secret="s"),
        "base_url": "http://emulator.invalid",
        "transport": FakeTransport(service),
    }
    telemetry = Telemetry()
    assert MeetingClient(**base, telemetry=False)._observer is None
    assert MeetingClient(**base, telemetry=telemetry)._observer is telemetry
    assert MeetingClient(**base, telemetry=True)._observer is not None
    with pytest.raises(ValidationError, match="telemetry"):
        MeetingClient(**base, observer=telemetry, telemetry=True)
    with pytest.raises(ValidationError, match="telemetry"):
        MeetingClient(**base, telemetry="yes")  # type: ignore[arg-type]
    # No global provider is configured in this process: the default stays off.
    assert MeetingClient(**base)._observer is None


_AUTO = """
import asyncio, sys
from yzj_meeting import Credentials, MeetingClient, QueryByDay
from yzj_meeting.fake import FakeService, FakeTransport
def client():
    return MeetingClient(credentials=Credentials(eid="e", secret="s"),
                         base_url="http://x.invalid", transport=FakeTransport(FakeService()))
assert client()._observer is None and "opentelemetry.trace" not in sys.modules
from opentelemetry import trace
assert client()._observer is None  # the API alone, nothing configured
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
out = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(out))
trace.set_tracer_provider(provider)
async def main():
    async with client() as c:
        await c.query_by_day(QueryByDay(__import__("datetime").date(2026, 12, 1)))
asyncio.run(main())
print(sorted(s.name for s in out.get_finished_spans()))
"""


def test_auto_on_when_the_application_configured_a_provider() -> None:
    """In a fresh process: off before OpenTelemetry is loaded and configured, on after."""
    done = subprocess.run(
        [sys.executable, "-c", _AUTO], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['yzj.meeting.queryByDay', 'yzj.meeting.token.fetch']"


async def test_outcome_unknown_call_span() -> None:
    capture = Capture()
    service = FakeService(seed=1, calls_per_minute=None, faults=Faults(script=["drop_after"]))
    async with MeetingClient(
        credentials=Credentials(eid="e", secret="s"),
        base_url="http://emulator.invalid",
        transport=FakeTransport(service),
        calls_per_minute=None,
        telemetry=capture.telemetry,
    ) as client:
        await client.token_provider.token()
        with pytest.raises(OutcomeUnknownError):
            await client.create_meeting(_create(1))
    (span,) = [s for s in capture.spans() if s.name == "yzj.meeting.create"]
    assert span.attributes["yzj.outcome"] == "OutcomeUnknownError"
    assert span.attributes["yzj.outcome_unknown"] is True
    assert span.attributes["yzj.attempts"] == 1
    assert span.attributes["yzj.tenant"] == "e"
    assert span.status.status_code.name == "ERROR"
    (event,) = span.events
    assert event.attributes["yzj.attempt"] == 1
    assert event.attributes["yzj.error"] == "NetworkError"
    assert "http.response.status_code" not in event.attributes  # no answer came


async def test_aiohttp_client_instrumentation_with_the_url_filter_records_no_token() -> None:
    """The documented setup, on loopback: the HTTP spans nest in the call spans, and their URL
    keeps everything but the token (without the filter it would carry it: the control)."""
    instrumentation = pytest.importorskip("opentelemetry.instrumentation.aiohttp_client")
    from yzj_meeting import AiohttpTransport
    from yzj_meeting.fake.server import running

    async def run(url_filter: Any) -> tuple[Capture, set[str]]:
        capture = Capture()
        service = FakeService(seed=5, calls_per_minute=None)
        instrumentor = instrumentation.AioHttpClientInstrumentor()
        instrumentor.instrument(
            tracer_provider=capture.tracer_provider,
            meter_provider=capture.meter_provider,
            url_filter=url_filter,
        )
        try:
            async with (
                running(service) as base_url,
                MeetingClient(
                    credentials=Credentials(eid="eid-http", secret=SECRET),
                    base_url=base_url,
                    transport=AiohttpTransport(),
                    calls_per_minute=None,
                    telemetry=capture.telemetry,
                ) as client,
            ):
                await client.query_by_day(QueryByDay(START))
                first = await client.token_provider.token()
                service.expire_tokens()
                await client.create_meeting(_create(1))
                second = await client.token_provider.token()
                service.faults = Faults(script=["drop_before", "server_error"])
                await client.query_by_day(QueryByDay(START))  # a failed HTTP span records it
        finally:
            instrumentor.uninstrument()
        return capture, {first, second, SECRET}

    capture, secrets = await run(strip_access_token)
    spans = capture.spans()
    http = [s for s in spans if s.kind.name == "CLIENT"]
    by_id = {s.context.span_id: s for s in spans}
    urls = [str(s.attributes.get("http.url") or s.attributes.get("url.full")) for s in http]
    # getAccessToken, queryByDay, create (refused), refreshToken, create, queryByDay x3
    assert len(http) == 8
    assert any(e.name == "exception" for s in http for e in s.events)  # the dropped one
    assert all(u.startswith("http://127.0.0.1:") and "?" not in u for u in urls)
    assert {by_id[s.parent.span_id].name for s in http if s.parent} >= {
        "yzj.meeting.queryByDay",
        "yzj.meeting.create",
    }
    captured = [v for s in spans for v in _strings(dict(s.attributes or {}))]
    captured += [v for s in spans for e in s.events for v in _strings(dict(e.attributes or {}))]
    captured += [str(s.status.description) for s in spans]
    captured += [v for rows in capture.points().values() for a, _ in rows for v in _strings(a)]
    assert [v for v in captured if any(secret in v for secret in secrets)] == []

    control, secrets = await run(None)
    leaked = [
        v for s in control.spans() for v in _strings(dict(s.attributes or {})) if "accessToken" in v
    ]
    assert leaked  # without the filter the instrumentation records the token


def test_the_readme_example_runs() -> None:
    """The README's Observability example, as printed there."""
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Observability", 1)[1]
    example = section.split("```python\n", 1)[1].split("```", 1)[0]
    done = subprocess.run(
        [sys.executable, "-c", example], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    query = next(line for line in lines if line.startswith("yzj.meeting.queryByDay "))
    assert "'yzj.attempts': 2" in query
    assert "'yzj.outcome': 'ok'" in query
    assert "yzj.meeting.retries {'yzj.endpoint': 'queryByDay'} 1" in lines
    assert "yzj.meeting.token.requests {'yzj.endpoint': 'getAccessToken'} 1" in lines


def test_without_the_extra_the_default_is_off_and_true_is_a_clear_error() -> None:
    script = """
import sys
sys.modules["opentelemetry"] = None  # the extra is not installed
from yzj_meeting import Credentials, MeetingClient, ValidationError
options = {"credentials": Credentials(eid="e", secret="s"), "base_url": "http://x.invalid"}
assert MeetingClient(**options)._observer is None
try:
    MeetingClient(**options, telemetry=True)
except ValidationError as exc:
    print(exc)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "telemetry" in done.stdout
    assert "pip install 'yzj-meeting[otel]'" in done.stdout
