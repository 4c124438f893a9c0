"""What the commands share: the target options, errors as exit codes, the consoles."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Coroutine, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from rich.console import Console

from ..errors import OutcomeUnknownError, ValidationError, YzjError
from ..sync import IncompleteCredentials, Problem, StateLocked, Target, resolve_target
from ..sync.lock import DEFAULT_LOCK_TIMEOUT
from ..sync.target import DEFAULT_STATE_DIR

__all__ = [
    "err",
    "fail_input",
    "lock_option",
    "out",
    "resolve",
    "run",
    "say",
    "target_options",
]

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

_CREDENTIAL_OPTIONS = {"eid": "--eid/YZJ_EID", "secret": "--secret/YZJ_SECRET"}


def out() -> Console:
    """The console for results (stdout)."""
    return Console(soft_wrap=False, highlight=False)


def err() -> Console:
    """The console for progress (stderr)."""
    return Console(stderr=True, soft_wrap=True, highlight=False)


def say(message: str) -> None:
    """One line on stderr."""
    click.echo(message, err=True)


_TARGET_OPTIONS = (
    click.option("--eid", envvar="YZJ_EID", help="Workspace eid [env YZJ_EID]."),
    click.option(
        "--secret",
        envvar="YZJ_SECRET",
        help="Resource authorisation secret [env YZJ_SECRET]; prefer the variable.",
    ),
    click.option(
        "--base-url",
        envvar="YZJ_BASE_URL",
        help="Service base URL [env YZJ_BASE_URL; default https://www.yunzhijia.com].",
    ),
    click.option(
        "--state-dir",
        envvar="YZJ_STATE_DIR",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path(DEFAULT_STATE_DIR),
        show_default=True,
        help="Where the sync journal (and the emulator's meetings) are kept.",
    ),
)


def target_options(fn: F) -> F:
    """``--eid``, ``--secret``, ``--base-url``, ``--state-dir``."""
    for option in reversed(_TARGET_OPTIONS):
        fn = option(fn)
    return fn


lock_option = click.option(
    "--lock-timeout",
    envvar="YZJ_LOCK_TIMEOUT",
    type=click.FloatRange(0, 3600),
    default=DEFAULT_LOCK_TIMEOUT,
    show_default=True,
    help="Seconds to wait while another command uses the state directory.",
)
"""``--lock-timeout``, for the commands that write the state directory."""


def resolve(
    eid: str | None,
    secret: str | None,
    base_url: str | None,
    state_dir: Path,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> Target:
    """The target of the options (click has read the environment); usage errors exit 2."""
    try:
        target = resolve_target(
            eid=eid,
            secret=secret,
            base_url=base_url,
            state_dir=state_dir,
            environ={},
            lock_timeout=lock_timeout,
        )
    except IncompleteCredentials as exc:
        missing = " and ".join(_CREDENTIAL_OPTIONS[m] for m in exc.missing)
        raise click.UsageError(f"credentials are incomplete: give {missing} as well") from None
    except ValidationError as exc:
        raise click.BadParameter(exc.message, param_hint="--base-url") from None
    if target.emulator:
        say(
            "yzj-meeting: no credentials (YZJ_EID, YZJ_SECRET, YZJ_BASE_URL); using the "
            f"embedded emulator, state in {state_dir}{os.sep}"
        )
    return target


def fail_input(problems: Sequence[Problem], names: Callable[[Problem], str] | None) -> NoReturn:
    """Report every problem of the input, one a line, and exit 2."""
    for problem in problems:
        say(f"{names(problem)}: {problem.message}" if names else str(problem))
    n = len(problems)
    say(f"yzj-meeting: {n} problem{'s' if n != 1 else ''}; nothing was sent")
    raise SystemExit(2)


@contextlib.contextmanager
def _service_errors() -> Iterator[None]:
    try:
        yield
    except StateLocked as exc:
        say(f"yzj-meeting: {exc}")
        raise SystemExit(2) from None
    except OutcomeUnknownError as exc:
        say(
            f"error: {exc.__cause__ or exc}; the meeting may or may not have been created: "
            "look with `yzj-meeting day DATE` before trying again"
        )
        raise SystemExit(1) from None
    except ValidationError as exc:
        say(f"error: {exc}")
        raise SystemExit(2) from None
    except (YzjError, OSError) as exc:  # OSError: the state directory or the journal file
        say(f"error: {exc}")
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        say("interrupted: run the command again to finish (nothing is done twice)")
        raise SystemExit(130) from None


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine``; the SDK's errors become one line on stderr and an exit status."""
    with _service_errors():
        return asyncio.run(coroutine)
