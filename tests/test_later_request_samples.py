"""The later docs' create/modify/repeatMeeting/batchModify requests (``*.later.request.json``,
with the newer fields ``noticeTimes`` and ``meetOrganizers``): sample -> model -> wire body is
the sample, field for field and type for type (one normalisation: ``"repeat": "1"`` is sent as
the int, as for the seed's batchModify)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from yzj_meeting import BatchModify, CreateMeeting, ModifyMeeting, RepeatMeeting
from yzj_meeting._convert import converter
from yzj_meeting._operations import (
    build_batch_modify,
    build_create,
    build_modify,
    build_repeat_meeting,
)

from .test_samples import typed

SAMPLES = Path(__file__).parent / "samples"
CASES: dict[str, tuple[type, Callable[[Any], Any]]] = {
    "create": (CreateMeeting, build_create),
    "modify": (ModifyMeeting, build_modify),
    "repeatMeeting": (RepeatMeeting, build_repeat_meeting),
    "batchModify": (BatchModify, build_batch_modify),
}


@pytest.mark.parametrize("endpoint", list(CASES))
def test_later_request_sample_round_trips(endpoint: str) -> None:
    cls, builder = CASES[endpoint]
    sample = json.loads((SAMPLES / f"{endpoint}.later.request.json").read_bytes())
    model = converter.structure(sample, cls)
    sent = json.loads(builder(model).body)
    expected = dict(sample)
    if expected.get("repeat") == "1":
        expected["repeat"] = 1
    assert typed(sent) == typed(expected)
    assert model.notice_times == (5, 15, 60)
    assert model.meet_organizers == ("5a67e08d00b0e8dfe4aab4fa",)
