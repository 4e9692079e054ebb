"""fairssl: does self-supervised pre-training make my model fairer, at what cost, and where?

From Python (a notebook)::

    import fairssl

    study = fairssl.assess(settings={"pretrain.epochs": 5})  # the simulator; or data=<WindowDataset>
    study.headline                                          # the answer in one sentence
    study.comparison                                        # one row per setup (a DataFrame)
    fairssl.load_study(study.run_dir)                       # reopen a finished run folder

``import fairssl`` stays light: :func:`assess`, :func:`load_study` and :class:`Study` are imported (with
torch and pandas) on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from fairssl import metrics
    from fairssl.api import assess, load_study
    from fairssl.metrics import GroupMetrics, GroupMetricsAccumulator, group_metrics
    from fairssl.study import Study

_LAZY = {
    "assess": "fairssl.api",
    "load_study": "fairssl.api",
    "Study": "fairssl.study",
    "group_metrics": "fairssl.metrics",
    "GroupMetrics": "fairssl.metrics",
    "GroupMetricsAccumulator": "fairssl.metrics",
}
"""Public name -> the module defining it, imported on first access (PEP 562)."""
_SUBMODULES = ("metrics",)
"""Public subpackages, imported on first access (``fairssl.metrics`` without ``import fairssl.metrics``)."""

__all__ = [
    "GroupMetrics",
    "GroupMetricsAccumulator",
    "Study",
    "__version__",
    "assess",
    "group_metrics",
    "load_study",
    "metrics",
]


def __getattr__(name: str) -> Any:
    import importlib

    if name in _SUBMODULES:
        return importlib.import_module(f"fairssl.{name}")  # the import binds it as an attribute too
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fairssl' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, *_SUBMODULES})
