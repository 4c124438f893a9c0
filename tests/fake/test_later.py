"""The later endpoints of the emulator, driven with raw JSON bodies."""

from __future__ import annotations

import json
from typing import Any

import pytest

from yzj_meeting.fake import DEFAULT_ROOMS, PARAM_ERROR_CODE, FakeService

from .test_service import OWNER, Api, Clock, meeting, ms

ROOM = DEFAULT_ROOMS[0].room_id


@pytest.fixture
def api() -> Api:
    clock = Clock()
    api = Api(FakeService(clock=clock, credentials={"eid1": "s3cret"}, seed=5), clock)
    api.login()
    return api


def room_book(api: Api, name: str, body: Any) -> dict[str, Any]:
    answer = api.raw(f"/api/roomBook/third/{name}", body, {"accessToken": api.token})
    result: dict[str, Any] = json.loads(answer.body)
    return result


def test_detail_shows_new_fields_participants_and_cancel(api: Api) -> None:
    meeting_id = api.create(
        actors=["a1", "a2"],
        noticeTimes=[5, 15],
        meetOrganizers=[OWNER],
        encryption=True,
        shareIds=["g1"],
        agent="ag1",
        submitExperience=True,
        roomId=ROOM,
    )
    api.service.respond(meeting_id, "a2", 2)
    detail = api.ok("detail", {"id": meeting_id})
    assert detail["noticeTimes"] == [5, 15]
    assert detail["encryption"] is True
    assert detail["shareIds"] == ["g1"]
    assert detail["agent"] == "ag1"
    assert [o["openid"] for o in detail["organizers"]] == [OWNER]
    assert [(p["openid"], p["joinStatus"]) for p in detail["participants"]] == [
        ("a1", 0),
        ("a2", 2),
    ]
    assert detail["cancelTime"] == 0
    assert detail["eid"] == "eid1"
    api.ok("cancel", {"id": meeting_id, "openid": OWNER, "cancelReason": "moved"})
    detail = api.ok("detail", {"id": meeting_id})
    assert detail["cancelTime"] > 0
    assert detail["cancelReason"] == "moved"
    assert {p["joinStatus"] for p in detail["participants"]} == {4}


def test_notice_time_and_notice_times_are_exclusive(api: Api) -> None:
    api.refused("create", meeting(noticeTime=15, noticeTimes=[15]), PARAM_ERROR_CODE, "noticeTimes")


def test_agent_may_modify(api: Api) -> None:
    meeting_id = api.create(agent="ag1")
    api.ok("modify", meeting(id=meeting_id, openid="ag1", title="new"))
    assert api.service.meetings[meeting_id].title == "new"


def test_range_agrees_with_day_and_user(api: Api) -> None:
    ids = [
        api.create(startDate=ms(2024, 3, d, 10), endDate=ms(2024, 3, d, 11), actors=["u1"])
        for d in (4, 5)
    ]
    day = api.day(ms(2024, 3, 4, 0))
    rng = api.ok("queryByRange", {"start": ms(2024, 3, 4, 0), "end": ms(2024, 3, 4, 23, 59)})
    assert day == rng
    assert [m["id"] for m in day] == ids[:1]
    answer = json.loads(
        api.answer("queryByUser", {"openId": "u1", "pageNum": 2, "pageSize": 1}).body
    )
    assert "error" not in answer
    assert [m["id"] for m in answer["data"]] == ids[1:]


def test_bookings_has_new_and_free_rooms(
    api: Api,
) -> None:
    assert room_book(api, "hasNew", {"eid": "eid1"})["data"] == {"hasNew": False}
    meeting_id = api.create(roomId=ROOM)
    found = room_book(api, "bookInfo", {"eid": "eid1"})
    assert (found["errorCode"], found["error"]) == (0, "")
    add = found["data"]["add"]
    assert [a["roomId"] for a in add] == [ROOM]
    assert found["data"]["delete"] == []
    last = add[0]["updateTime"]
    assert (
        room_book(api, "hasNew", {"eid": "eid1", "lastTime": str(last)})["data"]["hasNew"] is False
    )
    free = room_book(
        api,
        "freeRooms",
        {"openId": OWNER, "startTime": ms(2024, 3, 4, 10, 30), "endTime": ms(2024, 3, 4, 12)},
    )["data"]
    assert ROOM not in [r["roomId"] for r in free]
    assert len(free) == len(DEFAULT_ROOMS) - 1
    api.service.clock.advance(1)  # type: ignore[attr-defined]
    api.ok("cancel", {"id": meeting_id, "openid": OWNER})
    assert room_book(api, "hasNew", {"eid": "eid1", "lastTime": last})["data"]["hasNew"] is True
    after = room_book(api, "bookInfo", {"eid": "eid1", "lastTime": last})["data"]
    assert after["add"] == []
    assert len(after["delete"]) == 1
    page = json.loads(api.answer("pageRecentList", {"page": 1, "size": 10}).body)["data"]
    assert page[0]["deleted"] is True
    assert page[0]["id"] == meeting_id
    refused = room_book(api, "bookInfo", {"eid": "eid1", "pageSize": 51})
    assert not refused["success"]
    assert "pageSize" in refused["error"]
    assert not room_book(api, "hasNew", {"eid": "other"})["success"]


def test_get_actors_and_attend_detail(api: Api) -> None:
    meeting_id = api.create(roomId=ROOM, actors=["a1", "a2"])
    order = api.service.meetings[meeting_id].room_order_id
    actors = room_book(api, "getActors", {"orderId": order})["data"]
    assert [a["openId"] for a in actors] == ["a1", "a2"]
    api.service.check_in(meeting_id, "a1")
    answer = json.loads(api.answer("getAttendDetail", {"meetingId": meeting_id}).body)
    assert (answer["errorCode"], answer["error"], answer["success"]) == (200, "正确访问", True)
    assert [r["attendStatus"] for r in answer["data"]] == ["已签到", "未签到"]


def test_timestamps_survive_a_reopen(tmp_path: Any) -> None:
    clock = Clock()
    path = tmp_path / "state.db"
    api = Api(FakeService(clock=clock, seed=1, persist_path=path), clock)
    api.login()
    meeting_id = api.create(roomId=ROOM, noticeTimes=[15])
    api.ok("cancel", {"id": meeting_id, "openid": OWNER, "cancelReason": "r"})
    before = api.service.meetings[meeting_id]
    api.service.close()
    after = FakeService.load(path).meetings[meeting_id]
    assert after == before
    assert after.update_time is not None
    assert after.cancel_reason == "r"
