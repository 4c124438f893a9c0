"""EXDATE on a mapped series: one series, then one journaled cancel per excluded occurrence.

Checked on the emulator's state: the live meetings are exactly the event's occurrences
(python-dateutil in the event's zone), the exclusions are cancelled occurrences of the one
series, and a later sync sends only what the exclusions that changed need.
"""

from __future__ import annotations

import asyncio
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import attrs
import pytest
from dateutil.rrule import rrulestr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yzj_meeting.fake import STATUS_CANCELLED, FakeService
from yzj_meeting.sync.apply import SyncResult, sync
from yzj_meeting.sync.entry import Entry
from yzj_meeting.sync.exclusions import decode, encode, settled
from yzj_meeting.sync.journal import Journal, target_name
from yzj_meeting.sync.plan import ActionKind, plan
from yzj_meeting.sync.schedule import ScheduleError, parse_schedule

from . import OWNER, make_client, meeting_calls

pytest.importorskip("icalendar")
pytest.importorskip("dateutil")

from .test_recurrence import events, oracle

SH = ZoneInfo("Asia/Shanghai")


def ics(*exdates: str, title: str = "Weekly", count: int = 5, uid: str = "w") -> list[Entry]:
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "BEGIN:VEVENT",
        f"UID:{uid}",
        f"SUMMARY:{title}",
        f"ORGANIZER:urn:oid:{OWNER}",
        "DTSTART;TZID=Asia/Shanghai:20261201T093000",
        "DTEND;TZID=Asia/Shanghai:20261201T100000",
        f"RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT={count}",
        *(f"EXDATE;TZID=Asia/Shanghai:{d}T093000" for d in exdates),
        "END:VEVENT",
        "END:VCALENDAR",
        "",
    ]
    return parse_schedule("\r\n".join(lines), "ics", path="c.ics")


def live_days(service: FakeService) -> list[str]:
    return sorted(
        datetime.fromtimestamp(m.start_date / 1000, SH).date().isoformat()
        for m in service.meetings.values()
        if m.status != STATUS_CANCELLED
    )


async def run_sync(
    service: FakeService, folder: Path, wanted: list[Entry], prune: bool = False
) -> SyncResult:
    async with (
        make_client(service) as client,
        await Journal.open(folder / "journal.sqlite3", target_name("http://x", "e")) as journal,
    ):
        return await sync(client, journal, wanted, prune=prune)


TUESDAYS = ["2026-12-01", "2026-12-08", "2026-12-15", "2026-12-22", "2026-12-29"]


async def test_a_series_is_created_once_then_each_exclusion_cancelled(tmp_path: Path) -> None:
    service = FakeService(seed=1)
    wanted = ics("20261208", "20261222")
    (entry,) = wanted
    assert entry.is_series
    assert len(entry.excluded) == 2
    result = await run_sync(service, tmp_path, wanted)
    assert result.counts()["created"] == 1
    # (the day is read first: adopt before create, issue #11)
    assert meeting_calls(service) == ["queryByDay", "repeatMeeting", "cancel", "cancel"]
    assert live_days(service) == ["2026-12-01", "2026-12-15", "2026-12-29"]
    # The cancelled ones are occurrences of the one series, not other meetings.
    assert len({m.batch_id for m in service.meetings.values()}) == 1
    assert len(service.meetings) == 5
    service.calls.clear()
    again = await run_sync(service, tmp_path, wanted)
    assert again.counts()["unchanged"] == 1
    assert meeting_calls(service) == []
    # The journal lost: the series with its exclusions is adopted, nothing sent but lookups.
    lost = tmp_path / "lost"
    lost.mkdir()
    adopted = await run_sync(service, lost, wanted)
    assert (adopted.counts()["adopted"], adopted.counts()["created"]) == (1, 0)
    assert set(meeting_calls(service)) == {"queryByDay", "detail"}
    assert live_days(service) == ["2026-12-01", "2026-12-15", "2026-12-29"]
    service.calls.clear()
    assert (await run_sync(service, lost, wanted)).counts()["unchanged"] == 1
    assert meeting_calls(service) == []


async def test_an_exdate_added_later_cancels_only_that_occurrence(tmp_path: Path) -> None:
    service = FakeService(seed=2)
    await run_sync(service, tmp_path, ics("20261208"))
    service.calls.clear()
    result = await run_sync(service, tmp_path, ics("20261208", "20261222"))
    assert result.counts()["modified"] == 1
    assert meeting_calls(service) == ["queryByDay", "cancel"]  # no batchModify
    assert live_days(service) == ["2026-12-01", "2026-12-15", "2026-12-29"]
    service.calls.clear()
    assert (await run_sync(service, tmp_path, ics("20261208", "20261222"))).unchanged == 1
    assert meeting_calls(service) == []


async def test_a_modified_series_keeps_its_exclusions_cancelled(tmp_path: Path) -> None:
    service = FakeService(seed=3)
    await run_sync(service, tmp_path, ics("20261208", "20261222"))
    service.calls.clear()
    result = await run_sync(service, tmp_path, ics("20261208", "20261222", title="Renamed"))
    assert result.counts()["modified"] == 1
    assert meeting_calls(service)[0] == "batchModify"
    assert live_days(service) == ["2026-12-01", "2026-12-15", "2026-12-29"]
    titles = {m.title for m in service.meetings.values() if m.status != STATUS_CANCELLED}
    assert titles == {"Renamed"}
    service.calls.clear()
    assert (await run_sync(service, tmp_path, ics("20261208", "20261222", title="Renamed"))).ok
    assert meeting_calls(service) == []


async def test_an_exdate_taken_back_brings_the_occurrence_back(tmp_path: Path) -> None:
    service = FakeService(seed=4)
    await run_sync(service, tmp_path, ics("20261208", "20261222"))
    await run_sync(service, tmp_path, ics("20261222"))
    assert live_days(service) == ["2026-12-01", "2026-12-08", "2026-12-15", "2026-12-29"]
    await run_sync(service, tmp_path, ics())
    assert live_days(service) == TUESDAYS
    service.calls.clear()
    assert (await run_sync(service, tmp_path, ics())).unchanged == 1
    assert meeting_calls(service) == []


async def test_the_dry_run_plans_the_missing_cancels(tmp_path: Path) -> None:
    service = FakeService(seed=5)
    await run_sync(service, tmp_path, ics("20261208"))
    async with await Journal.open(
        tmp_path / "journal.sqlite3", target_name("http://x", "e")
    ) as journal:
        rows = await journal.rows()
    (action,) = plan(ics("20261208", "20261222"), rows)
    assert action.kind is ActionKind.EXCLUDE


def test_the_row_fingerprint_carries_the_cancelled_starts() -> None:
    (entry,) = ics("20261208")
    base, done = decode(entry.fingerprint)
    assert base == entry.base_fingerprint
    assert done == {int(datetime(2026, 12, 8, 1, 30, tzinfo=UTC).timestamp() * 1000)}
    assert encode(entry.base_fingerprint, entry.excluded) == entry.fingerprint
    assert decode("v2:abc+x:oops") == (None, frozenset())


def test_an_exclusion_step_in_doubt_is_sent_again_not_a_modify() -> None:
    from yzj_meeting.sync.rows import Intent, JournalRow

    (entry,) = ics("20261208", "20261222")
    first, second = entry.excluded
    row = JournalRow(
        key="w",
        series=True,
        openid=OWNER,
        meeting_type=None,
        meeting_id="p",
        ids=("p",),
        fingerprint=encode(entry.base_fingerprint, [first]),
        attendees=(),
        maybe_attendees=None,
        starts=(),
        pending="modify",
        intent=Intent(op="modify", fingerprint=encode(entry.base_fingerprint, [first, second])),
    )
    assert settled(row).fingerprint == row.fingerprint  # the step is dropped, not folded
    (action,) = plan([entry], {"w": row})
    assert action.kind is ActionKind.EXCLUDE
    batch = Intent(op="modify", fingerprint=entry.base_fingerprint)  # a batchModify in doubt
    (action,) = plan([entry], {"w": attrs.evolve(row, intent=batch)})
    assert action.kind is ActionKind.MODIFY


def test_an_excluded_start_that_is_no_occurrence_is_refused() -> None:
    text = """BEGIN:VCALENDAR
BEGIN:VEVENT
UID:x
SUMMARY:x
ORGANIZER:urn:oid:o1
DTSTART:20261201T013000Z
DTEND:20261201T020000Z
RRULE:FREQ=WEEKLY;COUNT=3
END:VEVENT
END:VCALENDAR
"""
    import json

    (entry,) = parse_schedule(text, "ics", path="c.ics")
    record = {
        "key": "j",
        "openid": OWNER,
        "title": "t",
        "start": "2026-12-01T09:30:00+08:00",
        "end": "2026-12-01T10:00:00+08:00",
        "repeat": "weekly",
        "repeat_until": "2026-12-15",
        "@excluded": ["2026-12-09T09:30:00+08:00"],
    }
    with pytest.raises(ScheduleError, match="not a later occurrence of the series"):
        parse_schedule(json.dumps([record]), "json", path="j.json")
    record["@excluded"] = ["2026-12-08T09:30:00+08:00"]
    (ok,) = parse_schedule(json.dumps([record]), "json", path="j.json")
    assert ok.excluded == (datetime(2026, 12, 8, 1, 30, tzinfo=UTC),)
    assert entry.excluded == ()


# --- property: through the sync on the emulator, the live meetings are dateutil's set ---


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y%m%dT%H%M%S")


def _calendar(start: datetime, end: datetime, rule: str, exdates: list[datetime]) -> str:
    zone = start.tzinfo
    assert isinstance(zone, ZoneInfo)
    tzid = f"TZID={zone.key}"
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "BEGIN:VEVENT",
        "UID:prop",
        "SUMMARY:Property",
        f"ORGANIZER:urn:oid:{OWNER}",
        f"DTSTART;{tzid}:{_local(start, zone)}",
        f"DTEND;{tzid}:{_local(end, zone)}",
        f"RRULE:{rule}",
    ]
    if exdates:
        lines.append(f"EXDATE;{tzid}:" + ",".join(_local(d, zone) for d in exdates))
    return "\r\n".join([*lines, "END:VEVENT", "END:VCALENDAR", ""])


def _live(service: FakeService) -> set[tuple[datetime, datetime]]:
    return {
        (
            datetime.fromtimestamp(m.start_date / 1000, UTC),
            datetime.fromtimestamp(m.end_date / 1000, UTC),
        )
        for m in service.meetings.values()
        if m.status != STATUS_CANCELLED
    }


DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


@st.composite
def mapped_with_exdates(
    draw: st.DrawFn,
) -> tuple[datetime, datetime, str, list[datetime], list[datetime]]:
    """A rule a Yunzhijia series holds exactly (a UTC+8 zone), with EXDATEs on occurrences."""
    zone = ZoneInfo(draw(st.sampled_from(["Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei"])))
    day = draw(st.dates(date(2025, 1, 1), date(2029, 12, 31)))
    start = datetime(day.year, day.month, day.day, draw(st.integers(0, 23)), 30, tzinfo=zone)
    end = start + timedelta(minutes=draw(st.sampled_from([15, 60, 90])))
    own = DAYS[day.weekday()]
    rule = draw(
        st.sampled_from(
            [
                "FREQ=DAILY",
                f"FREQ=WEEKLY;BYDAY={own}",
                f"FREQ=WEEKLY;INTERVAL=2;BYDAY={own}",
                "FREQ=MONTHLY",
                "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
            ]
        )
    )
    rule += f";COUNT={draw(st.integers(3, 20))}"
    occurrences = list(rrulestr(rule, dtstart=start))
    exdates = draw(st.lists(st.sampled_from(occurrences), min_size=1, max_size=4))
    return start, end, rule, exdates, []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(events(), mapped_with_exdates()))
def test_the_live_meetings_are_exactly_dateutils_occurrences(
    event: tuple[datetime, datetime, str, list[datetime], list[datetime]],
) -> None:
    start, end, rule, exdates, _ = event  # (RDATE always expands: covered elsewhere)
    zone = start.tzinfo
    assert isinstance(zone, ZoneInfo)
    written = [
        datetime.strptime(_local(d, zone), "%Y%m%dT%H%M%S").replace(tzinfo=zone) for d in exdates
    ]
    expected = oracle(start, end, rule, written)
    try:
        wanted = parse_schedule(_calendar(start, end, rule, exdates), "ics", path="p.ics")
    except ScheduleError:
        return  # which files are refused is checked in test_recurrence
    service = FakeService(seed=9)
    with tempfile.TemporaryDirectory() as folder:
        first = asyncio.run(run_sync(service, Path(folder), wanted))
        assert first.ok, first.errors
        assert _live(service) == expected
        # Each series is one batch: its exclusions are cancelled occurrences of it.
        for entry in wanted:
            assert len(entry.excluded) == sum(
                1
                for m in service.meetings.values()
                if m.status == STATUS_CANCELLED
                and datetime.fromtimestamp(m.start_date / 1000, UTC) in entry.excluded
            )
        service.calls.clear()
        again = asyncio.run(run_sync(service, Path(folder), wanted))
        assert again.unchanged == len(wanted)
        assert meeting_calls(service) == []


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mapped_with_exdates(), st.data())
def test_changed_exdates_converge_to_dateutils_occurrences(
    event: tuple[datetime, datetime, str, list[datetime], list[datetime]], data: st.DataObject
) -> None:
    """EXDATEs added and taken back between two syncs (with --prune): the live meetings are
    then exactly the second calendar's occurrences, and a third sync sends nothing."""
    start, end, rule, exdates, _ = event
    occurrences = list(rrulestr(rule, dtstart=start))
    later = data.draw(st.lists(st.sampled_from(occurrences), max_size=4), label="later EXDATEs")
    service = FakeService(seed=10)
    with tempfile.TemporaryDirectory() as folder:
        for dates in (exdates, later):
            wanted = parse_schedule(_calendar(start, end, rule, dates), "ics", path="p.ics")
            result = asyncio.run(run_sync(service, Path(folder), wanted, prune=True))
            assert result.ok, result.errors
            assert _live(service) == oracle(start, end, rule, dates)
        service.calls.clear()
        again = asyncio.run(run_sync(service, Path(folder), wanted, prune=True))
        assert again.unchanged == len(wanted)
        assert meeting_calls(service) == []


def test_a_lost_cancel_answer_is_sent_again_and_converges(tmp_path: Path) -> None:
    from yzj_meeting.fake import Faults

    service = FakeService(seed=6)
    wanted = ics("20261208", "20261222")
    service.faults = Faults(script=["ok", "drop_after", "drop_after", "drop_after"])
    first = asyncio.run(run_sync(service, tmp_path, wanted))
    assert not first.ok  # the cancel's outcome is unknown: the step stays in doubt
    service.faults = Faults()
    service.calls.clear()
    second = asyncio.run(run_sync(service, tmp_path, wanted))
    assert second.ok, second.errors
    assert "batchModify" not in meeting_calls(service)
    assert live_days(service) == ["2026-12-01", "2026-12-15", "2026-12-29"]
    assert len(service.meetings) == 5  # no second series
    assert asyncio.run(run_sync(service, tmp_path, wanted)).unchanged == 1
