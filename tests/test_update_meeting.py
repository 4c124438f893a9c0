"""update_meeting keeps every field it was not told to change, checked against the emulator's
stored meeting (single meetings and series occurrences), and the one field no read shows:
``topState``."""

from __future__ import annotations

from datetime import timedelta

import attrs

from yzj_meeting import NoticeTime, Repeat, RepeatMeeting
from yzj_meeting.fake import DEFAULT_ROOMS, FakeService

from .conftest import MakeClient
from .support import ScriptedTransport, body_of, ok
from .test_emulator import CREATOR, DAY, Factory, at, connect, meeting

__all__ = ["connect"]

ROOM = DEFAULT_ROOMS[0].room_id
# Fields a write stamps itself; top_state: no read shows it (see the topState tests below).
_STAMPED = {"update_time", "top_state"}


async def test_update_meeting_keeps_every_stored_field(connect: Factory) -> None:
    service = FakeService(seed=31)
    client = await connect(service)
    meeting_id = await client.create_meeting(
        meeting(
            content="agenda",
            meeting_place="云8",
            room_id=ROOM,
            actors=["a1", "a2"],
            submit_experience=True,
            notice_times=[5, 60],
            meet_organizers=[CREATOR, "o2"],
            encryption=True,
            share_ids=["g1"],
            agent="ag1",
        )
    )
    service.respond(meeting_id, "a1", 2)
    before = attrs.asdict(service.meetings[meeting_id])

    await client.update_meeting(meeting_id, meeting_place="B2")

    after = attrs.asdict(service.meetings[meeting_id])
    assert after["meeting_place"] == "B2"
    assert {k for k in before if before[k] != after[k]} <= {"meeting_place"} | _STAMPED
    assert after["responses"] == {"a1": 2}  # the attendees' answers survive


async def test_update_meeting_batch_keeps_every_stored_field_of_each_occurrence(
    connect: Factory,
) -> None:
    service = FakeService(seed=32)
    client = await connect(service)
    series = await client.repeat_meeting(
        RepeatMeeting(
            openid=CREATOR,
            title="daily",
            start_date=at(DAY, 9),
            end_date=at(DAY, 10),
            repeat=Repeat.DAILY,
            repeat_end_date=at(DAY + timedelta(days=3), 9),
            content="keep me",
            actors=["a1", "a2"],
            submit_experience=True,
            notice_times=[5, 15],
            meet_organizers=[CREATOR],
            encryption=True,
            share_ids=["g1"],
        )
    )
    ids = series.meeting_ids
    before = {i: attrs.asdict(service.meetings[i]) for i in ids}

    await client.update_meeting(ids[1], batch=True, title="moved")

    for index, meeting_id in enumerate(ids):
        after = attrs.asdict(service.meetings[meeting_id])
        changed = {k for k in after if after[k] != before[meeting_id][k]}
        if index == 0:
            assert changed == set()  # earlier occurrences are not touched
        else:
            assert after["title"] == "moved"
            assert changed <= {"title"} | _STAMPED, (index, changed)
    [sent] = [c.body for c in service.calls if c.endpoint == "batchModify"]
    assert sent is not None
    assert (sent["batchId"], sent["noticeTimes"], sent["shareIds"]) == (ids[0], [5, 15], ["g1"])


async def test_top_state_is_lost_unless_given_because_no_read_shows_it(connect: Factory) -> None:
    # detail (and every other read) documents no topState, and modify is a full replace.
    service = FakeService(seed=33)
    client = await connect(service)
    meeting_id = await client.create_meeting(meeting(top_state=True))
    assert service.meetings[meeting_id].top_state == 1

    await client.update_meeting(meeting_id, title="again", top_state=True)
    assert service.meetings[meeting_id].top_state == 1  # given: kept

    await client.update_meeting(meeting_id, title="renamed")
    assert service.meetings[meeting_id].top_state is None  # not given: cleared


async def test_top_state_is_kept_when_the_server_shows_it(make_client: MakeClient) -> None:
    detail = {
        "id": "m1",
        "openid": CREATOR,
        "title": "t",
        "startDate": 1_800_000_000_000,
        "endDate": 1_800_003_600_000,
        "topState": 1,
        "noticeTimes": [15],
    }
    transport = ScriptedTransport(answers=[ok(detail), ok(None)])
    client = make_client(transport)

    await client.update_meeting("m1", content="new")

    [_, modify] = transport.meeting_requests
    body = body_of(modify)
    assert (body["topState"], body["content"], body["noticeTime"]) == (1, "new", 15)
    assert body["title"] == "t"
    assert NoticeTime(body["noticeTime"]) is NoticeTime.MINUTES_15
