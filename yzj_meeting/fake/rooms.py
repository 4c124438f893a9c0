"""The emulator's room catalogue: the rooms ``freeRooms`` lists and room bookings name.

A meeting may name a ``roomId`` outside the catalogue (it is booked all the same; its name and
address then render as ``null``). The catalogue is configuration, not state: it is not
persisted, pass it again (``FakeService(rooms=...)``) when reopening a state file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

import attrs

__all__ = ["DEFAULT_ROOMS", "Room", "catalogue"]


@attrs.frozen
class Room:
    """One meeting room, with the fields ``freeRooms`` answers (snake_case)."""

    room_id: str = attrs.field(validator=attrs.validators.min_len(1))
    room_name: str
    room_detail: str | None = None
    note: str | None = None
    tag_id: str | None = None
    limit_count: int = 99999999
    approve: bool = False


DEFAULT_ROOMS: Final = (
    Room("5c121cfd7453ed63750a9767", "冥王星1号", "A栋-3F", limit_count=8),
    Room("5c121cfd7453ed63750a9768", "冥王星2号", "A栋-3F", limit_count=12),
    Room("5c121cfd7453ed63750a9769", "23F会议室", "B栋-23F", limit_count=30),
    Room("5c121cfd7453ed63750a976a", "云8会议室", "C栋-8F", limit_count=20, approve=True),
)
"""Four rooms, so a test books one and sees three free."""


def catalogue(rooms: Iterable[Room] | None) -> Mapping[str, Room]:
    """``rooms`` (``DEFAULT_ROOMS`` when None) by id, in the order given; a repeated id is a
    ``ValueError``."""
    found: dict[str, Room] = {}
    for room in DEFAULT_ROOMS if rooms is None else rooms:
        if not isinstance(room, Room):
            raise TypeError(f"rooms must be Room objects, not {type(room).__name__}")
        if room.room_id in found:
            raise ValueError(f"room id {room.room_id!r} is given twice")
        found[room.room_id] = room
    return found
