"""``fairssl data``: where to obtain each real cohort, whether a folder holds what its loader reads, and
(for the public ones) fetching their files.

``list`` prints addresses as text; only ``download`` touches the network (the logic, the file table
and the publishers' addresses are in :mod:`fairssl.data.download`; here it is only printed).

What each source needs is declared once, in its loader module (the one
:data:`fairssl.data.loaders.SOURCES` names), as two constants:

- ``OBTAIN``: ``{"title", "url", "access"}`` (access = licence / credentials needed);
- ``EXPECTED_FILES``: a tuple of requirements, each a dict with ``glob`` (folder-relative patterns,
  matched case-insensitively and tried in order: the first that matches anything is used), ``what``
  (a description), and optionally ``optional`` (True: its absence is not a problem), ``header`` (CSV
  columns the first line must hold, compared case-insensitively; comma, semicolon or tab separated),
  ``starts_with`` (the file's first bytes, ASCII) and ``first_line`` (a regular expression the first line
  must match).

``check`` looks at the first file a pattern matches (sorted by path) for the header/bytes checks and
reports the number and total size of all files it matches. A source whose loader module declares no
``EXPECTED_FILES`` (the simulator, generic arrays/long tables, saved folders) is not a real cohort and is
not listed.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from fairssl.cli_errors import user_errors
from fairssl.cli_output import err, out
from fairssl.errors import ConfigError

data_app = typer.Typer(
    no_args_is_help=True,
    help="Real cohorts: where to obtain each one (`data list`), whether a folder is complete "
    "(`data check`), and fetching the public ones (`data download`).",
)

_HEADER_BYTES = 65536


@dataclass(frozen=True)
class Found:
    """What ``check`` found for one requirement: the pattern used, the matched files, and the problem
    (``""`` when none) with the file it concerns."""

    requirement: dict[str, Any]
    pattern: str
    files: tuple[Path, ...]
    problem: str

    @property
    def size(self) -> int:
        return sum(f.stat().st_size for f in self.files)


def real_sources() -> dict[str, tuple[dict[str, str], tuple[dict[str, Any], ...]]]:
    """source -> (OBTAIN, EXPECTED_FILES) for every registered source whose loader module declares them."""
    from fairssl.data.loaders import SOURCES

    found: dict[str, tuple[dict[str, str], tuple[dict[str, Any], ...]]] = {}
    for source, (module_name, _, _) in SOURCES.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            continue
        obtain, expected = getattr(module, "OBTAIN", None), getattr(module, "EXPECTED_FILES", None)
        if obtain is not None and expected is not None:
            found[source] = (obtain, tuple(expected))
    return found


def _case_insensitive(pattern: str) -> str:
    """A glob pattern whose letters match either case: ``"ab*.csv"`` -> ``"[aA][bB]*.[cC][sS][vV]"``."""
    out_chars, in_class = [], False
    for ch in pattern:
        if ch == "[":
            in_class = True
        elif ch == "]":
            in_class = False
        out_chars.append(f"[{ch.lower()}{ch.upper()}]" if ch.isalpha() and not in_class else ch)
    return "".join(out_chars)


def _first_line(path: Path) -> str:
    with path.open("rb") as handle:
        head = handle.read(_HEADER_BYTES)
    return head.decode("utf-8-sig", errors="replace").splitlines()[0] if head.strip() else ""


def _content_problem(requirement: dict[str, Any], path: Path) -> str:
    """Why ``path`` is not the file ``requirement`` describes ("" when it is)."""
    if path.stat().st_size == 0:
        return "is empty"
    if "starts_with" in requirement:
        magic = requirement["starts_with"].encode("ascii")
        with path.open("rb") as handle:
            head = handle.read(len(magic))
        if head != magic:
            return f"does not start with {requirement['starts_with']!r} (got {head[:24]!r})"
    if "first_line" in requirement and path.suffix.lower() != ".gz":
        line = _first_line(path)
        if not re.match(requirement["first_line"], line):
            return (
                f"first line {line[:40]!r} does not match the expected layout ({requirement['first_line']})"
            )
    if "header" in requirement and path.suffix.lower() != ".gz":
        columns = {c.strip().strip('"').lower() for c in re.split(r"[,;\t]", _first_line(path))}
        missing = [c for c in requirement["header"] if c.lower() not in columns]
        if missing:
            return f"header lacks column(s) {', '.join(missing)}"
    return ""


def check_requirement(root: Path, requirement: dict[str, Any]) -> Found:
    """Match ``requirement`` in ``root`` and check the first matched file's content."""
    patterns = tuple(requirement["glob"])
    for pattern in patterns:
        files = tuple(sorted(p for p in root.glob(_case_insensitive(pattern)) if p.is_file()))
        if files:
            return Found(requirement, pattern, files, _content_problem(requirement, files[0]))
    missing = "" if requirement.get("optional") else f"missing: no file matches {' or '.join(patterns)}"
    return Found(requirement, patterns[0], (), missing)


def _size(n: int) -> str:
    """Bytes in decimal units: 98 -> "98 B", 1000 -> "1.0 KB", 2_500_000 -> "2.5 MB"."""
    if n < 1000:
        return f"{n} B"
    value = float(n)
    for unit in ("KB", "MB", "GB"):
        value /= 1000
        if value < 1000 or unit == "GB":
            break
    return f"{value:.1f} {unit}"


def _print(line: str, *, to_err: bool = False) -> None:
    (err if to_err else out).print(line, highlight=False, markup=False, soft_wrap=True)


@data_app.command("list")
@user_errors
def list_sources() -> None:
    """Every real cohort: where to obtain it (text only, nothing is fetched), what access it needs, and
    the files its loader expects."""
    from fairssl.data.download import DOWNLOADS

    for source, (obtain, expected) in real_sources().items():
        _print(f"{source}: {obtain['title']}")
        _print(f"  obtain: {obtain['url']}")
        _print(f"  access: {obtain['access']}")
        if source in DOWNLOADS:
            table = DOWNLOADS[source]
            always = [d for d in table if d.group is None]
            groups = sorted({d.group for d in table if d.group is not None})
            more = f"; --include {', '.join(groups)} for more" if groups else ""
            approx = _size(sum(d.approx_bytes for d in always))
            _print(
                f"  fetch:  fairssl data download {source} DIR ({len(always)} files, about {approx}{more})"
            )
        for requirement in expected:
            tag = " (optional)" if requirement.get("optional") else ""
            _print(f"  file:   {' or '.join(requirement['glob'])}{tag}: {requirement['what']}")
        if not expected:
            _print("  file:   none")
        _print("")


@data_app.command("check")
@user_errors
def check(
    source: Annotated[str, typer.Argument(help="a source of `fairssl data list`, e.g. nhanes")],
    path: Annotated[Path, typer.Argument(help="the folder holding the source's files")],
) -> None:
    """Verify that PATH holds the files SOURCE's loader reads (names, headers / first bytes) and report
    their sizes: one line per problem and exit 2 when something is missing or wrong, else a summary."""
    _check_folder(source, path)


def _check_folder(source: str, path: Path) -> None:
    """``fairssl data check SOURCE PATH``: prints the result; ``typer.Exit(2)`` when incomplete."""
    sources = real_sources()
    if source not in sources:
        raise ConfigError(f"unknown real data source {source!r}; choose one of: {', '.join(sources)}")
    obtain, expected = sources[source]
    if not expected:
        raise ConfigError(f"data source {source!r} reads no files ({obtain['url']}); nothing to check")
    if not path.is_dir():
        raise ConfigError(f"{path} is not a folder; give the folder that holds the {source} files")
    results = [check_requirement(path, requirement) for requirement in expected]
    for found in results:
        if found.files:
            many = f" ({len(found.files)} files)" if len(found.files) > 1 else ""
            shown = found.files[0].relative_to(path).as_posix() if len(found.files) == 1 else found.pattern
            status = "bad" if found.problem else "ok"
            _print(f"{status:<8} {shown}{many}  {_size(found.size)}  {found.requirement['what']}")
        elif found.requirement.get("optional"):
            _print(f"{'absent':<8} {found.pattern}  (optional: {found.requirement['what']})")
    problems = [f for f in results if f.problem]
    for found in problems:
        where = found.files[0].relative_to(path).as_posix() if found.files else found.requirement["what"]
        _print(f"problem: {where}: {found.problem}", to_err=True)
    if problems:
        _print(
            f"error: {path} is not a complete {source} folder ({len(problems)} problem(s) above); "
            f"obtain the files from {obtain['url']}",
            to_err=True,
        )
        raise typer.Exit(2)
    n_files = sum(len(f.files) for f in results)
    total = sum(f.size for f in results)
    _print(f"{source}: {path} is complete: {n_files} file(s), {_size(total)}")


class _Bars:
    """A rich progress bar per file on stderr (``--quiet`` or a non-terminal stderr: none)."""

    def __init__(self, *, show: bool) -> None:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
        self.bar = Progress(*columns, TimeRemainingColumn(), console=err, disable=not show)
        self.tasks: dict[str, Any] = {}

    def __call__(self, name: str, done: int, total: int | None) -> None:
        if name not in self.tasks:
            self.tasks[name] = self.bar.add_task(name, total=total, completed=done)
        self.bar.update(self.tasks[name], completed=done, total=total)


@data_app.command("download")
@user_errors
def download_files(
    source: Annotated[str, typer.Argument(help="nhanes or physionet2012")],
    path: Annotated[Path, typer.Argument(help="the folder to download into (created if needed)")],
    include: Annotated[
        list[str] | None,
        typer.Option(
            "--include", help="an optional part to fetch too (physionet2012: set-b, set-c); repeatable"
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar or per-file lines")] = False,
) -> None:
    """Fetch SOURCE's public files into PATH over HTTPS from the publisher (resumable: run it again after
    an interruption), record their sha256 in PATH/fairssl-download.json, extract archives, then run
    `fairssl data check`. Exit 2 on a network error, a checksum mismatch or an incomplete folder."""
    from fairssl.data.download import MANIFEST, download, select

    chosen = select(source, tuple(include or ()))
    if not quiet:
        approx = _size(sum(item.approx_bytes for item in chosen))
        _print(f"{source}: {len(chosen)} file(s), about {approx} as published, into {path}")
    bars = _Bars(show=not quiet and err.is_terminal)
    with bars.bar:
        results = download(source, path, include=tuple(include or ()), progress=bars)
    for fetched in results:
        if not quiet:
            extra = f", {len(fetched.extracted)} file(s) extracted" if fetched.extracted else ""
            name, size = fetched.item.name, _size(fetched.size)
            _print(f"{fetched.status:<10} {name}  {size}  sha256 {fetched.sha256[:12]}{extra}")
    problems = [f for f in results if f.problem]
    for fetched in problems:
        _print(f"problem: {fetched.item.name}: {fetched.problem}", to_err=True)
    if problems:
        _print(f"error: {len(problems)} file(s) in {path} do not match {path / MANIFEST}", to_err=True)
        raise typer.Exit(2)
    _check_folder(source, path)


__all__ = ["Found", "check_requirement", "data_app", "real_sources"]
