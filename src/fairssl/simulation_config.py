"""``[data.simulate]``: the bias simulator's knobs, each validated with a one-line error naming the key
(the mechanisms themselves live in :mod:`fairssl.data.simulation`)."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from fairssl.config_base import Section as _Section


class MeasurementBias(_Section):
    """Offset (and extra noise) in one channel for one group, e.g. pulse-oximetry overestimation."""

    attribute: str = "race"
    """The attribute whose group the mechanism acts on."""
    group: str = "black"
    """The group it acts on (a value of ``attribute``)."""
    channel: str = "spo2"
    """The channel read with bias (a name of the simulator's channels)."""
    offset: float = 0.0
    """Added to the group's readings of the channel (whose response to the state is also divided by
    1 + |offset|); 0 = off."""
    noise: float = 0.0
    """Standard deviation of extra noise on the group's channel readings; 0 = off."""


class LabelBias(_Section):
    """Under-recording: a true positive of ``group`` is recorded as negative with probability ``rate``."""

    attribute: str = "sex"
    """The attribute whose group the mechanism acts on."""
    group: str = "female"
    """The group it acts on (a value of ``attribute``)."""
    rate: float = Field(0.0, ge=0.0, le=1.0)
    """Probability that a true positive of the group is recorded as negative; 0 = off."""


class SpuriousChannel(_Section):
    """A channel that tracks the recorded label only for one group (a shortcut the model can learn)."""

    attribute: str = "age_group"
    """The attribute whose group the mechanism acts on."""
    group: str = ">=65"
    """The group it acts on (a value of ``attribute``)."""
    strength: float = Field(0.0, ge=0.0)
    """In the group, the ``device_flag`` channel gets ``strength * (2 y - 1)`` added (y the recorded
    label); 0 = off."""


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
        """The attribute whose group the mechanism acts on."""
        group: str = "black"
        """The group it acts on (a value of ``attribute``)."""
        shift: float = Field(0.0, ge=-3.0, le=3.0)
        """Standard deviations the group's latent factors move; 0 = off."""

    class ConceptShift(_Section):
        """The group's outcome uses other weights of the latent factors and/or a shifted threshold.

        ``weights``: [state, events] for the group (None = everyone's ``outcome_weights``); ``threshold``:
        added to the group's decision threshold in standard deviations of the outcome score (> 0: fewer
        positives at the same signals). 0 and None = off.
        """

        attribute: str = "race"
        """The attribute whose group the mechanism acts on."""
        group: str = "black"
        """The group it acts on (a value of ``attribute``)."""
        threshold: float = Field(0.0, ge=-3.0, le=3.0)
        """Added to the group's decision threshold, in sd of the outcome score (> 0: fewer positives)."""
        weights: list[float] | None = Field(None, examples=[[0.9, 0.3]])
        """The group's weights of [state, events]; None = everyone's ``outcome_weights``."""

    class UnderDiagnosis(_Section):
        """Signal-dependent label bias: a true positive of the group whose true risk (Bayes score) is
        below ``threshold`` is recorded as negative (mild cases missed). 0 = off; < 1."""

        attribute: str = "sex"
        """The attribute whose group the mechanism acts on."""
        group: str = "female"
        """The group it acts on (a value of ``attribute``)."""
        threshold: float = Field(0.0, ge=0.0, lt=1.0)
        """True risk below which a positive of the group is recorded as negative; 0 = off."""

    class PoolBias(_Section):
        """Bias of the external pre-training pool only (the ``pool_fraction`` subjects, never labelled).

        ``share``: the group's share among pool subjects (None = as drawn); a device/site shift on
        ``channels`` of every pool window: ``x -> gain * x + offset + noise * N(0, 1)``.
        """

        attribute: str = "race"
        """The attribute whose group the mechanism acts on."""
        group: str = "black"
        """The group it acts on (a value of ``attribute``)."""
        share: float | None = Field(None, ge=0.0, le=1.0, examples=[0.05])
        """The group's share among pool subjects; None = as drawn."""
        channels: list[str] = Field(default_factory=lambda: ["spo2"])
        """Channels of every pool window that get the device/site shift."""
        offset: float = Field(0.0, ge=-5.0, le=5.0)
        """Added to the shifted channels of pool windows; 0 = off."""
        gain: float = Field(1.0, gt=0.0, le=5.0)
        """Multiplies the shifted channels of pool windows; 1 = off."""
        noise: float = Field(0.0, ge=0.0, le=5.0)
        """Standard deviation of noise added to the shifted channels of pool windows; 0 = off."""

    class Missingness(_Section):
        """Unobserved steps on ``channels``, forward-filled (0 before the first observation) as in the
        MIMIC benchmark: each step is missing with probability ``rate`` (everyone) + ``group_rate``
        (the group); sum < 0.95."""

        attribute: str = "race"
        """The attribute whose group the mechanism acts on."""
        group: str = "black"
        """The group it acts on (a value of ``attribute``)."""
        rate: float = Field(0.0, ge=0.0, lt=0.95)
        """Probability that a step is missing, for everyone; 0 = off."""
        group_rate: float = Field(0.0, ge=0.0, lt=0.95)
        """Extra probability that a step of the group is missing; 0 = off."""
        channels: list[str] = Field(
            default_factory=lambda: ["heart_rate", "spo2", "resp_rate", "temperature", "sbp"]
        )
        """Channels with unobserved steps."""

    class Sampling(_Section):
        """Group-dependent sampling rate: the group's ``channels`` are observed every ``every`` steps and
        held in between (1 = off)."""

        attribute: str = "age_group"
        """The attribute whose group the mechanism acts on."""
        group: str = ">=65"
        """The group it acts on (a value of ``attribute``)."""
        every: int = Field(1, ge=1)
        """The group's channels are observed every this many steps and held in between; 1 = off."""
        channels: list[str] = Field(
            default_factory=lambda: ["heart_rate", "spo2", "resp_rate", "temperature", "sbp"]
        )
        """Channels sampled less often in the group."""

    seed: int = 0
    """Seed of the simulated dataset (the study's ``seeds`` seed the models, not the data)."""
    n_subjects: int = Field(1000, ge=20)
    """Simulated persons."""
    windows_per_subject: int = Field(10, ge=1)
    """Windows per person (windows of one person are alike: resampling is by subject)."""
    n_steps: int = Field(48, ge=8)
    """Time steps per window (T)."""
    pool_fraction: float = Field(0.5, ge=0.0, lt=1.0)
    """Share of subjects whose windows form the external unlabelled pre-training pool (the rest split
    train/val/test by ``split``)."""
    split: list[float] = Field(default_factory=lambda: [0.7, 0.15, 0.15])
    """Shares of the non-pool subjects in train, val and test (three positive numbers summing to 1). A
    larger test share buys narrower intervals (test sampling often limits the power of a PD comparison)
    without training on more windows."""
    labelled_fraction: float = Field(1.0, gt=0.0, le=1.0)
    """Share of training subjects that keep their labels (the rest join the pool); 0.02-0.1 is the regime
    where pre-training is expected to help, 1.0 the fully supervised one."""
    prevalence: float = Field(0.2, gt=0.0, lt=1.0)
    """Share of positive windows before label bias (one threshold for everyone)."""
    race_shares: dict[str, float] = Field(
        default_factory=lambda: {"white": 0.62, "black": 0.16, "hispanic": 0.11, "asian": 0.07, "other": 0.04}
    )
    """Race groups and their shares among subjects (normalised to sum 1; each > 0)."""
    female_share: float = Field(0.45, gt=0.0, lt=1.0)
    """Share of female subjects (``sex``: female | male)."""
    old_share: float = Field(0.4, gt=0.0, lt=1.0)
    """Share of subjects aged 65 or more (``age_group``: >=65 | <65)."""
    missing_share: float = Field(0.02, ge=0.0, lt=0.5)
    """Share of subjects whose race is unknown: the explicit ``missing`` group, never folded into another."""
    group_physiology: float = Field(1.0, ge=0.0, le=3.0)
    """Scale of group baselines (heart rate +0.4 in women, blood pressure +0.5 in the old; subject sd 0.2)."""
    outcome_weights: list[float] = Field(default_factory=lambda: [0.6, 0.8])
    """Weights of the latent factors [slow state, events] in the outcome score (normalised to norm 1)."""
    base_rate: GroupShift = Field(
        default_factory=lambda: SimulationConfig.GroupShift(attribute="age_group", group=">=65", shift=0.35)
    )
    """The group's slow state is higher: it is sicker (higher base rate), same signal-outcome mapping."""
    covariate_shift: GroupShift = Field(default_factory=GroupShift)
    """The group moves orthogonally to the outcome weights: same base rate and mapping, a sparse region
    of the signal space."""
    concept_shift: ConceptShift = Field(default_factory=ConceptShift)
    """The group's outcome uses other weights and/or a shifted threshold: same signals, another outcome."""
    measurement_bias: MeasurementBias = Field(default_factory=lambda: MeasurementBias(offset=0.6, noise=0.3))
    """The group's channel is read with an offset and extra noise (pulse oximetry over-reading
    desaturation in darker skin)."""
    label_bias: LabelBias = Field(default_factory=lambda: LabelBias(rate=0.1))
    """Random under-recording of the group's positives."""
    under_diagnosis: UnderDiagnosis = Field(default_factory=UnderDiagnosis)
    """The group's positives with a low true risk are missed (mild cases)."""
    spurious: SpuriousChannel = Field(default_factory=SpuriousChannel)
    """In one group the ``device_flag`` channel carries the recorded label (a shortcut)."""
    pool_bias: PoolBias = Field(default_factory=PoolBias)
    """A different group mix and a device/site shift in the external pre-training pool only."""
    missingness: Missingness = Field(default_factory=Missingness)
    """Steps missing at random (more in the group), forward-filled."""
    sampling: Sampling = Field(default_factory=Sampling)
    """The group's channels sampled less often, held in between."""
    mask_channels: bool = False
    """Append one observed-mask channel (``mask_<channel>``, 1 observed) per ``missingness.channels``."""

    @field_validator("split")
    @classmethod
    def _split_shares(cls, v: list[float]) -> list[float]:
        if len(v) != 3 or min(v) <= 0 or abs(sum(v) - 1.0) > 1e-9:
            raise ValueError(
                "must be three positive shares (train, val, test) summing to 1 "
                f"(e.g. [0.3, 0.1, 0.6]); got {v}"
            )
        return [float(x) for x in v]

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
