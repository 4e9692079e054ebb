"""The typed, validated study configuration: the one place for defaults.

A study is read from TOML (``fairssl run --config study.toml``) on top of a *profile*:

- ``quick`` (default): the whole assessment on the simulator in a few minutes on 2 CPU cores
  (smaller pool, fewer epochs, Adam for fast convergence, fewer bootstrap resamples).
- ``paper``: the settings of Yfantidou et al. (KDD 2024): encoder 32/64/96 with kernels 24/16/8,
  projection 256-128-50, NT-Xent temperature 0.1, SGD lr 0.1 cosine, batch 128, 200 epochs; fine-tuning
  with Adadelta (lr 0.1, rho 0.95, eps 1e-7), cosine over the configured epochs (not the reference's
  2,000 steps), class weights, early stopping on validation loss (patience 10).

Unknown keys and bad values are rejected with a one-line :class:`ConfigError` naming the key and the
allowed values. :func:`fairssl.config_text.example_toml` returns a commented example (``fairssl config
--example``); the simulator's section is :mod:`fairssl.simulation_config`, the loaders' options
:mod:`fairssl.loader_options`.
"""

from __future__ import annotations

import copy
import hashlib
import json
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from fairssl.config_base import Section as _Section
from fairssl.config_text import to_toml
from fairssl.errors import ConfigError
from fairssl.simulation_config import SimulationConfig

SETUP_NAMES = ("supervised", "0", "1-first", "1-middle", "2-first-middle", "2-first-last", "3")
PROFILES = ("quick", "paper")


class DataConfig(_Section):
    source: Literal[
        "simulate",
        "mimic3",
        "mesa",
        "globem",
        "physionet2012",
        "nhanes",
        "arrays",
        "long",
        "pbcseq",
        "folder",
    ] = "simulate"
    path: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    simulate: SimulationConfig = Field(default_factory=SimulationConfig)

    @model_validator(mode="after")
    def _path_needed(self) -> DataConfig:
        if self.source not in ("simulate", "pbcseq") and not self.path:
            raise ValueError(f"data.path is required for data.source = '{self.source}'")
        if self.source == "simulate" and self.options:
            raise ValueError(
                f"data.options {sorted(self.options)} are loader options and the simulator takes none; "
                "set the simulator's knobs under [data.simulate] (e.g. data.simulate.n_steps)"
            )
        return self


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
        if not self.objective:  # the defaults are valid (and the check would import torch)
            return self
        from fairssl.ssl.objectives import check_objective_options

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


class EvaluationConfig(_Section):
    """How test predictions are scored: fairness comparisons, parity deviation, bootstrap intervals.

    See :mod:`fairssl.evaluation.plans` and :mod:`fairssl.evaluation.parity` for the definitions.
    Problems are reported at load, one line each; a privileged group that is not a group of its
    attribute can only be caught on the data (a DataError naming the groups).
    """

    attributes: list[str] | None = None
    """Protected attributes to evaluate; None = all columns of the dataset's attribute table."""
    reference: str | dict[str, str] = "majority"
    """Pairwise parity: each group's reference, ``majority | rest | best`` or ``{attribute = group}``."""
    threshold: float = Field(0.5, gt=0.0, lt=1.0)
    min_group_size: int = 30
    """Minimum windows of a compared group and of its reference (at least 4)."""
    min_subjects: int = 5
    """Minimum distinct subjects of a compared group and of its reference (0 = no check). With 5, a
    subject-level bootstrap resample misses the whole group with probability about e^-5 < 1%."""
    min_positives: int = 5
    """Minimum positive windows of a compared group and of its reference (0 = no check)."""
    include_missing: bool = False
    n_boot: int = Field(200, ge=0)
    """Resamples of test subjects behind every interval and test (0: point estimates only)."""
    cluster: Literal["subject", "window"] = "subject"
    alpha: float = Field(0.05, gt=0.0, lt=0.5)
    """Family-wise error rate of the study's verdicts; intervals of single values are at 1 - alpha."""
    correction: Literal["holm", "bonferroni", "none"] = "holm"
    """Multiple-comparison correction over the family (every SSL setup x {PD, AUROC}, and SSL vs control)."""
    power: float = Field(0.8, gt=0.0, lt=1.0)
    """Power at which the minimum detectable change and the seeds needed are reported."""
    target_change: float = Field(0.15, gt=0.0, lt=1.0)
    """Relative PD change (0.15 = 15%) for which the seeds needed are reported."""
    parity: Literal["pairwise", "paper"] = "pairwise"
    """``pairwise``: each group against ``reference``; ``paper``: per attribute the privileged group
    against all other groups pooled (one comparison per attribute)."""
    privileged: dict[str, str] = Field(default_factory=dict)
    """Paper parity: attribute -> privileged group; required for every listed attribute."""
    deviation: Literal["abs", "log"] = "abs"
    """Parity deviation of a ratio r: ``abs`` = |1 - r| (the paper's), ``log`` = |log r| (symmetric)."""

    @field_validator("attributes")
    @classmethod
    def _attribute_names(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        if not v or any(not a.strip() for a in v):
            raise ValueError(
                "must list attribute names (none empty), or be left out to evaluate every attribute"
            )
        twice = sorted({a for a in v if v.count(a) > 1})
        if twice:
            raise ValueError(f"lists {twice} more than once; list each attribute once")
        return v

    @field_validator("reference")
    @classmethod
    def _reference(cls, v: str | dict[str, str]) -> str | dict[str, str]:
        if isinstance(v, str) and v not in ("majority", "rest", "best"):
            raise ValueError(
                'must be majority, rest, best or a table attribute -> group, e.g. { sex = "male" }'
            )
        if isinstance(v, dict):
            empty = sorted(k for k, g in v.items() if not str(g).strip())
            if empty:
                raise ValueError(
                    f"the reference group of {empty} is empty; name a group of each attribute, "
                    'e.g. { sex = "male" }, or use majority, rest or best'
                )
        return v

    @field_validator("min_group_size")
    @classmethod
    def _min_group_size(cls, v: int) -> int:
        if v < 4:
            raise ValueError(
                "must be at least 4: the conditioned CKA needs 4 windows per group, and a rate on fewer "
                "windows says nothing about a group"
            )
        return v

    @field_validator("min_subjects", "min_positives")
    @classmethod
    def _non_negative(cls, v: int) -> int:
        if v < 0:
            raise ValueError("must be 0 (no check) or a positive number")
        return v

    @field_validator("privileged")
    @classmethod
    def _privileged_names(cls, v: dict[str, str]) -> dict[str, str]:
        empty = sorted(k for k, g in v.items() if not str(g).strip())
        if empty:
            raise ValueError(f"the privileged group of {empty} is empty; name a group of each attribute")
        return v

    @model_validator(mode="after")
    def _privileged_attributes(self) -> EvaluationConfig:
        if self.attributes is None:
            return self  # attributes known only on the data: checked there
        unknown = sorted(set(self.privileged) - set(self.attributes))
        if unknown:
            raise ValueError(
                f"evaluation.privileged names {unknown}, which are not in evaluation.attributes "
                f"{self.attributes}; fix the names or list them"
            )
        unknown = (
            sorted(set(self.reference) - set(self.attributes)) if isinstance(self.reference, dict) else []
        )
        if unknown:
            raise ValueError(
                f"evaluation.reference names {unknown}, which are not in evaluation.attributes "
                f"{self.attributes}; fix the names or list them"
            )
        if self.parity == "paper":
            missing = [a for a in self.attributes if a not in self.privileged]
            if missing:
                raise ValueError(
                    f'parity = "paper" needs a privileged group for every attribute; '
                    f'evaluation.privileged lacks {missing} (e.g. privileged = {{ {missing[0]} = "..." }})'
                )
        return self


class SimilarityConfig(_Section):
    enabled: bool = True
    debiased: bool = True
    n_per_group: int | None = Field(None, ge=10)
    n_draws: int = Field(5, ge=1)
    n_permutations: int = Field(19, ge=0)


class ProbesConfig(_Section):
    """Linear probes of each model's frozen test activations (demographic and per-group task probes)."""

    enabled: bool = True
    n_splits: int = Field(5, ge=2)
    n_boot: int = 200
    """Resamples of test subjects behind each probe's interval (at least 1; to skip probes set
    ``probes.enabled = false``)."""
    n_permutations: int = Field(0, ge=0)
    """Permutation test of each demographic probe (the valid test; 0 = off, it refits R times)."""
    max_features: int | None = Field(64, ge=2)
    """PCA (fitted on training folds) reduces wider layers to this many features; None = no reduction."""

    @field_validator("n_boot")
    @classmethod
    def _probe_resamples(cls, v: int) -> int:
        if v < 1:
            raise ValueError(
                "must be at least 1: every probe reports an interval from subject resamples "
                "(probes.enabled = false skips the probes)"
            )
        return v


class RuntimeConfig(_Section):
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int | None = Field(None, ge=1)
    workers: int | None = Field(None, ge=1)
    executor: Literal["local", "ray"] = "local"
    ray_address: str | None = None


class StudyConfig(_Section):
    """The whole study. Every field has a default from the chosen profile."""

    name: str = "fairssl-study"
    profile: Literal["quick", "paper"] = "quick"
    output_dir: str = "fairssl-runs"
    seeds: list[int] = Field(default_factory=lambda: [0])
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    pretrain: PretrainConfig = Field(default_factory=PretrainConfig)
    finetune: FinetuneConfig = Field(default_factory=FinetuneConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    similarity: SimilarityConfig = Field(default_factory=SimilarityConfig)
    probes: ProbesConfig = Field(default_factory=ProbesConfig)
    runtime: RuntimeConfig = Field(default_factory=RuntimeConfig)
    replicates: int = Field(1, ge=1, le=100)
    """Data replicates: each redraws the data (the simulator's dataset, or a loader's subject split) and
    trains every setup x seed on it; analysis pools them (t on replicates - 1 df), so intervals cover the
    data split too. 1: one split, as before. Use 3 or more: with 2 the t quantile (df 1) is 12.7."""
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    """Settings to vary: dotted config keys, each with a list of values; the study runs their cartesian
    product (each point a *variant*) x seeds x setups. TOML: ``[grid]`` then
    ``"pretrain.augmentation" = ["paper", "default"]`` (nested tables are flattened to dotted keys)."""

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v: list[int]) -> list[int]:
        if not v or len(set(v)) != len(v):
            raise ValueError("seeds must be a non-empty list of distinct integers")
        return v

    @field_validator("grid", mode="before")
    @classmethod
    def _flatten_grid(cls, v: Any) -> Any:
        """Nested tables become dotted keys: ``{"a": {"b": [1]}}`` -> ``{"a.b": [1]}``."""
        if not isinstance(v, Mapping):
            return v
        flat: dict[str, Any] = {}

        def walk(prefix: str, node: Mapping[str, Any]) -> None:
            for key, value in node.items():
                name = f"{prefix}.{key}" if prefix else str(key)
                if isinstance(value, Mapping):
                    walk(name, value)
                else:
                    flat[name] = value

        walk("", v)
        return flat

    @model_validator(mode="after")
    def _grid_keys(self) -> StudyConfig:
        for key, values in self.grid.items():
            _check_grid_key(key)
            if not values:
                raise ValueError(f"grid key '{key}' has an empty list; give at least one value")
            seen = [json.dumps(v, sort_keys=True) for v in values]
            if len(set(seen)) != len(seen):
                raise ValueError(
                    f"grid key '{key}' lists a value twice (got {values!r}); list each value once"
                )
            for value in values:
                self.with_settings({key: value})
        return self

    def with_settings(self, settings: Mapping[str, Any], *, keep_grid: bool = False) -> StudyConfig:
        """A validated copy with each dotted key of ``settings`` set to its value; without ``keep_grid``
        the copy has no grid (a variant), with it the settings are overrides of the whole study."""
        data = self.to_dict()
        if not keep_grid:
            data["grid"] = {}
        for key, value in settings.items():
            *parents, leaf = key.split(".")
            node = data
            for part in parents:
                if not isinstance(node.get(part), dict):
                    node[part] = {}
                node = node[part]
            node[leaf] = copy.deepcopy(value)
        try:
            return StudyConfig.model_validate(data)
        except ValidationError as err:
            if keep_grid:  # overrides: the message names the key and the value already
                raise ConfigError(_format_error(err)) from None
            shown = ", ".join(f"{k}={v!r}" for k, v in settings.items())
            raise ConfigError(f"grid point {shown}: {_format_error(err)}") from None

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def digest(self, *sections: str) -> str:
        """A short content hash of the given sections (all when none): run ids derive from it."""
        data = self.to_dict()
        part = {s: data[s] for s in sections} if sections else data
        return hashlib.sha256(json.dumps(part, sort_keys=True).encode()).hexdigest()[:12]


_NOT_IN_GRID = {
    "grid": "a grid cannot vary itself",
    "seeds": "list seeds in `seeds` (every variant runs every seed)",
    "finetune.setups": "list setups in `finetune.setups` (every variant runs every setup)",
    "name": "it names the run folder, not a setting",
    "output_dir": "it is where results go, not a setting",
    "profile": "run one study per profile",
    "runtime": "runtime settings do not change results",
}


def _check_grid_key(key: str) -> None:
    """A grid key must name a field of the config (or a key inside a free-form table such as data.options)."""
    for banned, why in _NOT_IN_GRID.items():
        if key == banned or key.startswith(banned + "."):
            raise ValueError(f"grid key '{key}' cannot be varied: {why}")
    model: Any = StudyConfig
    parts = key.split(".")
    for i, part in enumerate(parts):
        field = model.model_fields.get(part)
        if field is None:
            where = ".".join(parts[:i]) or "the top level"
            allowed = ", ".join(k for k in sorted(model.model_fields) if k not in _NOT_IN_GRID)
            raise ValueError(f"grid key '{key}' is not a config key; allowed keys under {where}: {allowed}")
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
            continue
        rest = parts[i + 1 :]
        free_form = any(get_origin(a) is dict or a is dict for a in (annotation, *get_args(annotation)))
        if rest and not free_form:
            raise ValueError(
                f"grid key '{key}' goes inside '{'.'.join(parts[: i + 1])}', which is not a table; "
                f"use '{'.'.join(parts[: i + 1])}'"
            )
        return


# Profile overrides on top of the model defaults (which are the paper's settings).
_PROFILE_OVERRIDES: dict[str, dict[str, Any]] = {
    "paper": {"evaluation": {"n_boot": 1000}, "similarity": {"n_draws": 10, "n_permutations": 20}},
    "quick": {
        "pretrain": {"epochs": 15, "patience": 0, "optimizer": "sgd", "lr": 0.1, "momentum": 0.9},
        "finetune": {"epochs": 12, "patience": 4, "optimizer": "adam", "lr": 1e-3},
    },
}


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _format_error(err: ValidationError) -> str:
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"] if not str(p).startswith("function-"))
    if first["type"] == "extra_forbidden":
        parent = first["loc"][:-1]
        allowed = _allowed_keys(parent)
        return f"unknown config key '{loc}'; allowed keys here: {', '.join(allowed)}"
    msg = first["msg"].removeprefix("Value error, ")
    got = first.get("input")
    got_text = "" if isinstance(got, dict) or got is None else f" (got {got!r})"
    where = f"config key '{loc}': " if loc else "config: "
    return f"{where}{msg}{got_text}"


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    model: Any = StudyConfig
    for part in loc:
        field = model.model_fields.get(str(part))
        if (
            field is None
            or not isinstance(field.annotation, type)
            or not issubclass(field.annotation, BaseModel)
        ):
            return []
        model = field.annotation
    return sorted(model.model_fields)


def build_config(overrides: Mapping[str, Any] | None = None, *, profile: str | None = None) -> StudyConfig:
    """Validate ``overrides`` (a nested dict as read from TOML) on top of a profile.

    The profile is ``profile`` if given, else ``overrides['profile']``, else ``quick``.
    """
    data = dict(overrides or {})
    chosen = profile or data.get("profile") or "quick"
    if chosen not in PROFILES:
        raise ConfigError(f"unknown profile {chosen!r}; allowed: {', '.join(PROFILES)}")
    data["profile"] = chosen
    merged = _merge(_PROFILE_OVERRIDES[chosen], data)
    try:
        return StudyConfig.model_validate(merged)
    except ValidationError as err:
        raise ConfigError(_format_error(err)) from None


def load_config(path: str | Path | None = None, *, profile: str | None = None) -> StudyConfig:
    """Read a TOML study file (or none: the profile's defaults) and validate it."""
    if path is None:
        return build_config({}, profile=profile)
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"config file {p} is a folder; give the path of a TOML file inside it")
    if not p.is_file():
        raise ConfigError(
            f"config file {p} not found; give the path of a TOML file (see `fairssl config --example`)"
        )
    try:
        raw = tomllib.loads(p.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"config file {p} is not UTF-8 text (byte {err.object[err.start]:#04x} at offset {err.start}); "
            "save it as UTF-8 (e.g. iconv -f latin1 -t utf-8)"
        ) from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{p} is not valid TOML ({err}); fix the syntax at that line") from None
    return build_config(raw, profile=profile)


def parse_settings(items: Sequence[str]) -> dict[str, Any]:
    """``["pretrain.epochs=50", "seeds=[0, 1]"]`` -> ``{"pretrain.epochs": 50, "seeds": [0, 1]}``.

    Each value is read as a TOML value (numbers, booleans, ``[lists]``, ``{ tables }``, quoted strings);
    anything that is not valid TOML is taken as a plain string (``pretrain.pool=balanced:race``).
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key or any(not part for part in key.split(".")):
            raise ConfigError(
                f"--set expects KEY=VALUE with a dotted config key (e.g. --set pretrain.epochs=50), "
                f"got {item!r}"
            )
        if key == "profile":
            raise ConfigError("choose the profile with --profile, not --set profile=...")
        try:
            out[key] = tomllib.loads(f"v = {text.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            out[key] = text.strip()
    return out


def save_config(config: StudyConfig, path: str | Path) -> None:
    """Write the resolved config as TOML-compatible JSON-typed TOML (round-trips through load_config)."""
    Path(path).write_text(to_toml(config.to_dict()))
