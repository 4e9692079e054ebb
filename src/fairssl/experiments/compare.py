"""``fairssl compare``: finished studies side by side and, against a reference study, a difference in
differences (the inference of :mod:`fairssl.evaluation.did`, the formatting of
:mod:`fairssl.report.studies`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fairssl.errors import DataError
from fairssl.evaluation.did import difference_in_differences
from fairssl.report.inputs import read_stored_results
from fairssl.report.studies import compare_studies as write_comparison


def compare_studies(
    run_dirs: Sequence[str | Path],
    out: str | Path,
    *,
    names: Sequence[str] | None = None,
    against: str | None = None,
) -> Path:
    """Write ``<out>/comparison.md``, ``comparison.csv``, the figure and, with ``against`` (one study's
    name: a ``--name`` value or a folder name), ``did.csv``; returns the Markdown's path.

    Raises DataError for fewer than two folders, a folder that is not a finished study, or an
    ``against`` that names none of the studies.
    """
    dirs = [Path(d) for d in run_dirs]
    if against is None or len(dirs) < 2:
        return write_comparison(dirs, out, names=names)
    if names is not None and len(names) != len(dirs):
        raise DataError(f"got {len(names)} names for {len(dirs)} run folders; give one name per folder")
    labels = list(names) if names is not None else [d.name for d in dirs]
    if against not in labels:
        raise DataError(
            f"--against {against!r} names none of the studies ({', '.join(labels)}); "
            "give one of their --name values or folder names"
        )
    stored = [read_stored_results(d) for d in dirs]  # read (and integrity-checked) once per study
    did = difference_in_differences(
        {label: s.tests for label, s in zip(labels, stored, strict=True)}, against
    )
    return write_comparison(dirs, out, names=names, did=did, reference=against, stored=stored)


__all__ = ["compare_studies"]
