"""FakeService driven directly with JSON bytes, as the wire carries them."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from yzj_meeting.errors import THROTTLED_ERROR_CODE
from yzj_meeting.fake import (
    MEETING_CANCELLED_ERROR_CODE,
    METHOD_ERROR_CODE,
    NOT_CREATOR_ERROR_CODE,
    NOT_FOUND_ERROR_CODE,
    PARAM_ERROR_CODE,
    TOKEN_ERROR_CODE,
    TOKEN_REQUEST_ERROR_CODE,
    FakeAnswer,
    FakeService,
    Faults,
    Meeting,
)
from yzj_meeting.fake.calendar import SHANGHAI, to_ms

NOW = datetime(2024, 3, 1, 9, 0, tzinfo=SHANGHAI)  # a Friday
OWNER = "5a67e08d00b0e8dfe4aab4fa"
HOUR = 3_600_000
DAY = 24 * HOUR


def ms(*args: int) -> int:
    return to_ms(datetime(*args, tzinfo=SHANGHAI))  # type: ignore[arg-type,misc]


class Clock:
    def __init__(self, start: datetime = NOW) -> None:
        self.now = start.timestamp()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Api:
    """Sends bodies to the service as bytes and decodes the envelope."""

    def __init__(self, service: FakeService, clock: Callable[[], float]) -> None:
        self.service = service
        self.clock = clock
        self.token = ""

    def raw(self, path: str, body: Any, query: dict[str, str] | None = None) -> FakeAnswer:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.service.handle("POST", path, query or {}, data)

    def token_call(self, name: str, **body: Any) -> dict[str, Any]:
        body.setdefault("timestamp", int(self.clock() * 1000))
        answer = self.raw(f"/gateway/oauth2/token/{name}", body)
        assert answer.status == 200
        result: dict[str, Any] = json.loads(answer.body)
        return result

    def login(self, eid: str = "eid1", secret: str = "s3cret") -> str:
        answer = self.token_call("getAccessToken", eid=eid, secret=secret, scope="resGroupSecret")
        assert answer["success"], answer
        self.token = answer["data"]["accessToken"]
        return self.token

    def answer(self, name: str, body: Any, token: str | None = None) -> FakeAnswer:
        token = self.token if token is None else token
        query = {"accessToken": token} if token else {}
        return self.raw(f"/gateway/cloudwork/meeting/{name}", body, query)

    def call(self, name: str, body: Any, token: str | None = None) -> dict[str, Any]:
        answer = self.answer(name, body, token)
        assert answer.status == 200
        assert answer.headers["content-type"].startswith("application/json")
        result: dict[str, Any] = json.loads(answer.body)
        assert set(result) == {"success", "errorCode", "error", "data"}
        return result

    def ok(self, name: str, body: Any) -> Any:
        result = self.call(name, body)
        assert result["success"], result
        assert result["errorCode"] == 0
        return result["data"]

    def refused(self, name: str, body: Any, code: int, *words: str) -> str:
        result = self.call(name, body)
        assert not result["success"], result
        assert result["errorCode"] == code, result
        assert result["data"] is None
        for word in words:
            assert word in result["error"], result
        message: str = result["error"]
        return message

    def create(self, **fields: Any) -> str:
        meeting_id: str = self.ok("create", meeting(**fields))["meetingId"]
        return meeting_id

    def day(self, instant: int) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.ok("queryByDay", {"day": instant})
        return items


def meeting(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "openid": OWNER,
        "title": "周会",
        "startDate": ms(2024, 3, 4, 10),
        "endDate": ms(2024, 3, 4, 11),
    }
    body.update(fields)
    return {k: v for k, v in body.items() if v is not ...}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(clock: Clock) -> FakeService:
    return FakeService(clock=clock, credentials={"eid1": "s3cret", "app1": "appsecret"}, seed=7)


@pytest.fixture
def api(service: FakeService, clock: Clock) -> Api:
    api = Api(service, clock)
    api.login()
    return api


def series(api: Api, repeat: int = 2, until: int | None = None, **fields: Any) -> list[str]:
    body = meeting(repeat=repeat, repeatEndDate=until or ms(2024, 3, 8, 23), **fields)
    ids: list[str] = api.ok("repeatMeeting", body)["meetingIds"]
    return ids


# --- tokens --------------------------------------------------------------------------------------


def test_access_token_is_reused_while_valid(api: Api, clock: Clock) -> None:
    first = api.token_call("getAccessToken", eid="eid1", secret="s3cret", scope="resGroupSecret")
    assert first["success"]
    assert first["errorCode"] == 0
    data = first["data"]
    assert set(data) == {"accessToken", "expireIn", "refreshToken"}
    assert data["accessToken"] == api.token
    assert len(data["accessToken"]) >= 32
    clock.advance(100)
    again = api.token_call("getAccessToken", eid="eid1", secret="s3cret", scope="resGroupSecret")
    assert again["data"]["accessToken"] == api.token
    assert again["data"]["expireIn"] == 7100


def test_a_fresh_token_lives_token_ttl(clock: Clock) -> None:
    api = Api(FakeService(clock=clock, token_ttl=600, seed=1), clock)
    answer = api.token_call("getAccessToken", eid="e", secret="s", scope="resGroupSecret")
    assert answer["data"]["expireIn"] == 600


def test_token_expires_with_the_clock(api: Api, clock: Clock) -> None:
    assert api.day(ms(2024, 3, 4)) == []
    clock.advance(7199)
    assert api.day(ms(2024, 3, 4)) == []
    clock.advance(1)
    api.refused("queryByDay", {"day": ms(2024, 3, 4)}, TOKEN_ERROR_CODE, "accessToken")
    old = api.token
    assert api.login() != old
    assert api.day(ms(2024, 3, 4)) == []


def test_meeting_calls_need_a_known_token(api: Api) -> None:
    body = {"day": ms(2024, 3, 4)}
    for token in ("", "0" * 48):
        result = api.call("queryByDay", body, token=token)
        assert (result["success"], result["errorCode"]) == (False, TOKEN_ERROR_CODE)
    assert api.service.calls[-1].error_code == TOKEN_ERROR_CODE


def test_expire_tokens(api: Api) -> None:
    api.service.expire_tokens()
    api.refused("queryByDay", {"day": 0}, TOKEN_ERROR_CODE)


@pytest.mark.parametrize(
    ("body", "word"),
    [
        ({"eid": "eid1", "secret": "wrong", "scope": "resGroupSecret"}, "credentials"),
        ({"eid": "nobody", "secret": "s3cret", "scope": "resGroupSecret"}, "credentials"),
        ({"secret": "s3cret", "scope": "resGroupSecret"}, "eid"),
        ({"eid": "eid1", "scope": "resGroupSecret"}, "secret"),
        ({"eid": "eid1", "secret": "s3cret"}, "scope"),
        ({"eid": "eid1", "secret": "s3cret", "scope": "admin"}, "scope"),
        ({"eid": "eid1", "secret": "appsecret", "scope": "app"}, "appId"),
        ({"appId": "app1", "secret": "appsecret", "scope": "team"}, "eid"),
        ({"eid": "eid1", "secret": "s3cret", "scope": "resGroupSecret", "timestamp": "x"}, "time"),
        ({"eid": "eid1", "secret": "s3cret", "scope": "resGroupSecret", "timestamp": None}, "time"),
    ],
)
def test_token_refusals(api: Api, body: dict[str, Any], word: str) -> None:
    before = api.service.token_requests
    answer = api.token_call("getAccessToken", **body)
    assert (answer["success"], answer["errorCode"]) == (False, TOKEN_REQUEST_ERROR_CODE)
    assert word in answer["error"]
    assert "s3cret" not in answer["error"]
    assert api.service.token_requests == before + 1


def test_token_body_must_be_json(api: Api) -> None:
    answer = api.raw("/gateway/oauth2/token/getAccessToken", b"not json")
    assert json.loads(answer.body)["errorCode"] == TOKEN_REQUEST_ERROR_CODE


@pytest.mark.parametrize(
    ("skew", "accepted"), [(-181, False), (-179, True), (179, True), (181, False)]
)
def test_timestamp_skew(api: Api, clock: Clock, skew: int, accepted: bool) -> None:
    stamp = int((clock() + skew) * 1000)
    answer = api.token_call(
        "getAccessToken", eid="eid1", secret="s3cret", scope="resGroupSecret", timestamp=stamp
    )
    assert answer["success"] is accepted
    if not accepted:
        assert answer["errorCode"] == TOKEN_REQUEST_ERROR_CODE
        assert "timestamp" in answer["error"]


def test_app_and_team_scopes(api: Api) -> None:
    app = api.token_call("getAccessToken", appId="app1", secret="appsecret", scope="app")
    team = api.token_call(
        "getAccessToken", eid="eid1", appId="app1", secret="appsecret", scope="team"
    )
    assert app["success"]
    assert team["success"]
    tokens = {api.token, app["data"]["accessToken"], team["data"]["accessToken"]}
    assert len(tokens) == 3


def test_any_credentials_without_a_credentials_map(clock: Clock) -> None:
    api = Api(FakeService(clock=clock), clock)
    assert api.login(eid="anyone", secret="anything")
    empty = api.token_call("getAccessToken", eid="anyone", secret="", scope="resGroupSecret")
    assert empty["errorCode"] == TOKEN_REQUEST_ERROR_CODE


def test_refresh_issues_a_new_token_and_rotates(api: Api, clock: Clock) -> None:
    first = api.token_call("getAccessToken", eid="eid1", secret="s3cret", scope="resGroupSecret")
    clock.advance(7000)
    refresh = first["data"]["refreshToken"]
    renewed = api.token_call(
        "refreshToken", eid="eid1", refreshToken=refresh, scope="resGroupSecret"
    )
    assert renewed["success"], renewed
    new = renewed["data"]
    assert new["accessToken"] != api.token
    assert new["refreshToken"] != refresh
    assert new["expireIn"] == 7200
    # the old token stays valid until its own expiry
    assert api.day(0) == []
    clock.advance(200)
    api.refused("queryByDay", {"day": 0}, TOKEN_ERROR_CODE)
    assert api.call("queryByDay", {"day": 0}, token=new["accessToken"])["success"]
    # getAccessToken now hands out the refreshed token
    again = api.token_call("getAccessToken", eid="eid1", secret="s3cret", scope="resGroupSecret")
    assert again["data"]["accessToken"] == new["accessToken"]
    # a used refresh token is refused
    reused = api.token_call(
        "refreshToken", eid="eid1", refreshToken=refresh, scope="resGroupSecret"
    )
    assert (reused["success"], reused["errorCode"]) == (False, TOKEN_REQUEST_ERROR_CODE)
    assert "refreshToken" in reused["error"]


def test_refresh_refusals(api: Api, clock: Clock) -> None:
    first = api.token_call("getAccessToken", eid="eid1", secret="s3cret", scope="resGroupSecret")
    refresh = first["data"]["refreshToken"]
    for body in (
        {"eid": "eid1", "refreshToken": "nope", "scope": "resGroupSecret"},
        {"eid": "other", "refreshToken": refresh, "scope": "resGroupSecret"},
        {"eid": "eid1", "refreshToken": refresh, "scope": "app"},
        {
            "eid": "eid1",
            "refreshToken": refresh,
            "scope": "resGroupSecret",
            "timestamp": int((clock() - 600) * 1000),
        },
    ):
        answer = api.token_call("refreshToken", **body)
        assert answer["errorCode"] == TOKEN_REQUEST_ERROR_CODE, body
    # still usable after those refusals, and after every access token was expired
    api.service.expire_tokens()
    renewed = api.token_call(
        "refreshToken", eid="eid1", refreshToken=refresh, scope="resGroupSecret"
    )
    assert renewed["success"]


def test_token_calls_are_counted_and_masked(api: Api) -> None:
    api.token_call("getAccessToken", eid="eid1", secret="wrong", scope="resGroupSecret")
    assert api.service.token_requests == 2
    record = api.service.calls[-1]
    assert record.endpoint == "getAccessToken"
    assert record.body is not None
    assert record.body["secret"] == "<masked>"
    assert "wrong" not in repr(api.service.calls)
    assert "s3cret" not in repr(api.service.calls)


# --- routing -------------------------------------------------------------------------------------


def test_unknown_path_and_method(api: Api) -> None:
    answer = api.raw("/gateway/cloudwork/meeting/nothing", {})
    assert answer.status == 404
    assert json.loads(answer.body)["errorCode"] == NOT_FOUND_ERROR_CODE
    answer = api.service.handle("GET", "/gateway/cloudwork/meeting/create", {}, b"")
    assert answer.status == 405
    assert answer.headers["allow"] == "POST"
    envelope = json.loads(answer.body)
    assert (envelope["success"], envelope["errorCode"]) == (False, METHOD_ERROR_CODE)


def test_a_path_prefix_is_tolerated(api: Api) -> None:
    answer = api.raw(
        "/yzj/gateway/cloudwork/meeting/queryByDay", {"day": 0}, {"accessToken": api.token}
    )
    assert json.loads(answer.body)["success"]


def test_answers_are_compact_utf8_json(api: Api) -> None:
    api.create(title="周会")
    answer = api.answer("queryByDay", {"day": ms(2024, 3, 4)})
    assert "周会".encode() in answer.body
    assert b", " not in answer.body
    assert b": " not in answer.body


# --- create / modify / cancel --------------------------------------------------------------------


def test_create_stores_every_field(api: Api, clock: Clock) -> None:
    body = meeting(
        content="新增会议测试",
        meetingPlace="云8会议室",
        roomId="room-1",
        noticeTime=15,
        topState=1,
        actors=["a1", "a2", "a1"],
        type="sign",
        submitExperience=True,
    )
    meeting_id = api.ok("create", body)["meetingId"]
    assert len(meeting_id) == 24
    assert int(meeting_id, 16) >= 0
    assert meeting_id == meeting_id.lower()
    stored = api.service.meetings[meeting_id]
    assert (stored.openid, stored.title, stored.content) == (OWNER, "周会", "新增会议测试")
    assert (stored.meeting_place, stored.room_id) == ("云8会议室", "room-1")
    assert (stored.notice_time, stored.top_state, stored.type) == (15, 1, "sign")
    assert stored.actors == ["a1", "a2"]
    assert stored.submit_experience is True
    assert (stored.start_date, stored.end_date) == (body["startDate"], body["endDate"])
    assert stored.create_date == int(clock() * 1000)
    assert (stored.status, stored.batch_id) == (0, None)


def test_create_accepts_numbers_as_strings(api: Api) -> None:
    meeting_id = api.create(
        startDate=str(ms(2024, 3, 4, 10)), endDate=str(ms(2024, 3, 4, 11)), noticeTime="-1"
    )
    stored = api.service.meetings[meeting_id]
    assert (stored.start_date, stored.notice_time) == (ms(2024, 3, 4, 10), -1)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"openid": ...}, "openid"),
        ({"openid": ""}, "openid"),
        ({"title": ...}, "title"),
        ({"title": ""}, "title"),
        ({"title": 5}, "title"),
        ({"startDate": ...}, "startDate"),
        ({"endDate": None}, "endDate"),
        ({"startDate": "soon"}, "startDate"),
        ({"startDate": 1.5}, "startDate"),
        ({"startDate": True}, "startDate"),
        ({"endDate": ms(2024, 3, 4, 10)}, "endDate"),
        ({"endDate": ms(2024, 3, 4, 9)}, "endDate"),
        ({"noticeTime": 5}, "noticeTime"),
        ({"noticeTime": "x"}, "noticeTime"),
        ({"topState": 2}, "topState"),
        ({"topState": True}, "topState"),
        ({"type": "video"}, "type"),
        ({"actors": "a1"}, "actors"),
        ({"actors": ["a1", ""]}, "actors"),
        ({"content": 1}, "content"),
        ({"submitExperience": "yes"}, "submitExperience"),
    ],
)
def test_create_validation_names_the_field(api: Api, fields: dict[str, Any], field: str) -> None:
    api.refused("create", meeting(**fields), PARAM_ERROR_CODE, field)
    assert api.service.meetings == {}
    assert api.service.calls[-1].acted is False


@pytest.mark.parametrize("body", [b"", b"{", b"[1]", b"\xff"])
def test_body_must_be_a_json_object(api: Api, body: bytes) -> None:
    api.refused("create", body, PARAM_ERROR_CODE, "JSON")


def test_modify_is_a_full_replace(api: Api) -> None:
    meeting_id = api.create(
        content="c",
        meetingPlace="p",
        roomId="r",
        noticeTime=15,
        topState=1,
        actors=["a1", "a2"],
        type="voice",
        submitExperience=True,
    )
    new_start = ms(2024, 3, 5, 14)
    assert (
        api.ok(
            "modify",
            meeting(id=meeting_id, title="新", startDate=new_start, endDate=new_start + HOUR),
        )
        is None
    )
    stored = api.service.meetings[meeting_id]
    assert stored.title == "新"
    assert (stored.content, stored.meeting_place, stored.room_id) == (None, None, None)
    assert (stored.notice_time, stored.top_state, stored.submit_experience) == (None, None, None)
    assert stored.type == "voice"  # cannot be modified
    assert stored.actors == ["a1", "a2"]  # no attendee field sent: kept
    assert stored.start_date == new_start
    assert [m["id"] for m in api.day(ms(2024, 3, 4))] == []
    assert [m["id"] for m in api.day(new_start)] == [meeting_id]


def test_modify_attendees(api: Api) -> None:
    meeting_id = api.create(actors=["a1", "a2", "a3"])
    api.ok("modify", meeting(id=meeting_id, addActors=["a4", "a1"], delActors=["a2"]))
    assert api.service.meetings[meeting_id].actors == ["a1", "a3", "a4"]
    api.ok("modify", meeting(id=meeting_id, actors=["b1"], addActors=["zz"], delActors=["b1"]))
    assert api.service.meetings[meeting_id].actors == ["b1"]  # actors wins when sent
    api.ok("modify", meeting(id=meeting_id, actors=[]))
    assert api.service.meetings[meeting_id].actors == []


def test_modify_refusals(api: Api) -> None:
    meeting_id = api.create()
    api.refused("modify", meeting(id="f" * 24), PARAM_ERROR_CODE, "id")
    api.refused("modify", meeting(), PARAM_ERROR_CODE, "id")
    api.refused("modify", meeting(id=meeting_id, title=""), PARAM_ERROR_CODE, "title")
    api.refused("modify", meeting(id=meeting_id, openid="someone"), NOT_CREATOR_ERROR_CODE)
    api.ok("cancel", {"id": meeting_id, "openid": OWNER})
    api.refused("modify", meeting(id=meeting_id), MEETING_CANCELLED_ERROR_CODE, "cancelled")


def test_cancel_is_for_the_creator_and_idempotent(api: Api, clock: Clock) -> None:
    meeting_id = api.create()
    api.refused("cancel", {"id": meeting_id, "openid": "someone"}, NOT_CREATOR_ERROR_CODE)
    api.refused("cancel", {"id": meeting_id}, PARAM_ERROR_CODE, "openid")
    api.refused("cancel", {"openid": OWNER}, PARAM_ERROR_CODE, "id")
    api.refused("cancel", {"id": "0" * 24, "openid": OWNER}, PARAM_ERROR_CODE, "id")
    assert api.service.meetings[meeting_id].status == 0
    assert api.ok("cancel", {"id": meeting_id, "openid": OWNER}) is None
    cancelled_at = int(clock() * 1000)
    clock.advance(60)
    assert api.ok("cancel", {"id": meeting_id, "openid": OWNER}) is None
    assert api.service.calls[-1].acted is False
    stored = api.service.meetings[meeting_id]
    assert (stored.status, stored.cancel_date) == (2, cancelled_at)


# --- series --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("repeat", "until", "days"),
    [
        (0, ms(2024, 3, 31), [4]),
        (1, ms(2024, 3, 12, 8), [4, 5, 6, 7, 8, 11, 12]),
        (2, ms(2024, 3, 7), [4, 5, 6, 7]),
        (3, ms(2024, 3, 25, 9), [4, 11, 18, 25]),
        (4, ms(2024, 3, 31), [4, 18]),
        (5, ms(2024, 7, 4), [4, 35, 65, 96, 126]),  # Mar 4, Apr 4, May 4, Jun 4, Jul 4
    ],
)
def test_repeat_meeting_rules(api: Api, repeat: int, until: int, days: list[int]) -> None:
    ids = series(api, repeat=repeat, until=until, actors=["a1"])
    assert len(ids) == len(set(ids)) == len(days)
    meetings = [api.service.meetings[i] for i in ids]
    start = ms(2024, 3, 4, 10)
    assert [(m.start_date - start) // DAY + 4 for m in meetings] == days
    assert all(m.end_date - m.start_date == HOUR for m in meetings)
    assert all(m.batch_id == ids[0] for m in meetings)
    assert all((m.repeat, m.repeat_end_date) == (repeat, until) for m in meetings)
    assert meetings[0].start_date == start
    assert all(m.actors == ["a1"] for m in meetings)


def test_repeat_meeting_parent_is_exactly_as_given(api: Api) -> None:
    start = ms(2024, 3, 2, 10, 17)  # a Saturday, odd minute
    ids = series(api, repeat=1, until=ms(2024, 3, 5), startDate=start, endDate=start + 90_000)
    starts = [api.service.meetings[i].start_date for i in ids]
    assert starts == [start, start + 2 * DAY, start + 3 * DAY]


def test_repeat_meeting_accepts_a_string_repeat(api: Api) -> None:
    ids = series(api, repeat="1", until=ms(2024, 3, 5))  # type: ignore[arg-type]
    assert len(ids) == 2


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"repeat": 6}, "repeat"),
        ({"repeat": "daily"}, "repeat"),
        ({"repeatEndDate": None}, "repeatEndDate"),
        ({"repeatEndDate": ms(2024, 3, 3)}, "repeatEndDate"),
        ({"repeatEndDate": ms(2030, 1, 1)}, "1000"),
        ({"title": None}, "title"),
    ],
)
def test_repeat_meeting_validation(api: Api, fields: dict[str, Any], field: str) -> None:
    body = meeting(repeat=2, repeatEndDate=ms(2024, 3, 8))
    body.update(fields)
    api.refused("repeatMeeting", body, PARAM_ERROR_CODE, field)
    assert api.service.meetings == {}


def test_a_series_of_exactly_the_limit(api: Api) -> None:
    ids = series(api, repeat=2, until=ms(2024, 3, 4) + 999 * DAY)
    assert len(ids) == 1000


def test_batch_modify_from_the_parent(api: Api, clock: Clock) -> None:
    ids = series(api, repeat=2, until=ms(2024, 3, 8), actors=["a1"], meetingPlace="p")
    new_start = ms(2024, 3, 4, 15)
    body = meeting(
        id=ids[0],
        title="改",
        startDate=new_start,
        endDate=new_start + 2 * HOUR,
        repeat=2,
        repeatEndDate=ms(2024, 3, 10),
        addActors=["a2"],
    )
    assert api.ok("batchModify", body) is None
    members = api.service.series(ids[0])
    assert [m.id for m in members[:5]] == ids  # ids reused in order
    assert len(members) == 7
    assert all(m.batch_id == ids[0] and m.status == 0 for m in members)
    assert [m.start_date for m in members] == [new_start + k * DAY for k in range(7)]
    assert all(m.title == "改" and m.end_date - m.start_date == 2 * HOUR for m in members)
    assert all(m.actors == ["a1", "a2"] for m in members)
    assert all(m.meeting_place == "p" for m in members)  # undocumented there: kept
    assert all(m.repeat_end_date == ms(2024, 3, 10) for m in members)


def test_batch_modify_from_a_middle_occurrence(api: Api, clock: Clock) -> None:
    ids = series(api, repeat=2, until=ms(2024, 3, 8))
    before = {i: api.service.meetings[i].start_date for i in ids}
    middle = ids[2]
    new_start = ms(2024, 3, 6, 16)
    body = meeting(
        id=middle,
        batchId=ids[0],
        title="后半",
        startDate=new_start,
        endDate=new_start + HOUR,
        repeat=3,
        repeatEndDate=ms(2024, 3, 20),
    )
    api.ok("batchModify", body)
    meetings = api.service.meetings
    assert [meetings[i].title for i in ids[:2]] == ["周会", "周会"]
    assert [meetings[i].start_date for i in ids[:2]] == [before[ids[0]], before[ids[1]]]
    # weekly from Mar 6: Mar 6, 13, 20 reuse ids[2..4]; none left over, nothing cancelled
    assert [meetings[i].start_date for i in ids[2:]] == [new_start + k * 7 * DAY for k in range(3)]
    assert all(meetings[i].status == 0 for i in ids)
    # fewer occurrences: the surplus ones are cancelled
    api.ok("batchModify", {**body, "repeat": 0, "repeatEndDate": None})
    assert [meetings[i].status for i in ids] == [0, 0, 0, 2, 2]
    assert len(meetings) == 5


def test_batch_modify_keeps_earlier_cancelled_occurrences(api: Api) -> None:
    ids = series(api, repeat=2, until=ms(2024, 3, 8))
    api.ok("cancel", {"id": ids[3], "openid": OWNER})
    body = meeting(id=ids[0], repeat=2, repeatEndDate=ms(2024, 3, 8))
    api.ok("batchModify", body)
    meetings = api.service.meetings
    assert meetings[ids[3]].status == 2
    live = [m for m in api.service.series(ids[0]) if m.status == 0]
    assert len(live) == 5
    assert ids[3] not in {m.id for m in live}


def test_batch_modify_refusals(api: Api) -> None:
    ids = series(api, repeat=2, until=ms(2024, 3, 8))
    single = api.create()
    base = meeting(repeat=2, repeatEndDate=ms(2024, 3, 8))
    api.refused("batchModify", {**base, "id": ids[2]}, PARAM_ERROR_CODE, "batchId")
    api.refused(
        "batchModify", {**base, "id": ids[2], "batchId": ids[1]}, PARAM_ERROR_CODE, "batchId"
    )
    api.refused("batchModify", {**base, "id": single}, PARAM_ERROR_CODE, "id")
    api.refused("batchModify", {**base, "id": "a" * 24}, PARAM_ERROR_CODE, "id")
    api.refused(
        "batchModify", {**base, "id": ids[0], "openid": "x"}, NOT_CREATOR_ERROR_CODE, "creator"
    )
    api.refused("batchModify", {**base, "id": ids[0], "repeat": 9}, PARAM_ERROR_CODE, "repeat")
    api.ok("cancel", {"id": ids[1], "openid": OWNER})
    api.refused(
        "batchModify", {**base, "id": ids[1], "batchId": ids[0]}, MEETING_CANCELLED_ERROR_CODE
    )
    assert all(api.service.meetings[i].title == "周会" for i in ids)
    # the parent may name its own batch
    api.ok("batchModify", {**base, "id": ids[0], "batchId": ids[0], "title": "ok"})


def test_batch_cancel(api: Api, clock: Clock) -> None:
    ids = series(api, repeat=2, until=ms(2024, 3, 8))
    base = {"openid": OWNER}
    api.refused("batchCancel", {**base, "id": ids[2]}, PARAM_ERROR_CODE, "batchId")
    api.refused("batchCancel", {"openid": "x", "id": ids[0]}, NOT_CREATOR_ERROR_CODE)
    api.ok("batchCancel", {**base, "id": ids[3], "batchId": ids[0]})
    assert [api.service.meetings[i].status for i in ids] == [0, 0, 0, 2, 2]
    assert api.ok("batchCancel", {**base, "id": ids[0]}) is None
    assert [api.service.meetings[i].status for i in ids] == [2] * 5
    # idempotent
    api.ok("batchCancel", {**base, "id": ids[0], "batchId": ids[0]})
    assert api.service.calls[-1].acted is False


# --- queryByDay ----------------------------------------------------------------------------------


def test_query_by_day_uses_shanghai_days(api: Api) -> None:
    at_midnight = api.create(startDate=ms(2024, 3, 4), endDate=ms(2024, 3, 4, 1))
    last_ms = api.create(startDate=ms(2024, 3, 5) - 1, endDate=ms(2024, 3, 5, 1))
    api.create(startDate=ms(2024, 3, 5), endDate=ms(2024, 3, 5, 1))
    api.create(startDate=ms(2024, 3, 4) - 1, endDate=ms(2024, 3, 4, 1))
    noon = api.create(startDate=ms(2024, 3, 4, 12), endDate=ms(2024, 3, 4, 13))
    expected = [at_midnight, noon, last_ms]
    for instant in (ms(2024, 3, 4), ms(2024, 3, 4, 23, 59), ms(2024, 3, 5) - 1):
        assert [m["id"] for m in api.day(instant)] == expected


def test_query_by_day_fields_and_statuses(clock: Clock) -> None:
    service = FakeService(clock=clock, seed=3, people={OWNER: "张三"})
    api = Api(service, clock)
    api.login()
    done = api.create(
        startDate=ms(2024, 3, 1, 7),
        endDate=ms(2024, 3, 1, 8),
        type="sign",
        roomId="r1",
        noticeTime=0,
        content="c",
        meetingPlace="p",
    )
    running = api.create(startDate=ms(2024, 3, 1, 8), endDate=ms(2024, 3, 1, 10), openid="u1234")
    cancelled = api.create(startDate=ms(2024, 3, 1, 11), endDate=ms(2024, 3, 1, 12))
    api.ok("cancel", {"id": cancelled, "openid": OWNER})
    items = api.day(ms(2024, 3, 1, 12))
    assert [m["id"] for m in items] == [done, running, cancelled]
    documented = {
        "openid",
        "type",
        "title",
        "content",
        "meetingPlace",
        "meetingStatus",
        "readStatus",
        "acceptStatus",
        "personName",
        "doneTime",
        "id",
        "noticeTime",
        "startDate",
        "endDate",
        "createDate",
        "roomId",
        "roomOrderId",
    }
    assert set(items[0]) == set(items[1]) == documented
    assert set(items[2]) == documented | {"cancelDate"}
    first = items[0]
    assert (first["meetingStatus"], first["doneTime"]) == (1, ms(2024, 3, 1, 8))
    assert (first["type"], first["roomId"], first["noticeTime"]) == ("sign", "r1", 0)
    assert (first["personName"], first["readStatus"], first["acceptStatus"]) == ("张三", 0, 0)
    assert first["createDate"] == to_ms(NOW)
    assert (items[1]["meetingStatus"], items[1]["doneTime"]) == (0, None)
    assert items[1]["personName"] == "用户1234"
    assert (items[2]["meetingStatus"], items[2]["cancelDate"]) == (2, to_ms(NOW))
    assert service.status_of(running) == 0
    clock.advance(3600)  # ends exactly now: not done yet
    assert service.status_of(running) == 0
    clock.advance(0.001)
    assert service.status_of(running) == 1
    assert service.status_of(cancelled) == 2


def test_query_by_day_refusals(api: Api) -> None:
    api.refused("queryByDay", {}, PARAM_ERROR_CODE, "day")
    api.refused("queryByDay", {"day": "today"}, PARAM_ERROR_CODE, "day")
    assert api.ok("queryByDay", {"day": str(ms(2024, 3, 4))}) == []


def test_many_meetings_stay_fast(clock: Clock) -> None:
    service = FakeService(clock=clock, seed=1, calls_per_minute=None, record_calls=False)
    api = Api(service, clock)
    api.login()
    base = ms(2024, 1, 1, 9)
    started = time.perf_counter()
    for k in range(3000):
        start = base + (k % 300) * DAY + k * 1000
        api.create(startDate=start, endDate=start + HOUR)
    for k in range(300):
        assert len(api.day(base + k * DAY)) == 10
    assert time.perf_counter() - started < 5.0


# --- rate limit ----------------------------------------------------------------------------------


def test_rate_limit_per_interface(clock: Clock) -> None:
    service = FakeService(clock=clock, seed=1, calls_per_minute=3)
    api = Api(service, clock)
    api.login()
    for _ in range(3):
        api.create()
        clock.advance(1)
    message = api.refused("create", meeting(), THROTTLED_ERROR_CODE)
    assert message == "请求过于频繁"
    assert len(service.meetings) == 3
    assert service.calls[-1].acted is False
    assert api.day(ms(2024, 3, 4)) != []  # another interface has its own window
    for _ in range(5):  # token calls are not counted
        api.login()
    clock.advance(56)  # 59 s after the first create: still throttled (not counted either)
    api.refused("create", meeting(), THROTTLED_ERROR_CODE)
    clock.advance(1)  # the first create left the window
    api.create()
    api.refused("create", meeting(), THROTTLED_ERROR_CODE)
    assert len(service.meetings) == 4


def test_refused_tokens_do_not_count(clock: Clock) -> None:
    service = FakeService(clock=clock, seed=1, calls_per_minute=1)
    api = Api(service, clock)
    api.login()
    for _ in range(3):
        api.call("create", meeting(), token="bad")
    api.create()


def test_no_rate_limit(clock: Clock) -> None:
    service = FakeService(clock=clock, seed=1, calls_per_minute=None)
    api = Api(service, clock)
    api.login()
    for _ in range(2000):
        api.ok("queryByDay", {"day": 0})


# --- faults --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "status", "code", "acted"),
    [
        ("server_error", 503, 10000503, False),
        ("server_error_after", 500, 10000500, True),
        ("drop_before", None, None, False),
        ("drop_after", None, 0, True),
        ("malformed", 200, 0, True),
        ("throttle", 200, THROTTLED_ERROR_CODE, False),
        ("http_429", 429, THROTTLED_ERROR_CODE, False),
        ("token_expiry", 200, TOKEN_ERROR_CODE, False),
        ("refuse", None, None, False),
        ("ok", 200, 0, True),
    ],
)
def test_each_fault(
    api: Api, fault: str, status: int | None, code: int | None, acted: bool
) -> None:
    api.service.faults.script.append(fault)
    answer = api.answer("create", meeting())
    assert len(api.service.meetings) == int(acted)
    record = api.service.calls[-1]
    assert (record.endpoint, record.status, record.error_code) == ("create", status, code)
    assert (record.fault, record.acted) == (None if fault == "ok" else fault, acted)
    assert answer.drop is fault.startswith("drop")
    assert answer.refuse is (fault == "refuse")
    if status is not None:
        assert answer.status == status
    if fault == "malformed":
        with pytest.raises(json.JSONDecodeError):
            json.loads(answer.body)
    elif status is not None:
        assert json.loads(answer.body)["errorCode"] == code
    if fault == "http_429":
        assert answer.headers["retry-after"] == "1"
    if fault == "token_expiry":  # the token stays expired
        api.refused("queryByDay", {"day": 0}, TOKEN_ERROR_CODE)
    elif fault != "ok":
        assert api.service.faults_injected[fault] == 1
        assert api.ok("queryByDay", {"day": 0}) == []  # the script was consumed


def test_random_faults_are_seeded(clock: Clock) -> None:
    def run() -> list[str | None]:
        service = FakeService(
            clock=clock, seed=42, faults=Faults(server_error=0.3, drop_after=0.2, throttle=0.1)
        )
        api = Api(service, clock)
        api.login()
        for _ in range(200):
            api.answer("queryByDay", {"day": 0})
        return [c.fault for c in service.calls if c.endpoint == "queryByDay"]

    first = run()
    assert first == run()
    assert 40 < first.count("server_error") < 80
    assert 20 < first.count("drop_after") < 60
    assert 5 < first.count("throttle") < 40


def test_certain_fault_and_latency(api: Api) -> None:
    api.service.faults.refuse = 1.0
    assert all(api.answer("queryByDay", {"day": 0}).refuse for _ in range(10))
    api.service.faults.refuse = 0.0
    api.service.faults.latency = 0.25
    assert api.answer("queryByDay", {"day": 0}).delay == 0.25
    assert api.raw("/nowhere", {}).status == 404


def test_faults_spare_token_calls_unless_asked(api: Api) -> None:
    faults = api.service.faults
    faults.script.append("server_error")
    api.login()
    assert faults.script == ["server_error"]
    faults.apply_to_tokens = True
    answer = api.raw(
        "/gateway/oauth2/token/getAccessToken",
        {"eid": "eid1", "secret": "s3cret", "scope": "resGroupSecret", "timestamp": 0},
    )
    assert answer.status == 503
    assert faults.script == []
    assert api.service.calls[-1].body["secret"] == "<masked>"  # type: ignore[index]


def test_faults_validation() -> None:
    with pytest.raises(ValueError, match="server_error"):
        Faults(server_error=1.5)
    with pytest.raises(ValueError, match="boom"):
        Faults(script=["boom"])
    faults = Faults()
    with pytest.raises(ValueError, match="drop_after"):
        faults.drop_after = -0.1


def test_an_unknown_scripted_fault_fails_loudly(api: Api) -> None:
    api.service.faults.script.append("boom")
    with pytest.raises(ValueError, match="boom"):
        api.answer("queryByDay", {"day": 0})


def test_call_recording_can_be_off(clock: Clock) -> None:
    service = FakeService(clock=clock, record_calls=False)
    Api(service, clock).login()
    assert service.calls == []
    assert service.token_requests == 1


# --- persistence ---------------------------------------------------------------------------------


def populate(api: Api) -> list[str]:
    ids = series(api, repeat=2, until=ms(2024, 3, 6), actors=["a"], type="voice")
    single = api.create(content="c")
    api.ok("cancel", {"id": single, "openid": OWNER})
    return [*ids, single]


def test_snapshot_round_trip(api: Api, clock: Clock) -> None:
    ids = populate(api)
    data = json.loads(json.dumps(api.service.snapshot()))
    restored = FakeService.from_snapshot(data, clock=clock, seed=7)
    assert restored.meetings == api.service.meetings
    again = Api(restored, clock)
    again.login()
    assert again.day(ms(2024, 3, 4)) == api.day(ms(2024, 3, 4))
    again.ok("batchCancel", {"id": ids[1], "openid": OWNER, "batchId": ids[0]})
    assert [restored.meetings[i].status for i in ids[:3]] == [0, 2, 2]
    # a restarted service with the same seed does not hand out an id twice
    assert again.create() not in api.service.meetings


def test_save_and_load(api: Api, clock: Clock, tmp_path: Any) -> None:
    populate(api)
    path = tmp_path / "state.json"
    api.service.save(path)
    assert os.listdir(tmp_path) == ["state.json"]
    assert FakeService.load(path, clock=clock).meetings == api.service.meetings
    with pytest.raises(ValueError, match="snapshot"):
        FakeService.from_snapshot({"meetings": []})
    with pytest.raises(ValueError, match="malformed"):
        FakeService.from_snapshot({"format": "yzj_meeting.fake/1", "meetings": [{"id": "x"}]})
    path.write_text("[]")
    with pytest.raises(ValueError, match="snapshot"):
        FakeService(persist_path=path)


def test_persist_path_writes_through(clock: Clock, tmp_path: Any) -> None:
    path = tmp_path / "state.json"
    service = FakeService(clock=clock, seed=1, persist_path=path)
    api = Api(service, clock)
    api.login()
    assert not path.exists()  # tokens are not persisted
    api.refused("create", meeting(title=""), PARAM_ERROR_CODE)
    assert not path.exists()
    service.faults.script.append("drop_after")  # acted, then no answer: it is on disk already
    assert api.answer("create", meeting()).drop
    assert len(FakeService.load(path).meetings) == 1
    assert api.ok("queryByDay", {"day": 0}) == []
    assert len(FakeService.load(path).meetings) == 1

    restarted = FakeService(clock=clock, seed=1, persist_path=path)
    assert restarted.meetings == service.meetings
    again = Api(restarted, clock)
    again.token = api.token  # issued before the restart: unknown now
    again.refused("queryByDay", {"day": 0}, TOKEN_ERROR_CODE)
    again.login()
    meeting_id = next(iter(restarted.meetings))
    again.ok("cancel", {"id": meeting_id, "openid": OWNER})
    reloaded = FakeService.load(path, clock=clock)
    assert reloaded.meetings[meeting_id].status == 2
    service.close()
    restarted.close()  # the last to close folds SQLite's -wal and -shm files into the file
    assert sorted(os.listdir(tmp_path)) == ["state.json"]


def test_snapshot_is_not_aliased(api: Api) -> None:
    meeting_id = api.create(actors=["a"])
    snap = api.service.snapshot()
    snap["meetings"][0]["actors"].append("b")
    assert api.service.meetings[meeting_id].actors == ["a"]


def test_the_default_clock_is_wall_time() -> None:
    api = Api(FakeService(seed=1), time.time)
    assert api.login()


def test_write_through_follows_every_operation(clock: Clock, tmp_path: Any) -> None:
    path = tmp_path / "state.json"
    service = FakeService(clock=clock, seed=1, persist_path=path)
    api = Api(service, clock)
    api.login()
    ids = populate(api)

    def on_disk() -> dict[str, Meeting]:
        return FakeService.load(path).meetings

    assert on_disk() == service.meetings
    api.ok("modify", meeting(id=ids[0], title="m", actors=["z"]))
    assert on_disk() == service.meetings
    start = ms(2024, 3, 5, 8)
    body = meeting(
        id=ids[1],
        batchId=ids[0],
        startDate=start,
        endDate=start + HOUR,
        repeat=2,
        repeatEndDate=ms(2024, 3, 9),
    )
    api.ok("batchModify", body)
    assert len(service.meetings) == 7  # Mar 5 to 9: two reused, three new
    assert on_disk() == service.meetings
    api.ok("batchModify", {**body, "repeat": 0})
    assert on_disk() == service.meetings
    api.ok("batchCancel", {"id": ids[0], "openid": OWNER})
    assert on_disk() == service.meetings
    service.meetings[ids[0]].title = "by hand"
    service.save(path)
    assert on_disk()[ids[0]].title == "by hand"
