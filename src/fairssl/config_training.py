"""The training sections of a study's configuration: the encoder (``model``), self-supervised
pre-training (``pretrain``) and fine-tuning with its setups and mitigations (``finetune``).

Defaults are the paper's settings; the ``quick`` profile's overrides live in :mod:`fairssl.config`, which
re-exports these classes.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from fairssl.config_base import Section as _Section
from fairssl.errors import ConfigError
from fairssl.objective_options import check_objective_options

SETUP_NAMES = ("supervised", "0", "1-first", "1-middle", "2-first-middle", "2-first-last", "3")
"""The paper's seven setups (the default ``finetune.setups``)."""


FACTORY_PATTERN = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*$")
"""``package.module:function``."""


def check_factory_string(spec: str) -> None:
    """ConfigError unless ``spec`` has the shape ``package.module:function`` (nothing is imported)."""
    if not FACTORY_PATTERN.match(spec):
        raise ConfigError(
            f"model.factory = {spec!r} is not of the form 'package.module:function'; "
            "name an importable function that returns an encoder, e.g. 'mylab.models:build_encoder'"
        )


class ModelConfig(_Section):
    """``[model]``: the encoder (ordered named blocks, each block's output a layer for CKA and probes)
    and the heads on top of it; the defaults are the paper's CNN (32/64/96 channels, kernels 24/16/8)."""

    arch: Literal["cnn", "resnet1d", "transformer"] = "cnn"
    """The encoder (:mod:`fairssl.ssl.encoders`): cnn (the paper's, blocks conv1..k) | resnet1d (residual
    blocks with batch norm, res1..k) | transformer (patch embedding + Transformer layers, layer1..k);
    k = len(widths). A grid axis like any other key."""
    factory: str | None = Field(None, examples=["my_package.encoders:build_encoder"])
    """``"package.module:function"``: build the encoder with ``function(in_channels, n_steps,
    model_config)`` instead of ``arch``; it must return an nn.Module with ``layer_names``, ``blocks()``,
    ``out_dim`` and forward (N, C, T) -> (N, out_dim) (checked when built)."""
    widths: list[int] = Field(default_factory=lambda: [32, 64, 96])
    """One entry per block: its width (output channels; transformer: model width)."""
    kernels: list[int] = Field(default_factory=lambda: [24, 16, 8])
    """One entry per block: its kernel (cnn, resnet1d; unused by transformer)."""
    padding: Literal["valid", "same"] = "valid"
    """cnn only: ``valid`` | ``same`` (for short windows such as GLOBEM's 28 days); resnet1d always pads
    'same', transformer cuts patches."""
    patch_length: int = Field(8, ge=1)
    """transformer only: time steps per patch (windows need at least one patch)."""
    heads: int = Field(4, ge=1)
    """transformer only: attention heads; every width must be a multiple."""
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    """Dropout probability after every encoder block."""
    head_hidden: int = Field(128, ge=1)
    """Hidden units of the fine-tuning classifier head (encoder output -> hidden -> classes)."""
    head_dropout: float = Field(0.6, ge=0.0, lt=1.0)
    """Dropout probability in the classifier head, before its output layer."""
    projection: list[int] = Field(default_factory=lambda: [256, 128, 50])
    """Widths of the pre-training projection head (SimCLR's g: ReLU between layers, none after the last)."""

    @field_validator("factory")
    @classmethod
    def _factory(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            check_factory_string(v)
        except ConfigError as err:  # re-raised by pydantic with the key's name
            raise ValueError(str(err)) from None
        return v

    @model_validator(mode="after")
    def _layers(self) -> ModelConfig:
        if len(self.widths) != len(self.kernels) or not self.widths:
            raise ValueError("model.widths and model.kernels must be non-empty lists of equal length")
        bad = [w for w in self.widths if w % self.heads]
        if self.arch == "transformer" and self.factory is None and bad:
            raise ValueError(
                f"model.widths {self.widths} has width(s) {bad} not divisible by model.heads = {self.heads}; "
                "every transformer width must be a multiple of the number of heads"
            )
        return self


class PretrainConfig(_Section):
    """``[pretrain]``: self-supervised pre-training of the encoder on the unlabelled pool (stage 2); the
    learning rate follows a cosine decay to 0 over all epochs."""

    epochs: int = Field(200, ge=1)
    """Passes over the pre-training pool."""
    batch_size: int = Field(128, ge=2)
    """Windows per batch (each gives two views for the contrastive methods)."""
    lr: float = Field(0.1, gt=0.0)
    """Initial learning rate, cosine-decayed to 0 over the configured epochs."""
    optimizer: Literal["sgd", "adam"] = "sgd"
    """``sgd`` (the paper's) | ``adam``."""
    momentum: float = Field(0.0, ge=0.0, lt=1.0)
    """SGD momentum (unused by adam)."""
    method: Literal["simclr", "vicreg", "byol", "masked"] = "simclr"
    """Self-supervised objective (:mod:`fairssl.ssl.objectives`): simclr (the paper's) | vicreg | byol |
    masked (reconstruction of masked time patches; uses no augmentation)."""
    objective: dict[str, Any] = Field(default_factory=dict, examples=[{"mask_ratio": 0.5, "patch_length": 8}])
    """The method's own options, declared with their defaults, meanings and ranges in
    :data:`fairssl.objective_options.OBJECTIVE_OPTIONS` (the example is masked's); empty: the method's
    defaults. simclr takes none (its temperature is ``pretrain.temperature``)."""
    temperature: float = Field(0.1, gt=0.0)
    """NT-Xent temperature (simclr only)."""
    augmentation: str | list[str | dict[str, dict[str, Any]]] = Field(
        "paper", examples=[["scaling", {"time_warp": {"sigma": 0.2}}]]
    )
    """The views' augmentation (simclr, vicreg, byol): a preset (:data:`fairssl.ssl.augment.PRESETS`:
    ``paper`` = scaling + negation, ``paper_fixed`` = negation with p 0.5, ``default``, ``none``) or a list
    of steps, each a name or ``{name = {param = value}}`` (:data:`fairssl.ssl.augment.AUGMENTATIONS`)."""
    patience: int = Field(10, ge=0)
    """Early stopping on the method's validation loss; 0 disables it."""
    tri_axial: list[tuple[int, int, int]] = Field(default_factory=list, examples=[[[0, 1, 2]]])
    """Channel index triples of tri-axial sensors (x, y, z), used by the rotation_3d augmentation."""
    pool: str = Field("full", examples=["balanced:race"])
    """Pre-training data: ``full`` (the whole pool), ``balanced:<attr>`` (each group of the attribute
    equally often), ``group:<attr>=<value>`` (only that group) or ``exclude:<attr>=<value>``."""
    seed: int | None = Field(None, examples=[2])
    """None: each of the study's seeds pre-trains its own encoder (seed-to-seed intervals then include
    pre-training variation). An integer: one encoder, pre-trained with this seed, serves every fine-tuning
    seed, as in the paper (seed 2); pre-training then costs one run instead of one per seed, and the
    across-seed intervals cover fine-tuning variation only."""
    weights: str | None = Field(None, examples=["/abs/path/encoder.pt"])
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
    """``[finetune]``: the setups compared and the one training recipe shared by all of them and the
    supervised baseline (stage 3), with an optional bias mitigation on top."""

    setups: list[str] = Field(
        default_factory=lambda: list(SETUP_NAMES), examples=[["supervised", "3", "random:3", "freeze:conv1"]]
    )
    """Setups to train (:mod:`fairssl.finetune.setups`): ``supervised`` (random init, the baseline), ``0``
    (SSL weights, nothing frozen), ``1-first``, ``1-middle``, ``2-first-middle``, ``2-first-last``, ``3``
    (SSL weights, those blocks frozen), ``linear-probe``, ``freeze:<layers>`` (a custom frozen set) and
    ``random:<setup>`` (the same frozen set on the random init: the control of an SSL setup)."""
    epochs: int = Field(200, ge=1)
    """Maximum passes over the labelled training windows (early stopping may end sooner)."""
    batch_size: int = Field(128, ge=2)
    """Windows per batch."""
    optimizer: Literal["adadelta", "adam", "sgd"] = "adadelta"
    """The same for every setup (a controlled comparison): ``adadelta`` (the paper's; rho 0.95, eps 1e-7)
    | ``adam`` | ``sgd``."""
    lr: float = Field(0.1, gt=0.0)
    """Initial learning rate, cosine-decayed over the configured epochs."""
    patience: int = Field(10, ge=0)
    """Early stopping: epochs without improvement of the validation criterion before training stops
    (0 = off)."""
    selection: Literal["loss", "auroc"] = "loss"
    """Model selection on the validation split only: ``loss`` (weighted cross-entropy without the L2
    terms) | ``auroc``."""
    class_weights: bool = True
    """Weighted cross-entropy, w_c = N / (K N_c) from the training labels."""
    l2_conv: float = Field(1e-4, ge=0.0)
    """L2 penalty ``l2_conv * sum ||W||^2`` on the trainable encoder kernels."""
    l2_head: float = Field(1e-2, ge=0.0)
    """L2 penalty on the classifier head's hidden layer."""
    unfreeze_every: int = Field(0, ge=0)
    """Gradual unfreezing (ULMFiT): unfreeze one frozen layer every k epochs from the top; 0 = off."""
    activation_windows: int | None = Field(None, ge=10, examples=[2000])
    """Test windows whose layer activations each run stores for CKA and the probes (float16, windows x
    channels x steps per layer): None = all; N = whole test subjects, drawn in a fixed order (the same
    for every run of a dataset), holding at most N windows. Predictions and every fairness metric still
    use the whole test split; only CKA and the probes read the sample. A large test split without a cap
    can fill a disk (7,200 windows of the quick encoder: 33 MB per run)."""
    mitigation: Literal["none", "reweigh", "balanced", "group_dro", "penalty", "thresholds"] = "none"
    """A bias mitigation on top of the recipe (:mod:`fairssl.finetune.mitigation`,
    :mod:`fairssl.evaluation.thresholds`): ``none`` (the recipe as is), ``reweigh`` (Kamiran-Calders
    weights P(g)P(y)/P(g,y), times the class weights), ``balanced`` (each epoch draws every group equally
    often), ``group_dro`` (online group DRO, Sagawa et al. 2020), ``penalty`` (a differentiable fairness
    penalty in the loss), ``thresholds`` (per-group thresholds fitted on validation predictions, applied
    to test scores as a logit shift). Model selection is the recipe's for every mitigation."""
    mitigation_attributes: list[str] = Field(default_factory=list, examples=[["sex"]])
    """The attribute(s) a mitigation targets; several = their intersection groups. Required with a
    mitigation; ignored with ``none``."""
    mitigation_options: dict[str, Any] = Field(
        default_factory=dict, examples=[{"lambda": 1.0, "relaxation": "demographic_parity"}]
    )
    """Options of the chosen mitigation, with defaults from :meth:`mitigation_defaults` (the example is
    penalty's); ``none`` ignores them. group_dro: ``eta`` (step size of the group weights, > 0); penalty:
    ``lambda`` (strength, >= 0), ``relaxation`` (``demographic_parity`` | ``equalized_odds``); thresholds:
    ``rate`` (``tpr``: equal opportunity | ``selection``: demographic parity)."""

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
