"""The training sections of a study's configuration: the encoder (``model``), self-supervised
pre-training (``pretrain``) and fine-tuning with its setups and mitigations (``finetune``).

Defaults are the paper's settings; the ``quick`` profile's overrides live in :mod:`fairssl.config`, which
re-exports these classes.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from fairssl.config_base import Section as _Section
from fairssl.errors import ConfigError
from fairssl.objective_options import check_objective_options

SETUP_NAMES = ("supervised", "0", "1-first", "1-middle", "2-first-middle", "2-first-last", "3")
"""The paper's seven setups (the default ``finetune.setups``)."""


class ModelConfig(_Section):
    widths: list[int] = Field(default_factory=lambda: [32, 64, 96])
    kernels: list[int] = Field(default_factory=lambda: [24, 16, 8])
    padding: Literal["valid", "same"] = "valid"
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    head_hidden: int = Field(128, ge=1)
    head_dropout: float = Field(0.6, ge=0.0, lt=1.0)
    projection: list[int] = Field(default_factory=lambda: [256, 128, 50])

    @model_validator(mode="after")
    def _layers(self) -> ModelConfig:
        if len(self.widths) != len(self.kernels) or not self.widths:
            raise ValueError("model.widths and model.kernels must be non-empty lists of equal length")
        return self


class PretrainConfig(_Section):
    epochs: int = Field(200, ge=1)
    batch_size: int = Field(128, ge=2)
    lr: float = Field(0.1, gt=0.0)
    optimizer: Literal["sgd", "adam"] = "sgd"
    momentum: float = Field(0.0, ge=0.0, lt=1.0)
    method: Literal["simclr", "vicreg", "byol", "masked"] = "simclr"
    """Self-supervised objective (:mod:`fairssl.ssl.objectives`): simclr (the paper's) | vicreg | byol |
    masked (reconstruction of masked time patches; uses no augmentation)."""
    objective: dict[str, Any] = Field(default_factory=dict)
    """The method's own options, e.g. ``{mask_ratio = 0.5}`` for masked; empty: its defaults."""
    temperature: float = Field(0.1, gt=0.0)
    """NT-Xent temperature (simclr only)."""
    augmentation: str | list[str | dict[str, dict[str, Any]]] = "paper"
    """The views' augmentation (simclr, vicreg, byol)."""
    patience: int = Field(10, ge=0)
    """Early stopping on the method's validation loss; 0 disables it."""
    tri_axial: list[tuple[int, int, int]] = Field(default_factory=list)
    """Channel index triples of tri-axial sensors (x, y, z), used by the rotation_3d augmentation."""
    pool: str = "full"
    """Pre-training data: full, balanced:<attr>, group:<attr>=<value> or exclude:<attr>=<value>."""
    seed: int | None = None
    """None: each of the study's seeds pre-trains its own encoder (seed-to-seed intervals then include
    pre-training variation). An integer: one encoder, pre-trained with this seed, serves every fine-tuning
    seed, as in the paper (seed 2); pre-training then costs one run instead of one per seed, and the
    across-seed intervals cover fine-tuning variation only."""
    weights: str | None = None
    """None: pre-train as configured. A path: assess an existing encoder instead. The file is a torch
    state dict of the encoder (``Encoder.state_dict()`` keys, as ``torch.save(encoder.state_dict(),
    path)`` writes), or a dict with an ``"encoder"`` entry (a fairssl pre-training checkpoint, a run's
    ``encoder.pt``), for the architecture given by ``[model]``. Pre-training is then skipped: one
    pre-training run per study loads these weights (no random numbers drawn; the other ``pretrain.*``
    settings are unused) and every SSL setup starts from them. The run's id follows the file's content
    (sha256), not its path; the run's ``spec.json`` records both."""

    @field_validator("pool")
    @classmethod
    def _pool(cls, v: str) -> str:
        from fairssl.data.pool import parse_pool_spec

        try:
            parse_pool_spec(v)
        except ConfigError as err:  # re-raised by pydantic with the key's name
            raise ValueError(str(err)) from None
        return v

    @model_validator(mode="after")
    def _objective(self) -> PretrainConfig:
        if not self.objective:  # the defaults are valid
            return self
        try:
            check_objective_options(self.method, self.objective)
        except ConfigError as err:  # re-raised by pydantic under the section's name
            raise ValueError(str(err)) from None
        return self


class FinetuneConfig(_Section):
    setups: list[str] = Field(default_factory=lambda: list(SETUP_NAMES))
    epochs: int = Field(200, ge=1)
    batch_size: int = Field(128, ge=2)
    optimizer: Literal["adadelta", "adam", "sgd"] = "adadelta"
    lr: float = Field(0.1, gt=0.0)
    patience: int = Field(10, ge=0)
    selection: Literal["loss", "auroc"] = "loss"
    class_weights: bool = True
    l2_conv: float = Field(1e-4, ge=0.0)
    l2_head: float = Field(1e-2, ge=0.0)
    unfreeze_every: int = Field(0, ge=0)
    """Gradual unfreezing (ULMFiT): unfreeze one frozen layer every k epochs from the top; 0 = off."""
    mitigation: Literal["none", "reweigh", "balanced", "group_dro", "penalty", "thresholds"] = "none"
    """A bias mitigation on top of the recipe (:mod:`fairssl.finetune.mitigation`,
    :mod:`fairssl.evaluation.thresholds`): ``none`` (the recipe as is), ``reweigh`` (Kamiran-Calders
    weights), ``balanced`` (group-balanced sampling), ``group_dro`` (online group DRO), ``penalty`` (a
    fairness penalty in the loss), ``thresholds`` (per-group thresholds fitted on validation)."""
    mitigation_attributes: list[str] = Field(default_factory=list)
    """The attribute(s) a mitigation targets; several = their intersection groups. Required with a
    mitigation; ignored with ``none``."""
    mitigation_options: dict[str, Any] = Field(default_factory=dict)
    """Options of the chosen mitigation (see :meth:`mitigation_defaults`); ``none`` ignores them."""

    @staticmethod
    def mitigation_defaults(mitigation: str) -> dict[str, Any]:
        """The options ``mitigation`` takes, with their defaults: ``group_dro``: ``eta`` (step size of
        the group weights, > 0); ``penalty``: ``lambda`` (strength, >= 0) and ``relaxation``
        (``demographic_parity`` | ``equalized_odds``); ``thresholds``: ``rate`` (``tpr``: equal
        opportunity | ``selection``: demographic parity)."""
        table: dict[str, dict[str, Any]] = {
            "group_dro": {"eta": 0.01},
            "penalty": {"lambda": 1.0, "relaxation": "demographic_parity"},
            "thresholds": {"rate": "tpr"},
        }
        return table.get(mitigation, {})

    def mitigation_settings(self) -> dict[str, Any]:
        """The chosen mitigation's options: its defaults updated with ``mitigation_options`` (``{}`` for
        ``none``, which ignores any option)."""
        defaults = self.mitigation_defaults(self.mitigation)
        return {k: self.mitigation_options.get(k, v) for k, v in defaults.items()}

    @field_validator("setups")
    @classmethod
    def _setups(cls, v: list[str]) -> list[str]:
        from fairssl.finetune.setups import check_setup_name

        for name in v:
            try:
                check_setup_name(name)  # names only; layer names are checked against the model in the grid
            except ConfigError as err:  # re-raised by pydantic with the key's name
                raise ValueError(str(err)) from None
        if not v:
            raise ValueError("finetune.setups is empty; list at least one setup")
        return v

    @model_validator(mode="after")
    def _mitigation(self) -> FinetuneConfig:
        attrs, opts = self.mitigation_attributes, self.mitigation_options
        if len(set(attrs)) != len(attrs):
            raise ValueError(
                f"finetune.mitigation_attributes lists an attribute twice (got {attrs}); list each once"
            )
        if self.mitigation != "none" and not attrs:
            raise ValueError(
                f"finetune.mitigation = '{self.mitigation}' needs finetune.mitigation_attributes, the "
                'attribute(s) it targets; set e.g. finetune.mitigation_attributes = ["sex"]'
            )
        allowed = self.mitigation_defaults(self.mitigation)
        if self.mitigation == "none":  # a `none` cell of a grid shares the mitigations' options
            allowed = {
                k: v
                for m in ("group_dro", "penalty", "thresholds")
                for k, v in self.mitigation_defaults(m).items()
            }
        unknown = sorted(set(opts) - set(allowed))
        if unknown:
            raise ValueError(
                f"finetune.mitigation_options has {unknown}, which mitigation '{self.mitigation}' does not "
                f"take; allowed keys: {', '.join(sorted(allowed)) or 'none'}"
            )

        def number(v: Any) -> bool:
            return isinstance(v, int | float) and not isinstance(v, bool) and v == v

        checks: dict[str, tuple[bool, str]] = {
            "eta": (number(opts.get("eta", 1)) and opts.get("eta", 1) > 0, "a number > 0"),
            "lambda": (number(opts.get("lambda", 0)) and opts.get("lambda", 0) >= 0, "a number >= 0"),
            "relaxation": (
                opts.get("relaxation", "equalized_odds") in ("demographic_parity", "equalized_odds"),
                "'demographic_parity' or 'equalized_odds'",
            ),
            "rate": (opts.get("rate", "tpr") in ("tpr", "selection"), "'tpr' or 'selection'"),
        }
        for key, value in opts.items():
            ok, what = checks[key]
            if not ok:
                raise ValueError(f"finetune.mitigation_options.{key} must be {what} (got {value!r})")
        return self


__all__ = ["SETUP_NAMES", "FinetuneConfig", "ModelConfig", "PretrainConfig"]
