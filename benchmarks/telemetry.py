"""The per-call cost of OpenTelemetry (extra ``otel``): ``python -m benchmarks.telemetry``
(needs ``opentelemetry-sdk``, which ``.[dev]`` installs).

``create_meeting`` against a replay transport (the emulator's recorded answer handed back: the
SDK alone, no sockets), in one process, blocks of calls interleaved round by round, one client
per variant:

- ``off``: ``telemetry=False`` (the client has no observer);
- ``auto, nothing configured``: the default, with OpenTelemetry's API imported and no provider
  set (must resolve to no observer: the ``off`` path);
- ``on, API only``: ``telemetry=True`` without any SDK (the API's no-op proxies);
- ``on, SDK``: the default, with an SDK ``TracerProvider`` (every span sampled, ended and
  handed to an exporter that drops it, inline) and a ``MeterProvider`` with a reader.

A second process, with ``opentelemetry`` made unimportable (the extra not installed), times the
default client against ``telemetry=False`` the same way. Ratios are of medians of µs per call.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ._common import EID, SECRET, sample_create

BLOCK = 2_000


class _Replay:
    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers

    async def send(self, request: Any) -> Any:
        return self.answers[request.endpoint]

    async def aclose(self) -> None:
        pass


async def _answers() -> dict[str, Any]:
    from yzj_meeting import Credentials, MeetingClient
    from yzj_meeting.fake import FakeService, FakeTransport

    answers: dict[str, Any] = {}

    class Recorder(FakeTransport):
        async def send(self, request: Any) -> Any:
            answers[request.endpoint] = response = await super().send(request)
            return response

    service = FakeService(calls_per_minute=None, record_calls=False, seed=0)
    async with MeetingClient(
        credentials=Credentials(eid=EID, secret=SECRET),
        base_url="http://bench.invalid",
        transport=Recorder(service),
        calls_per_minute=None,
        telemetry=False,
    ) as client:
        await client.create_meeting(sample_create())
    return answers


def _client(answers: dict[str, Any], **options: Any) -> Any:
    from yzj_meeting import Credentials, MeetingClient

    return MeetingClient(
        credentials=Credentials(eid=EID, secret=SECRET),
        base_url="http://bench.invalid",
        transport=_Replay(answers),
        calls_per_minute=None,
        **options,
    )


async def _measure(clients: dict[str, Any], rounds: int) -> dict[str, list[float]]:
    model = sample_create()
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        name: (lambda c=c: c.create_meeting(model)) for name, c in clients.items()
    }
    for fn in calls.values():  # warm up: token fetched, caches filled
        for _ in range(200):
            await fn()
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, fn in calls.items():
            gc.collect()
            t0 = time.perf_counter_ns()
            for _ in range(BLOCK):
                await fn()
            samples[name].append((time.perf_counter_ns() - t0) / BLOCK / 1000)
    for client in clients.values():
        await client.aclose()
    return samples


def _with_extra(rounds: int) -> dict[str, Any]:
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

    from yzj_meeting.otel import Telemetry

    class Drop(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    async def run() -> dict[str, Any]:
        answers = await _answers()
        # Made before any provider is set: the default resolves to no observer.
        clients = {
            "off": _client(answers, telemetry=False),
            "auto, nothing configured": _client(answers),
            "on, API only (no-op)": _client(
                answers,
                telemetry=Telemetry(
                    tracer_provider=trace.NoOpTracerProvider(),
                    meter_provider=metrics.NoOpMeterProvider(),
                ),
            ),
        }
        auto_off = clients["auto, nothing configured"]._observer is None
        tracers = TracerProvider()
        tracers.add_span_processor(SimpleSpanProcessor(Drop()))
        trace.set_tracer_provider(tracers)
        metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))
        clients["on, SDK configured (auto)"] = sdk = _client(answers)
        assert isinstance(sdk._observer, Telemetry)
        samples = await _measure(clients, rounds)
        return {"auto_off_before_configuring": auto_off, "samples": samples}

    return asyncio.run(run())


def _without_extra(rounds: int) -> dict[str, Any]:
    sys.modules["opentelemetry"] = None  # type: ignore[assignment]

    async def run() -> dict[str, Any]:
        answers = await _answers()
        clients = {"off": _client(answers, telemetry=False), "default": _client(answers)}
        assert clients["default"]._observer is None
        return {"samples": await _measure(clients, rounds)}

    return asyncio.run(run())


def _ratios(samples: dict[str, list[float]], base: str) -> list[tuple[str, float, float]]:
    reference = statistics.median(samples[base])
    return [
        (name, statistics.median(v), statistics.median(v) / reference)
        for name, v in samples.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--child", choices=["with", "without"])
    args = parser.parse_args()
    if args.child == "with":
        print(json.dumps(_with_extra(args.rounds)))
        return
    if args.child == "without":
        print(json.dumps(_without_extra(args.rounds)))
        return
    results = {}
    for child in ("without", "with"):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.telemetry",
                "--child",
                child,
                "--rounds",
                str(args.rounds),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        results[child] = json.loads(done.stdout)
    print(f"create_meeting on a replay transport, {BLOCK} calls per block, {args.rounds} rounds")
    print("(medians of µs per call; ratio to `off` in the same process)\n")
    print("| process | variant | µs/call | ratio |")
    print("| --- | --- | ---: | ---: |")
    for name, value, ratio in _ratios(results["without"]["samples"], "off"):
        print(f"| without the extra | {name} | {value:.1f} | {ratio:.3f} |")
    for name, value, ratio in _ratios(results["with"]["samples"], "off"):
        print(f"| with the extra | {name} | {value:.1f} | {ratio:.3f} |")
    print(
        "\nwith the extra, before a provider is set, the default client has no observer: "
        f"{results['with']['auto_off_before_configuring']}"
    )


if __name__ == "__main__":
    main()
