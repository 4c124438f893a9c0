"""The worker commands under click: exit 2 on bad input (nothing enqueued), status text."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from yzj_meeting.workers.cli import group

from .support import write_schedule


def test_bad_input_exits_2_without_a_traceback(pg_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    bad = tmp_path / "bad.json"
    bad.write_text('[{"key": "a"}]')
    result = runner.invoke(group(), ["enqueue", str(bad), "--eid", "e1", "--database", pg_url])
    assert result.exit_code == 2
    assert "bad.json" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(group(), ["status", "--database", "mysql://x"])
    assert result.exit_code == 2
    assert "database" in result.output


def test_migrate_enqueue_status(pg_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    schedule = write_schedule(tmp_path / "e1.json", "e1", 2)
    result = runner.invoke(group(), ["journal", "migrate", "--database", pg_url])
    assert result.exit_code == 0, result.output
    assert "schema version" in result.output
    args = ["enqueue", str(schedule), "--eid", "e1", "--database", pg_url]
    assert "queued job" in runner.invoke(group(), args).output
    assert "already queued" in runner.invoke(group(), args).output
    result = runner.invoke(group(), ["status", "--database", pg_url])
    assert result.exit_code == 0
    assert "e1: last run never" in result.output
    assert "queued 1" in result.output
