"""Any combination of field values either builds a model or raises ValidationError."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yzj_meeting import (
    BatchCancel,
    BatchModify,
    CancelMeeting,
    CreateMeeting,
    ModifyMeeting,
    QueryByDay,
    RepeatMeeting,
    ValidationError,
)

MODELS = [CreateMeeting, ModifyMeeting, CancelMeeting, RepeatMeeting, BatchModify, BatchCancel]

zones = st.sampled_from([None, UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5))])
instants = st.builds(
    lambda dt, tz: dt.replace(tzinfo=tz),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    zones,
)
scalars = (
    st.none()
    | st.text(max_size=6)
    | st.integers()
    | st.floats()
    | st.booleans()
    | st.binary(max_size=4)
    | instants
    | st.dates()
    | st.sampled_from([-1, 0, 1, 3, 5, 15, 60, "sign", "voice", "1", "", " "])
)
values = (
    scalars
    | st.lists(scalars, max_size=3)
    | st.tuples(scalars)
    | st.dictionaries(st.text(max_size=3), scalars, max_size=2)
)


def kwargs_for(model: type) -> st.SearchStrategy[dict[str, Any]]:
    names = [f.name for f in attrs.fields(model)]
    return st.fixed_dictionaries({}, optional={name: values for name in names})


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_construct_or_validation_error(model: type, data: st.DataObject) -> None:
    kwargs = data.draw(kwargs_for(model))
    field = None
    try:
        model(**kwargs)
    except ValidationError as exc:
        field = exc.field
    assert field != ""  # when refused, the error names what was wrong


@settings(max_examples=300, deadline=None)
@given(old=values, new=values, title=values)
def test_from_attendees_construct_or_validation_error(old: Any, new: Any, title: Any) -> None:
    start = datetime(2026, 12, 1, 9, tzinfo=UTC)
    field = None
    try:
        ModifyMeeting.from_attendees(
            old,
            new,
            id="m1",
            openid="o1",
            title=title,
            start_date=start,
            end_date=start + timedelta(hours=1),
        )
    except ValidationError as exc:
        field = exc.field
    assert field != ""


@settings(max_examples=300, deadline=None)
@given(day=values, tz=values)
def test_query_by_day_construct_or_validation_error(day: Any, tz: Any) -> None:
    try:
        query = QueryByDay(day, tz=tz)
    except ValidationError:
        return
    assert isinstance(query.instant, datetime)
    assert query.instant.utcoffset() is not None
    assert isinstance(day, date)
