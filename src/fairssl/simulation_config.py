"""``[data.simulate]``: the bias simulator's knobs, each validated with a one-line error naming the key
(the mechanisms themselves live in :mod:`fairssl.data.simulation`)."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from fairssl.config_base import Section as _Section


class MeasurementBias(_Section):
    """Offset (and extra noise) in one channel for one group, e.g. pulse-oximetry overestimation."""

    attribute: str = "race"
    group: str = "black"
    channel: str = "spo2"
    offset: float = 0.0
    noise: float = 0.0


class LabelBias(_Section):
    """Under-recording: a true positive of ``group`` is recorded as negative with probability ``rate``."""

    attribute: str = "sex"
    group: str = "female"
    rate: float = Field(0.0, ge=0.0, le=1.0)


class SpuriousChannel(_Section):
    """A channel that tracks the recorded label only for one group (a shortcut the model can learn)."""

    attribute: str = "age_group"
    group: str = ">=65"
    strength: float = Field(0.0, ge=0.0)


class SimulationConfig(_Section):
    """Knobs of :func:`fairssl.data.simulate.simulate`; see its docstring for the generative model.

    Every bias mechanism is off at 0 (or None) and acts on one group (``attribute``/``group``), so an
    unbiased control is: balanced shares, ``group_physiology = 0`` and every mechanism at 0
    (``examples/simulated_bias_none.toml``). ``labelled_fraction`` < 1 (e.g. 0.02-0.1) is the regime where
    self-supervised pre-training on the pool is expected to help; at 1.0 it need not.
    """

    class GroupShift(_Section):
        """Moves one group's latent factors by ``shift`` standard deviations (0 = off, |shift| <= 3).

        ``base_rate``: along the slow state, so the group is sicker (higher base rate) with the same
        signal-outcome mapping. ``covariate_shift``: orthogonal to the outcome weights, so the group sits in
        a sparse region of the signal space with the same base rate and mapping.
        """

        attribute: str = "race"
        group: str = "black"
        shift: float = Field(0.0, ge=-3.0, le=3.0)

    class ConceptShift(_Section):
        """The group's outcome uses other weights of the latent factors and/or a shifted threshold.

        ``weights``: [state, events] for the group (None = everyone's ``outcome_weights``); ``threshold``:
        added to the group's decision threshold in standard deviations of the outcome score (> 0: fewer
        positives at the same signals). 0 and None = off.
        """

        attribute: str = "race"
        group: str = "black"
        threshold: float = Field(0.0, ge=-3.0, le=3.0)
        weights: list[float] | None = None

    class UnderDiagnosis(_Section):
        """Signal-dependent label bias: a true positive of the group whose true risk (Bayes score) is
        below ``threshold`` is recorded as negative (mild cases missed). 0 = off; < 1."""

        attribute: str = "sex"
        group: str = "female"
        threshold: float = Field(0.0, ge=0.0, lt=1.0)

    class PoolBias(_Section):
        """Bias of the external pre-training pool only (the ``pool_fraction`` subjects, never labelled).

        ``share``: the group's share among pool subjects (None = as drawn); a device/site shift on
        ``channels`` of every pool window: ``x -> gain * x + offset + noise * N(0, 1)``.
        """

        attribute: str = "race"
        group: str = "black"
        share: float | None = Field(None, ge=0.0, le=1.0)
        channels: list[str] = Field(default_factory=lambda: ["spo2"])
        offset: float = Field(0.0, ge=-5.0, le=5.0)
        gain: float = Field(1.0, gt=0.0, le=5.0)
        noise: float = Field(0.0, ge=0.0, le=5.0)

    class Missingness(_Section):
        """Unobserved steps on ``channels``, forward-filled (0 before the first observation) as in the
        MIMIC benchmark: each step is missing with probability ``rate`` (everyone) + ``group_rate``
        (the group); sum < 0.95."""

        attribute: str = "race"
        group: str = "black"
        rate: float = Field(0.0, ge=0.0, lt=0.95)
        group_rate: float = Field(0.0, ge=0.0, lt=0.95)
        channels: list[str] = Field(
            default_factory=lambda: ["heart_rate", "spo2", "resp_rate", "temperature", "sbp"]
        )

    class Sampling(_Section):
        """Group-dependent sampling rate: the group's ``channels`` are observed every ``every`` steps and
        held in between (1 = off)."""

        attribute: str = "age_group"
        group: str = ">=65"
        every: int = Field(1, ge=1)
        channels: list[str] = Field(
            default_factory=lambda: ["heart_rate", "spo2", "resp_rate", "temperature", "sbp"]
        )

    seed: int = 0
    """Seed of the simulated dataset (the study's ``seeds`` seed the models, not the data)."""
    n_subjects: int = Field(1000, ge=20)
    windows_per_subject: int = Field(10, ge=1)
    n_steps: int = Field(48, ge=8)
    pool_fraction: float = Field(0.5, ge=0.0, lt=1.0)
    labelled_fraction: float = Field(1.0, gt=0.0, le=1.0)
    """Share of training subjects that keep their labels (the rest join the pool); 0.02-0.1 is the regime
    where pre-training is expected to help, 1.0 the fully supervised one."""
    prevalence: float = Field(0.2, gt=0.0, lt=1.0)
    race_shares: dict[str, float] = Field(
        default_factory=lambda: {"white": 0.62, "black": 0.16, "hispanic": 0.11, "asian": 0.07, "other": 0.04}
    )
    female_share: float = Field(0.45, gt=0.0, lt=1.0)
    old_share: float = Field(0.4, gt=0.0, lt=1.0)
    missing_share: float = Field(0.02, ge=0.0, lt=0.5)
    group_physiology: float = Field(1.0, ge=0.0, le=3.0)
    """Scale of group baselines (heart rate +0.4 in women, blood pressure +0.5 in the old; subject sd 0.2)."""
    outcome_weights: list[float] = Field(default_factory=lambda: [0.6, 0.8])
    """Weights of the latent factors [slow state, events] in the outcome score (normalised to norm 1)."""
    base_rate: GroupShift = Field(
        default_factory=lambda: SimulationConfig.GroupShift(attribute="age_group", group=">=65", shift=0.35)
    )
    covariate_shift: GroupShift = Field(default_factory=GroupShift)
    concept_shift: ConceptShift = Field(default_factory=ConceptShift)
    measurement_bias: MeasurementBias = Field(default_factory=lambda: MeasurementBias(offset=0.6, noise=0.3))
    label_bias: LabelBias = Field(default_factory=lambda: LabelBias(rate=0.1))
    under_diagnosis: UnderDiagnosis = Field(default_factory=UnderDiagnosis)
    spurious: SpuriousChannel = Field(default_factory=SpuriousChannel)
    pool_bias: PoolBias = Field(default_factory=PoolBias)
    missingness: Missingness = Field(default_factory=Missingness)
    sampling: Sampling = Field(default_factory=Sampling)
    mask_channels: bool = False
    """Append one observed-mask channel (``mask_<channel>``, 1 observed) per ``missingness.channels``."""

    @field_validator("race_shares")
    @classmethod
    def _shares(cls, v: dict[str, float]) -> dict[str, float]:
        if not v or any(s <= 0 for s in v.values()):
            raise ValueError("race_shares needs at least one group, each with a positive share")
        return v

    @model_validator(mode="after")
    def _knobs(self) -> SimulationConfig:
        from fairssl.data.simulation.knobs import check_knobs

        check_knobs(self)  # groups, channels, weights: one-line ValueError naming the key
        return self


__all__ = ["LabelBias", "MeasurementBias", "SimulationConfig", "SpuriousChannel"]
