"""The typed, validated study configuration: the one place for defaults.

A study is read from TOML (``fairssl run --config study.toml``) on top of a *profile*:

- ``quick`` (default): the whole assessment on the simulator in a few minutes on 2 CPU cores, in the
  low-label regime where the question is live: 2% of the simulated training subjects labelled, 24-step
  windows, a small same-padded encoder (widths 32/32/32, kernels 5, fits any window length), SimCLR with
  the "default" augmentations for 20 epochs, fine-tuning with Adam in batches of 16 for 60 epochs.
- ``paper``: the settings of Yfantidou et al. (KDD 2024): encoder 32/64/96 with kernels 24/16/8,
  projection 256-128-50, NT-Xent temperature 0.1, SGD lr 0.1 cosine, batch 128, 200 epochs; fine-tuning
  with Adadelta (lr 0.1, rho 0.95, eps 1e-7), cosine over the configured epochs (not the reference's
  2,000 steps), class weights, early stopping on validation loss (patience 10).

Unknown keys and bad values are rejected with a one-line :class:`ConfigError` naming the key and the
allowed values. :func:`fairssl.config_text.example_toml` returns a commented example (``fairssl config
--example``); the simulator's section is :mod:`fairssl.simulation_config`, the training sections
(``model``, ``pretrain``, ``finetune``) :mod:`fairssl.config_training`, the analysis sections
(``evaluation``, ``similarity``, ``probes``) :mod:`fairssl.config_analysis`, the loaders' options
:mod:`fairssl.loader_options`; this module composes them into :class:`StudyConfig` and re-exports them.
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

from fairssl.config_analysis import EvaluationConfig, ProbesConfig, SimilarityConfig
from fairssl.config_base import Section as _Section
from fairssl.config_base import document_section, section_type
from fairssl.config_training import SETUP_NAMES, FinetuneConfig, ModelConfig, PretrainConfig
from fairssl.errors import ConfigError
from fairssl.simulation_config import SimulationConfig
from fairssl.toml_text import to_toml

PROFILES = ("quick", "paper")


class DataConfig(_Section):
    """``[data]``: where the windows come from: the built-in simulator or a loader of your files.

    The loaders and their options are listed in :mod:`fairssl.data.loaders`; ``fairssl config --show``
    prints every option of the chosen source's loader with its default.
    """

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
    """The data source: ``simulate`` (the built-in bias simulator, ``[data.simulate]``) | ``mimic3``
    (MIMIC-III benchmark) | ``mesa`` | ``globem`` | ``physionet2012`` | ``nhanes`` | ``arrays`` (NumPy arrays)
    | ``long`` (a long table: one row per subject and time step) | ``pbcseq`` (a public cohort, no path) |
    ``folder`` (a saved WindowDataset)."""
    path: str | None = Field(None, examples=["/data/mimic3-benchmarks"])
    """The data's file or folder; required for every source but simulate and pbcseq."""
    options: dict[str, Any] = Field(default_factory=dict, examples=[{"window": 24, "stride": 12}])
    """Keyword options of the source's loader (e.g. ``window = 24, stride = 12`` for ``long``); unknown
    or missing required options are an error at load. The simulator takes none: use ``[data.simulate]``."""
    simulate: SimulationConfig = Field(default_factory=SimulationConfig)
    """The simulator's knobs, used only when ``source = "simulate"``."""

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


class RuntimeConfig(_Section):
    """``[runtime]``: where and how runs execute; these settings never change results beyond float
    rounding (they are not part of a run's id, and a grid cannot vary them)."""

    device: Literal["auto", "cpu", "cuda"] = "auto"
    """``auto`` (cuda when available, else cpu) | ``cpu`` | ``cuda``."""
    threads: int | None = Field(None, ge=1, examples=[2])
    """Torch intra-op threads of every run; None = 1. Fixed per run so results never depend on
    ``--workers`` (runs trained with another count are re-run, never mixed)."""
    workers: int | None = Field(None, ge=1, examples=[4])
    """Local worker processes running runs in parallel; None = CPU cores // threads (``--workers``
    overrides it)."""
    executor: Literal["local", "ray"] = "local"
    """``local`` (worker processes on this machine) | ``ray`` (remote tasks on a Ray cluster; every node
    must see the run folder)."""
    ray_address: str | None = Field(None, examples=["auto"])
    """The Ray cluster to connect to (``auto``: the running one); None = ``$RAY_ADDRESS``, else a local
    instance."""
    stack_runs: int = Field(1, ge=1, le=64, examples=[6])
    """Fine-tuning runs trained together as one stacked model, at most this many per task: runs of one
    variant that wait on the same pre-training run (or on none: supervised and controls); 1 = every run
    alone. Each keeps its own initialisation, data order, dropout draws, optimiser, schedule, early
    stopping and best checkpoint, and on CPU equals its run alone to float rounding (bit for bit in the
    default study; not guaranteed); on a GPU its dropout masks are other draws from the same
    distribution. Meant for a GPU (one kernel for many small models; not yet measured on one) and for CPU
    grids with more runs than workers (on CPU 1.2-1.7x less time per fine-tuning run). The cnn encoder
    only; other runs train alone. A run's ``stacked_runs`` metric says how many trained together."""


class StudyConfig(_Section):
    """The whole study (a TOML file, ``fairssl run --config study.toml``). Every field has a default from
    the chosen profile; build one with :func:`build_config` or :func:`load_config`."""

    name: str = "fairssl-study"
    """Names the run folder ``<output_dir>/<name>-<hash>``."""
    profile: Literal["quick", "paper"] = "quick"
    """``quick`` (the whole assessment in minutes on a laptop: 2% of the simulated training subjects
    labelled, a small same-padded encoder) | ``paper`` (the KDD 2024 settings, full length); sets the
    defaults marked "profile" (``--profile`` on the command line wins)."""
    output_dir: str = "fairssl-runs"
    """Each study writes its folder ``<output_dir>/<name>-<hash>/`` here."""
    seeds: list[int] = Field(default_factory=lambda: [0], examples=[[0, 1, 2]])
    """Model seeds, distinct: every setup is trained once per seed; several seeds give intervals across
    runs."""
    data: DataConfig = Field(default_factory=DataConfig)
    """Where the windows come from."""
    model: ModelConfig = Field(default_factory=ModelConfig)
    """The encoder and its heads (the paper's by default)."""
    pretrain: PretrainConfig = Field(default_factory=PretrainConfig)
    """Self-supervised pre-training of the encoder (stage 2)."""
    finetune: FinetuneConfig = Field(default_factory=FinetuneConfig)
    """Fine-tuning: the setups compared, one recipe for all, optional bias mitigation (stage 3)."""
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    """Fairness of the test predictions and the study's testing policy (stage 5)."""
    similarity: SimilarityConfig = Field(default_factory=SimilarityConfig)
    """Conditioned CKA between each SSL model and the supervised one, per group (stage 4)."""
    probes: ProbesConfig = Field(default_factory=ProbesConfig)
    """Linear probes of each model's frozen test activations."""
    runtime: RuntimeConfig = Field(default_factory=RuntimeConfig)
    """Where and how runs execute (never changes results)."""
    replicates: int = Field(1, ge=1, le=100)
    """Data replicates: each redraws the data (the simulator's dataset, or a loader's subject split) and
    trains every setup x seed on it; analysis pools them (t on replicates - 1 df), so intervals cover the
    data split too. 1: one split, as before. Use 3 or more: with 2 the t quantile (df 1) is 12.7."""
    grid: dict[str, list[Any]] = Field(
        default_factory=dict,
        examples=[
            {"pretrain.augmentation": ["paper", "default"], "data.simulate.labelled_fraction": [0.1, 1.0]}
        ],
    )
    """Settings to vary: dotted config keys, each with a list of values; the study runs their cartesian
    product (each point a *variant*) x seeds x setups, sharing pre-training between variants that differ
    only downstream. TOML: ``[grid]`` then ``"pretrain.augmentation" = ["paper", "default"]`` (nested
    tables are flattened to dotted keys)."""

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
    # quick: the low-label regime where the question is live (issue #18): 2% of the training subjects
    # labelled, short windows and a small same-padded encoder (any window length fits it), SimCLR with the
    # "default" augmentations, small-batch fine-tuning. Measured (3 seeds): supervised AUROC 0.69, SSL
    # setups 0.69-0.73 with higher parity deviation (0.33-0.40 vs 0.30); at 5% labels supervised 0.81,
    # SSL 0.78-0.80 (README, "Quick start").
    "quick": {
        "data": {"simulate": {"windows_per_subject": 8, "n_steps": 24, "labelled_fraction": 0.02}},
        "model": {"widths": [32, 32, 32], "kernels": [5, 5, 5], "padding": "same"},
        "pretrain": {
            "epochs": 20,
            "batch_size": 64,
            "augmentation": "default",
            "patience": 0,
            "optimizer": "sgd",
            "lr": 0.1,
            "momentum": 0.9,
        },
        "finetune": {"epochs": 60, "batch_size": 16, "patience": 0, "optimizer": "adam", "lr": 1e-3},
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


def _document_profiles() -> None:
    """Every section's ``help()`` shows the resolved defaults, and ``profile: quick Q, paper P`` for each
    field whose default the profile sets (see :func:`fairssl.config_base.document_section`)."""
    quick, paper = build_config({}).to_dict(), build_config({}, profile="paper").to_dict()

    def walk(model: type[_Section], q: dict[str, Any], p: dict[str, Any]) -> None:
        fields = model.model_fields
        profiles = {
            n: (q[n], p[n])
            for n, f in fields.items()
            if q[n] != p[n] and section_type(f) is None and (model, n) != (StudyConfig, "profile")
        }
        document_section(model, profiles)
        for name, field in fields.items():
            section = section_type(field)
            if section is not None:
                walk(section, q[name], p[name])

    walk(StudyConfig, quick, paper)


_document_profiles()


def save_config(config: StudyConfig, path: str | Path) -> None:
    """Write the resolved config as TOML-compatible JSON-typed TOML (round-trips through load_config)."""
    Path(path).write_text(to_toml(config.to_dict()))


__all__ = [
    "PROFILES",
    "SETUP_NAMES",
    "DataConfig",
    "EvaluationConfig",
    "FinetuneConfig",
    "ModelConfig",
    "PretrainConfig",
    "ProbesConfig",
    "RuntimeConfig",
    "SimilarityConfig",
    "SimulationConfig",
    "StudyConfig",
    "build_config",
    "load_config",
    "parse_settings",
    "save_config",
]
