"""The fake's route table covers every endpoint the SDK knows."""

from __future__ import annotations

import pytest

from yzj_meeting import auth
from yzj_meeting.endpoints import ENDPOINTS
from yzj_meeting.fake import FakeService
from yzj_meeting.fake.wire import ROUTES, find_route

SDK_PATHS = frozenset((*(e.path for e in ENDPOINTS), auth.GET_TOKEN_PATH, auth.REFRESH_TOKEN_PATH))


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
