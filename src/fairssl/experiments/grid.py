"""A study config -> variants -> run specs with content-hash ids.

The study's ``grid`` (dotted config keys, each a list of values) expands to a cartesian product; each
point is a *variant*: the config with those settings applied. Every variant runs every seed x setup.

Two kinds of run: a *pre-training* run per (data, seed, model, pre-training settings), shared by every
fine-tuning setup of that seed (with ``pretrain.seed`` set, one pre-training run serves every seed), and a
*fine-tuning* run per (setup, seed, ...). A run's id is a hash of exactly the settings that determine its
result, so the same spec always maps to the same id (resume), a changed setting gets a new id (no stale
reuse), and variants whose runs have identical inputs share those runs (e.g. every ``pretrain.*``
variant shares the supervised baseline; every ``finetune.*`` variant shares the pre-training).

Only SSL setups (``Setup.pretrained``) depend on a pre-training run and carry its id in their spec; the
supervised baseline and the ``random:<setup>`` controls start from a seeded random encoder, so their specs
hold no pre-training id (``"pretrain": None``), they have no ``depends_on``, and a study of only such setups
has no pre-training run.

With ``pretrain.weights`` set (an existing encoder to assess) the pre-training run trains nothing: it
loads the file. Its id then hashes the data, the model and the file's sha256 only, so a copy of the file
elsewhere keeps the run, a changed weight gets a new one, and the ``pretrain.*`` hyper-parameters and the
seed (unused: nothing is drawn) do not enter it; one such run serves every seed. Its payload (recorded in
the run folder's ``spec.json``) holds ``weights = {"path": ..., "sha256": ...}``. The file is hashed once
per :func:`expand`; a missing or unreadable one is a :class:`~fairssl.errors.ConfigError` there, before
anything is trained.

A spec also carries the torch intra-op thread count its run uses (``threads``, from ``runtime.threads``,
default :data:`~fairssl.runtime.DEFAULT_THREADS_PER_RUN`): CPU kernels split their sums by
thread, so the thread count is part of what determines a run's bits. It is not part of the run id (a
folder keeps its runs when the count changes) but it is recorded with every run, and a run trained with
another count is re-run rather than mixed in.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from fairssl.config import StudyConfig
from fairssl.errors import ConfigError
from fairssl.finetune.setups import get_setup
from fairssl.loader_options import REPLICATE_STRIDE, replicate_key
from fairssl.runtime import threads_per_run

BASE_VARIANT = "base"
"""The variant name of a study without a grid."""

REPLICATE_KEY = "replicate"
"""The name of the replicate axis in variant names (``replicate=2``, ``key=value, replicate=2``)."""

ID_NEUTRAL_DEFAULTS: dict[str, dict[str, Any]] = {
    "model": {"arch": "cnn", "factory": None, "patch_length": 8, "heads": 4},
    "pretrain": {"method": "simclr", "objective": {}, "weights": None},
    "finetune": {
        "mitigation": "none",
        "mitigation_attributes": [],
        "mitigation_options": {},
        "activation_windows": None,
    },
}
"""Settings added after run ids were first issued: at these values they are left out of a run's id, so
a folder trained before the setting existed keeps its runs (the result is the same: the default is the
behaviour those runs had). Any other value is part of the id."""


def _id_section(section: str, values: dict[str, Any], *, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    """``values`` of config ``section`` as they enter run ids: ``drop`` keys removed, keys of
    :data:`ID_NEUTRAL_DEFAULTS` removed when at their neutral value, and a fine-tuning mitigation's
    targets and options removed when there is no mitigation."""
    neutral = ID_NEUTRAL_DEFAULTS.get(section, {})
    if section == "finetune" and values.get("mitigation", "none") == "none":
        # without a mitigation its targets and options change nothing: a grid's `none` cell is the
        # plain recipe's run whatever the study sets them to
        drop = (*drop, "mitigation_attributes", "mitigation_options")
    return {k: v for k, v in values.items() if k not in drop and not (k in neutral and v == neutral[k])}


def weights_digest(path: str) -> str:
    """The sha256 (64 hex) of the file ``pretrain.weights`` names; a one-line ConfigError if it cannot
    be read."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise ConfigError(
            f"pretrain.weights = '{path}' cannot be read ({reason}); set it to a saved encoder state "
            "dict (torch.save(encoder.state_dict(), path)) or remove it to pre-train"
        ) from None
    return digest.hexdigest()


def content_id(prefix: str, payload: dict[str, Any]) -> str:
    """``prefix-<12 hex>``: sha256 of the canonical JSON of ``payload``."""
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return f"{prefix}-{digest}"


@dataclass(frozen=True)
class Variant:
    """One grid point: its settings (dotted key -> value) and the resolved config they give."""

    name: str
    settings: dict[str, Any] = field(compare=False, hash=False)
    config: StudyConfig = field(compare=False, hash=False)
    point: str = BASE_VARIANT
    """The grid point's name (``name`` without the replicate); replicates of one point are pooled."""
    replicate: int = 0
    """Which replicate of the point (0 to ``replicates - 1``); replicate 0 is the config as given."""

    @property
    def slug(self) -> str:
        """A folder-safe id of the settings (``var-<12 hex>``)."""
        return content_id("var", self.settings)


@dataclass(frozen=True)
class RunSpec:
    """One unit of work. ``kind`` is ``pretrain`` or ``finetune``; ``depends_on`` names a pretrain id.

    ``variant`` names the grid point the spec was expanded for (``base`` without a grid); a run shared by
    several variants appears once per variant in :func:`expand` (same ``run_id``), once in
    :func:`unique_runs`.
    """

    run_id: str
    kind: str
    seed: int
    setup: str | None = None
    depends_on: str | None = None
    variant: str = BASE_VARIANT
    payload: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    threads: int = 1
    """Torch intra-op threads of the run (part of its numerics, not of its id)."""

    @property
    def label(self) -> str:
        """``pretrain`` or ``setup <name>``, for messages."""
        return "pretrain" if self.kind == "pretrain" else f"setup {self.setup}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "kind": self.kind,
            "seed": self.seed,
            "setup": self.setup,
            "depends_on": self.depends_on,
            "variant": self.variant,
            "payload": self.payload,
            "threads": self.threads,
        }


SIMULATE_NEUTRAL_DEFAULTS: dict[str, Any] = {"split": [0.7, 0.15, 0.15]}
"""Simulator settings added after run ids were first issued (as :data:`ID_NEUTRAL_DEFAULTS`)."""


def dataset_key(config: StudyConfig) -> dict[str, Any]:
    """The data section as it enters run ids (simulator settings at a neutral default left out)."""
    data = config.to_dict()["data"]
    sim = data.get("simulate")
    if isinstance(sim, dict):
        data["simulate"] = {
            k: v
            for k, v in sim.items()
            if not (k in SIMULATE_NEUTRAL_DEFAULTS and v == SIMULATE_NEUTRAL_DEFAULTS[k])
        }
    return data


def _format_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def variant_name(settings: dict[str, Any]) -> str:
    """``key=value, key2=value2`` in the grid's key order (``base`` for no settings)."""
    if not settings:
        return BASE_VARIANT
    return ", ".join(f"{key}={_format_value(value)}" for key, value in settings.items())


def variants(config: StudyConfig) -> list[Variant]:
    """The grid's points in a deterministic order (the last key varies fastest); one without a grid.

    With ``replicates = R > 1`` each point becomes R variants, one per replicate (replicates vary
    fastest): replicate r redraws the data with seed ``base + REPLICATE_STRIDE * r`` of
    :func:`~fairssl.loader_options.replicate_key` (the simulator's seed, or a loader's split seed), and
    is named ``<point>, replicate=r`` (``replicate=r`` without a grid).
    """
    keys = list(config.grid)
    points = [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*config.grid.values())]
    out = []
    for settings in points:
        point_config = config.with_settings(settings) if settings else config
        point = variant_name(settings)
        if config.replicates == 1:
            out.append(Variant(point, settings, point_config, point))
            continue
        for r in range(config.replicates):
            extra = replicate_settings(point_config, r)
            name = f"{point + ', ' if settings else ''}{REPLICATE_KEY}={r}"
            full = {**settings, **extra}
            out.append(Variant(name, full, config.with_settings(full), point, r))
    return out


def replicate_settings(config: StudyConfig, replicate: int) -> dict[str, Any]:
    """The settings that make ``replicate`` of ``config``'s data: ``{}`` for replicate 0 (the data as
    configured), else the data seed shifted by ``REPLICATE_STRIDE * replicate``."""
    if replicate == 0:
        return {}
    key, base = replicate_key(config.data)
    return {key: int(base) + REPLICATE_STRIDE * replicate}


def _pretrain_payloads(
    config: StudyConfig, seed: int, digests: dict[str, str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(what the pre-training run's id hashes, its spec payload) for fine-tuning seed ``seed``.

    Without ``pretrain.weights`` both are data, model, the pre-training settings (less ``seed``) and
    the pre-training seed. With it, the id hashes data, model and the file's sha256 (``digests`` caches
    path -> sha256 across one expansion) and the payload adds the path.
    """
    cfg = config.to_dict()
    base = {"data": dataset_key(config), "model": _id_section("model", cfg["model"])}
    path = config.pretrain.weights
    if path is None:
        pre_seed = seed if config.pretrain.seed is None else config.pretrain.seed
        pre_cfg = _id_section("pretrain", cfg["pretrain"], drop=("seed",))  # ids as before the option
        payload = {**base, "pretrain": pre_cfg, "seed": pre_seed}
        return payload, payload
    if path not in digests:
        digests[path] = weights_digest(path)
    sha = digests[path]
    return {**base, "weights": {"sha256": sha}}, {**base, "weights": {"path": path, "sha256": sha}}


def _expand_variant(variant: Variant, digests: dict[str, str]) -> tuple[list[RunSpec], list[RunSpec]]:
    config = variant.config
    cfg = config.to_dict()
    data = dataset_key(config)
    pretrains: list[RunSpec] = []
    finetunes: list[RunSpec] = []
    from fairssl.ssl.encoders import encoder_layer_names  # torch only once a grid expands

    layers = encoder_layer_names(config.model)
    threads = threads_per_run(config.runtime)
    for seed in config.seeds:
        pre_seed = seed if config.pretrain.seed is None else config.pretrain.seed
        id_payload, pre_payload = _pretrain_payloads(config, seed, digests)
        pre_id = content_id("pre", id_payload)
        needs_pretrain = False
        for name in config.finetune.setups:
            setup = get_setup(name, layers)
            needs_pretrain |= setup.pretrained
            payload = {
                "data": data,
                "model": _id_section("model", cfg["model"]),
                "finetune": _id_section("finetune", cfg["finetune"], drop=("setups",)),
                "setup": name,
                "seed": seed,
                "pretrain": pre_id if setup.pretrained else None,
            }
            finetunes.append(
                RunSpec(
                    content_id("ft", payload),
                    "finetune",
                    seed,
                    setup=name,
                    depends_on=pre_id if setup.pretrained else None,
                    variant=variant.name,
                    payload=payload,
                    threads=threads,
                )
            )
        if needs_pretrain and all(p.run_id != pre_id for p in pretrains):  # one shared run at most
            pre = RunSpec(
                pre_id, "pretrain", pre_seed, variant=variant.name, payload=pre_payload, threads=threads
            )
            pretrains.append(pre)
    return pretrains, finetunes


def expand(config: StudyConfig) -> list[RunSpec]:
    """All (variant, run) pairs of the study, pre-training runs first, in a deterministic order.

    A run shared by several variants appears once per variant (same ``run_id``, its own ``variant``).
    """
    pretrains: list[RunSpec] = []
    finetunes: list[RunSpec] = []
    digests: dict[str, str] = {}  # each pretrain.weights file hashed once
    for variant in variants(config):
        pre, ft = _expand_variant(variant, digests)
        pretrains += pre
        finetunes += ft
    return pretrains + finetunes


def unique_runs(specs: list[RunSpec]) -> list[RunSpec]:
    """The runs to execute: the first spec of each ``run_id``, in order."""
    seen: set[str] = set()
    out = []
    for spec in specs:
        if spec.run_id not in seen:
            seen.add(spec.run_id)
            out.append(spec)
    return out


def specs_by_variant(specs: list[RunSpec]) -> dict[str, list[RunSpec]]:
    """``variant name -> its specs`` in expansion order."""
    out: dict[str, list[RunSpec]] = {}
    for spec in specs:
        out.setdefault(spec.variant, []).append(spec)
    return out
