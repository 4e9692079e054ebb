"""The ``fairssl`` command: thin wrappers that parse, load the config, call the API and print.

User errors (:class:`fairssl.errors.FairsslError`) print one line ``error: ...`` to stderr and exit
with the error's code (2 for bad input), never a traceback.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from fairssl.errors import FairsslError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Does self-supervised pre-training make my model fairer, at what cost, and where? "
    "(the five-stage assessment of Yfantidou et al., KDD 2024)",
)
out = Console()
err = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def user_errors(fn: F) -> F:
    """Turn FairsslError into a one-line message and its exit code; Ctrl-C into exit 130."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except FairsslError as exc:
            err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err.print("interrupted: finished runs are kept; run the same command again to resume")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="study TOML file (see `fairssl config --example`)")
]
ProfileOpt = Annotated[
    str | None, typer.Option("--profile", "-p", help="quick | paper (default: the file's, else quick)")
]


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
    settings: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="KEY=VALUE",
            help="override a config key, repeatable: --set pretrain.epochs=50 --set 'seeds=[0, 1]'",
        ),
    ] = None,
) -> None:
    """Run the whole assessment (default: the built-in simulator, quick profile) and write a report.

    Re-running the same command resumes: finished runs are kept, interrupted and failed ones redone.
    """
    from fairssl.config import load_config, parse_settings
    from fairssl.experiments.progress import LogProgress, Progress, RichProgress
    from fairssl.experiments.runner import run_study

    cfg = load_config(config, profile=profile)
    overrides = parse_settings(settings or [])
    overrides.update(
        {f"runtime.{k}": v for k, v in (("executor", executor), ("workers", workers)) if v is not None}
    )
    if overrides:
        cfg = cfg.with_settings(overrides, keep_grid=True)
    progress: Progress
    if err.is_terminal:
        log, progress = (lambda m: err.print(m, highlight=False)), RichProgress(err)
    else:
        log, progress = print, LogProgress(print)
    run_dir = run_study(cfg, run_dir=out_dir, log=log, progress=progress)
    _print_summary(run_dir)
    out.print(f"run folder: {run_dir}\nreport:     {run_dir / 'report.html'}", highlight=False)


@app.command()
@user_errors
def report(run_dir: Annotated[Path, typer.Argument(help="a run folder written by `fairssl run`")]) -> None:
    """(Re)build report.html of a run folder from its stored results, without retraining."""
    from fairssl.report.html import build_report

    path = build_report(run_dir)
    out.print(f"report: {path}", highlight=False)


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
    out.print(f"comparison: {path}", highlight=False)


@app.command()
@user_errors
def status(run_dir: Annotated[Path, typer.Argument(help="a run folder written by `fairssl run`")]) -> None:
    """What a study has done and what is left: runs done / running / interrupted / failed / pending."""
    from fairssl.experiments.status import study_status

    for line in study_status(run_dir).lines():
        out.print(line, highlight=False, markup=False, soft_wrap=True)


@app.command()
@user_errors
def audit(
    data: Annotated[str | None, typer.Argument(help="dataset path (omit for the simulator)")] = None,
    source: Annotated[
        str | None, typer.Option(help="simulate | mimic3 | mesa | globem | arrays | long | pbcseq | folder")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Stage 1: dataset size, groups, label prevalence and label bias per group, warnings."""
    from fairssl.config import build_config, load_config
    from fairssl.data.audit import audit as run_audit
    from fairssl.experiments.workspace import load_study_data

    cfg = load_config(config)
    if data is not None or source is not None:
        raw = cfg.to_dict()
        raw["data"] = {**raw["data"], "source": source or "folder", "path": data}
        cfg = build_config(raw)
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
    from fairssl.config import example_toml, load_config, to_toml

    if example:
        out.print(example_toml(), highlight=False, markup=False, soft_wrap=True)
        return
    cfg = load_config(show, profile=profile)
    out.print(to_toml(cfg.to_dict()), highlight=False, markup=False, soft_wrap=True)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
