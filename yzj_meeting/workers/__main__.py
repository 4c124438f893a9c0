"""``python -m yzj_meeting.workers``: the worker commands."""

import sys

try:
    import click  # noqa: F401
except ImportError:
    print("the worker commands need click: pip install 'yzj-meeting[cli]'", file=sys.stderr)
    raise SystemExit(2) from None

from .cli import main

main()
