"""The emulator server of the worker tests (``chaos_server.py`` in its own process) and what
the tests read from it: its request log and the meetings each tenant holds."""

from __future__ import annotations

import collections
import contextlib
import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


@contextlib.contextmanager
def emulator_server(faults: dict[str, Any], **options: Any) -> Iterator[str]:
    """An emulator server with ``faults`` (``Faults`` fields) and ``FakeService`` ``options``
    (e.g. ``token_ttl``); yields its base URL, stops it after."""
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "chaos_server.py"), json.dumps(faults), json.dumps(options)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.load(answer)


def request_log(base_url: str) -> list[list[Any]]:
    """Every request the emulator received: ``[arrived (epoch s), sender, endpoint, title]``."""
    return [row[:4] for row in token_log(base_url)]


def token_log(base_url: str) -> list[list[Any]]:
    """``request_log`` with a 5th field: a digest of the token the request presented (a call)
    or was answered (a token request; ``None`` when refused)."""
    found: list[list[Any]] = get_json(f"{base_url}/_chaos/log")
    return found


def desired(paths: dict[str, Path]) -> dict[str, list[str]]:
    """Per tenant, the titles its schedule file asks for."""
    return {
        eid: sorted(r["title"] for r in json.loads(path.read_text())) for eid, path in paths.items()
    }


def held(base_url: str) -> dict[str, list[str]]:
    """Per tenant (the title's first word), the titles of its live meetings, one per series."""
    seen: dict[str, str] = {}
    for m in get_json(f"{base_url}/_chaos/meetings"):
        if m["status"] != 2:
            seen.setdefault(m["batch"] or m["id"], m["title"])
    found: dict[str, list[str]] = collections.defaultdict(list)
    for title in seen.values():
        found[title.split(" ", 1)[0]].append(title)
    return {eid: sorted(titles) for eid, titles in found.items()}


def differences(have: dict[str, list[str]], want: dict[str, list[str]]) -> dict[str, Any]:
    """Per tenant whose meetings differ from its schedule: the extra and the missing titles."""
    wrong: dict[str, Any] = {}
    for eid, titles in want.items():
        got = collections.Counter(have.get(eid, []))
        wanted = collections.Counter(titles)
        if got != wanted:
            wrong[eid] = {
                "extra": sorted((got - wanted).elements()),
                "missing": sorted((wanted - got).elements()),
            }
    return wrong
