"""The fake's route table covers every endpoint the SDK knows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import attrs
import pytest

from yzj_meeting import _operations, auth
from yzj_meeting.fake import FakeService
from yzj_meeting.fake.calendar import SHANGHAI
from yzj_meeting.fake.wire import ROUTES, find_route
from yzj_meeting.models import Repeat

START = datetime(2024, 3, 4, 10, tzinfo=SHANGHAI)
REQUIRED: dict[str, Any] = {
    "id": "5a67e08d00b0e8dfe4aab4fb",
    "openid": "5a67e08d00b0e8dfe4aab4fa",
    "title": "周会",
    "start_date": START,
    "end_date": START.replace(hour=11),
    "repeat": Repeat(1),
    "repeat_end_date": START.replace(day=8),
    "day": date(2024, 3, 4),
}


def minimal(model_type: type) -> Any:
    """A request model with the fields of ``REQUIRED`` it has (a clear failure for a new one)."""
    names = [f.name for f in attrs.fields(model_type) if f.name in REQUIRED]
    try:
        return model_type(**{name: REQUIRED[name] for name in names})
    except Exception as error:  # a new required field: REQUIRED needs a value for it
        raise AssertionError(f"add to REQUIRED what {model_type.__name__} needs: {error}") from None


def sdk_meeting_paths() -> Iterator[str]:
    for model_type, builder in _operations.BUILDERS.items():
        yield builder(minimal(model_type)).path


# The one line to switch to the SDK's endpoint table at merge, e.g.
# SDK_PATHS = frozenset(endpoint.path for endpoint in ENDPOINTS)
SDK_PATHS = frozenset((*sdk_meeting_paths(), auth.GET_TOKEN_PATH, auth.REFRESH_TOKEN_PATH))


def test_the_sdk_knows_endpoints() -> None:
    assert len(SDK_PATHS) >= 9  # seven meeting endpoints and two token endpoints


@pytest.mark.parametrize("path", sorted(SDK_PATHS))
def test_every_sdk_endpoint_has_a_route(path: str) -> None:
    assert path in ROUTES, f"the fake has no route for {path}: add one to wire.ROUTES"
    route = ROUTES[path]
    assert route.token or route.apply is not None
    answer = FakeService(seed=1).handle("POST", path, {}, b"{}")
    assert answer.status == 200  # refused for the token or the body, but served


def test_routes_are_found_behind_a_prefix() -> None:
    for path, route in ROUTES.items():
        assert find_route(path) is route
        assert find_route("/proxy/yzj" + path) is route
    assert find_route("/gateway/cloudwork/meeting/nothing") is None
