"""The Python entry points for notebooks: :func:`assess` runs (or resumes) a study and :func:`load_study`
opens a finished one; both return a :class:`~fairssl.study.Study` whose tables are DataFrames.

An in-memory :class:`~fairssl.data.dataset.WindowDataset` is saved once into the run folder
(``<run_dir>/input/<content hash>/``, the ``folder`` data source) so worker processes can load it, and
the run folder's name depends on the dataset's content: the same dataset resumes in the same folder,
a different one never shares it. Calls print nothing unless given a ``log`` and leave the caller's
process-wide settings as they were (:func:`~fairssl.study.caller_state_kept`), with no dataset left in
the process's dataset cache (:func:`~fairssl.experiments.executor_tasks.clear_dataset_cache`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fairssl.config import StudyConfig, build_config, load_config
from fairssl.errors import ConfigError, DataError
from fairssl.study import Log, Study, caller_state_kept, flatten_settings, quiet

if TYPE_CHECKING:
    from fairssl.data.dataset import WindowDataset
    from fairssl.experiments.progress import Progress

ConfigLike = StudyConfig | Mapping[str, Any] | str | os.PathLike[str] | None
"""What :func:`assess` takes as ``config``."""

INPUT_DIR = "input"
"""Folder of a run folder holding the in-memory datasets given to :func:`assess`, one per content hash."""

DIGEST_CHARS = 16
"""Hex characters of a dataset's content hash kept in folder names (64 bits)."""


def assess(
    data: WindowDataset | None = None,
    config: ConfigLike = None,
    *,
    run_dir: str | Path | None = None,
    settings: Mapping[str, Any] | None = None,
    log: Log | None = None,
    progress: Progress | None = None,
    force: bool = False,
) -> Study:
    """Run (or resume) a whole study: pre-train, fine-tune every setup, analyse and write the report.

    Does self-supervised pre-training make the model fairer, at what cost in AUROC? The answer is in
    the returned study's :attr:`~fairssl.study.Study.headline` and :attr:`~fairssl.study.Study.comparison`.

    Parameters
    ----------
    data : WindowDataset, optional
        An in-memory dataset (N windows x C channels x T steps, labels, subjects, subject-disjoint splits
        and protected attributes; build one with ``WindowDataset.build`` or a loader). It replaces the
        config's ``data`` section: it is saved once to ``<run_dir>/input/<content hash>/`` and the study
        reads it from there (``data.source = "folder"``). None: the config's data (by default the
        built-in simulator).
    config : StudyConfig, dict, str or Path, optional
        A :class:`~fairssl.config.StudyConfig`, a nested dict of settings as in a TOML file
        (``{"finetune": {"setups": ["supervised", "0"]}}``, on top of its ``profile``, ``quick`` by
        default), the path of a TOML file, or None: the quick profile's defaults (the simulator, a few
        minutes on 2 cores).
    run_dir : str or Path, optional
        The run folder. Default ``<output_dir>/<name>-<hash>``, the hash covering every training
        setting (and the dataset's content), so the same call resumes where it stopped and a changed
        training setting gets its own folder. A folder holding another study is refused
        (:class:`~fairssl.errors.DataError`) unless ``force``.
    settings : dict, optional
        Dotted overrides applied on top of ``config``, e.g. ``{"pretrain.epochs": 5, "seeds": [0, 1]}``
        (nested dicts are read as dotted keys).
    log : callable, optional
        None: print nothing. Else called with each progress line (one per finished run) and each
        warning raised in this process, e.g. ``log=print``.
    progress : Progress, optional
        A progress display (:class:`~fairssl.experiments.progress.Progress`); default: lines to ``log``.
    force : bool
        Run in ``run_dir`` even if it holds another study's ``config.toml``.

    Returns
    -------
    Study
        The run folder's tables as DataFrames (one row per setup in ``comparison``).

    Raises
    ------
    ConfigError, DataError
        A bad setting or dataset (one line: the problem and the fix), before anything is trained.
    RunError
        Some runs failed (the others are kept; the same call retries the failed ones).

    Examples
    --------
    >>> import fairssl
    >>> study = fairssl.assess(settings={"pretrain.epochs": 5}, log=print)  # doctest: +SKIP
    >>> study.headline  # doctest: +SKIP
    >>> study.comparison[["setup", "auroc", "parity_deviation", "verdict"]]  # doctest: +SKIP
    """
    with caller_state_kept(log):  # from the first import on: some libraries draw random numbers on import
        from fairssl.experiments.executor_tasks import clear_dataset_cache
        from fairssl.experiments.runner import check_same_study, run_study
        from fairssl.experiments.workspace import run_dir_for

        cfg, root, staged = plan_study(data, config, settings=settings, run_dir=run_dir)
        root = root if root is not None else run_dir_for(cfg)
        if staged is not None and data is not None:
            if not force:
                check_same_study(cfg, root)  # before writing the dataset into another study's folder
            stage_dataset(data, staged)
        try:
            run_study(cfg, run_dir=root, log=log or quiet, progress=progress, force=force)
        finally:
            clear_dataset_cache()  # the next call reads its data afresh; the caller keeps no dataset
    return Study(root)


def load_study(run_dir: str | Path) -> Study:
    """Open a run folder written by :func:`assess` or ``fairssl run`` (nothing is computed).

    ``run_dir`` must hold ``config.toml``, else :class:`~fairssl.errors.DataError`; the tables are read
    on first access (empty DataFrames where the analysis has not written them: see
    :meth:`~fairssl.study.Study.status`).

    Examples
    --------
    >>> study = fairssl.load_study("fairssl-runs/fairssl-study-0123456789ab")  # doctest: +SKIP
    >>> study.summary.groupby("setup")["parity_deviation"].mean()  # doctest: +SKIP
    """
    return Study(run_dir)


# ---------------------------------------------------------------------------------------------- planning
def resolve_config(config: ConfigLike = None, settings: Mapping[str, Any] | None = None) -> StudyConfig:
    """``config`` (see :func:`assess`) as a validated :class:`StudyConfig`, with ``settings`` (dotted
    keys) applied; a bad key or value is a one-line :class:`ConfigError`."""
    if config is None:
        cfg = build_config({})
    elif isinstance(config, StudyConfig):
        cfg = config
    elif isinstance(config, Mapping):
        cfg = build_config(config)
    elif isinstance(config, str | os.PathLike):
        cfg = load_config(Path(config))
    else:
        raise ConfigError(
            f"config must be a StudyConfig, a dict of settings, the path of a TOML file or None; got "
            f"{type(config).__name__}"
        )
    flat = flatten_settings(settings)
    return cfg.with_settings(flat, keep_grid=True) if flat else cfg


def plan_study(
    data: WindowDataset | None,
    config: ConfigLike = None,
    *,
    settings: Mapping[str, Any] | None = None,
    run_dir: str | Path | None = None,
) -> tuple[StudyConfig, Path | None, Path | None]:
    """The study :func:`assess` runs, computed without writing anything: (config, run folder or None
    for the config's default :func:`~fairssl.experiments.workspace.run_dir_for`, folder the in-memory
    dataset is saved to or None).

    With ``data``, the config's data section becomes ``{source = "folder", path = <run folder>/input/
    <hash>}`` where ``<hash>`` is :func:`dataset_digest`; without ``run_dir`` the run folder is
    ``<output_dir>/<name>-<hash of the training settings with the dataset's digest as its path>``.
    """
    from fairssl.data.dataset import WindowDataset
    from fairssl.experiments.workspace import study_label

    cfg = resolve_config(config, settings)
    if data is None:
        return cfg, None if run_dir is None else Path(run_dir), None
    if not isinstance(data, WindowDataset):
        raise DataError(
            f"data must be a fairssl WindowDataset (build one with WindowDataset.build or a loader); got "
            f"{type(data).__name__}"
        )
    given = sorted(k for k in flatten_settings(settings) if k == "data" or k.startswith("data."))
    varied = sorted(k for k in cfg.grid if k == "data" or k.startswith("data."))
    if given or varied:
        key = (given or varied)[0]
        raise ConfigError(
            f"'{key}' is set but data= replaces the config's data section; drop it, or pass data=None "
            "to use the config's data"
        )
    data.validate()  # workers reload it from disk with the same checks: fail here, once, in one line
    digest = dataset_digest(data)[:DIGEST_CHARS]
    if run_dir is None:
        identity = cfg.with_settings(
            {"data": {"source": "folder", "path": f"memory:{digest}"}}, keep_grid=True
        )
        root = Path(cfg.output_dir) / study_label(identity)
    else:
        root = Path(run_dir)
    folder = root.resolve() / INPUT_DIR / digest
    cfg = cfg.with_settings({"data": {"source": "folder", "path": str(folder)}}, keep_grid=True)
    return cfg, root, folder


def dataset_digest(data: WindowDataset) -> str:
    """SHA-256 (64 hex characters) of everything the study reads from ``data``: ``X`` (read in chunks, so
    a memory-mapped array is never loaded whole), ``y``, ``y_clean``, ``mask``, window ids, subjects,
    splits, the attribute columns and their values, channel names, ``name`` and ``info``. Equal for a
    dataset and its :meth:`~fairssl.data.dataset.WindowDataset.save`/``load`` round trip; any changed
    value changes it."""
    h = hashlib.sha256()
    header = {
        "shape": list(data.X.shape),
        "channels": list(data.channel_names),
        "name": data.name,
        "attributes": data.attribute_names,
        "y_clean": data.y_clean is not None,
        "mask": data.mask is not None,
        "info": data.info,
    }
    h.update(json.dumps(header, sort_keys=True, default=str).encode())
    for big in (data.X, data.mask):
        if big is None:
            continue
        for start in range(0, big.shape[0], 4096):
            chunk = np.ascontiguousarray(big[start : start + 4096])
            h.update(chunk.astype(chunk.dtype.newbyteorder("<"), copy=False).tobytes())
    h.update(np.asarray(data.y, dtype="<i8").tobytes())
    if data.y_clean is not None:
        h.update(np.asarray(data.y_clean, dtype="<i8").tobytes())
    texts = [data.window_id, data.subject, data.split]
    texts += [np.asarray(data.attributes[c].astype(str)) for c in data.attribute_names]
    for values in texts:
        h.update("\x1f".join(map(str, values)).encode() + b"\x1e")
    return h.hexdigest()


def stage_dataset(data: WindowDataset, folder: Path) -> Path:
    """Save ``data`` to ``folder`` (the ``folder`` data source's format) unless a complete copy is there.

    Written to a temporary sibling and renamed, so ``folder`` either holds a whole dataset or does not
    exist (a run interrupted while saving leaves no half-written input).
    """
    if (folder / "dataset.json").is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    if folder.exists():  # not ours to keep: no dataset.json, so it is not a complete dataset
        shutil.rmtree(folder)
    tmp = folder.parent / f".{folder.name}.{os.getpid()}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    data.save(tmp)
    try:
        tmp.rename(folder)
    except OSError:  # another process published it first: theirs is the same content
        shutil.rmtree(tmp, ignore_errors=True)
        if not (folder / "dataset.json").is_file():
            raise
    return folder


__all__ = [
    "DIGEST_CHARS",
    "INPUT_DIR",
    "assess",
    "dataset_digest",
    "load_study",
    "plan_study",
    "resolve_config",
    "stage_dataset",
]
