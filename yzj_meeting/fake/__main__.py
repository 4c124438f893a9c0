"""``python -m yzj_meeting.fake --port 8080``: serve the fake meeting service over HTTP."""

from .server import main

main()
