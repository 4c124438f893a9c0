"""Attendee changes: what ``modify`` and ``batchModify`` carry as actors, addActors, delActors."""

from __future__ import annotations

from collections.abc import Iterable

import attrs

__all__ = ["ActorChange", "diff_actors"]


@attrs.frozen(hash=False)
class ActorChange:
    """The new attendee list and how it differs from the old one (lists, order kept)."""

    actors: list[str]
    add_actors: list[str]
    del_actors: list[str]


def _unique(ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def diff_actors(old: Iterable[str], new: Iterable[str]) -> ActorChange:
    """Compare two attendee lists: ``actors`` is ``new``; added and removed ids in list order.

    Duplicates are dropped, first occurrence kept, so that ``actors == old + add - del``.
    """
    old_ids = _unique(old)
    new_ids = _unique(new)
    old_set = set(old_ids)
    new_set = set(new_ids)
    return ActorChange(
        actors=new_ids,
        add_actors=[i for i in new_ids if i not in old_set],
        del_actors=[i for i in old_ids if i not in new_set],
    )
