"""The ``fairssl`` command: thin wrappers that parse, load the config, call the API and print.

Every failure is one line on stderr, never a traceback:

- user errors (:class:`fairssl.errors.FairsslError`): ``error: <message>``, exit with the error's code
  (2 for bad input, 1 for a computation the user can act on);
- operating-system errors (permission denied, read-only or full disk, a file where a folder belongs, a
  missing path): ``error: <what failed>: <path>: <reason>; <what to do>``, exit 2 (:mod:`fairssl.os_errors`);
- anything else is a bug: ``error: internal error (...)``, exit 1, with the traceback written to a log
  file whose path the line gives (``fairssl-error.log`` in the run folder when known, else a temp file);
  with the environment variable ``FAIRSSL_DEBUG=1`` it is raised as it is instead.

Only typer and rich are imported at start-up; each command imports what it needs, so ``fairssl --help``
starts in a fraction of a second.
"""

from __future__ import annotations

import contextvars
import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from fairssl.errors import ConfigError, FairsslError
from fairssl.os_errors import os_error_line, sqlite_error_line

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Does self-supervised pre-training make my model fairer, at what cost, and where? "
    "(the five-stage assessment of Yfantidou et al., KDD 2024)",
)
out = Console()
err = Console(stderr=True)

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


def _note_run_folder(path: Path) -> None:
    """Remember the command's run folder (where an internal error's log will go)."""
    _run_folder.set(Path(path))


def _logger() -> Callable[[str], None]:
    """Progress lines: to stderr on a terminal, else plain prints (logs and pipes)."""
    if err.is_terminal:
        return lambda m: err.print(m, highlight=False)
    return print


ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="study TOML file (see `fairssl config --example`)")
]
ProfileOpt = Annotated[
    str | None, typer.Option("--profile", "-p", help="quick | paper (default: the file's, else quick)")
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="KEY=VALUE",
        help="override a config key, repeatable: --set pretrain.epochs=50 --set 'seeds=[0, 1]'",
    ),
]
AnalysisSetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="KEY=VALUE",
        help="change an analysis setting (evaluation.*, similarity.*, probes.*), repeatable: "
        "--set evaluation.min_group_size=10",
    ),
]
RunDirArg = Annotated[Path, typer.Argument(help="a run folder written by `fairssl run`")]


def _analysis_settings(items: list[str] | None) -> dict[str, Any]:
    """``--set`` items of ``analyse``/``report``: only keys of the analysis sections (no retraining)."""
    from fairssl.config import parse_settings
    from fairssl.experiments.workspace import ANALYSIS_SECTIONS

    settings = parse_settings(items or [])
    for key in settings:
        if key.split(".")[0] not in ANALYSIS_SECTIONS or "." not in key:
            sections = ", ".join(f"{s}.*" for s in ANALYSIS_SECTIONS)
            raise ConfigError(
                f"--set {key}: re-analysis takes only analysis settings ({sections}); to change "
                f"'{key}' run `fairssl run --set {key}=...` (that trains new models)"
            )
    return settings


def _reanalyse(run_dir: Path, settings: dict[str, Any]) -> Path:
    """Stages 4-5 and the report of ``run_dir`` again, on its stored models, with ``settings``."""
    from fairssl.experiments.study_analysis import reanalyse

    return reanalyse(run_dir, settings, log=_logger())


def _print_summary(run_dir: Path) -> None:

    from fairssl.report.inputs import read_stored_results
    from fairssl.report.tables import headline, summary_table

    comparison = read_stored_results(run_dir).comparison
    table = summary_table(comparison)
    view = Table(title="fairssl: SSL setups vs supervised", title_style="bold", box=box.SIMPLE_HEAD)
    for col in table.columns:
        view.add_column(str(col), justify="left" if col == "setup" else "right", no_wrap=True)
    for _, row in table.iterrows():
        view.add_row(*[f"{v:.3f}" if isinstance(v, float) else str(v) for v in row])
    console = out if out.is_terminal else Console(width=120)  # logs and pipes: no wrapped intervals
    console.print(view)
    console.print(headline(comparison), highlight=False, soft_wrap=True)


@app.command()
@user_errors
def run(
    config: ConfigOpt = None,
    profile: ProfileOpt = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="run folder (default: <output_dir>/<name>-<hash>)")
    ] = None,
    executor: Annotated[
        str | None, typer.Option("--executor", help="local | ray (default: runtime.executor, else local)")
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", help="local worker processes (default: runtime.workers)")
    ] = None,
    settings: SetOpt = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="write into --out even if it holds another study (its results are lost)"
        ),
    ] = False,
) -> None:
    """Run the whole assessment (default: the built-in simulator, quick profile) and write a report.

    Re-running the same command resumes: finished runs are kept, interrupted and failed ones redone.
    """
    from fairssl.config import load_config, parse_settings
    from fairssl.experiments.progress import LogProgress, Progress, RichProgress
    from fairssl.experiments.runner import run_study
    from fairssl.experiments.workspace import run_dir_for
    from fairssl.loader_options import check_loader_options
    from fairssl.runtime import check_device

    cfg = load_config(config, profile=profile)
    overrides = parse_settings(settings or [])
    overrides.update(
        {f"runtime.{k}": v for k, v in (("executor", executor), ("workers", workers)) if v is not None}
    )
    if overrides:
        cfg = cfg.with_settings(overrides, keep_grid=True)
    check_device(cfg.runtime)
    check_loader_options(cfg)
    _note_run_folder(out_dir if out_dir is not None else run_dir_for(cfg))
    progress: Progress
    log = _logger()
    progress = RichProgress(err) if err.is_terminal else LogProgress(print)
    extra: dict[str, Any] = {"force": True} if force else {}  # only when asked: older signatures work
    run_dir = run_study(cfg, run_dir=out_dir, log=log, progress=progress, **extra)
    _print_summary(run_dir)
    out.print(
        f"run folder: {run_dir}\nreport:     {run_dir / 'report.html'}",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


@app.command()
@user_errors
def report(run_dir: RunDirArg, settings: AnalysisSetOpt = None) -> None:
    """(Re)build report.html of a run folder from its stored results, without retraining.

    With --set, the analysis (stages 4-5) is redone first with the changed settings, on the stored models.
    """
    _note_run_folder(run_dir)
    overrides = _analysis_settings(settings)
    if overrides:
        path = _reanalyse(run_dir, overrides)
    else:
        from fairssl.report.html import build_report

        path = build_report(run_dir)
    out.print(f"report: {path}", highlight=False, markup=False, soft_wrap=True)


@app.command()
@user_errors
def analyse(run_dir: RunDirArg, settings: AnalysisSetOpt = None) -> None:
    """Redo the analysis (stages 4-5) and the report of a run folder on its stored models, without
    training: e.g. after changing evaluation.min_group_size or evaluation.attributes."""
    _note_run_folder(run_dir)
    path = _reanalyse(run_dir, _analysis_settings(settings))
    out.print(f"report: {path}", highlight=False, markup=False, soft_wrap=True)


@app.command()
@user_errors
def compare(
    run_dirs: Annotated[list[Path], typer.Argument(help="two or more run folders written by `fairssl run`")],
    out_dir: Annotated[
        Path, typer.Option("--out", help="folder for comparison.md, .csv and figures/")
    ] = Path("fairssl-comparison"),
    names: Annotated[
        list[str] | None,
        typer.Option("--name", help="a label per run folder, in order (default: folder names)"),
    ] = None,
) -> None:
    """Several finished studies side by side: parity deviation, AUROC and improvement per setup."""
    from fairssl.report.studies import compare_studies

    path = compare_studies(run_dirs, out_dir, names=names or None)
    out.print(f"comparison: {path}", highlight=False, markup=False, soft_wrap=True)


@app.command()
@user_errors
def status(run_dir: RunDirArg) -> None:
    """What a study has done and what is left: runs done / running / interrupted / failed / pending."""
    from fairssl.experiments.status import study_status

    _note_run_folder(run_dir)
    for line in study_status(run_dir).lines():
        out.print(line, highlight=False, markup=False, soft_wrap=True)


@app.command()
@user_errors
def audit(
    data: Annotated[str | None, typer.Argument(help="dataset path (omit for the simulator)")] = None,
    source: Annotated[
        str | None,
        typer.Option(
            help="simulate | mimic3 | mesa | globem | physionet2012 | nhanes | arrays | long | pbcseq "
            "| folder"
        ),
    ] = None,
    config: ConfigOpt = None,
    settings: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="KEY=VALUE",
            help="override a config key, repeatable; loader options too: --set data.options.window=24",
        ),
    ] = None,
) -> None:
    """Stage 1: dataset size, groups, label prevalence and label bias per group, warnings.

    DATA and --source override the config's data; a different source starts from no loader options.
    """
    from fairssl.config import build_config, load_config, parse_settings
    from fairssl.data.audit import audit as run_audit
    from fairssl.experiments.workspace import load_study_data
    from fairssl.loader_options import check_loader_options

    cfg = load_config(config)
    if data is not None or source is not None:
        raw = cfg.to_dict()
        old = raw["data"]
        new_source = source or (old["source"] if old["source"] != "simulate" else "folder")
        same = new_source == old["source"]
        raw["data"] = {
            **old,
            "source": new_source,
            "path": data if data is not None else (old["path"] if same else None),
            "options": old["options"] if same else {},
        }
        cfg = build_config(raw)
    overrides = parse_settings(settings or [])
    if overrides:
        cfg = cfg.with_settings(overrides, keep_grid=True)
    check_loader_options(cfg)
    ds = load_study_data(cfg)
    result = run_audit(ds, reference=cfg.evaluation.reference)
    out.print(result.summary_text(), highlight=False, markup=False, soft_wrap=True)


@app.command("config")
@user_errors
def config_cmd(
    example: Annotated[bool, typer.Option("--example", help="print a commented example study file")] = False,
    show: Annotated[
        Path | None, typer.Option("--show", help="print the resolved config of a study file")
    ] = None,
    profile: ProfileOpt = None,
) -> None:
    """Print a commented example config, or the fully resolved config of a file."""
    from fairssl.config import load_config
    from fairssl.config_text import example_toml

    if example:
        out.print(example_toml(), highlight=False, markup=False, soft_wrap=True)
        return
    cfg = load_config(show, profile=profile)
    out.print(_show_config(cfg), highlight=False, markup=False, soft_wrap=True)


def _toml_value(value: Any) -> str | None:
    """A loader default as a TOML value (tuples as lists, paths as strings); None if TOML has none."""
    import json

    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, tuple):
        value = list(value)
    if value is None or not isinstance(value, (str, int, float, bool, list, dict)):
        return None
    try:
        return json.dumps(value)
    except TypeError:
        return None


def _show_config(cfg: Any) -> str:
    """The resolved config as TOML; ``[data.options]`` lists every option of the source's loader
    (given, else its default; options without a TOML value as comments); ``[data.simulate]`` only for
    the simulator."""
    from fairssl.config_text import to_toml
    from fairssl.loader_options import loader_options

    data_dict = cfg.to_dict()
    section = data_dict.pop("data")
    simulate = section.pop("simulate")
    section.pop("options")
    loader, options = loader_options(cfg.data)
    lines = ["[data]", to_toml(section).rstrip()]
    if cfg.data.source == "simulate":
        lines += ["", "[data.simulate]", to_toml(simulate, "data.simulate").rstrip()]
    else:
        lines += ["", f"[data.options]  # {loader}: every option, the given ones and the defaults"]
        for opt in options:
            text = _toml_value(opt.value)
            if opt.required:
                lines.append(f"# {opt.name} = ...  # required, no default: set data.options.{opt.name}")
            elif text is None:
                shown = "none (the loader decides)" if opt.value is None else repr(opt.value)
                lines.append(f"# {opt.name}: default {shown}")
            else:
                lines.append(f"{opt.name} = {text}" + ("" if opt.given else "  # default"))
    scalars = {k: v for k, v in data_dict.items() if not isinstance(v, dict)}
    tables = {k: v for k, v in data_dict.items() if isinstance(v, dict)}
    return "\n".join([to_toml(scalars).rstrip(), "", *lines, "", to_toml(tables).rstrip()]) + "\n"


def main() -> None:
    app()


if __name__ == "__main__":
    main()
