"""Every name of public-api.md's "Added in the second round" section exists where it says,
with the documented defaults, and the README documents each of them."""

from __future__ import annotations

import inspect
from pathlib import Path

import attrs
import pytest

import yzj_meeting
from yzj_meeting import MeetingClient, TokenProvider

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")

# method -> (model, what it returns), as the section's table says
METHODS = {
    "get_meeting": ("GetMeeting", "MeetingDetail"),
    "query_by_range": ("QueryByRange", "MeetingInfo"),
    "page_recent_list": ("PageRecentList", "Booking"),
    "query_by_user": ("QueryByUser", "UserMeeting"),
    "get_attend_detail": ("GetAttendDetail", "AttendDetail"),
    "has_new_bookings": ("HasNewBookings", None),
    "book_info": ("BookInfo", "BookingChanges"),
    "free_rooms": ("FreeRooms", "Room"),
    "get_actors": ("GetActors", "RoomActor"),
}
ITERATORS = ("iter_recent", "iter_by_user", "iter_book_info", "iter_free_rooms")
DEFAULTS = {
    "PageRecentList": {"last_time": None, "page": 1, "size": 10, "room_ids": ()},
    "QueryByUser": {"status": None, "page_num": 1, "page_size": 20},
    "HasNewBookings": {"last_time": None},
    "BookInfo": {"last_time": None, "page_index": 1, "page_size": 50},
    "FreeRooms": {"page_index": 1, "page_size": 50},
}
NEWER_FIELDS = ("notice_times", "meet_organizers", "encryption", "share_ids", "agent")


@pytest.mark.parametrize("method", list(METHODS))
def test_each_later_endpoint_has_its_method_model_and_answer(method: str) -> None:
    model, answer = METHODS[method]
    assert inspect.iscoroutinefunction(getattr(MeetingClient, method))
    assert attrs.has(getattr(yzj_meeting, model))
    if answer is not None:
        assert attrs.has(getattr(yzj_meeting, answer))
    assert f"`{method}`" in README
    assert model in README


@pytest.mark.parametrize("model", list(DEFAULTS))
def test_paged_models_have_the_documented_defaults(model: str) -> None:
    fields = {f.name: f.default for f in attrs.fields(getattr(yzj_meeting, model))}
    for name, default in DEFAULTS[model].items():
        assert fields[name] == default, (model, name)


def test_call_update_meeting_and_the_iterators_exist_and_are_documented() -> None:
    assert inspect.iscoroutinefunction(MeetingClient.call)
    assert inspect.iscoroutinefunction(MeetingClient.update_meeting)
    assert "batch" in inspect.signature(MeetingClient.update_meeting).parameters
    for name in ITERATORS:
        assert callable(getattr(MeetingClient, name))
        assert name in README
    for text in ("client.call(model)", "update_meeting(", "async for"):
        assert text in README


def test_newer_fields_on_create_and_modify() -> None:
    for model in (yzj_meeting.CreateMeeting, yzj_meeting.ModifyMeeting):
        names = {f.name for f in attrs.fields(model)}
        assert set(NEWER_FIELDS) | {"submit_experience"} <= names, model


def test_shared_state_names() -> None:
    redis = pytest.importorskip("yzj_meeting.redis")
    assert {"RedisTokenStore", "RedisRateLimiter"} <= set(dir(redis))
    assert "token_store" in inspect.signature(MeetingClient).parameters
    assert "rate_limiter" in inspect.signature(MeetingClient).parameters
    assert "store" in inspect.signature(TokenProvider).parameters
    assert "RedisTokenStore" in README
    assert "RedisRateLimiter" in README
