"""``yzj-meeting show`` and ``yzj-meeting range`` against the embedded emulator."""

from __future__ import annotations

from .test_cli import ALICE, OWNER, _clean_env, invoke, one_json

__all__ = ["_clean_env"]


def _create(title: str, day: str) -> str:
    created = invoke(
        "create",
        "--openid", OWNER,
        "--title", title,
        "--start", f"{day}T15:00:00+08:00",
        "--end", f"{day}T16:00:00+08:00",
        "--attendee", ALICE,
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    return created.stdout.strip()


def test_show_and_range() -> None:
    first = _create("One", "2026-12-01")
    second = _create("Two", "2026-12-03")
    _create("Later", "2026-12-09")

    shown = one_json(invoke("show", first, "--json"))
    assert (shown["id"], shown["title"], shown["openid"]) == (first, "One", OWNER)
    assert [p["openid"] for p in shown["participants"]] == [ALICE]
    assert shown["start"] == "2026-12-01T15:00:00+08:00"
    table = invoke("show", first)
    assert table.exit_code == 0
    assert ALICE in table.stdout

    ranged = one_json(invoke("range", "2026-12-01", "2026-12-03", "--json"))
    assert [m["id"] for m in ranged["meetings"]] == [first, second]
    assert "Two" in invoke("range", "2026-12-01", "2026-12-03").stdout
    empty = invoke("range", "2026-12-04", "2026-12-05")
    assert empty.exit_code == 0
    assert "No meetings" in empty.stdout


def test_range_refuses_bad_input_with_exit_2() -> None:
    for args in (
        ["tomorrow", "2026-12-03"],
        ["2026-12-03", "2026-12-01"],
        ["2026-12-01T09:00", "2026-12-02"],
    ):
        result = invoke("range", *args)
        assert result.exit_code == 2, args
        assert "Traceback" not in result.output


def test_rooms_free_leaves_out_a_booked_room() -> None:
    everything = one_json(
        invoke(
            "rooms",
            "free",
            "2026-12-01T15:00:00+08:00",
            "2026-12-01T16:00:00+08:00",
            "--openid",
            OWNER,
            "--json",
        )
    )["rooms"]
    assert everything
    booked = everything[0]["room_id"]
    created = invoke(
        "create",
        "--openid", OWNER,
        "--title", "Booked",
        "--start", "2026-12-01T15:00:00+08:00",
        "--end", "2026-12-01T16:00:00+08:00",
        "--room-id", booked,
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    after = one_json(
        invoke(
            "rooms",
            "free",
            "2026-12-01T15:30:00+08:00",
            "2026-12-01T17:00:00+08:00",
            "--openid",
            OWNER,
            "--json",
        )
    )["rooms"]
    assert [r["room_id"] for r in after] == [r["room_id"] for r in everything[1:]]
    assert invoke("rooms", "free", "x", "2026-12-02", "--openid", OWNER).exit_code == 2
    table = invoke("rooms", "free", "2026-12-01", "2026-12-01", "--openid", OWNER)
    assert table.exit_code == 0
    assert everything[1]["room_id"] in table.stdout
