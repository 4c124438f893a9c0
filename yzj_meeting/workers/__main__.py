"""``python -m yzj_meeting.workers``: the worker commands."""

from .cli import main

main()
