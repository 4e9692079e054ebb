"""One entry point for every data source: :func:`load_dataset`.

Loaders are imported lazily, by name, so a source whose module (or optional dependency) is absent fails
only when it is asked for, with a one-line error.

=========  ======================================================  ==========
source     function                                                needs path
=========  ======================================================  ==========
simulate   fairssl.data.simulate.simulate(**options)               no
mimic3     fairssl.data.loaders.mimic3.load_mimic3(path, ...)      yes
mesa       fairssl.data.loaders.mesa.load_mesa(path, ...)          yes
globem     fairssl.data.loaders.globem.load_globem(path, ...)      yes
arrays     fairssl.data.loaders.generic.load_arrays(path, ...)     yes
long       fairssl.data.loaders.generic.load_long_table(path, ...) yes
pbcseq     fairssl.data.loaders.public.load_pbcseq(**options)      no
folder     fairssl.data.dataset.WindowDataset.load(path, ...)      yes
=========  ======================================================  ==========
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fairssl.data.dataset import WindowDataset
from fairssl.errors import ConfigError

# source -> (module, attribute, takes a path)
SOURCES: dict[str, tuple[str, str, bool]] = {
    "simulate": ("fairssl.data.simulate", "simulate", False),
    "mimic3": ("fairssl.data.loaders.mimic3", "load_mimic3", True),
    "mesa": ("fairssl.data.loaders.mesa", "load_mesa", True),
    "globem": ("fairssl.data.loaders.globem", "load_globem", True),
    "arrays": ("fairssl.data.loaders.generic", "load_arrays", True),
    "long": ("fairssl.data.loaders.generic", "load_long_table", True),
    "pbcseq": ("fairssl.data.loaders.public", "load_pbcseq", False),
    "folder": ("fairssl.data.dataset", "WindowDataset.load", True),
    "physionet2012": ("fairssl.data.loaders.physionet2012", "load_physionet2012", True),
    "nhanes": ("fairssl.data.loaders.nhanes", "load_nhanes", True),
}


def _resolve(source: str) -> Callable[..., Any]:
    module_name, attr, _ = SOURCES[source]
    try:
        target: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise ConfigError(
            f"data source {source!r} is not available in this installation (no module {module_name}); "
            f"choose one of: {', '.join(SOURCES)}"
        ) from exc
    for part in attr.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise ConfigError(f"data source {source!r} is not available ({module_name} has no {attr})")
    return target


def load_dataset(source: str, path: str | Path | None = None, **options: Any) -> WindowDataset:
    """Load a :class:`WindowDataset` from ``source`` (see the module table); ``options`` go to its loader.

    Raises :class:`~fairssl.errors.ConfigError` for an unknown source, a missing or superfluous path, or
    an option the loader does not take (listing the ones it does).
    """
    if source not in SOURCES:
        raise ConfigError(f"unknown data source {source!r}; choose one of: {', '.join(SOURCES)}")
    needs_path = SOURCES[source][2]
    if needs_path and path is None:
        raise ConfigError(f"data source {source!r} needs a path to the data; pass path=")
    if not needs_path and path is not None:
        raise ConfigError(f"data source {source!r} takes no path (got {str(path)!r}); leave it out")
    loader = _resolve(source)
    args: tuple[Any, ...] = (path,) if needs_path else ()
    try:
        inspect.signature(loader).bind(*args, **options)
    except TypeError as exc:
        params = [
            p.name
            for p in inspect.signature(loader).parameters.values()
            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
            and p.name not in ("path", "root", "directory")
        ]
        raise ConfigError(
            f"invalid options {sorted(options)} for data source {source!r} ({exc}); "
            f"it takes: {', '.join(params) or 'no options'}"
        ) from exc
    dataset = loader(*args, **options)
    if not isinstance(dataset, WindowDataset):
        raise TypeError(f"data source {source!r} returned {type(dataset).__name__}, not a WindowDataset")
    return dataset


__all__ = ["SOURCES", "load_dataset"]
