"""Subjects, their protected attributes, the subject-disjoint split and bias of the pre-training pool.

Splits: ``pool_fraction`` of subjects form the *external* unlabelled pool (another site or device in
the pool-bias knobs); the rest is split into train/val/test by ``split`` (default 70/15/15); with
``labelled_fraction`` < 1 the unlabelled share of train subjects joins the pool (same site: pool-only
bias does not touch them).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from fairssl.data.dataset import MISSING
from fairssl.errors import ConfigError


def draw_attributes(cfg: Any, rng: np.random.Generator) -> pd.DataFrame:
    """(S rows) sex, age_group, race; a ``missing_share`` of races is the explicit ``missing`` group."""
    s = cfg.n_subjects
    races = list(cfg.race_shares)
    shares = np.array([cfg.race_shares[r] for r in races], dtype=float)
    race = rng.choice(races, size=s, p=shares / shares.sum()).astype(object)
    race[rng.random(s) < cfg.missing_share] = MISSING
    return pd.DataFrame(
        {
            "sex": np.where(rng.random(s) < cfg.female_share, "female", "male"),
            "age_group": np.where(rng.random(s) < cfg.old_share, ">=65", "<65"),
            "race": race,
        }
    )


def pool_members(order: np.ndarray, n_pool: int, in_group: np.ndarray, share: float | None) -> np.ndarray:
    """Subject indices (n_pool,) of the external pool: the first of ``order``, or with ``share`` of them
    from the group (as many as exist; the rest topped up from the others)."""
    if share is None:
        return order[:n_pool]
    grp, rest = order[in_group[order]], order[~in_group[order]]
    n_grp = min(round(share * n_pool), len(grp))
    n_rest = min(n_pool - n_grp, len(rest))
    n_grp = n_pool - n_rest  # top up from the group when the others run short
    return np.concatenate([grp[:n_grp], rest[:n_rest]])


def split_subjects(cfg: Any, in_group: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(S,) split names and (S,) bool "in the external pool"; ``in_group`` is ``pool_bias``'s group."""
    s = cfg.n_subjects
    order = rng.permutation(s)
    pool = pool_members(order, round(cfg.pool_fraction * s), in_group, cfg.pool_bias.share)
    external = np.zeros(s, dtype=bool)
    external[pool] = True
    labelled = order[~external[order]]
    n_train = round(cfg.split[0] * len(labelled))
    n_val = round(cfg.split[1] * len(labelled))
    split = np.empty(s, dtype=object)
    split[pool] = "pool"
    split[labelled[:n_train]] = "train"
    split[labelled[n_train : n_train + n_val]] = "val"
    split[labelled[n_train + n_val :]] = "test"
    if cfg.labelled_fraction < 1.0:
        train_ids = labelled[:n_train]
        split[train_ids[: round((1.0 - cfg.labelled_fraction) * len(train_ids))]] = "pool"
    if min((split == k).sum() for k in ("train", "val", "test")) == 0:
        raise ConfigError(
            f"simulate: {s} subjects with pool_fraction {cfg.pool_fraction} and labelled_fraction "
            f"{cfg.labelled_fraction} leave an empty train/val/test split; raise n_subjects or lower them"
        )
    return split, external


def device_shift(
    X: np.ndarray,
    rows: np.ndarray,
    channels: list[int],
    *,
    gain: float,
    offset: float,
    noise: float,
    rng: np.random.Generator,
) -> None:
    """In place, the pool-only site/device shift on ``channels`` of ``rows``:
    ``x -> gain x + offset + noise e``, e ~ N(0, 1)."""
    idx = np.flatnonzero(rows)
    if not len(idx) or (gain == 1.0 and offset == 0.0 and noise == 0.0):
        return
    grid = np.ix_(idx, np.asarray(channels, dtype=np.int64))
    block = X[grid]  # (n, k, T)
    X[grid] = gain * block + offset + noise * rng.normal(size=block.shape)
