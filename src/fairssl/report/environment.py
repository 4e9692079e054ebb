"""The software a report's results were computed with, against the software that builds the report.

``analyse`` records :func:`software_versions` in ``results/environment.json``; the report's configuration
section shows :func:`environment_table`: one column when nothing changed, else both side by side.
"""

from __future__ import annotations

import json
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pandas as pd

from fairssl import __version__
from fairssl.report.formatting import DASH


def software_versions() -> dict[str, str]:
    """Versions of fairssl, Python, torch, numpy, pandas, scikit-learn, scipy, matplotlib and the platform.

    Read from the installed packages' metadata (torch is not imported).
    """
    out = {"fairssl": __version__, "python": sys.version.split()[0]}
    for package in ("torch", "numpy", "pandas", "scikit-learn", "scipy", "matplotlib"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:  # pragma: no cover
            out[package] = "not installed"
    out["platform"] = platform.platform()
    out["machine"] = platform.machine()
    return out


def environment_table(root: Path) -> pd.DataFrame:
    """``results/environment.json`` of a run folder beside :func:`software_versions` now.

    Columns software and ``version (results and this report)`` when every recorded version equals the
    current one; else software, ``when the results were computed`` (``not recorded`` where absent) and
    ``when this report was built``.
    """
    recorded: dict[str, str] = {}
    env_file = root / "results" / "environment.json"
    if env_file.is_file():
        try:
            recorded = {str(k): str(v) for k, v in json.loads(env_file.read_text()).items()}
        except (json.JSONDecodeError, AttributeError):
            recorded = {}
    current = software_versions()
    keys = list(dict.fromkeys([*recorded, *current]))
    if recorded and all(recorded.get(k) == current.get(k) for k in keys):
        return pd.DataFrame(
            {"software": keys, "version (results and this report)": [current[k] for k in keys]}
        )
    return pd.DataFrame(
        {
            "software": keys,
            "when the results were computed": [recorded.get(k, "not recorded") for k in keys],
            "when this report was built": [current.get(k, DASH) for k in keys],
        }
    )
