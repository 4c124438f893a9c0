"""The planner: a pure function of the schedule entries and the journal rows."""

from __future__ import annotations

from typing import Any

import attrs
from hypothesis import given
from hypothesis import strategies as st

from yzj_meeting.models import (
    BatchCancel,
    BatchModify,
    CancelMeeting,
    CreateMeeting,
    ModifyMeeting,
    NoticeTime,
    RepeatMeeting,
)
from yzj_meeting.sync.journal import Intent, JournalRow
from yzj_meeting.sync.plan import (
    Action,
    ActionKind,
    count,
    intent_for,
    modify_request,
    plan,
    plan_key,
)
from yzj_meeting.sync.schedule import Entry

from . import ALICE, BOB, CAROL, OWNER, entries, series, single


def synced(entry: Entry, meeting_id: str | None = "m-1", **overrides: Any) -> JournalRow:
    """The journal row of ``entry`` synced as ``meeting_id``."""
    intent = intent_for("create", entry)
    row = JournalRow(
        key=entry.key,
        series=entry.is_series,
        openid=entry.model.openid,
        meeting_type=intent.meeting_type,
        meeting_id=meeting_id,
        ids=(meeting_id,) if meeting_id else (),
        fingerprint=entry.fingerprint,
        attendees=entry.attendees,
        maybe_attendees=None,
        starts=(intent.start or 0,),
        pending=None,
        intent=None,
    )
    return attrs.evolve(row, **overrides)


def one(actions: list[Action]) -> Action:
    (action,) = actions
    return action


def test_new_key_is_created() -> None:
    (entry,) = entries(single("a"))
    action = one(plan([entry], {}))
    assert action.kind is ActionKind.CREATE
    assert action.request is entry.model
    assert isinstance(action.request, CreateMeeting)


def test_new_series_is_a_repeat_meeting() -> None:
    (entry,) = entries(series("s"))
    action = one(plan([entry], {}))
    assert action.kind is ActionKind.CREATE
    assert isinstance(action.request, RepeatMeeting)


def test_unchanged_key_sends_nothing() -> None:
    (entry,) = entries(single("a"))
    action = one(plan([entry], {"a": synced(entry)}))
    assert action.kind is ActionKind.UNCHANGED
    assert action.request is None
    assert action.cancel is None


def test_changed_fields_are_a_full_replace_modify() -> None:
    (old,) = entries(single("a", content="old agenda", room_id="r1", important=True))
    (new,) = entries(single("a", title="Renamed", reminder=60, content=None))
    action = one(plan([new], {"a": synced(old, "m-7")}))
    assert action.kind is ActionKind.MODIFY
    assert action.request == ModifyMeeting(
        id="m-7",
        openid=OWNER,
        title="Renamed",
        start_date=new.model.start_date,
        end_date=new.model.end_date,
        meeting_place="Lotus Room 2F",
        notice_time=NoticeTime.HOUR_1,
        # content, room and importance are left out of the new entry: sent as None, cleared
        actors=(ALICE, BOB),
        add_actors=(),
        del_actors=(),
    )


def test_changed_attendees_give_add_and_del_lists() -> None:
    (old,) = entries(single("a", attendees=[ALICE, BOB]))
    (new,) = entries(single("a", attendees=[BOB, CAROL]))
    request = one(plan([new], {"a": synced(old)})).request
    assert isinstance(request, ModifyMeeting)
    assert request.actors == (BOB, CAROL)
    assert request.add_actors == (CAROL,)
    assert request.del_actors == (ALICE,)


def test_changed_series_is_a_batch_modify_on_the_parent() -> None:
    (old,) = entries(series("s"))
    (new,) = entries(series("s", title="Weekly sync", attendees=[ALICE], repeat="biweekly"))
    action = one(plan([new], {"s": synced(old, "parent-1", ids=("parent-1", "m2", "m3"))}))
    assert action.kind is ActionKind.MODIFY
    request = action.request
    assert isinstance(request, BatchModify)
    assert request.id == "parent-1"
    assert request.batch_id is None
    assert request.title == "Weekly sync"
    assert request.repeat == new.model.repeat  # type: ignore[union-attr]
    assert request.repeat_end_date == new.model.repeat_end_date  # type: ignore[union-attr]
    assert (request.actors, request.add_actors, request.del_actors) == ((ALICE,), (), (CAROL,))


def test_removed_key_is_kept_without_prune_and_cancelled_with_it() -> None:
    (entry,) = entries(single("a"))
    rows = {"a": synced(entry, "m-1")}
    assert one(plan([], rows)).kind is ActionKind.KEEP
    action = one(plan([], rows, prune=True))
    assert action.kind is ActionKind.CANCEL
    assert action.cancel == CancelMeeting(id="m-1", openid=OWNER)


def test_removed_series_is_a_batch_cancel_on_the_parent() -> None:
    (entry,) = entries(series("s"))
    action = one(plan([], {"s": synced(entry, "parent-1")}, prune=True))
    assert action.cancel == BatchCancel(id="parent-1", openid=OWNER)


def test_single_to_series_creator_or_type_change_is_a_replace() -> None:
    (single_entry,) = entries(single("a"))
    (series_entry,) = entries(series("a"))
    action = one(plan([series_entry], {"a": synced(single_entry, "m-1")}))
    assert action.kind is ActionKind.REPLACE
    assert action.cancel == CancelMeeting(id="m-1", openid=OWNER)
    assert action.request is series_entry.model

    (other_creator,) = entries(single("a", openid=ALICE))
    action = one(plan([other_creator], {"a": synced(single_entry, "m-1")}))
    assert action.kind is ActionKind.REPLACE
    assert action.cancel == CancelMeeting(id="m-1", openid=OWNER)  # only the creator may

    (voice,) = entries(single("a", type="voice"))
    assert one(plan([voice], {"a": synced(single_entry)})).kind is ActionKind.REPLACE


def test_in_doubt_create_and_cancel_are_reconciled_first() -> None:
    (entry,) = entries(single("a"))
    doubt = synced(
        entry,
        meeting_id=None,
        ids=(),
        fingerprint=None,
        pending="create",
        intent=intent_for("create", entry),
    )
    action = one(plan([entry], {"a": doubt}))
    assert action.kind is ActionKind.RECONCILE
    assert action.request is None
    # Also when the key has left the schedule: the lost create may have happened.
    assert one(plan([], {"a": doubt}, prune=True)).kind is ActionKind.RECONCILE

    cancelling = synced(entry, pending="cancel", intent=Intent(op="cancel"))
    assert one(plan([entry], {"a": cancelling})).kind is ActionKind.RECONCILE


def test_unconfirmed_modify_is_sent_again_with_widened_attendees() -> None:
    (old,) = entries(single("a", attendees=[ALICE, BOB]))
    (lost,) = entries(single("a", attendees=[BOB, CAROL]))
    row = synced(old, pending="modify", intent=intent_for("modify", lost))
    # The desired entry is what the lost modify sent: still sent again, the outcome is unknown.
    action = one(plan([lost], {"a": row}))
    assert action.kind is ActionKind.MODIFY
    (new,) = entries(single("a", attendees=[BOB]))
    request = one(plan([new], {"a": row})).request
    assert isinstance(request, ModifyMeeting)
    assert request.actors == (BOB,)
    # ALICE (old) and CAROL (maybe added) may both be there: both removed.
    assert set(request.del_actors or ()) == {ALICE, CAROL}
    assert request.add_actors == ()


def test_plan_order_and_counts() -> None:
    a, b, c = entries(single("a"), single("b"), single("c"))
    gone = entries(single("gone"))[0]
    changed = entries(single("b", title="B2"))[0]
    rows = {"gone": synced(gone, "m-g"), "b": synced(b, "m-b"), "c": synced(c, "m-c")}
    actions = plan([a, changed, c], rows, prune=True)
    assert [(x.key, x.kind) for x in actions] == [
        ("a", ActionKind.CREATE),
        ("b", ActionKind.MODIFY),
        ("c", ActionKind.UNCHANGED),
        ("gone", ActionKind.CANCEL),
    ]
    assert count(actions) == {
        "created": 1,
        "modified": 1,
        "cancelled": 1,
        "unchanged": 1,
        "failed": 0,
    }
    assert count(plan([a], rows))["cancelled"] == 0  # kept, not counted


def test_plan_key_without_entry_or_row() -> None:
    assert plan_key("x", None, None).kind is ActionKind.UNCHANGED


@given(
    old=st.lists(st.sampled_from("abcdefgh"), max_size=8),
    new=st.lists(st.sampled_from("abcdefgh"), max_size=8),
    lost=st.none() | st.lists(st.sampled_from("abcdefgh"), max_size=8),
)
def test_modify_attendees_reach_the_new_list_from_any_possible_old_one(
    old: list[str], new: list[str], lost: list[str] | None
) -> None:
    (before,) = entries(single("a", attendees=old))
    (after,) = entries(single("a", attendees=new))
    row = synced(before)
    possible = [set(old)]
    if lost is not None:
        (lost_entry,) = entries(single("a", attendees=lost))
        row = attrs.evolve(row, pending="modify", intent=intent_for("modify", lost_entry))
        possible.append(set(lost))
    request = modify_request(after, row.settled())
    assert request.actors == tuple(dict.fromkeys(new))
    for server in possible:  # whatever the server holds, add/del lead to the new list
        result = (server | set(request.add_actors or ())) - set(request.del_actors or ())
        assert result == set(new)
