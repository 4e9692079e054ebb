"""A simulator of human-centric multichannel time series with controlled sources of bias.

Generative model (all draws from one seeded ``numpy.random.Generator``; S subjects, W windows each,
T steps, 7 channels ``heart_rate, spo2, resp_rate, temperature, sbp, activity, device_flag``):

1. Subjects get ``sex`` (female/male), ``age_group`` (<65 / >=65) and ``race`` (imbalanced shares, a
   ``missing`` share kept as its own group). A subject risk r_s ~ N(0, 1) + 0.5 [age >= 65].
2. Each window has a latent severity z = 0.7 r_s + 0.7 e, e ~ N(0, 1). The outcome depends on it
   with noise: y_clean = [z + 0.6 u > q], u ~ N(0, 1), q the (1 - prevalence) quantile.
3. Channels = subject baseline (group-dependent physiology: heart rate higher in women, blood pressure
   higher in the old) + an event response after a random onset t0 whose amplitude grows with z
   (heart rate, respiration and temperature rise; SpO2 and blood pressure fall; amplitude
   0.8 softplus(1.5 (z - q + 1)), so severity is the dominant structure of the data) + AR(1) noise.
   ``activity`` is a subject-specific rhythm unrelated to the outcome; ``device_flag`` is noise.
4. Bias sources (knobs of :class:`fairssl.config.SimulationConfig`):
   - representation: ``race_shares``, ``female_share``, ``old_share``;
   - measurement bias: in one group, one channel is read with an offset and extra noise, and the
     event response in it is attenuated by the offset (pulse oximetry over-reads low SpO2 in darker
     skin, hiding desaturation);
   - label bias: true positives of one group are recorded as negative with probability ``rate``;
   - spurious channel: in one group, ``device_flag`` carries the recorded label (a shortcut).
5. Splits are subject-disjoint: ``pool_fraction`` of subjects form the unlabelled pre-training pool
   (label -1); the rest is split 70/15/15 into train/val/test; with ``labelled_fraction`` < 1 the
   unlabelled share of train subjects joins the pool.

The recorded labels are ``y``; the truth is ``y_clean``, so fairness can be measured against both.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fairssl.config import SimulationConfig
from fairssl.data.dataset import MISSING, WindowDataset
from fairssl.errors import ConfigError

CHANNELS = ("heart_rate", "spo2", "resp_rate", "temperature", "sbp", "activity", "device_flag")
# Event response direction per channel (activity and device_flag do not respond).
_EVENT_GAIN = np.array([1.0, -1.0, 0.8, 0.5, -0.6, 0.0, 0.0])


def _draw_attributes(cfg: SimulationConfig, rng: np.random.Generator) -> pd.DataFrame:
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


def _group_mask(attrs: pd.DataFrame, attribute: str, group: str) -> np.ndarray:
    if attribute not in attrs.columns:
        raise ConfigError(
            f"simulate: bias attribute {attribute!r} does not exist; allowed: {', '.join(attrs.columns)}"
        )
    values = attrs[attribute].to_numpy()
    if group not in set(values) and not (attribute == "race" and group == MISSING):
        allowed = sorted(set(values))
        raise ConfigError(f"simulate: group {group!r} of {attribute!r} does not exist; allowed: {allowed}")
    return np.asarray(values == group)


def _split_subjects(cfg: SimulationConfig, rng: np.random.Generator) -> np.ndarray:
    s = cfg.n_subjects
    order = rng.permutation(s)
    n_pool = round(cfg.pool_fraction * s)
    labelled = order[n_pool:]
    n_train = round(0.7 * len(labelled))
    n_val = round(0.15 * len(labelled))
    split = np.empty(s, dtype=object)
    split[order[:n_pool]] = "pool"
    split[labelled[:n_train]] = "train"
    split[labelled[n_train : n_train + n_val]] = "val"
    split[labelled[n_train + n_val :]] = "test"
    if cfg.labelled_fraction < 1.0:
        train_ids = labelled[:n_train]
        n_unlab = round((1.0 - cfg.labelled_fraction) * len(train_ids))
        split[train_ids[:n_unlab]] = "pool"
    if min((split == k).sum() for k in ("train", "val", "test")) == 0:
        raise ConfigError(
            f"simulate: {s} subjects with pool_fraction {cfg.pool_fraction} leave an empty train/val/test "
            "split; raise n_subjects or lower pool_fraction"
        )
    return split


def simulate(config: SimulationConfig | None = None, *, seed: int = 0, **overrides: object) -> WindowDataset:
    """Simulate a dataset; ``overrides`` are :class:`SimulationConfig` fields (validated).

    Returns a :class:`WindowDataset` with X (S*W, 7, T) float32, recorded ``y`` (-1 in the pool),
    ``y_clean``, attributes sex/age_group/race, and ``info['simulation']`` holding the knobs.
    """
    cfg = config or SimulationConfig()
    if overrides:
        try:
            cfg = SimulationConfig.model_validate({**cfg.model_dump(), **overrides})
        except Exception as exc:  # pydantic ValidationError: one line for the user
            raise ConfigError(f"simulate: invalid option ({str(exc).splitlines()[-1].strip()})") from None
    rng = np.random.default_rng(seed)
    s, w, t, c = cfg.n_subjects, cfg.windows_per_subject, cfg.n_steps, len(CHANNELS)
    n = s * w
    subj_attrs = _draw_attributes(cfg, rng)
    old = (subj_attrs["age_group"] == ">=65").to_numpy()
    female = (subj_attrs["sex"] == "female").to_numpy()

    # Latent severity and clean labels.
    risk = rng.normal(size=s) + 0.5 * old  # (S,)
    z = 0.7 * np.repeat(risk, w) + 0.7 * rng.normal(size=n)  # (N,) latent severity
    outcome = z + 0.6 * rng.normal(size=n)  # the outcome depends on severity, not deterministically
    q = np.quantile(outcome, 1.0 - cfg.prevalence)
    y_clean = (outcome > q).astype(np.int64)

    # Subject baselines (S, C) with group physiology; broadcast to windows.
    base = rng.normal(scale=0.5, size=(s, c))
    base[:, 0] += 0.4 * female  # heart rate
    base[:, 4] += 0.5 * old  # blood pressure
    base_w = np.repeat(base, w, axis=0)[:, :, None]  # (N, C, 1)

    # Event response: amplitude grows smoothly with z, onset t0 uniform in the middle of the window.
    amp = 0.8 * np.log1p(np.exp(1.5 * (z - q + 1.0)))  # (N,) softplus: grows smoothly with severity
    t0 = rng.uniform(0.2 * t, 0.7 * t, size=n)  # (N,)
    steps = np.arange(t)[None, :]  # (1, T)
    profile = 1.0 / (1.0 + np.exp(-(steps - t0[:, None]) / 2.5))  # (N, T)
    gain = np.broadcast_to(_EVENT_GAIN, (n, c)).copy()  # (N, C)

    attrs_w = subj_attrs.loc[np.repeat(np.arange(s), w)].reset_index(drop=True)  # (N rows)
    mb = cfg.measurement_bias
    mb_rows = np.zeros(n, dtype=bool)
    if mb.offset or mb.noise:
        if mb.channel not in CHANNELS:
            raise ConfigError(
                f"simulate: measurement_bias.channel {mb.channel!r} unknown; allowed: {CHANNELS}"
            )
        mb_rows = _group_mask(attrs_w, mb.attribute, mb.group)
        ch = CHANNELS.index(mb.channel)
        gain[mb_rows, ch] *= 1.0 / (1.0 + abs(mb.offset))  # attenuated response in the biased group
    event = amp[:, None, None] * gain[:, :, None] * profile[:, None, :]  # (N, C, T)

    # AR(1) noise, phi = 0.7, stationary unit-ish variance.
    noise = np.empty((n, c, t))
    noise[:, :, 0] = rng.normal(scale=0.6, size=(n, c))
    eps = rng.normal(scale=0.6 * np.sqrt(1 - 0.49), size=(n, c, t))
    for k in range(1, t):
        noise[:, :, k] = 0.7 * noise[:, :, k - 1] + eps[:, :, k]

    X = base_w + event + noise  # (N, C, T)
    # Activity: a subject-specific rhythm (phase per subject) unrelated to the outcome.
    phase = np.repeat(rng.uniform(0, 2 * np.pi, size=s), w)[:, None]  # (N, 1)
    X[:, 5, :] = np.sin(2 * np.pi * steps / 24.0 + phase) + 0.5 * noise[:, 5, :]

    if mb_rows.any():
        ch = CHANNELS.index(mb.channel)
        X[mb_rows, ch, :] += mb.offset + mb.noise * rng.normal(size=(int(mb_rows.sum()), t))

    # Recorded labels: under-recording of positives in one group.
    y = y_clean.copy()
    lb = cfg.label_bias
    if lb.rate > 0:
        rows = _group_mask(attrs_w, lb.attribute, lb.group) & (y_clean == 1)
        y[rows & (rng.random(n) < lb.rate)] = 0

    sp = cfg.spurious
    if sp.strength > 0:
        rows = _group_mask(attrs_w, sp.attribute, sp.group)
        X[rows, 6, :] += sp.strength * (2 * y[rows, None] - 1)

    split = np.repeat(_split_subjects(cfg, rng), w)
    y_recorded = np.where(split == "pool", -1, y)
    subject = np.repeat(np.array([f"s{i:05d}" for i in range(s)], dtype=object), w)
    window_id = np.array([f"s{i // w:05d}-w{i % w:02d}" for i in range(n)], dtype=object)
    return WindowDataset.build(
        X.astype(np.float32),
        y_recorded,
        subject=subject,
        split=split,
        attributes=attrs_w,
        window_id=window_id,
        channel_names=CHANNELS,
        name="simulated",
        y_clean=y_clean,
        info={"simulation": cfg.model_dump(mode="json"), "seed": seed},
    )
