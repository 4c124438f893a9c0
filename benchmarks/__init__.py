"""The yzj_meeting benchmark suite: ``python -m benchmarks`` (``--quick`` for a one-minute pass).

One module per section of ``RESULTS.md``:

1. ``throughput`` - creates over loopback against the emulator in its own process: raw aiohttp,
   the SDK (with and without its extras), httpx; requests/s and client CPU per request.
2. ``overhead`` - the SDK in process over an answer-replaying transport and ``FakeTransport``:
   build, encode, decode and bookkeeping per call, beside a ``json.dumps`` + ``json.loads``
   baseline of the same payloads.
3. ``tokens`` - token storms: 1,000 concurrent calls with no token, and with a refused one.
4. ``memory`` - 100,000 creates through ``run_many`` at concurrency 256: RSS growth, live tasks.
5. ``pacing`` - a bulk run against the emulator enforcing a (time-scaled) per-interface quota.
6. ``scaling`` - ``yzj-meeting sync`` of 200 / 2,000 / 20,000 meetings on the embedded emulator:
   first, unchanged and 10%-edited runs; wall, CPU and peak RSS per run.

Every figure is a median over rounds; every comparison is a ratio of medians taken in the same
run, the variants alternating round by round (A B A B) so that drift cancels. Loads run in
fresh subprocesses, are bounded in count and time, and use 127.0.0.1 only. Nothing here is a
test: there are no timing assertions, only a report of each target met or missed.
"""
