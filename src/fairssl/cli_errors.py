"""How the ``fairssl`` command fails: every failure is one line on stderr, never a traceback.

:func:`user_errors` wraps each command: a :class:`fairssl.errors.FairsslError` prints ``error: <message>``
and exits with the error's code; an operating-system error prints :func:`fairssl.os_errors.os_error_line`
and exits 2; Ctrl-C exits 130; anything else is a bug: ``error: internal error (...)``, exit 1, with the
traceback written to ``fairssl-error.log`` (:data:`LOG_NAME`) in the command's run folder when known
(:func:`note_run_folder`), else to a temp file. With ``FAIRSSL_DEBUG=1`` it is raised as it is.
"""

from __future__ import annotations

import contextvars
import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer

from fairssl.cli_output import err
from fairssl.errors import FairsslError
from fairssl.os_errors import os_error_line, sqlite_error_line

F = TypeVar("F", bound=Callable[..., Any])


_run_folder: contextvars.ContextVar[Path | None] = contextvars.ContextVar("fairssl_run_folder", default=None)
"""The run folder of the current command, once known: where an internal error's log goes."""

LOG_NAME = "fairssl-error.log"


def _write_crash_log(exc: BaseException) -> Path | None:
    """The traceback of an unexpected error, written to the run folder (when known and writable) or a
    temp file; None when neither can be written."""
    import tempfile
    import time
    import traceback

    from fairssl import __version__

    text = (
        f"fairssl {__version__}, Python {sys.version.split()[0]}, {time.strftime('%Y-%m-%d %H:%M:%S')}\n"
        f"command: {' '.join(sys.argv)}\n\n"
        + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    )
    folder = _run_folder.get()
    if folder is not None and folder.is_dir():
        try:
            (folder / LOG_NAME).write_text(text, encoding="utf-8")
            return folder / LOG_NAME
        except OSError:
            pass
    try:
        fd, name = tempfile.mkstemp(prefix="fairssl-error-", suffix=".log")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        return Path(name)
    except OSError:
        return None


def _fail(line: str, code: int) -> typer.Exit:
    err.print(f"[bold red]error:[/] {line}", highlight=False, soft_wrap=True, markup=True)
    return typer.Exit(code)


def _internal_error(exc: BaseException) -> typer.Exit:
    summary = " ".join(f"{type(exc).__name__}: {exc}".split())
    summary = summary if len(summary) <= 200 else summary[:197] + "..."
    log = _write_crash_log(exc)
    where = f"the traceback is in {log}" if log is not None else "no log could be written"
    return _fail(f"internal error ({_escape(summary)}); {where}; please report it with that file", 1)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def user_errors(fn: F) -> F:
    """One line on stderr for every failure: a FairsslError's message and exit code; an OSError as
    :func:`os_error_line` (exit 2); Ctrl-C exit 130; anything else an internal error (exit 1, traceback
    in a log file)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token = _run_folder.set(None)
        try:
            return fn(*args, **kwargs)
        except FairsslError as exc:
            raise _fail(_escape(str(exc)), exc.exit_code) from None
        except KeyboardInterrupt:
            err.print("interrupted: finished runs are kept; run the same command again to resume")
            raise typer.Exit(130) from None
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except OSError as exc:
            line = os_error_line(exc)
            raise (_fail(_escape(line), 2) if line is not None else _internal_error(exc)) from None
        except Exception as exc:
            if os.environ.get("FAIRSSL_DEBUG"):  # developers: the traceback itself
                raise
            line = sqlite_error_line(exc, _run_folder.get())
            raise (_fail(_escape(line), 2) if line is not None else _internal_error(exc)) from None
        finally:
            _run_folder.reset(token)

    return wrapper  # type: ignore[return-value]


def note_run_folder(path: Path) -> None:
    """Remember the command's run folder (where an internal error's log will go)."""
    _run_folder.set(Path(path))
