"""Start-up behaviour (not timing): what ``import yzj_meeting`` and ``yzj-meeting --help`` load."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest

from yzj_meeting.cli._main import COMMANDS, cli

HEAVY = ("aiohttp", "procrastinate", "psycopg", "rich", "yzj_meeting.fake", "yzj_meeting.sync")


def _loaded_after(code: str) -> tuple[str, list[str]]:
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    *out, modules = proc.stdout.strip().splitlines()
    return "\n".join(out), json.loads(modules)


def _heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if m.startswith(HEAVY)]


def test_help_lists_every_command_without_importing_the_heavy_packages() -> None:
    out, modules = _loaded_after(
        "import sys\nsys.argv = ['yzj-meeting', '--help']\nfrom yzj_meeting.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass"
    )
    listed = out.split("Commands:", 1)[1].split()
    assert set(COMMANDS) <= set(listed)
    assert _heavy(modules) == []
    assert "yzj_meeting.client" not in modules


def test_importing_the_sdk_loads_neither_aiohttp_nor_the_emulator_nor_the_engine() -> None:
    _, modules = _loaded_after("from yzj_meeting import MeetingClient, CreateMeeting, Credentials")
    assert "yzj_meeting.client" in modules
    assert _heavy(modules) == []


def test_the_first_client_still_loads_no_aiohttp_until_a_request() -> None:
    _, modules = _loaded_after(
        "from yzj_meeting import MeetingClient, Credentials\n"
        "MeetingClient(credentials=Credentials(eid='e', secret='s'))"
    )
    assert _heavy(modules) == []


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_listed_help_is_the_commands_own(name: str) -> None:
    command = cli.get_command(click.Context(cli), name)
    assert command is not None
    if command.help == "(needs the workers extra)":
        pytest.skip("the workers extra is not installed")
    assert (command.help or "").split("\n\n")[0].strip() == COMMANDS[name][2]


def test_every_command_is_listed() -> None:
    assert set(cli.list_commands(click.Context(cli))) == set(COMMANDS)
