"""``day`` prints what a real deployment answers: unknown enum values stay plain values."""

from __future__ import annotations

from yzj_meeting.fake import FakeService

from .test_cli import OWNER, SECRET, http_service, invoke, one_json

__all__ = ["http_service"]  # the fixture, used by name


def test_day_json_and_table_with_an_unknown_type_and_reminder(
    http_service: tuple[FakeService, str],
) -> None:
    service, url = http_service
    env = {"YZJ_EID": "e1", "YZJ_SECRET": SECRET, "YZJ_BASE_URL": url}
    created = invoke(
        "create",
        "--openid", OWNER,
        "--title", "Odd one",
        "--start", "2026-12-01T15:00:00+08:00",
        "--end", "2026-12-01T16:00:00+08:00",
        "--json",
        env=env,
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    meeting = service.meetings[one_json(created)["id"]]
    meeting.type = "video"  # a kind this SDK does not know
    meeting.notice_time = 30  # nor this reminder
    listed = invoke("day", "2026-12-01", "--json", env=env)
    assert listed.exit_code == 0, listed.output
    [item] = one_json(listed)["meetings"]
    assert (item["title"], item["type"]) == ("Odd one", "video")
    table = invoke("day", "2026-12-01", env=env)
    assert table.exit_code == 0, table.output
    assert "Odd one" in table.stdout
