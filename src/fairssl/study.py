"""A finished (or partly finished) study seen from Python: :class:`Study` reads a run folder's tables
lazily as DataFrames, and :func:`caller_state_kept` runs library code without changing what the caller
can see (torch threads and generators, warnings filters, logging, matplotlib, environment variables).

Build one with :func:`fairssl.assess` (runs the study) or :func:`fairssl.load_study` (reads a folder).
"""

from __future__ import annotations

import contextlib
import functools
import html
import logging
import os
import random
import sys
import textwrap
import warnings
from collections.abc import Callable, Iterator, Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd

from fairssl.errors import DataError, FairsslError

if TYPE_CHECKING:
    from fairssl.config import StudyConfig
    from fairssl.report.analysis_record import StoredAnalysis
    from fairssl.report.inputs import StoredResults

Log = Callable[[str], None]
_T = TypeVar("_T")

STAGE_COLUMNS = ("stage", "status", "reason", "seconds")
"""Columns of :attr:`Study.stages`."""


def flatten_settings(settings: Mapping[str, Any] | None, prefix: str = "") -> dict[str, Any]:
    """Nested mappings become dotted keys: ``{"evaluation": {"alpha": 0.1}}`` -> ``{"evaluation.alpha":
    0.1}`` (a nested value then sets one key instead of replacing a whole section); dotted keys stay."""
    out: dict[str, Any] = {}
    for key, value in (settings or {}).items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            out.update(flatten_settings(value, name))
        else:
            out[name] = value
    return out


# ---------------------------------------------------------------------------------------------- isolation
@contextlib.contextmanager
def caller_state_kept(log: Log | None = None) -> Iterator[None]:
    """Run the ``with`` block, then put back every process-wide setting it may change.

    Restored: torch's intra-op thread count, deterministic-algorithm flags and random generators
    (CPU, and CUDA when initialised), Python's and NumPy's global random generators, the warnings
    filters, the root logger's level and handlers, ``os.environ``, matplotlib's ``rcParams`` and
    pyplot backend, and pyplot figures opened inside are closed. Warnings raised inside (in this
    process) are not printed: each distinct one is passed to ``log`` as ``warning: <Category>: <text>``
    after the block, or dropped when ``log`` is None.
    """
    import matplotlib
    import torch

    py_rng, np_rng = random.getstate(), np.random.get_state()
    torch_state = (
        torch.get_num_threads(),
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.get_rng_state(),
    )
    cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    root = logging.getLogger()
    log_state = (root.level, list(root.handlers), logging.root.manager.disable)
    environ = dict(os.environ)
    rc = matplotlib.rcParams.copy()
    pyplot = sys.modules.get("matplotlib.pyplot")
    figures = set(pyplot.get_fignums()) if pyplot is not None else set()
    try:
        with warnings.catch_warnings(record=True) as caught:
            yield
    finally:
        _restore_matplotlib(rc, figures)
        _restore_environ(environ)
        root.setLevel(log_state[0])
        root.handlers[:] = log_state[1]
        logging.disable(log_state[2])
        if torch.get_num_threads() != torch_state[0]:
            torch.set_num_threads(torch_state[0])
        torch.use_deterministic_algorithms(torch_state[1], warn_only=torch_state[2])
        torch.set_rng_state(torch_state[3])
        if cuda_rng is not None:
            torch.cuda.set_rng_state_all(cuda_rng)
        random.setstate(py_rng)
        np.random.set_state(np_rng)
        if log is not None:
            for line in dict.fromkeys(f"warning: {w.category.__name__}: {w.message}" for w in caught):
                log(line)


def _restore_environ(saved: dict[str, str]) -> None:
    for key in [k for k in os.environ if k not in saved]:
        del os.environ[key]
    for key, value in saved.items():
        if os.environ.get(key) != value:
            os.environ[key] = value


def _restore_matplotlib(rc: Any, figures: set[int]) -> None:
    """Close the pyplot figures opened since, switch pyplot back to the saved backend if something
    switched it (``matplotlib.use("Agg")``), and put back the saved ``rcParams`` (raw values: an
    unresolved backend stays unresolved)."""
    import matplotlib

    pyplot = sys.modules.get("matplotlib.pyplot")
    backend = rc._get("backend")
    if pyplot is not None:
        for num in set(pyplot.get_fignums()) - figures:
            pyplot.close(num)
        if matplotlib.rcParams._get("backend") != backend:
            with contextlib.suppress(ImportError):
                pyplot.switch_backend(backend)
    update = getattr(matplotlib.rcParams, "_update_raw", None)
    if update is not None:
        update(rc)
    else:  # matplotlib < 3.10
        dict.update(matplotlib.rcParams, dict.items(rc))


@contextlib.contextmanager
def generators_kept() -> Iterator[None]:
    """Put back Python's and NumPy's global random generators after the block: some libraries draw from
    them when first imported (rich, via scikit-learn), and reading a study imports them lazily."""
    py_rng, np_rng = random.getstate(), np.random.get_state()
    try:
        yield
    finally:
        random.setstate(py_rng)
        np.random.set_state(np_rng)


def _reads(method: Callable[[Study], _T]) -> Callable[[Study], _T]:
    """``method`` run under :func:`generators_kept` (it imports report modules on first use)."""

    @functools.wraps(method)
    def wrapper(self: Study) -> _T:
        with generators_kept():
            return method(self)

    return wrapper


# ---------------------------------------------------------------------------------------------- study
class Study:
    """A run folder of ``fairssl run`` / :func:`fairssl.assess`, its tables read lazily as DataFrames.

    Every table is read on first access and cached (each access returns a copy); a table whose file is
    absent (its stage failed, was skipped or did not run: see :attr:`stages`) is an empty DataFrame.
    Text columns (``setup``, ``attribute``, ``group``, ...) are strings, so setup ``"0"`` stays ``"0"``.
    A grid study's tables are the variants' tables stacked, with a leading ``variant`` column.

    Parameters
    ----------
    run_dir : str or Path
        A folder holding ``config.toml`` (written by ``fairssl run`` or :func:`fairssl.assess`); else
        :class:`~fairssl.errors.DataError`.

    Examples
    --------
    >>> study = fairssl.load_study("fairssl-runs/fairssl-study-0123456789ab")  # doctest: +SKIP
    >>> study.headline  # doctest: +SKIP
    'Setup 2-first-last is fairer than supervised: parity deviation -0.08 [-0.12, -0.03] ...'
    >>> study.comparison[["setup", "auroc", "parity_deviation", "verdict"]]  # doctest: +SKIP
    """

    def __init__(self, run_dir: str | Path) -> None:
        root = Path(run_dir)
        if not (root / "config.toml").is_file():
            raise DataError(
                f"{root} is not a run folder (no config.toml); give a folder written by fairssl.assess "
                "or `fairssl run`"
            )
        self.run_dir: Path = root
        """The run folder (``<output_dir>/<name>-<hash>`` unless chosen)."""

    # ------------------------------------------------------------------ configuration and files
    @cached_property
    @_reads
    def config(self) -> StudyConfig:
        """The resolved configuration the folder's results were produced with (``config.toml``)."""
        from fairssl.config import load_config

        return load_config(self.run_dir / "config.toml")

    @property
    def report_path(self) -> Path | None:
        """``report.html`` (self-contained; open it in a browser), or None when it was not built."""
        path = self.run_dir / "report.html"
        return path if path.is_file() else None

    # ------------------------------------------------------------------ tables
    @cached_property
    @_reads
    def _stored(self) -> tuple[StoredResults | None, str]:
        """The folder's ``results/`` tables, or None and the one-line reason there is no comparison."""
        from fairssl.report.inputs import read_stored_results

        try:
            return read_stored_results(self.run_dir), ""
        except FairsslError as exc:
            return None, str(exc)

    def _table(self, name: str) -> pd.DataFrame:
        stored, _ = self._stored
        frame = getattr(stored, name) if stored is not None else pd.DataFrame()
        return frame.copy()

    @property
    def problem(self) -> str:
        """Why the folder has no comparison table yet (runs unfinished, a stage failed), "" when it has."""
        return self._stored[1]

    @property
    def comparison(self) -> pd.DataFrame:
        """One row per setup (``results/comparison.csv``: what the report's summary prints).

        Columns include ``setup``, ``kind`` (baseline | ssl | control), ``n_seeds``, ``auroc`` with
        ``auroc_low``/``auroc_high`` (0.5 = chance, higher is better), ``parity_deviation`` with
        ``pd_low``/``pd_high`` (0 = every group treated alike, higher is less fair), the paired change
        against supervised (``pd_change``, ``improvement`` = relative PD reduction: > 0 is fairer) and its
        corrected ``verdict`` (fairer | less_fair | not_distinguishable | at_chance | one_seed | ...).
        """
        return self._table("comparison")

    @cached_property
    @_reads
    def _setups(self) -> pd.DataFrame:
        from fairssl.results_schema import read_result

        return read_result(self.run_dir / "results", "setups")

    @property
    def setups(self) -> pd.DataFrame:
        """One row per setup x quantity (``results/setups.csv``): ``auroc``, ``parity_deviation`` and
        ``parity_deviation:<attribute>`` over seeds and test subjects, with ``estimate``, ``se``,
        ``ci_low``/``ci_high`` and which sources of variation the interval covers (``sources``)."""
        return self._setups.copy()

    @property
    def changes(self) -> pd.DataFrame:
        """Every paired change (``results/changes.csv``): setup x baseline (supervised or its control) x
        quantity, with ``estimate`` (setup minus baseline; for parity deviation < 0 is fairer), its
        interval, raw and family-corrected p-values, ``verdict`` and the power columns (``mde``)."""
        return self._table("tests")

    @property
    def results(self) -> pd.DataFrame:
        """One row per run x label x attribute x group x metric (``results/results.parquet``): the
        per-group fairness metrics and their bootstrap intervals; a ``reason`` code where undefined."""
        return self._table("results")

    @property
    def summary(self) -> pd.DataFrame:
        """One row per fine-tuning run (setup x seed; ``results/summary.csv``): ``auroc``,
        ``parity_deviation`` with test-sampling intervals and ``improvement`` over supervised."""
        return self._table("summary")

    @property
    def cka(self) -> pd.DataFrame:
        """Representation similarity per setup x layer pair (``results/cka.csv``; 1 = the same
        representation up to rotation and scale, 0 = unrelated); empty when stage 4 did not run."""
        return self._table("cka")

    @property
    def cka_best_worst(self) -> pd.DataFrame:
        """CKA between the best- and worst-served groups' representations per setup x layer x attribute
        (``results/cka_best_worst.csv``; lower = the model represents the groups more differently)."""
        return self._table("best_worst")

    @cached_property
    @_reads
    def _analysis(self) -> StoredAnalysis:
        from fairssl.report.analysis_record import read_analysis_record

        return read_analysis_record(self.run_dir)

    @property
    def unavailable(self) -> pd.DataFrame:
        """What the analysis could not compute (``results/unavailable.csv``), one row per gap: ``stage``,
        ``setup`` ("" = every setup), ``attribute``, ``group``, ``quantity``, ``reason`` code and
        ``detail`` (which setting to change). Empty (with these columns) when nothing is missing."""
        return self._analysis.unavailable.copy()

    @property
    def stages(self) -> pd.DataFrame:
        """One row per analysis stage (evaluation, inference, similarity, probes): ``status``
        (completed | failed | skipped), ``reason`` (a failed stage's error, a skipped stage's why),
        ``seconds``. Empty when the folder has no ``results/analysis.json`` (not analysed yet)."""
        from fairssl.report.analysis_record import STAGES

        stages = self._analysis.stages
        names = [*(s for s in STAGES if s in stages), *(s for s in stages if s not in STAGES)]
        rows = [(s, stages[s].status, stages[s].reason, stages[s].seconds) for s in names]
        return pd.DataFrame(rows, columns=list(STAGE_COLUMNS))

    # ------------------------------------------------------------------ views
    @property
    @_reads
    def headline(self) -> str:
        """The report's plain-language answer, the sentence ``fairssl run`` prints: the SSL setup with the
        best fairness-accuracy trade-off and its corrected verdict against supervised. Without results:
        why (:attr:`problem`)."""
        from fairssl.report.tables import headline

        stored, problem = self._stored
        return headline(stored.comparison) if stored is not None else problem

    @property
    @_reads
    def overview(self) -> pd.DataFrame:
        """The compact per-setup table ``fairssl run`` prints (text cells): setup, seeds, ``AUROC [95%
        CI]``, ``parity deviation [95% CI]`` and ``PD improvement vs supervised`` (``+28% [12, 41]``: > 0
        is fairer; ``baseline`` for supervised). Empty without results."""
        from fairssl.report.tables import summary_table

        stored, _ = self._stored
        return summary_table(stored.comparison) if stored is not None else pd.DataFrame()

    @_reads
    def status(self) -> list[str]:
        """What the study has done and what is left, the lines ``fairssl status`` prints: run counts by
        state (done, running, interrupted, failed, pending), failed runs' errors and the analysis
        stages' statuses."""
        from fairssl.experiments.status import study_status

        return study_status(self.run_dir).lines()

    # ------------------------------------------------------------------ re-analysis
    def reanalyse(
        self, settings: Mapping[str, Any] | None = None, /, *, log: Log | None = None, **sections: Any
    ) -> Study:
        """Recompute the analysis (stages 4-5) and the report on the stored models, without training.

        Give analysis settings as dotted keys (``study.reanalyse({"evaluation.alpha": 0.1})``) or as
        sections (``study.reanalyse(evaluation={"min_group_size": 10})``); only ``evaluation``,
        ``similarity`` and ``probes`` keys are allowed (a training key is a
        :class:`~fairssl.errors.ConfigError`: train with :func:`fairssl.assess` instead). The folder's
        ``config.toml`` and tables are replaced; returns a fresh :class:`Study` of the same folder (this
        one keeps the tables it already read). ``log``: None = quiet, or a callable taking one line.
        """
        from fairssl.experiments.executor_tasks import clear_dataset_cache
        from fairssl.experiments.study_analysis import reanalyse

        merged = {**flatten_settings(settings), **flatten_settings(sections)}
        with caller_state_kept(log):  # reanalyse pins torch's threads as the training did
            try:
                reanalyse(self.run_dir, merged, log=log or quiet)
            finally:
                clear_dataset_cache()
        return Study(self.run_dir)

    # ------------------------------------------------------------------ display
    def __repr__(self) -> str:
        stored, problem = self._stored
        if stored is None:
            return f"Study({str(self.run_dir)!r}): no results yet: {problem}"
        table = self.overview.to_string(index=False)
        text = "\n".join(textwrap.wrap(self.headline, 100))
        return f"Study({str(self.run_dir)!r}): {len(stored.comparison)} setups\n{text}\n\n{table}"

    def _repr_html_(self) -> str:
        stored, problem = self._stored
        where = f"<code>{html.escape(str(self.run_dir))}</code>"
        if stored is None:
            return f"<div><b>fairssl study</b> {where}: no results yet: {html.escape(problem)}</div>"
        report = self.report_path
        link = f" &middot; report: <code>{html.escape(str(report))}</code>" if report else ""
        table = self.overview.to_html(index=False, border=0)
        return (
            f"<div><p><b>fairssl study</b> {where}{link}</p><p>{html.escape(self.headline)}</p>{table}</div>"
        )


def quiet(_line: str) -> None:
    """A log that prints nothing."""


__all__ = ["STAGE_COLUMNS", "Study", "caller_state_kept", "flatten_settings", "quiet"]
