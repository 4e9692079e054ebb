"""``fairssl config --show``: a study's resolved config as TOML, with every option of its data source's
loader (the given ones and the defaults) listed under ``[data.options]``.

Imports the config modules only when called (the CLI starts with typer and rich alone).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _toml_value(value: Any) -> str | None:
    """A loader default as a TOML value (tuples as lists, paths as strings); None if TOML has none."""
    import json

    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, tuple):
        value = list(value)
    if value is None or not isinstance(value, (str, int, float, bool, list, dict)):
        return None
    try:
        return json.dumps(value)
    except TypeError:
        return None


def show_config(cfg: Any) -> str:
    """The resolved config as TOML; ``[data.options]`` lists every option of the source's loader
    (given, else its default; options without a TOML value as comments); ``[data.simulate]`` only for
    the simulator."""
    from fairssl.config_text import to_toml
    from fairssl.loader_options import loader_options

    data_dict = cfg.to_dict()
    section = data_dict.pop("data")
    simulate = section.pop("simulate")
    section.pop("options")
    loader, options = loader_options(cfg.data)
    lines = ["[data]", to_toml(section).rstrip()]
    if cfg.data.source == "simulate":
        lines += ["", "[data.simulate]", to_toml(simulate, "data.simulate").rstrip()]
    else:
        lines += ["", f"[data.options]  # {loader}: every option, the given ones and the defaults"]
        for opt in options:
            text = _toml_value(opt.value)
            if opt.required:
                lines.append(f"# {opt.name} = ...  # required, no default: set data.options.{opt.name}")
            elif text is None:
                shown = "none (the loader decides)" if opt.value is None else repr(opt.value)
                lines.append(f"# {opt.name}: default {shown}")
            else:
                lines.append(f"{opt.name} = {text}" + ("" if opt.given else "  # default"))
    scalars = {k: v for k, v in data_dict.items() if not isinstance(v, dict)}
    tables = {k: v for k, v in data_dict.items() if isinstance(v, dict)}
    return "\n".join([to_toml(scalars).rstrip(), "", *lines, "", to_toml(tables).rstrip()]) + "\n"
