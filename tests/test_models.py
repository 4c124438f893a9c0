"""Request models: every validation rule of public-api.md "Values", enums, diff_actors."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from yzj_meeting import (
    SHANGHAI,
    ActorChange,
    BatchModify,
    CreateMeeting,
    MeetingType,
    ModifyMeeting,
    NoticeTime,
    QueryByDay,
    Repeat,
    ValidationError,
    YzjError,
    diff_actors,
)
from yzj_meeting._operations import build, build_batch_modify, build_modify, build_query_by_day

from .support import (
    END,
    START,
    a_batch_cancel,
    a_batch_modify,
    a_cancel,
    a_create,
    a_modify,
    a_query,
    a_repeat,
)

FACTORIES: dict[str, Callable[..., Any]] = {
    "create": a_create,
    "modify": a_modify,
    "cancel": a_cancel,
    "repeatMeeting": a_repeat,
    "batchModify": a_batch_modify,
    "batchCancel": a_batch_cancel,
}
WITH_TITLE = ["create", "modify", "repeatMeeting", "batchModify"]
WITH_ID = ["modify", "cancel", "batchModify", "batchCancel"]
WITH_TIMES = ["create", "modify", "repeatMeeting", "batchModify"]
WITH_REPEAT = ["repeatMeeting", "batchModify"]
WITH_ACTORS = ["create", "modify", "repeatMeeting", "batchModify"]
WITH_ACTOR_CHANGES = ["modify", "batchModify"]

NAIVE = datetime(2018, 4, 3, 12, 30)


def refuses(factory: Callable[..., Any], field: str, **fields: Any) -> ValidationError:
    """Build with ``fields`` and expect a ``ValidationError`` naming ``field``."""
    with pytest.raises(ValidationError) as info:
        factory(**fields)
    err = info.value
    assert isinstance(err, ValueError)
    assert isinstance(err, YzjError)
    assert err.field == field, str(err)
    assert str(err).startswith(field)
    return err


def without(factory: Callable[..., Any], name: str) -> Callable[..., Any]:
    """A factory that leaves ``name`` out of the constructor call altogether."""

    def make(**fields: Any) -> Any:
        model = factory()
        kwargs = {f.name: getattr(model, f.name) for f in attrs.fields(type(model))}
        del kwargs[name]
        return type(model)(**kwargs)

    return make


# --- required strings ---


def required_cases() -> list[tuple[str, str]]:
    cases = [(op, "openid") for op in FACTORIES]
    cases += [(op, "title") for op in WITH_TITLE]
    cases += [(op, "id") for op in WITH_ID]
    return cases


@pytest.mark.parametrize(("op", "field"), required_cases())
@pytest.mark.parametrize("value", ["", "   ", None, 42, b"oid", ["oid"]])
def test_required_string_empty_or_wrong_type_is_refused(op: str, field: str, value: Any) -> None:
    refuses(FACTORIES[op], field, **{field: value})


@pytest.mark.parametrize(("op", "field"), required_cases())
def test_required_string_missing_is_refused(op: str, field: str) -> None:
    refuses(without(FACTORIES[op], field), field)


@pytest.mark.parametrize("op", WITH_TIMES)
@pytest.mark.parametrize("field", ["start_date", "end_date"])
def test_missing_instant_is_refused(op: str, field: str) -> None:
    refuses(without(FACTORIES[op], field), field)


@pytest.mark.parametrize("op", WITH_REPEAT)
@pytest.mark.parametrize("field", ["repeat", "repeat_end_date"])
def test_missing_repeat_fields_are_refused(op: str, field: str) -> None:
    refuses(without(FACTORIES[op], field), field)


# --- instants ---


@pytest.mark.parametrize("op", WITH_TIMES)
@pytest.mark.parametrize("field", ["start_date", "end_date"])
def test_naive_datetime_is_refused(op: str, field: str) -> None:
    value = NAIVE if field == "start_date" else NAIVE + timedelta(hours=1)
    err = refuses(FACTORIES[op], field, **{field: value})
    assert "aware" in err.message


@pytest.mark.parametrize("op", WITH_REPEAT)
def test_naive_repeat_end_date_is_refused(op: str) -> None:
    refuses(FACTORIES[op], "repeat_end_date", repeat_end_date=NAIVE + timedelta(days=3))


@pytest.mark.parametrize("op", WITH_TIMES)
@pytest.mark.parametrize("value", ["2018-04-03T12:30:00+08:00", 1522729800000, date(2018, 4, 3)])
def test_instant_of_wrong_type_is_refused(op: str, value: Any) -> None:
    refuses(FACTORIES[op], "start_date", start_date=value)


@pytest.mark.parametrize("op", WITH_TIMES)
@pytest.mark.parametrize("end", [START, START - timedelta(minutes=1), START - timedelta(days=9)])
def test_end_not_after_start_is_refused(op: str, end: datetime) -> None:
    refuses(FACTORIES[op], "end_date", end_date=end)


@pytest.mark.parametrize("op", WITH_TIMES)
def test_end_compared_as_instants_across_zones(op: str) -> None:
    # 05:00 UTC is 13:00 in Shanghai: after a 12:30 Shanghai start, though "earlier" on a clock.
    end = datetime(2018, 4, 3, 5, 0, tzinfo=UTC)
    assert FACTORIES[op](end_date=end).end_date == end
    refuses(FACTORIES[op], "end_date", end_date=datetime(2018, 4, 3, 4, 30, tzinfo=UTC))


@pytest.mark.parametrize("op", WITH_REPEAT)
def test_repeat_end_before_start_is_refused(op: str) -> None:
    refuses(FACTORIES[op], "repeat_end_date", repeat_end_date=START - timedelta(seconds=1))


@pytest.mark.parametrize("op", WITH_REPEAT)
def test_repeat_end_equal_to_start_is_allowed(op: str) -> None:
    assert FACTORIES[op](repeat_end_date=START).repeat_end_date == START


def test_past_instants_are_allowed() -> None:
    # The seed's own examples are from 2018; the server decides.
    start = datetime(2001, 1, 1, 9, tzinfo=SHANGHAI)
    meeting = a_create(start_date=start, end_date=start + timedelta(minutes=1))
    assert meeting.start_date == start


# --- enums ---


@pytest.mark.parametrize(
    ("op", "field", "value"),
    [
        *[(op, "notice_time", v) for op in WITH_TIMES for v in (5, 30, -2, "15", "soon", False)],
        *[(op, "repeat", v) for op in WITH_REPEAT for v in (6, -1, "weekly", 2.5, True, None)],
        *[("create", "type", v) for v in ("xxxx", "SIGN", "", 1, True)],
        *[(op, "top_state", v) for op in WITH_TIMES for v in (2, -1, "1", "yes", 0.5)],
    ],
)
def test_value_outside_enum_is_refused(op: str, field: str, value: Any) -> None:
    refuses(FACTORIES[op], field, **{field: value})


def test_enums_take_their_wire_values() -> None:
    assert NoticeTime(15) is NoticeTime.MINUTES_15
    assert NoticeTime(-1) is NoticeTime.NONE
    assert Repeat(3) is Repeat.WEEKLY
    assert MeetingType("sign") is MeetingType.SIGN
    assert MeetingType("voice") is MeetingType.VOICE
    assert {m.value for m in MeetingType} == {"sign", "voice"}
    assert [m.value for m in NoticeTime] == [-1, 0, 15, 60]
    assert [m.value for m in Repeat] == [0, 1, 2, 3, 4, 5]


def test_raw_wire_values_are_accepted_as_enum_members() -> None:
    meeting = a_create(notice_time=15, type="sign", top_state=1)
    assert meeting.notice_time is NoticeTime.MINUTES_15
    assert meeting.type is MeetingType.SIGN
    assert meeting.top_state is True
    assert a_create(notice_time=-1, top_state=0).notice_time is NoticeTime.NONE
    assert a_create(top_state=0).top_state is False
    assert a_repeat(repeat=3).repeat is Repeat.WEEKLY
    assert a_batch_modify(repeat=0).repeat is Repeat.NONE
    assert a_create(type=None).type is None


# --- optional fields of the wrong type ---


@pytest.mark.parametrize(
    ("op", "field", "value"),
    [
        ("create", "content", 5),
        ("create", "meeting_place", b"room"),
        ("create", "room_id", 12),
        ("modify", "content", ["x"]),
        ("repeatMeeting", "content", 1.5),
        ("create", "submit_experience", "yes"),
        ("create", "submit_experience", 1),
        ("modify", "submit_experience", "true"),
        ("batchModify", "batch_id", ""),
        ("batchModify", "batch_id", "  "),
        ("batchModify", "batch_id", 7),
        ("batchCancel", "batch_id", ""),
        ("batchCancel", "batch_id", 7),
    ],
)
def test_optional_field_of_wrong_type_is_refused(op: str, field: str, value: Any) -> None:
    refuses(FACTORIES[op], field, **{field: value})


# --- attendees ---


@pytest.mark.parametrize("op", WITH_ACTORS)
@pytest.mark.parametrize(
    ("actors", "field"),
    [
        (["a", ""], "actors[1]"),
        (["", "b"], "actors[0]"),
        (["a", "b", "  "], "actors[2]"),
        (["a", None], "actors[1]"),
        (["a", 3], "actors[1]"),
    ],
)
def test_empty_or_wrong_attendee_id_is_refused(op: str, actors: list[Any], field: str) -> None:
    refuses(FACTORIES[op], field, actors=actors)


@pytest.mark.parametrize("op", WITH_ACTOR_CHANGES)
@pytest.mark.parametrize("field", ["add_actors", "del_actors"])
def test_empty_id_in_actor_changes_is_refused(op: str, field: str) -> None:
    refuses(FACTORIES[op], f"{field}[1]", **{field: ["x", ""]})


@pytest.mark.parametrize("op", WITH_ACTORS)
@pytest.mark.parametrize("value", ["oid-1", "a,b", b"ab", 5, 1.5, True])
def test_actors_not_a_list_is_refused(op: str, value: Any) -> None:
    refuses(FACTORIES[op], "actors", actors=value)


def test_actor_lists_become_tuples_and_keep_order() -> None:
    meeting = a_create(actors=["b", "a", "c"])
    assert meeting.actors == ("b", "a", "c")
    assert a_create(actors=(i for i in ["x", "y"])).actors == ("x", "y")
    assert a_create(actors=[]).actors == ()
    assert a_create().actors is None


# --- models are values ---


def test_models_are_frozen_and_compare_by_value() -> None:
    meeting = a_create()
    assert meeting == a_create()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        meeting.title = "other"  # type: ignore[misc]


def test_keyword_only() -> None:
    with pytest.raises(TypeError):
        CreateMeeting("oid", "title", START, END)  # type: ignore[misc]


# --- QueryByDay ---


def wire_day(query: QueryByDay) -> int:
    return int(json.loads(build_query_by_day(query).body)["day"])


def ms(value: datetime) -> int:
    return round(value.timestamp() * 1000)


def test_query_by_date_sends_noon_in_shanghai() -> None:
    query = QueryByDay(date(2018, 8, 6))
    assert query.instant == datetime(2018, 8, 6, 12, tzinfo=SHANGHAI)
    assert wire_day(query) == ms(datetime(2018, 8, 6, 4, tzinfo=UTC)) == 1533528000000


@pytest.mark.parametrize(
    "tz",
    [ZoneInfo("America/New_York"), timezone(timedelta(hours=-10)), UTC, ZoneInfo("Asia/Tokyo")],
)
def test_query_by_date_with_zone_sends_noon_in_that_zone(tz: Any) -> None:
    query = QueryByDay(date(2018, 8, 6), tz=tz)
    noon = datetime.combine(date(2018, 8, 6), time(12), tz)
    assert wire_day(query) == ms(noon)
    assert wire_day(query) != wire_day(QueryByDay(date(2018, 8, 6)))


def test_query_by_aware_datetime_sends_that_instant() -> None:
    instant = datetime(2018, 8, 6, 23, 59, 59, 999000, tzinfo=ZoneInfo("Europe/Berlin"))
    assert wire_day(QueryByDay(instant)) == ms(instant)
    assert wire_day(a_query(day=instant)) == ms(instant)


@pytest.mark.parametrize("day", [NAIVE, "2018-08-06", 1533549600000, None])
def test_query_refuses_naive_datetime_and_wrong_types(day: Any) -> None:
    refuses(QueryByDay, "day", day=day)


def test_query_refuses_a_zone_that_is_not_a_tzinfo() -> None:
    refuses(lambda **kw: QueryByDay(date(2018, 8, 6), **kw), "tz", tz="Asia/Shanghai")


# --- diff_actors and from_attendees ---


def test_diff_actors_keeps_order_and_drops_duplicates() -> None:
    change = diff_actors(["a", "b", "c", "b"], ["c", "d", "a", "d", "e"])
    assert isinstance(change, ActorChange)
    assert change.actors == ["c", "d", "a", "e"]
    assert change.add_actors == ["d", "e"]
    assert change.del_actors == ["b"]


def test_diff_actors_without_changes() -> None:
    change = diff_actors(["a", "b"], ["b", "a"])
    assert change.actors == ["b", "a"]
    assert change.add_actors == []
    assert change.del_actors == []


ids = st.lists(st.sampled_from("abcdefg"), max_size=10)


@given(old=ids, new=ids)
def test_diff_actors_properties(old: list[str], new: list[str]) -> None:
    change = diff_actors(old, new)
    assert change.actors == list(dict.fromkeys(new))
    assert set(change.actors) == (set(old) | set(change.add_actors)) - set(change.del_actors)
    assert not set(change.add_actors) & set(old)
    assert not set(change.del_actors) & set(new)
    assert list(change.add_actors) == [i for i in dict.fromkeys(new) if i not in old]
    assert list(change.del_actors) == [i for i in dict.fromkeys(old) if i not in new]


def modify_fields() -> dict[str, Any]:
    return {"id": "m-1", "openid": "oid-1", "title": "T", "start_date": START, "end_date": END}


def test_modify_from_attendees_puts_the_diff_on_the_wire() -> None:
    model = ModifyMeeting.from_attendees(["a", "b", "c"], ["c", "d", "a"], **modify_fields())
    body = json.loads(build_modify(model).body)
    assert body["actors"] == ["c", "d", "a"]
    assert body["addActors"] == ["d"]
    assert body["delActors"] == ["b"]
    assert body["id"] == "m-1"


def test_batch_modify_from_attendees_puts_the_diff_on_the_wire() -> None:
    model = BatchModify.from_attendees(
        ["x", "y"],
        ["y", "z", "z"],
        **modify_fields(),
        repeat=Repeat.WEEKLY,
        repeat_end_date=START + timedelta(days=30),
        batch_id="p-1",
    )
    body = json.loads(build_batch_modify(model).body)
    assert body["actors"] == ["y", "z"]
    assert body["addActors"] == ["z"]
    assert body["delActors"] == ["x"]
    assert body["batchId"] == "p-1"
    assert body["repeat"] == 3


@pytest.mark.parametrize("cls", [ModifyMeeting, BatchModify])
def test_from_attendees_refuses_strings_and_non_lists(cls: Any) -> None:
    extra = {"repeat": 1, "repeat_end_date": END} if cls is BatchModify else {}
    fields = {**modify_fields(), **extra}
    for old, new in [("oid-1", ["a"]), (["a"], "oid-2"), (None, ["a"]), (["a"], 5)]:
        with pytest.raises(ValidationError) as info:
            cls.from_attendees(old, new, **fields)
        assert info.value.field == "actors"


def test_from_attendees_refuses_an_empty_id() -> None:
    with pytest.raises(ValidationError) as info:
        ModifyMeeting.from_attendees(["a"], ["a", ""], **modify_fields())
    assert info.value.field == "actors[1]"


# --- any input: a model or a ValidationError, never another exception ---

fixed_zones = st.builds(
    timezone, st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23))
)
anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=5),
    st.binary(max_size=3),
    st.datetimes(),
    st.datetimes(timezones=st.timezones()),
    st.datetimes(timezones=fixed_zones),
    st.dates(),
    st.lists(st.text(max_size=3), max_size=3),
    st.lists(st.one_of(st.none(), st.integers(), st.text(max_size=2)), max_size=3),
    st.tuples(st.text(max_size=3)),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    st.sampled_from([*NoticeTime, *MeetingType, -1, 0, 1, 15, 60, "sign", "voice", "15"]),
)
CREATE_FIELDS = [
    "openid",
    "title",
    "start_date",
    "end_date",
    "content",
    "meeting_place",
    "room_id",
    "notice_time",
    "top_state",
    "actors",
    "type",
    "submit_experience",
]


@given(fields=st.fixed_dictionaries({}, optional=dict.fromkeys(CREATE_FIELDS, anything)))
def test_create_meeting_constructs_or_raises_validation_error(fields: dict[str, Any]) -> None:
    def attempt() -> CreateMeeting | ValidationError:
        try:
            return CreateMeeting(**fields)
        except ValidationError as err:  # any other exception fails the test
            return err

    meeting = attempt()
    if isinstance(meeting, ValidationError):
        assert meeting.field.split("[")[0] in CREATE_FIELDS
        return
    # What constructs also encodes. (At millisecond precision a sub-millisecond gap between
    # start and end can vanish, hence <=.)
    body = json.loads(build(meeting).body)
    assert body["openid"] == meeting.openid
    assert body["startDate"] <= body["endDate"]


@given(
    openid=st.text(max_size=4),
    start=st.datetimes(
        min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=fixed_zones
    ),
    minutes=st.integers(min_value=-5, max_value=5),
)
def test_end_date_rule_matches_the_instants(openid: str, start: datetime, minutes: int) -> None:
    end = start + timedelta(minutes=minutes)
    refused: str | None = None
    try:
        CreateMeeting(openid=openid, title="t", start_date=start, end_date=end)
    except ValidationError as err:
        refused = err.field
    if not openid.strip():
        assert refused == "openid"
    elif minutes <= 0:
        assert refused == "end_date"
    else:
        assert refused is None
