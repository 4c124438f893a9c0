"""Section 6: start-up. Fresh interpreters, best of N (start-up is a floor: noise only adds).

``import yzj_meeting`` and the SDK's names (``from yzj_meeting import MeetingClient, ...``, what a
program does) are timed inside the interpreter around the import; ``yzj-meeting --help`` is
the whole process, as a user waits for it, beside an interpreter that does nothing.
"""

from __future__ import annotations

import subprocess
import sys
import time

from ._common import ROOT, Section, Target, child_env, fmt, log, md_table

IMPORTS = {
    "import yzj_meeting": "import yzj_meeting",
    "from yzj_meeting import MeetingClient, CreateMeeting, Credentials": (
        "from yzj_meeting import MeetingClient, CreateMeeting, Credentials"
    ),
    "... and the first MeetingClient (imports aiohttp)": (
        "from yzj_meeting import MeetingClient, Credentials\n"
        "MeetingClient(credentials=Credentials(eid='e', secret='s'))"
    ),
}
_TIMED = "import time\nt0 = time.perf_counter()\n{code}\nprint((time.perf_counter() - t0) * 1000)"
_LEAKS = ("aiohttp", "procrastinate", "rich", "yzj_meeting.fake", "yzj_meeting.sync")


def _inside(code: str) -> float:
    proc = subprocess.run(
        [sys.executable, "-c", _TIMED.format(code=code)],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    return float(proc.stdout.strip().splitlines()[-1])


def _process(argv: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, env=child_env(), capture_output=True, check=True)
    return (time.perf_counter() - t0) * 1000


def _loaded(code: str) -> list[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    proc = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=child_env(), capture_output=True, text=True
    )
    names = proc.stdout.split()
    return sorted(
        {n.split(".")[0] if not n.startswith("yzj") else n for n in names if n.startswith(_LEAKS)}
    )


def run(quick: bool, versus: object = None) -> Section:
    """Best of N of each start-up; targets for ``import yzj_meeting`` and ``--help``."""
    n = 5 if quick else 15
    section = Section("startup", "7. Start-up")
    help_argv = [sys.executable, "-m", "yzj_meeting.cli", "--help"]
    best: dict[str, float] = {}
    for _ in range(n):
        for label, code in IMPORTS.items():
            best[label] = min(best.get(label, float("inf")), _inside(code))
        for label, argv in (
            ("python -c pass (the interpreter alone)", [sys.executable, "-c", "pass"]),
            ("yzj-meeting --help (whole process)", help_argv),
        ):
            best[label] = min(best.get(label, float("inf")), _process(argv))
    log("  " + ", ".join(f"{k}: {v:.0f} ms" for k, v in best.items()))
    help_code = (
        "import sys\nsys.argv = ['yzj-meeting', '--help']\nfrom yzj_meeting.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass"
    )
    leaks = {label: _loaded(code) for label, code in IMPORTS.items()}
    leaks["yzj-meeting --help (whole process)"] = _loaded(help_code)
    section.lines += [
        f"Best of {n} fresh interpreters each. Imports are timed inside the interpreter around "
        "the import; `--help` is the whole process (`python -m yzj_meeting.cli --help`), "
        "interpreter start-up included. *Also loaded* lists the heavy or optional packages "
        "found in `sys.modules` afterwards.",
        "",
        *md_table(
            ["what", "ms (best)", "also loaded"],
            [[k, fmt(v, 1), ", ".join(leaks.get(k, [])) or "-"] for k, v in best.items()],
        ),
    ]
    imp, hlp = best["import yzj_meeting"], best["yzj-meeting --help (whole process)"]
    section.targets += [
        Target(
            "`import yzj_meeting`", "<= 120 ms", f"{imp:.1f} ms", imp <= 120, f"{120 - imp:+.0f} ms"
        ),
        Target(
            "`yzj-meeting --help`, whole process",
            "<= 200 ms",
            f"{hlp:.1f} ms",
            hlp <= 200,
            f"{200 - hlp:+.0f} ms",
        ),
    ]
    section.data = {"best_ms": best, "loaded": leaks}
    return section
