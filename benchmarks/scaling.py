"""Section 6: the sync at scale - 200 / 2,000 / 20,000 meetings on the embedded emulator.

Each run is ``yzj-meeting sync FILE --json`` (the click command itself, in process) in a fresh
interpreter, so its peak RSS (``ru_maxrss``) is its own; wall and CPU (user + system, every
thread: the journal's, the emulator's change log) are taken around the command, the imports
left out. For each size, in one state directory: the first run (every meeting created), an
unchanged re-run (nothing sent) and a run after 10% of the titles were edited (a modify each).
The quota is scaled out (``--calls-per-minute``) so the first run measures the code, not the
1,500-per-minute quota of the real service.

The schedule is a realistic mix: one meeting in 20 a weekly series of 8 occurrences, 0-4
attendees, a description on one in three, spread over a year. Every figure is one run
(the runs are long and their ratios large); ``python -m benchmarks.scaling --profile DIR``
writes a cProfile of each run instead (slower; for finding what dominates).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import Section, Target, Versus, fmt, log, md_table, ratio, run_child

SIZES = (200, 2_000, 20_000)
QUICK_SIZES = (200, 2_000)
REFERENCE = 2_000  # the size whose CPU per meeting the larger runs are held to
QUOTA = 1_000_000  # calls per minute: scaled out
RUNS = ("first", "unchanged", "edited")
EDIT_EVERY = 10  # one title in ten changes for the edited run
SERIES_EVERY = 20
OPENIDS = [f"5d9c2e7be4b0a8c3f0e1{n:04d}" for n in range(40)]


def schedule(n: int, edited: bool = False) -> list[dict[str, Any]]:
    """``n`` meetings as a JSON schedule holds them (``edited``: every tenth title changed)."""
    base = datetime.fromisoformat("2030-01-07T09:00:00+08:00")
    out = []
    for i in range(n):
        start = base + timedelta(days=i % 365, minutes=30 * ((i // 365) % 18))
        item: dict[str, Any] = {
            "key": f"bench-{i:06d}",
            "openid": OPENIDS[i % len(OPENIDS)],
            "title": f"Meeting {i}" + (" (moved)" if edited and i % EDIT_EVERY == 0 else ""),
            "start": start.isoformat(),
            "end": (start + timedelta(minutes=30)).isoformat(),
        }
        if i % 5:
            item["attendees"] = [OPENIDS[(i + k) % len(OPENIDS)] for k in range(1, 1 + i % 5)]
        if i % 3 == 0:
            item["content"] = "Agenda: status, risks, next steps"
        if i % 4 == 0:
            item["reminder"] = 15
        if i % SERIES_EVERY == 0:
            item["repeat"] = "weekly"
            item["repeat_until"] = (start + timedelta(weeks=7)).date().isoformat()
        out.append(item)
    return out


def write_schedule(path: Path, n: int, edited: bool = False) -> None:
    """The schedule as a pretty-printed JSON file (one field a line, as people write them)."""
    path.write_text(json.dumps(schedule(n, edited), indent=2, ensure_ascii=False), "utf-8")


FORMATS = ("json", "jsonl", "csv", "ics")
_CSV_FIELDS = ("key", "openid", "title", "start", "end", "attendees", "content", "reminder")
_CSV_FIELDS += ("repeat", "repeat_until")


def write_formats(folder: Path, n: int) -> dict[str, Path]:
    """The same ``n`` meetings as a JSON, JSONL, CSV and ICS schedule."""
    items = schedule(n)
    paths = {f: folder / f"schedule-{n}.{f}" for f in FORMATS}
    paths["json"].write_text(json.dumps(items, indent=2), "utf-8")
    paths["jsonl"].write_text("\n".join(json.dumps(i) for i in items) + "\n", "utf-8")
    with paths["csv"].open("w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, _CSV_FIELDS)
        writer.writeheader()
        for item in items:
            writer.writerow({**item, "attendees": ";".join(item.get("attendees", []))})
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//yzj_meeting benchmarks//EN"]
    for item in items:
        start, end = (item[k][:19].replace("-", "").replace(":", "") for k in ("start", "end"))
        lines += ["BEGIN:VEVENT", f"UID:{item['key']}", f"SUMMARY:{item['title']}"]
        lines += [f"DTSTART;TZID=Asia/Shanghai:{start}", f"DTEND;TZID=Asia/Shanghai:{end}"]
        lines += [f"ORGANIZER:{item['openid']}"]
        lines += [f"ATTENDEE:{a}" for a in item.get("attendees", [])]
        if "repeat" in item:
            lines.append("RRULE:FREQ=WEEKLY;COUNT=8")
        lines.append("END:VEVENT")
    paths["ics"].write_text("\r\n".join([*lines, "END:VCALENDAR"]) + "\r\n", "utf-8")
    return paths


def measure_read(args: dict[str, Any]) -> dict[str, Any]:
    """In the child: ``load_schedule`` of one file; CPU seconds and the entries read."""
    from yzj_meeting.sync import load_schedule

    t0 = time.process_time()
    entries = load_schedule(args["file"])
    return {"cpu": time.process_time() - t0, "entries": len(entries)}


def read_formats(sizes: Sequence[int]) -> dict[str, dict[str, float]]:
    """CPU of reading each format at each size (a fresh interpreter each)."""
    out: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="yzj-read-") as tmp:
        for n in sizes:
            for fmt_name, path in write_formats(Path(tmp), n).items():
                try:
                    result = run_child("scaling", "measure_read", {"file": str(path)}, timeout=600)
                except Exception as exc:  # e.g. the ics extra is missing
                    log(f"  reading {n} {fmt_name}: {exc}")
                    continue
                out.setdefault(fmt_name, {})[str(n)] = result["cpu"]
                log(f"  read {n:>6,} {fmt_name:<5} cpu {result['cpu']:6.2f} s")
    return out


def measure(args: dict[str, Any]) -> dict[str, Any]:
    """In the child: one ``yzj-meeting sync FILE --json``; wall, CPU, peak RSS, counts."""
    from yzj_meeting.cli.sync import sync

    argv = [args["file"], "--json", "--state-dir", args["state_dir"]]
    argv += ["--calls-per-minute", str(args.get("quota", QUOTA))]
    profile = args.get("profile")
    stdout, stderr = io.StringIO(), io.StringIO()
    code: object = 0
    before = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        profiler = None
        if profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        try:
            sync.main(argv, prog_name="yzj-meeting sync", standalone_mode=False)
        except SystemExit as exc:
            code = exc.code
        finally:
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(profile)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_SELF)
    if code not in (0, None):
        raise RuntimeError(f"sync exited {code}: {stderr.getvalue()[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    counts = json.loads(stdout.getvalue().strip().splitlines()[-1])
    return {"wall": wall, "cpu": cpu, "rss_mb": after.ru_maxrss / 1024, "counts": counts}


def run_size(n: int, profile_dir: Path | None = None) -> dict[str, dict[str, Any]]:
    """The three runs of one size, in a fresh state directory."""
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="yzj-scale-") as tmp:
        folder = Path(tmp)
        file = folder / "schedule.json"
        write_schedule(file, n)
        for name in RUNS:
            if name == "edited":
                write_schedule(file, n, edited=True)
            args: dict[str, Any] = {"file": str(file), "state_dir": str(folder / "state")}
            if profile_dir is not None:
                args["profile"] = str(profile_dir / f"{n}-{name}.prof")
            result = run_child("scaling", "measure", args, timeout=3600)
            _check(n, name, result["counts"])
            results[name] = result
            log(
                f"  {n:>6,} {name:<9} wall {result['wall']:7.2f} s  cpu {result['cpu']:7.2f} s"
                f"  rss {result['rss_mb']:6.1f} MB  {result['counts']}"
            )
    return results


def _check(n: int, name: str, counts: dict[str, int]) -> None:
    want = {
        "first": {"created": n},
        "unchanged": {"unchanged": n},
        "edited": {"modified": len(range(0, n, EDIT_EVERY)), "failed": 0},
    }[name]
    if any(counts.get(k) != v for k, v in want.items()):
        raise RuntimeError(f"{n} {name}: counts {counts}, expected {want}")


def run(quick: bool, versus: Versus | None = None) -> Section:
    """Every size, three runs each; the table and the targets."""
    del versus  # the scaling runs measure this tree only
    sizes = QUICK_SIZES if quick else SIZES
    data = {str(n): run_size(n) for n in sizes}
    reads = read_formats(sizes[-2:])
    return render(data, os.getloadavg(), reads)


def render(
    data: dict[str, Any],
    load_average: Sequence[float],
    reads: dict[str, dict[str, float]] | None = None,
) -> Section:
    """The section from the runs' numbers (``data``: size -> run -> figures; ``reads``:
    format -> size -> CPU seconds of reading)."""
    sizes = tuple(sorted(int(n) for n in data))
    section = Section("scaling", "6. Sync at scale")
    section.data = {"sizes": data, "load": list(load_average), "reads": reads or {}}
    rows = []
    for n in sizes:
        for name in RUNS:
            r = data[str(n)][name]
            rows.append(
                [
                    f"{n:,}",
                    name,
                    fmt(r["wall"], 2),
                    fmt(r["cpu"], 2),
                    fmt(r["cpu"] / n * 1e3, 3),
                    fmt(r["rss_mb"], 0),
                ]
            )
    load = ", ".join(f"{x:.2f}" for x in load_average)
    section.lines += [
        "`yzj-meeting sync FILE --json` on the embedded emulator, each run in a fresh "
        f"interpreter (imports not counted), quota scaled out to {QUOTA:,} calls per minute. "
        f"Schedule: one meeting in {SERIES_EVERY} a weekly series of 8, 0-4 attendees; runs "
        f"in one state directory: *first* (all created), *unchanged* (nothing sent), *edited* "
        f"(one title in {EDIT_EVERY} changed: a modify or batchModify each). CPU is user + "
        f"system of the whole process (journal thread and emulator included); RSS is the "
        f"process's peak. Load average (1, 5, 15 min) after the runs: {load} on "
        f"{os.cpu_count()} cores: when it is above the core count, wall time exceeds CPU time "
        "by the share other processes took, so CPU is the figure to compare.",
        "",
        *md_table(["meetings", "run", "wall s", "CPU s", "CPU ms / meeting", "peak RSS MB"], rows),
    ]
    if reads:
        read_sizes = sorted({int(n) for per in reads.values() for n in per})
        section.lines += [
            "",
            "Reading alone (`load_schedule`: the file checked and every entry built; CPU s, "
            "a fresh interpreter each), the same meetings in each format:",
            "",
            *md_table(
                ["format", *(f"{n:,}" for n in read_sizes), "µs / meeting (largest)"],
                [
                    [
                        name,
                        *(fmt(per.get(str(n), float("nan")), 2) for n in read_sizes),
                        fmt(per.get(str(read_sizes[-1]), float("nan")) / read_sizes[-1] * 1e6),
                    ]
                    for name, per in reads.items()
                ],
            ),
        ]
    _targets(section, data, sizes)
    return section


def _targets(section: Section, data: dict[str, Any], sizes: tuple[int, ...]) -> None:
    big = max(sizes)
    if big == REFERENCE:
        return
    runs = data[str(big)]
    wall, cpu = runs["unchanged"]["wall"], runs["unchanged"]["cpu"]
    section.targets.append(
        Target(
            f"{big:,} unchanged re-run (wall; CPU beside it)",
            "<= 3 s",
            f"{wall:.2f} s (CPU {cpu:.2f} s)",
            wall <= 3.0,
            f"{3.0 - wall:+.2f} s",
        )
    )
    for name in ("edited", "first"):
        per = [data[str(n)][name]["cpu"] / n for n in (REFERENCE, big)]
        k = ratio(per[1], per[0])
        section.targets.append(
            Target(
                f"{big:,} {name} run, CPU per meeting vs {REFERENCE:,}",
                "<= 1.5x",
                f"{k:.2f}x ({per[1] * 1e3:.3f} vs {per[0] * 1e3:.3f} ms)",
                k <= 1.5,
                f"{1.5 - k:+.2f}x",
            )
        )
    rss = max(r["rss_mb"] for r in runs.values())
    section.targets.append(
        Target(
            f"{big:,} peak RSS", "<= 150 MB", f"{rss:.0f} MB", rss <= 150, f"{150 - rss:+.0f} MB"
        )
    )


def main() -> None:
    """``python -m benchmarks.scaling [--quick] [--sizes N,N] [--profile DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scaling")
    parser.add_argument("--quick", action="store_true", help=f"sizes {QUICK_SIZES}")
    parser.add_argument("--sizes", help="comma-separated meeting counts")
    parser.add_argument("--profile", type=Path, metavar="DIR", help="write N-RUN.prof files")
    args = parser.parse_args()
    sizes = QUICK_SIZES if args.quick else SIZES
    if args.sizes:
        sizes = tuple(int(s) for s in args.sizes.split(","))
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    for n in sizes:
        run_size(n, args.profile.resolve() if args.profile else None)


if __name__ == "__main__":
    main()
