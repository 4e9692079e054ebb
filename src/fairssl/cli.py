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

This module holds the commands and their options. The failure handling is :mod:`fairssl.cli_errors`,
the consoles and the summary table :mod:`fairssl.cli_output`, ``config --show``'s rendering
:mod:`fairssl.cli_config`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from fairssl.cli_config import show_config as _show_config
from fairssl.cli_data import data_app
from fairssl.cli_errors import LOG_NAME, user_errors
from fairssl.cli_errors import note_run_folder as _note_run_folder
from fairssl.cli_output import err, out
from fairssl.cli_output import logger as _logger
from fairssl.cli_output import print_summary as _print_summary
from fairssl.errors import ConfigError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Does self-supervised pre-training make my model fairer, at what cost, and where? "
    "(the five-stage assessment of Yfantidou et al., KDD 2024)",
)


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
        from fairssl.runtime import available_cores

        path = build_report(run_dir, workers=available_cores() - 1)
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
    against: Annotated[
        str | None,
        typer.Option(
            "--against",
            help="the reference study's name (e.g. the unbiased control): adds a difference in "
            "differences of every setup's change against it (did.csv)",
        ),
    ] = None,
) -> None:
    """Several finished studies side by side: parity deviation, AUROC and improvement per setup."""
    from fairssl.experiments.compare import compare_studies

    path = compare_studies(run_dirs, out_dir, names=names or None, against=against)
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


app.add_typer(data_app, name="data")


def main() -> None:
    app()


__all__ = ["LOG_NAME", "app", "main", "user_errors"]


if __name__ == "__main__":
    main()
