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


def load_activations(ws: Workspace, run_id: str, window_ids: np.ndarray) -> dict[str, np.ndarray]:
    """A run's stored activations, reordered to ``window_ids``."""
    with np.load(ws.run(run_id) / "activations.npz") as npz:
        stored = npz["window_id"]
        pos = pd.Index(stored).get_indexer(window_ids)
        if (pos < 0).any():
            raise DataError(f"run {run_id}: activations lack some test windows; re-run it")
        return {k: npz[k][pos].astype(np.float32) for k in npz.files if k != "window_id"}


__all__ = ["load_activations", "load_predictions"]
