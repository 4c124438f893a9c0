"""The tenant lease and its fence: one writer per target, a lost lease stops writes and sends,
a new holder waits out the previous holder's send deadlines."""

from __future__ import annotations

import asyncio
import threading
import time

import psycopg
import pytest

from yzj_meeting._http import HttpRequest, HttpResponse
from yzj_meeting.sync.fence import GatedTransport, SendGate, SendRefused
from yzj_meeting.sync.pg_journal import FencedOut, LeaseHeld, PgJournal, migrate
from yzj_meeting.sync.plan import intent_for

from ..sync import entries, single

TARGET = "https://yzj.example#e1"
FAST = {"ttl": 1.2, "send_budget": 0.1, "request_timeout": 0.3}


class CountingTransport:
    def __init__(self) -> None:
        self.sent: list[HttpRequest] = []

    async def send(self, request: HttpRequest) -> HttpResponse:
        self.sent.append(request)
        return HttpResponse(200, {}, b"{}")

    async def aclose(self) -> None:
        pass


def request() -> HttpRequest:
    return HttpRequest("POST", "http://127.0.0.1:1/x", {}, b"{}", "x")


def lease_row(url: str) -> tuple[str, int]:
    with psycopg.connect(url) as conn:
        found = conn.execute(
            "SELECT owner, fence FROM yzj_leases WHERE target = %s", (TARGET,)
        ).fetchone()
    assert found is not None
    return found[0], found[1]


@pytest.fixture
async def url(pg_url: str) -> str:
    await migrate(pg_url)
    return pg_url


async def test_one_holder_at_a_time_and_the_fence_grows(url: str) -> None:
    first = await PgJournal.open(url, TARGET, owner="w1", **FAST)
    assert lease_row(url) == ("w1", 1)
    with pytest.raises(LeaseHeld):
        await PgJournal.open(url, TARGET, owner="w2", **FAST)
    await first.aclose()  # released: the next holder need not wait for the ttl
    second = await PgJournal.open(url, TARGET, owner="w2", **FAST)
    assert (second.fence, lease_row(url)) == (2, ("w2", 2))
    await second.aclose()


async def test_renewal_keeps_the_lease_well_past_its_ttl(url: str) -> None:
    journal = await PgJournal.open(url, TARGET, owner="w1", **FAST)
    try:
        await asyncio.sleep(3 * FAST["ttl"])
        with pytest.raises(LeaseHeld):
            await PgJournal.open(url, TARGET, owner="w2", **FAST)
        assert journal.gate.held()
        (entry,) = entries(single("a"))
        await journal.begin("a", intent_for("create", entry))
        await journal.succeeded("a", ["m-1"])
    finally:
        await journal.aclose()


async def test_a_write_after_a_take_over_is_fenced_and_closes_the_gate(url: str) -> None:
    old = await PgJournal.open(url, TARGET, owner="old", **FAST)
    old._renewer.cancel()  # type: ignore[union-attr]  # as if paused: no renewal
    new = await PgJournal.open(url, TARGET, owner="new", wait=5.0, **FAST)
    try:
        # Pretend the old holder's local clock still trusts its lease: the database refuses.
        old.gate.until = time.monotonic() + 60
        inner = CountingTransport()
        transport = GatedTransport(inner, old.gate)
        (entry,) = entries(single("a"))
        with pytest.raises(FencedOut, match="no longer holds"):
            await old.begin("a", intent_for("create", entry))
        with pytest.raises(SendRefused, match="lost"):
            await transport.send(request())
        assert inner.sent == []
        assert await new.get("a") is None  # nothing written
        await new.begin("a", intent_for("create", entry))  # the new holder writes
    finally:
        await new.aclose()
        await old.aclose()
    assert lease_row(url) == ("new", 2)


async def test_a_paused_worker_can_neither_write_nor_send(url: str) -> None:
    zombie = await PgJournal.open(url, TARGET, owner="zombie", **FAST)
    inner = CountingTransport()
    transport = GatedTransport(inner, zombie.gate)
    await transport.send(request())  # while held: sent
    taken = threading.Event()

    async def take_over() -> None:
        async with await PgJournal.open(url, TARGET, owner="next", wait=10.0, **FAST):
            taken.set()

    thread = threading.Thread(target=lambda: asyncio.run(take_over()))
    thread.start()
    # The whole process stalls (as under SIGSTOP) until its lease expired and was taken.
    while not taken.wait(0.05):
        time.sleep(0.05)  # noqa: ASYNC251 - blocking on purpose: the event loop is "stopped"
    thread.join()
    (entry,) = entries(single("a"))
    with pytest.raises(SendRefused):
        await transport.send(request())
    with pytest.raises(FencedOut):
        await zombie.begin("a", intent_for("create", entry))
    assert len(inner.sent) == 1
    await zombie.aclose()
    assert lease_row(url)[0] == "next"


async def test_the_send_deadline_stops_late_attempts(url: str) -> None:
    async with await PgJournal.open(url, TARGET, owner="w1", **FAST) as journal:
        inner = CountingTransport()
        transport = GatedTransport(inner, journal.gate)
        (entry,) = entries(single("a"), single("b"))[:1]
        await journal.begin("a", intent_for("create", entry))
        await transport.send(request())
        await asyncio.sleep(FAST["send_budget"] * 2)
        with pytest.raises(SendRefused, match="deadline"):
            await transport.send(request())
        await journal.succeeded("a", ["m-1"])  # an outcome ends the intent's deadline
        await transport.send(request())
        assert len(inner.sent) == 2


async def test_a_new_holder_waits_out_pending_send_deadlines(url: str) -> None:
    options = {**FAST, "send_budget": 0.5}
    old = await PgJournal.open(url, TARGET, owner="old", **options)
    (entry,) = entries(single("a"))
    await old.begin("a", intent_for("create", entry))  # ... and the worker dies
    old._renewer.cancel()  # type: ignore[union-attr]
    new = await PgJournal.open(url, TARGET, owner="new", wait=5.0, **options)
    try:
        with psycopg.connect(url) as conn:
            passed = conn.execute(
                "SELECT send_deadline < clock_timestamp() FROM yzj_journal WHERE key = 'a'"
            ).fetchone()
        assert passed == (True,)
        row = await new.get("a")
        assert row is not None
        assert row.in_doubt  # left for the sync to resolve (look up, adopt or forget)
    finally:
        await new.aclose()
        await old.aclose()


def test_the_gate_needs_a_full_request_of_lease_left() -> None:
    now = [100.0]
    gate = SendGate(margin=2.0, clock=lambda: now[0])
    with pytest.raises(SendRefused):
        gate.check()  # never held
    gate.extend(110.0)
    gate.check()
    now[0] = 108.0  # an answer could arrive after the lease expired
    with pytest.raises(SendRefused, match="may expire"):
        gate.check()
    gate.extend(120.0)
    gate.check()
    gate.lose("taken over")
    gate.extend(200.0)  # a lost lease is never trusted again
    with pytest.raises(SendRefused, match="taken over"):
        gate.check()


async def test_a_passed_send_deadline_stops_writes_but_not_lookups() -> None:
    # A task whose call ended in doubt keeps its deadline; its next key may start with a
    # lookup (reconcile), which never acts and must not be refused for it.
    now = [100.0]
    gate = SendGate(margin=1.0, clock=lambda: now[0])
    gate.extend(200.0)

    async def task() -> None:
        gate.send_by(105.0)
        now[0] = 106.0
        gate.check("queryByDay")
        gate.check("getAccessToken")
        for write in ("create", "modify", "cancel", "repeatMeeting", "batchCancel", "newOne"):
            with pytest.raises(SendRefused, match="deadline"):
                gate.check(write)
        gate.lose("taken over")
        with pytest.raises(SendRefused, match="taken over"):
            gate.check("queryByDay")  # a lost lease stops reads too

    await asyncio.create_task(task())


async def test_a_renewer_that_loses_its_cancellation_still_stops_at_close(url: str) -> None:
    # psycopg_pool can lose a cancellation that arrives just as a waiting task is handed a
    # connection (asyncio.wait_for before Python 3.12; psycopg issue #1345): the renewer, then
    # stopped by cancellation only, renewed forever and ``aclose`` waited for it forever (a
    # finished sync's job stayed "doing" with its lease fresh: "jobs did not drain").
    journal = await PgJournal.open(url, TARGET, owner="w1", **FAST)
    renew = journal._renew
    lost: list[bool] = []

    async def renew_losing_a_cancellation() -> None:
        try:
            await asyncio.sleep(0.5)  # waiting for a pool connection
        except asyncio.CancelledError:
            lost.append(True)  # handed a connection at that moment: the cancellation is lost
        await renew()

    journal._renew = renew_losing_a_cancellation  # type: ignore[method-assign]
    await asyncio.sleep(FAST["ttl"] / 4 + 0.1)  # the renewer is now in a renewal
    closing = asyncio.ensure_future(journal.aclose())
    closed, _ = await asyncio.wait({closing}, timeout=5)
    assert journal._renewer is not None
    if not closed:  # stop the renewer for good before failing
        journal._renewer.cancel()
        await asyncio.wait({closing}, timeout=5)
    assert closed, "aclose waited for a renewer that never stopped"
    assert lost == [True]
    assert journal._renewer.done()
    with psycopg.connect(url) as conn:
        expired = conn.execute(
            "SELECT expires_at <= clock_timestamp() FROM yzj_leases WHERE target = %s", (TARGET,)
        ).fetchone()
    assert expired == (True,)  # released, not renewed on
