"""Run the benchmark suite: ``python -m benchmarks`` or ``python benchmarks/run.py``.

``--quick`` is a one-minute pass (fewer rounds and calls); the full run takes several minutes.
The report goes to stdout and to ``benchmarks/RESULTS.md``; ``--json FILE`` keeps the raw
numbers. Before/after: ``--versus TREE`` measures the SDK of another work tree (a checkout from
before a change) beside this one's in the same run, alternating, in the sections a change to the
SDK moves (1, 2, 4); ``--compare FILE`` (an earlier ``--json`` file) puts that run's targets
beside this run's.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # ``python benchmarks/run.py``: import the package beside us
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import memory, overhead, pacing, scaling, startup, throughput, tokens
from benchmarks._common import ROOT, BenchError, Section, Versus, log, machine, md_table

SECTIONS = {
    "throughput": throughput.run,
    "overhead": overhead.run,
    "tokens": tokens.run,
    "memory": memory.run,
    "pacing": pacing.run,
    "scaling": scaling.run,
    "startup": startup.run,
}


def main(argv: list[str] | None = None) -> None:
    """Parse the command line, run the sections, print and write the report."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description="Benchmark yzj_meeting; write RESULTS.md."
    )
    parser.add_argument(
        "sections", nargs="*", metavar="SECTION", help="sections to run (like --only)"
    )
    parser.add_argument("--quick", action="store_true", help="a one-minute pass")
    parser.add_argument(
        "--only",
        metavar="NAMES",
        help="comma-separated sections to run: " + ", ".join(SECTIONS),
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=ROOT / "benchmarks" / "RESULTS.md",
        help="where to write the report (default benchmarks/RESULTS.md)",
    )
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the raw numbers")
    parser.add_argument(
        "--compare", type=Path, metavar="FILE", help="an earlier --json file: targets side by side"
    )
    parser.add_argument(
        "--versus",
        type=Path,
        metavar="TREE",
        help="also measure the SDK of another work tree (e.g. a checkout before a change) in "
        "sections 1, 2 and 4, alternating with this one's",
    )
    parser.add_argument("--versus-label", default="", help="what --versus TREE is")
    parser.add_argument("--label", default="", help="a note on what was measured")
    args = parser.parse_args(argv)

    chosen = [n.strip() for n in (args.only or "").split(",") if n.strip()] + args.sections
    names = chosen or list(SECTIONS)
    unknown = [n for n in names if n not in SECTIONS]
    if unknown:
        parser.error(f"unknown sections: {', '.join(unknown)}")
    command = "python -m benchmarks" + "".join(
        f" {shlex.quote(a)}" for a in (sys.argv[1:] if argv is None else argv)
    )
    versus = None
    if args.versus is not None:
        tree = args.versus.resolve()
        if not (tree / "yzj_meeting" / "__init__.py").is_file():
            parser.error(f"--versus {tree}: no yzj_meeting package there")
        versus = Versus(tree, args.versus_label or f"`{tree.name}` tree")
    started = time.monotonic()
    info = machine()
    sections: list[Section] = []
    for name in names:
        log(f"[{name}]")
        t0 = time.monotonic()
        try:
            section = SECTIONS[name](args.quick, versus)
        except BenchError as exc:
            section = Section(name, name, lines=[f"**Did not run:** {exc}"])
            log(f"  FAILED: {exc}")
        section.seconds = time.monotonic() - t0
        sections.append(section)
    elapsed = time.monotonic() - started
    compare = json.loads(args.compare.read_text()) if args.compare else None
    report = render(info, command, args.quick, sections, elapsed, args.label, compare)
    print(report)
    if not args.no_write:
        args.output.write_text(report, encoding="utf-8")
        log(f"wrote {args.output}")
    if args.json:
        raw = {
            "machine": info,
            "command": command,
            "quick": args.quick,
            "label": args.label,
            "sections": {s.key: s.data for s in sections},
            "targets": {s.key: [[t.name, t.measured, t.met] for t in s.targets] for s in sections},
        }
        args.json.write_text(json.dumps(raw, indent=1, default=str), encoding="utf-8")
        log(f"wrote {args.json}")


def render(
    info: dict[str, Any],
    command: str,
    quick: bool,
    sections: list[Section],
    elapsed: float,
    label: str,
    compare: dict[str, Any] | None,
) -> str:
    """The Markdown report."""
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    out = [
        "# yzj_meeting benchmarks",
        "",
        f"Generated by `{command}` ({'quick pass' if quick else 'full run'}, "
        f"{elapsed / 60:.1f} min). Regenerate with the same command from the repository root.",
        "",
        f"- **Date:** {info['date']}; commit `{info['commit']}`" + (f"; {label}" if label else ""),
        f"- **Machine:** {info['cpu']}, {info['cores']} cores"
        + (f" ({info['affinity']} usable)" if info["affinity"] != info["cores"] else "")
        + f", {info['memory']} RAM, {info['os']}; shared and noisy, so each figure is a median "
        "and each comparison a ratio of medians from the same run",
        f"- **Python:** {info['python']}",
        f"- **Versions:** {versions}",
        "",
        "## Targets",
        "",
    ]
    if (ROOT / "benchmarks" / "PROFILE.md").is_file():
        out[-2:-2] = [
            "What the profiles showed, and the SDK changes measured against these targets: "
            "[PROFILE.md](PROFILE.md).",
            "",
        ]
    rows = []
    for section in sections:
        for t in section.targets:
            rows.append(
                [
                    section.title.split(" ", 1)[0].rstrip("."),
                    t.name,
                    t.goal,
                    t.measured,
                    "met" if t.met else "**MISSED**",
                    t.margin,
                ]
            )
    out += md_table(["§", "target", "goal", "measured", "", "margin"], rows)
    if compare is not None:
        out += ["", *side_by_side(compare, label, sections)]
    for section in sections:
        out += ["", f"## {section.title}", "", *section.lines]
    out += [
        "",
        "<!-- section times: " + ", ".join(f"{s.key} {s.seconds:.0f}s" for s in sections) + " -->",
        "",
    ]
    return "\n".join(out)


def side_by_side(other: dict[str, Any], label: str, sections: list[Section]) -> list[str]:
    """The targets of an earlier ``--json`` run beside this run's."""
    theirs = other.get("label") or "earlier run"
    out = [
        f"### This run beside {theirs} (`{other.get('command')}`, {other['machine']['date']}, "
        f"commit `{other['machine']['commit']}`)",
        "",
        "Each row compares two runs; the ratios inside each run are same-run medians.",
        "",
    ]
    rows = []
    for section in sections:
        earlier = {
            name: (measured, met)
            for name, measured, met in other.get("targets", {}).get(section.key, [])
        }
        for t in section.targets:
            old = earlier.get(t.name)
            rows.append(
                [
                    t.name,
                    f"{t.measured} ({'met' if t.met else 'missed'})",
                    f"{old[0]} ({'met' if old[1] else 'missed'})" if old else "n/a",
                ]
            )
    return out + md_table(["target", f"this run{f' ({label})' if label else ''}", theirs], rows)


if __name__ == "__main__":
    main()
