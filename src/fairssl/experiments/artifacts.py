"""Reading a fine-tuning run's stored test predictions and activations, keyed by window id (never
aligned by row order alone)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fairssl.data.dataset import WindowDataset
from fairssl.errors import DataError
from fairssl.experiments.workspace import Workspace


def load_predictions(ws: Workspace, run_id: str, ds: WindowDataset) -> pd.DataFrame:
    """A run's test predictions joined to the dataset's attributes by window id."""
    pred = pd.read_parquet(ws.run(run_id) / "predictions.parquet")
    attrs = ds.attributes.reindex(pred["window_id"].to_numpy())
    if attrs.isna().any(axis=None):
        raise DataError(f"run {run_id}: predictions hold window ids the dataset does not have; re-run it")
    return pred.join(attrs.reset_index(drop=True).astype(str))


def activation_sample(subjects: np.ndarray, max_windows: int | None) -> np.ndarray:
    """Positions (sorted) of the test windows whose activations a run stores: all without a cap; with
    one, whole subjects in a fixed order (sorted ids permuted by ``default_rng(0)``) while their windows
    fit in ``max_windows`` (a subject that does not fit is skipped; at least one subject is kept).
    ``subjects`` (N,) -> (n,) int positions; the same for every run of one test split."""
    subjects = np.asarray(subjects).astype(str)
    if max_windows is None or subjects.size <= max_windows:
        return np.arange(subjects.size)
    ids, counts = np.unique(subjects, return_counts=True)
    order = np.random.default_rng(0).permutation(ids.size)
    keep: list[str] = []
    total = 0
    for i in order:
        if total + counts[i] <= max_windows or not keep:
            keep.append(ids[i])
            total += int(counts[i])
    return np.flatnonzero(np.isin(subjects, keep))


def stored_windows(ws: Workspace, run_id: str) -> np.ndarray:
    """Window ids (n,) whose activations a fine-tuning run stored."""
    with np.load(ws.run(run_id) / "activations.npz") as npz:
        return np.asarray(npz["window_id"])


def with_activations(ws: Workspace, run_id: str, pred: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``pred`` (a run's test predictions) whose activations the run stored (all of them
    unless ``finetune.activation_windows`` capped the sample), in their order."""
    stored = stored_windows(ws, run_id)
    if len(stored) == len(pred):
        return pred
    return pred[pred["window_id"].astype(str).isin(pd.Index(stored.astype(str)))].reset_index(drop=True)


def load_activations(ws: Workspace, run_id: str, window_ids: np.ndarray) -> dict[str, np.ndarray]:
    """A run's stored activations, reordered to ``window_ids``."""
    with np.load(ws.run(run_id) / "activations.npz") as npz:
        stored = npz["window_id"]
        pos = pd.Index(stored).get_indexer(window_ids)
        if (pos < 0).any():
            raise DataError(f"run {run_id}: activations lack some test windows; re-run it")
        return {k: npz[k][pos].astype(np.float32) for k in npz.files if k != "window_id"}


__all__ = [
    "activation_sample",
    "load_activations",
    "load_predictions",
    "stored_windows",
    "with_activations",
]
