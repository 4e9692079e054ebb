"""The data loaders' options as a config sees them: which option sets the window length, every option of
a source's loader with its default (``fairssl config --show``), and the check that ``data.options`` names
only options the loader takes and every required one (before any data is read)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from fairssl.errors import ConfigError

if TYPE_CHECKING:
    from fairssl.config import DataConfig, StudyConfig


WINDOW_KEYS = {
    "simulate": "data.simulate.n_steps",
    "long": "data.options.window",
    "pbcseq": "data.options.window",
    "globem": "data.options.window_days",
    "mimic3": "data.options.hours",
    "mesa": "data.options.window_half",
    "physionet2012": "data.options.hours",
    "nhanes": "data.options.resolution",
}
"""The setting that sets the window length T of each source (arrays and folder: fixed by the files)."""


def window_key(data: DataConfig) -> str | None:
    """The config key that sets the length of ``data``'s windows (None when the files fix it)."""
    return WINDOW_KEYS.get(data.source)


class LoaderOption(NamedTuple):
    """One keyword option of a data source's loader, as the study resolves it."""

    name: str
    value: Any
    """The given value, else the loader's default (None: the loader's own choice)."""
    given: bool
    required: bool
    """No default and not given: loading will fail until it is set."""


def loader_options(data: DataConfig) -> tuple[str, list[LoaderOption]]:
    """The loader of ``data.source`` (``module.function``) and its keyword options: the given ones
    (``data.options``) and every other with its default, read from the loader's signature.

    The simulator has none (its knobs are ``[data.simulate]``). A ConfigError names options the loader
    does not take.
    """
    import importlib
    import inspect

    if data.source == "simulate":
        return "fairssl.data.simulate.simulate", []
    from fairssl.data.loaders import SOURCES

    module_name, attr, takes_path = SOURCES[data.source]
    target: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        target = getattr(target, part)
    params = list(inspect.signature(target).parameters.values())
    if takes_path and params:
        params = params[1:]  # the data path itself
    keywords = [p for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
    names = [p.name for p in keywords]
    extra = sorted(set(data.options) - set(names))
    if extra and not any(p.kind is p.VAR_KEYWORD for p in params):
        raise ConfigError(
            f"data.options {extra} are not options of data source '{data.source}'; "
            f"it takes: {', '.join(names) or 'no options'}"
        )
    options = [
        LoaderOption(p.name, data.options[p.name], True, False)
        if p.name in data.options
        else LoaderOption(p.name, None if p.default is p.empty else p.default, False, p.default is p.empty)
        for p in keywords
    ]
    options += [LoaderOption(k, data.options[k], True, False) for k in extra]
    return f"{module_name}.{attr}", options


def check_loader_options(config: StudyConfig) -> None:
    """ConfigError (one line) for a loader option that ``data.options`` names but the source's loader
    does not take, or one the loader requires and neither ``data.options`` nor the grid sets; cheap:
    nothing is loaded. Skipped when the grid varies the source or the whole options table."""
    if any(k in ("data", "data.source", "data.options") for k in config.grid):
        return
    data = config.data
    varied = {k.split(".")[2] for k in config.grid if k.startswith("data.options.")}
    _, options = loader_options(data)
    missing = [o.name for o in options if o.required and o.name not in varied]
    if missing:
        raise ConfigError(
            f"data source '{data.source}' needs data.options.{missing[0]} (it has no default); set it under "
            f"[data.options] or with --set data.options.{missing[0]}=..."
        )


REPLICATE_STRIDE = 1000
"""Replicate r of a study draws its data with seed ``base + REPLICATE_STRIDE * r`` (far from the small
seeds a grid usually varies, so a replicate does not reproduce another grid point's data)."""


def replicate_key(data: DataConfig) -> tuple[str, int]:
    """The setting a replicate redraws and its base value: the simulator's ``data.simulate.seed`` (a new
    simulated dataset), else the loader's split seed ``data.options.seed`` (a new subject split).

    A ConfigError when the source's loader takes no seed (its split is fixed by the files, e.g. the
    MIMIC-III benchmark's test set): replicates could not redraw anything.
    """
    if data.source == "simulate":
        return "data.simulate.seed", int(data.simulate.seed)
    _, options = loader_options(data)
    seed = [o for o in options if o.name == "seed"]
    if not seed:
        raise ConfigError(
            f"replicates redraw the subject split, but data source '{data.source}' has a fixed split (its "
            "loader takes no seed); set replicates = 1, or use a source whose split is drawn (simulate, "
            "long, pbcseq, physionet2012, ...)"
        )
    return "data.options.seed", int(seed[0].value or 0)


__all__ = [
    "REPLICATE_STRIDE",
    "WINDOW_KEYS",
    "LoaderOption",
    "check_loader_options",
    "loader_options",
    "replicate_key",
    "window_key",
]
