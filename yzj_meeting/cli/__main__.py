"""``python -m yzj_meeting.cli``."""

from . import main

main()
