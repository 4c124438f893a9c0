"""A user's test suite gets the fixtures from the installed package, with no conftest."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

USER_TEST = """
from datetime import datetime, timedelta

from yzj_meeting import SHANGHAI, CreateMeeting, QueryByDay


async def test_books_a_meeting(yzj_client, yzj_fake):
    start = datetime(2026, 12, 1, 9, tzinfo=SHANGHAI)
    meeting_id = await yzj_client.create_meeting(
        CreateMeeting(
            openid="o1", title="Stand-up", start_date=start, end_date=start + timedelta(hours=1)
        )
    )
    assert yzj_fake.meetings[meeting_id].title == "Stand-up"
    [info] = await yzj_client.query_by_day(QueryByDay(start))
    assert info.id == meeting_id


async def test_each_test_gets_a_fresh_service(yzj_fake):
    assert yzj_fake.meetings == {}


async def test_faults_reach_the_client(yzj_client, yzj_fake):
    from yzj_meeting.fake import Faults

    yzj_fake.faults = Faults(script=["server_error", "server_error"])
    start = datetime(2026, 12, 1, 9, tzinfo=SHANGHAI)
    assert await yzj_client.query_by_day(QueryByDay(start)) == []
    assert sum(call.status == 503 for call in yzj_fake.calls) == 2
"""


def test_fixtures_work_in_a_plain_user_suite(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_mode = auto\n")
    pytester.makepyfile(test_user=USER_TEST)
    result = pytester.runpytest_subprocess("-q")
    result.assert_outcomes(passed=3)
