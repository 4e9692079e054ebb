"""A simulator of human-centric multichannel time series with controlled, separable sources of bias.

Generative model (S subjects, W windows each, N = S W windows of T steps; channels
:data:`CHANNELS`; each mechanism draws from its own child of one seeded ``numpy.random.Generator``, so
switching one knob leaves every other draw unchanged). One small function per mechanism lives in
:mod:`fairssl.data.simulation`:

1. Subjects get ``sex``, ``age_group`` and ``race`` (``race_shares``, ``female_share``, ``old_share``;
   a ``missing_share`` of races is the explicit ``missing`` group) -- representation.
2. Two latent factors per window, a slow ``state`` and an ``events`` propensity (``latent``); the outcome
   is ``y_clean = [w . (state, events) + 0.5 u > q]`` with ``w`` = ``outcome_weights`` and one threshold
   ``q`` (the 1 - ``prevalence`` quantile) for everyone. Each window's true risk (Bayes score)
   ``P(y_clean = 1 | factors, group)`` is in ``info['truth']`` (see :func:`true_risk`).
3. Group mechanisms on the factors: ``base_rate`` (the group's state is higher: more positives, same
   mapping), ``covariate_shift`` (the group moves orthogonally to ``w``: same base rate and mapping, a
   sparse region of the signal space), ``concept_shift`` (the group's outcome uses other weights and/or a
   shifted threshold: same signals, another outcome).
4. Channels (``signals``): subject baselines (+ group physiology x ``group_physiology``), a slow
   response to the state (temperature, blood pressure, heart rate), transient events (heart-rate bursts,
   SpO2 dips, fast breathing; location-free shapes that an encoder can learn from unlabelled windows),
   AR(1) noise, a subject activity rhythm (unrelated to the outcome) and a ``device_flag`` noise channel.
   ``measurement_bias``: the group's channel is read with an offset and extra noise, and its response is
   attenuated (pulse oximetry over-reading desaturation in darker skin).
5. Recorded labels (``labels``): ``label_bias`` (random under-recording of the group's positives) and
   ``under_diagnosis`` (the group's positives with true risk below a threshold are missed);
   ``spurious``: in one group ``device_flag`` carries the recorded label (a shortcut).
6. Splits and the pool (``cohort``): ``pool_fraction`` of subjects form the external unlabelled pool,
   the rest train/val/test by ``split`` (70/15/15); ``labelled_fraction`` < 1 moves train subjects'
   windows to the pool
   (0.02-0.1: the regime where pre-training should help). ``pool_bias``: a different group mix
   (``share``) and a device/site shift (gain, offset, noise on ``channels``) in the external pool only.
7. Observation (``observe``): ``missingness`` (steps missing at ``rate``, plus ``group_rate`` in the
   group) and ``sampling`` (the group's channels sampled every k steps), forward-filled; the observed mask
   is ``WindowDataset.mask`` and, with ``mask_channels``, extra ``mask_<channel>`` channels.

With every mechanism off, balanced shares and ``group_physiology = 0`` (examples/simulated_bias_none.toml)
the groups are identically distributed: the Bayes scorer's parity deviation is 0 up to sampling error.
The recorded labels are ``y`` (-1 in the pool); the truth is ``y_clean``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from fairssl.config import SimulationConfig
from fairssl.data.dataset import WindowDataset
from fairssl.data.simulation import cohort, labels, latent, observe, signals
from fairssl.data.simulation.knobs import CHANNELS
from fairssl.errors import ConfigError, DataError

__all__ = ["CHANNELS", "simulate", "true_risk"]

_STREAMS = (
    "attributes", "split", "factors", "outcome", "baseline", "state", "events", "noise", "activity",
    "measurement", "label", "pool", "missing", "sampling",
)  # fmt: skip


def _config(config: SimulationConfig | None, overrides: dict[str, object]) -> SimulationConfig:
    cfg = config or SimulationConfig()
    if not overrides:
        return cfg
    try:
        return SimulationConfig.model_validate({**cfg.model_dump(), **overrides})
    except ValidationError as exc:  # one line for the user: the key and the message
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        msg = first["msg"].removeprefix("Value error, ")
        raise ConfigError(f"simulate: invalid option {key + ': ' if key else ''}{msg}") from None


def _rows(attrs_w: pd.DataFrame, knob: Any) -> np.ndarray:
    """bool (N,): the windows of the knob's ``attribute``/``group``."""
    return np.asarray(attrs_w[knob.attribute].to_numpy() == knob.group)


def simulate(config: SimulationConfig | None = None, *, seed: int = 0, **overrides: object) -> WindowDataset:
    """Simulate a dataset; ``overrides`` are :class:`SimulationConfig` fields (validated).

    Returns a :class:`WindowDataset` with X (S*W, C, T) float32 (C = 7, plus one mask channel per
    ``missingness.channels`` with ``mask_channels``), recorded ``y`` (-1 in the pool), ``y_clean``,
    attributes sex/age_group/race, ``mask`` when anything is unobserved or ``mask_channels``, and ``info``:
    ``simulation`` (the knobs), ``seed`` and ``truth`` (per window id: ``bayes_score``, ``state``,
    ``events``, ``external_pool``; read with :func:`true_risk`).
    """
    cfg = _config(config, overrides)
    rng = dict(zip(_STREAMS, np.random.default_rng(seed).spawn(len(_STREAMS)), strict=True))
    s, w, t, c = cfg.n_subjects, cfg.windows_per_subject, cfg.n_steps, len(CHANNELS)
    subj_attrs = cohort.draw_attributes(cfg, rng["attributes"])
    split_s, external_s = cohort.split_subjects(cfg, _rows(subj_attrs, cfg.pool_bias), rng["split"])
    attrs_w = subj_attrs.loc[np.repeat(np.arange(s), w)].reset_index(drop=True)  # (N rows)

    # Latent factors and the truth.
    weights = latent.unit(cfg.outcome_weights)
    state, events = latent.draw_factors(s, w, rng["factors"])
    state = latent.shift_base_rate(state, _rows(attrs_w, cfg.base_rate), cfg.base_rate.shift)
    state, events = latent.shift_covariates(
        state, events, _rows(attrs_w, cfg.covariate_shift), cfg.covariate_shift.shift, weights
    )
    cs = cfg.concept_shift
    truth = latent.outcome(
        state,
        events,
        weights=weights,
        prevalence=cfg.prevalence,
        rng=rng["outcome"],
        concept_rows=_rows(attrs_w, cs) & (cs.threshold != 0 or cs.weights is not None),
        concept_weights=weights if cs.weights is None else latent.unit(cs.weights),
        concept_threshold=cs.threshold,
    )

    # Signals.
    mb = cfg.measurement_bias
    mb_rows = _rows(attrs_w, mb) & bool(mb.offset or mb.noise)
    mb_ch = CHANNELS.index(mb.channel)
    base = signals.baselines(subj_attrs, cfg.group_physiology, rng["baseline"], c)
    X = signals.compose(
        np.repeat(base, w, axis=0)[:, :, None],
        signals.state_response(state, t, rng["state"]),
        signals.event_response(events, t, rng["events"]),
        signals.ar_noise((s * w, c, t), rng["noise"]),
        state_gain=signals.attenuate(signals.STATE_GAIN, mb_rows, mb_ch, mb.offset),
        event_gain=signals.attenuate(signals.EVENT_GAIN, mb_rows, mb_ch, mb.offset),
    )
    act = CHANNELS.index("activity")
    X[:, act, :] = signals.activity(s, w, t, rng["activity"]) + 0.5 * X[:, act, :]
    if mb_rows.any():
        signals.offset_channel(X, mb_rows, mb_ch, mb.offset, mb.noise, rng["measurement"])

    # Recorded labels.
    y = truth.y_clean
    if cfg.label_bias.rate > 0:
        y = labels.under_record(y, _rows(attrs_w, cfg.label_bias), cfg.label_bias.rate, rng["label"])
    if cfg.under_diagnosis.threshold > 0:
        rows = _rows(attrs_w, cfg.under_diagnosis)
        y = labels.under_diagnose(y, rows, truth.bayes, cfg.under_diagnosis.threshold)
    if cfg.spurious.strength > 0:
        signals.spurious_channel(
            X, _rows(attrs_w, cfg.spurious), y, CHANNELS.index("device_flag"), cfg.spurious.strength
        )

    # The external pool's own site/device.
    external = np.repeat(external_s, w)
    pb = cfg.pool_bias
    pool_channels = [CHANNELS.index(ch) for ch in pb.channels]
    cohort.device_shift(
        X, external, pool_channels, gain=pb.gain, offset=pb.offset, noise=pb.noise, rng=rng["pool"]
    )

    X, mask, names = _observe(cfg, X, attrs_w, rng)
    split = np.repeat(split_s, w)
    subject = np.repeat(np.array([f"s{i:05d}" for i in range(s)], dtype=object), w)
    window_id = np.char.add(
        np.repeat(subject.astype(str)[::w], w), np.tile([f"-w{j:02d}" for j in range(w)], s)
    )
    return WindowDataset.build(
        X.astype(np.float32),
        np.where(split == "pool", -1, y),
        subject=subject,
        split=split,
        attributes=attrs_w,
        window_id=window_id,
        channel_names=names,
        name="simulated",
        y_clean=truth.y_clean,
        mask=mask,
        info={
            "simulation": cfg.model_dump(mode="json"),
            "seed": seed,
            "truth": {
                "window_id": window_id.tolist(),
                "bayes_score": truth.bayes.round(6).tolist(),
                "state": state.round(6).tolist(),
                "events": events.round(6).tolist(),
                "external_pool": external.tolist(),
            },
        },
    )


def _observe(
    cfg: SimulationConfig, X: np.ndarray, attrs_w: pd.DataFrame, rng: dict[str, np.random.Generator]
) -> tuple[np.ndarray, np.ndarray | None, tuple[str, ...]]:
    """Missingness and sampling rate: forward-filled X, the observed mask (or None) and channel names."""
    n, _c, t = X.shape
    miss, smp = cfg.missingness, cfg.sampling
    names: tuple[str, ...] = CHANNELS
    observed = np.ones(X.shape, dtype=bool)
    if miss.rate > 0 or miss.group_rate > 0:
        idx = [CHANNELS.index(ch) for ch in miss.channels]
        gone = observe.missing_steps(
            _rows(attrs_w, miss), len(idx), t, rate=miss.rate, group_rate=miss.group_rate, rng=rng["missing"]
        )
        observed[:, idx, :] &= ~gone
    if smp.every > 1:
        idx = [CHANNELS.index(ch) for ch in smp.channels]
        held = observe.sparse_sampling(_rows(attrs_w, smp), len(idx), t, every=smp.every, rng=rng["sampling"])
        observed[:, idx, :] &= ~held
    if not observed.all():
        X = observe.forward_fill(X, observed)
    elif not cfg.mask_channels:
        return X, None, names
    if cfg.mask_channels:
        idx = [CHANNELS.index(ch) for ch in miss.channels]
        X = np.concatenate([X, observed[:, idx, :].astype(X.dtype)], axis=1)
        observed = np.concatenate([observed, np.ones((n, len(idx), t), dtype=bool)], axis=1)
        names = (*CHANNELS, *(f"mask_{ch}" for ch in miss.channels))
    return X, observed, names


def true_risk(dataset: WindowDataset, key: str = "bayes_score") -> np.ndarray:
    """float64 (N,): the simulator's per-window truth ``key`` (``bayes_score``: P(y_clean = 1 | latent
    factors, group), the ideal scorer; ``state``; ``events``), aligned by ``window_id`` (works on subsets)."""
    truth = dataset.info.get("truth")
    if not isinstance(truth, dict) or key not in truth:
        raise DataError(f"dataset {dataset.name!r} has no simulator truth {key!r}; simulate it with fairssl")
    lookup = pd.Series(np.asarray(truth[key], dtype=np.float64), index=truth["window_id"])
    return lookup.reindex(dataset.window_id).to_numpy()
