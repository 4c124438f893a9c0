"""OpenTelemetry traces and metrics for the client and for sync (extra ``otel``).

``Telemetry`` implements the client's observation hooks (``_observe.Observer``) on
``opentelemetry-api`` alone; the SDK and the exporters are the application's choice.
``MeetingClient`` switches it on by itself when the application has configured a global tracer
or meter provider (``telemetry=None``, the default), always with ``telemetry=True``, never with
``telemetry=False``; ``telemetry=Telemetry(tracer_provider=..., meter_provider=...)`` uses
the providers given. Without the extra, or with nothing configured, the client carries no
observer at all: not one instruction more per call.

What is recorded (never the token, the secret or a body):

- a span per logical call, ``yzj.meeting.<endpoint>`` (``yzj.meeting.create``, ...), with
  ``yzj.endpoint``, ``yzj.tenant``, ``yzj.attempts``, ``yzj.outcome`` (``ok`` or the error
  class), ``yzj.error_code``, ``yzj.outcome_unknown`` and ``error.type``; one ``attempt``
  event per attempt (``yzj.attempt``, ``http.response.status_code``, ``yzj.error_code``,
  ``yzj.elapsed_ms``, ``yzj.error``, ``yzj.retry_delay_s`` when a retry follows);
- ``yzj.meeting.token.fetch`` / ``yzj.meeting.token.renew`` spans for a call's wait for a
  token, and ``yzj.meeting.quota_wait`` for a rate-limit wait of at least
  ``quota_span_threshold`` seconds;
- ``yzj.sync`` for a sync run (its counts as ``yzj.sync.<count>``) with one child span per key,
  ``yzj.sync.<action>`` (``yzj.sync.key``, ``yzj.sync.result``);
- the metrics in ``METRICS`` (attributes ``yzj.endpoint`` and ``yzj.outcome``, or ``yzj.kind``
  for tokens); the calls are the count of ``yzj.meeting.call.duration``.

``strip_access_token`` is the ``url_filter`` for opentelemetry-instrumentation-aiohttp-client,
whose spans would otherwise record ``?accessToken=...``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any, Final

from opentelemetry import context, metrics, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from ._observe import CallEnd

__all__ = ["METRICS", "Telemetry", "default_telemetry", "provider_configured", "strip_access_token"]

_SCOPE = "yzj_meeting"
_CALL_KEY: Final = context.create_key("yzj_meeting.call")

METRICS: Final = {
    "yzj.meeting.attempts": "attempts (resends included), by yzj.endpoint and yzj.outcome",
    "yzj.meeting.retries": "attempts followed by a retry, by yzj.endpoint",
    "yzj.meeting.throttled": "throttled answers (errorCode 10000429 or HTTP 429), by yzj.endpoint",
    "yzj.meeting.call.duration": (
        "logical call duration in s, by yzj.endpoint and yzj.outcome; its count is the calls"
    ),
    "yzj.meeting.token.waits": "calls that waited for a token, by yzj.kind and yzj.outcome",
    "yzj.meeting.token.requests": "token endpoint requests, by yzj.endpoint",
    "yzj.meeting.quota.wait": "waits for a rate-limit slot (1 ms or more) in s, by yzj.endpoint",
}
"""The metric names ``Telemetry`` records, with what they count."""

_QUOTA_FLOOR = 0.001
_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def provider_configured() -> bool:
    """Whether the application set a global tracer or meter provider (``OTEL_SDK_DISABLED=true``
    counts as none): what ``MeetingClient(telemetry=None)`` looks at when it is made."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    tracers = trace.get_tracer_provider()
    if not isinstance(tracers, trace.ProxyTracerProvider | trace.NoOpTracerProvider):
        return True
    # The API's own stand-in before a meter provider is set is a private class.
    meters = metrics.get_meter_provider()
    return not isinstance(meters, metrics.NoOpMeterProvider) and not type(
        meters
    ).__name__.startswith("_Proxy")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("yzj-meeting")
    except PackageNotFoundError:  # run from a source tree
        return ""


_DEFAULT: Telemetry | None = None


def default_telemetry() -> Telemetry:
    """The process-wide ``Telemetry`` on the global providers (made once)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Telemetry()
    return _DEFAULT


class _Call:
    """One observed call: its span and the attempt event waiting for its retry delay."""

    __slots__ = ("pending", "recording", "span", "token")

    def __init__(self, span: trace.Span) -> None:
        self.span = span
        self.recording = span.is_recording()
        self.pending: tuple[dict[str, Any], int] | None = None
        self.token: object = None

    def flush(self) -> None:
        if self.pending is not None:
            attributes, at = self.pending
            self.pending = None
            self.span.add_event("attempt", attributes, at)


class _Current:
    """A span made current in the task that started it (detached by whoever ends it)."""

    __slots__ = ("span", "token")

    def __init__(self, span: trace.Span) -> None:
        self.span = span
        self.token = context.attach(trace.set_span_in_context(span))


class Telemetry:
    """Spans and metrics for ``MeetingClient`` (give it as ``telemetry=``) and for sync.

    ``tracer_provider`` / ``meter_provider`` default to the global ones (as every
    OpenTelemetry instrumentation does). A wait for a rate-limit slot gets a span from
    ``quota_span_threshold`` seconds on; every wait is in ``yzj.meeting.quota.wait``.
    """

    def __init__(
        self,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
        quota_span_threshold: float = 0.05,
    ) -> None:
        version = _version()
        self._tracer = trace.get_tracer(_SCOPE, version, tracer_provider)
        meter = metrics.get_meter(_SCOPE, version, meter_provider)
        self.quota_span_threshold = quota_span_threshold

        def counter(name: str, unit: str) -> Any:
            return meter.create_counter(name, unit, METRICS[name])

        self._attempts = counter("yzj.meeting.attempts", "{attempt}")
        self._retries = counter("yzj.meeting.retries", "{retry}")
        self._throttled = counter("yzj.meeting.throttled", "{answer}")
        self._duration = meter.create_histogram(
            "yzj.meeting.call.duration",
            "s",
            METRICS["yzj.meeting.call.duration"],
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )
        self._token_waits = counter("yzj.meeting.token.waits", "{wait}")
        self._token_requests = counter("yzj.meeting.token.requests", "{request}")
        self._quota = meter.create_histogram(
            "yzj.meeting.quota.wait", "s", METRICS["yzj.meeting.quota.wait"]
        )
        self._names: dict[str, str] = {}
        self._labels: dict[tuple[str, str, str], Mapping[str, str]] = {}

    def __repr__(self) -> str:
        return f"Telemetry(quota_span_threshold={self.quota_span_threshold!r})"

    def _label(self, key: str, value: str, outcome: str = "") -> Mapping[str, str]:
        """Metric attributes, made once per combination (a call must not build dicts)."""
        labels = self._labels.get((key, value, outcome))
        if labels is None:
            labels = {key: value, "yzj.outcome": outcome} if outcome else {key: value}
            self._labels[(key, value, outcome)] = labels
        return labels

    # --- the client's hooks (_observe.Observer) ---

    def call_started(self, endpoint: str, tenant: str) -> object:
        """Start the call's span and make it current (token and HTTP spans nest in it)."""
        name = self._names.get(endpoint)
        if name is None:
            name = self._names[endpoint] = f"yzj.meeting.{endpoint}"
        span = self._tracer.start_span(
            name,
            kind=SpanKind.INTERNAL,
            attributes={"yzj.endpoint": endpoint, "yzj.tenant": tenant},
        )
        call = _Call(span)
        call.token = context.attach(
            context.set_value(_CALL_KEY, call, trace.set_span_in_context(span))
        )
        return call

    def call_ended(self, ctx: object, end: CallEnd) -> None:
        """End the call's span with its outcome; count it."""
        assert isinstance(ctx, _Call)
        # One histogram counts the calls too (as OpenTelemetry's HTTP client duration does).
        self._duration.record(end.elapsed, self._label("yzj.endpoint", end.endpoint, end.outcome))
        span = ctx.span
        if ctx.recording:
            ctx.flush()
            attributes: dict[str, Any] = {
                "yzj.attempts": end.attempts,
                "yzj.outcome": end.outcome,
                "yzj.outcome_unknown": end.outcome_unknown,
            }
            if end.error_code is not None:
                attributes["yzj.error_code"] = end.error_code
            if end.outcome != "ok":
                attributes["error.type"] = end.outcome
                span.set_status(Status(StatusCode.ERROR, end.outcome))
            span.set_attributes(attributes)
        span.end()
        context.detach(ctx.token)  # type: ignore[arg-type]

    def attempt(
        self,
        endpoint: str,
        tenant: str,
        attempt: int,
        status: int | None,
        error_code: int | None,
        elapsed: float,
        error: str | None,
    ) -> None:
        """Count the attempt; its span event waits for the retry delay, if one follows."""
        self._attempts.add(1, self._label("yzj.endpoint", endpoint, error or "ok"))
        if error == "RateLimitError":
            self._throttled.add(1, self._label("yzj.endpoint", endpoint))
        call = context.get_value(_CALL_KEY)
        if not isinstance(call, _Call) or not call.recording:
            return
        call.flush()
        attributes: dict[str, Any] = {"yzj.attempt": attempt, "yzj.elapsed_ms": elapsed * 1000}
        if status is not None:
            attributes["http.response.status_code"] = status
        if error_code is not None:
            attributes["yzj.error_code"] = error_code
        if error is None:
            call.span.add_event("attempt", attributes)
        else:
            attributes["yzj.error"] = error
            call.pending = (attributes, time.time_ns())

    def retry(self, endpoint: str, tenant: str, attempt: int, delay: float) -> None:
        """The failed attempt's event gets the delay chosen; count the retry."""
        self._retries.add(1, self._label("yzj.endpoint", endpoint))
        call = context.get_value(_CALL_KEY)
        if isinstance(call, _Call) and call.pending is not None:
            call.pending[0]["yzj.retry_delay_s"] = delay
            call.flush()

    def token(self, tenant: str, kind: str, elapsed: float, error: str | None) -> None:
        """A span for the call's wait for a token (``fetch`` or ``renew``); count it."""
        self._token_waits.add(1, self._label("yzj.kind", kind, error or "ok"))
        self._past_span(f"yzj.meeting.token.{kind}", elapsed, {"yzj.tenant": tenant}, error)

    def token_request(self, tenant: str, endpoint: str) -> None:
        """The token provider sends a request to a token endpoint."""
        self._token_requests.add(1, self._label("yzj.endpoint", endpoint))

    def quota_wait(self, tenant: str, interface: str, waited: float) -> None:
        """Record a real wait (a free slot takes microseconds); a span from the threshold on."""
        if waited < _QUOTA_FLOOR:
            return
        self._quota.record(waited, self._label("yzj.endpoint", interface))
        if waited >= self.quota_span_threshold:
            self._past_span(
                "yzj.meeting.quota_wait",
                waited,
                {"yzj.tenant": tenant, "yzj.endpoint": interface},
                None,
            )

    def _past_span(
        self, name: str, elapsed: float, attributes: dict[str, Any], error: str | None
    ) -> None:
        """A span for something that just ended after ``elapsed`` seconds."""
        now = time.time_ns()
        span = self._tracer.start_span(
            name, attributes=attributes, start_time=now - int(elapsed * 1e9)
        )
        if error is not None:
            span.set_attribute("error.type", error)
            span.set_status(Status(StatusCode.ERROR, error))
        span.end(now)

    # --- sync (_observe.SyncObserver) ---

    def sync_started(self, tenant: str) -> object:
        """Start the run's span, current while the run goes on."""
        span = self._tracer.start_span("yzj.sync", attributes={"yzj.tenant": tenant})
        return _Current(span)

    def sync_ended(
        self, ctx: object, counts: Mapping[str, int] | None, error: BaseException | None
    ) -> None:
        """End the run's span with its counts (or the error that stopped it)."""
        self._end_current(ctx, error, {f"yzj.sync.{k}": v for k, v in (counts or {}).items()})

    def action_started(self, key: str, action: str) -> object:
        """Start one key's span (a child of the run's), current while the key is worked on."""
        span = self._tracer.start_span(
            f"yzj.sync.{action}", attributes={"yzj.sync.key": key, "yzj.sync.action": action}
        )
        return _Current(span)

    def action_ended(self, ctx: object, result: str | None, error: BaseException | None) -> None:
        """End one key's span with the count it landed in, or its error."""
        self._end_current(ctx, error, {"yzj.sync.result": result or "none"} if not error else {})

    def _end_current(
        self, ctx: object, error: BaseException | None, attributes: Mapping[str, Any]
    ) -> None:
        assert isinstance(ctx, _Current)
        span = ctx.span
        if span.is_recording():
            span.set_attributes(attributes)
            if error is not None:
                # The class name only: an error's text is the SDK's, but a span outlives it.
                span.set_attribute("error.type", type(error).__name__)
                span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        span.end()
        context.detach(ctx.token)


def strip_access_token(url: object) -> str:
    """``url`` (a ``str`` or ``yarl.URL``) without any ``accessToken`` query parameter.

    For ``AioHttpClientInstrumentor().instrument(url_filter=strip_access_token)``: removes every
    ``accessToken`` parameter wherever it stands, however often, with its name in any case or
    percent-encoded, and keeps the rest of the URL byte for byte.
    """
    from urllib.parse import unquote_plus

    text = str(url)
    base, mark, rest = text.partition("?")
    if not mark:
        return text
    query, hash_mark, fragment = rest.partition("#")
    kept = [
        part
        for part in query.split("&")
        if unquote_plus(part.partition("=")[0]).strip().lower() != "accesstoken"
    ]
    return base + ("?" + "&".join(kept) if any(kept) else "") + hash_mark + fragment
