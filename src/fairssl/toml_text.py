"""TOML text of plain values: a whole nested dict (:func:`to_toml`, the run folder's ``config.toml``) or
one value as an inline literal (:func:`toml_value`, the example config and the config docs).

Only what a config holds is supported: None-free scalars (str, bool, int, float), lists/tuples and
string-keyed mappings. Strings are written as JSON strings, which are valid TOML basic strings.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def toml_key(key: str) -> str:
    """A bare key when it is one (letters, digits, ``_``, ``-``), else a quoted key: ``"pretrain.lr"``."""
    return key if key and key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


def toml_value(value: Any) -> str:
    """``value`` as an inline TOML literal: ``true``, ``0.0001``, ``"paper"``, ``[1, 2]``,
    ``{ sex = "male" }`` (an empty mapping is ``{}``); None entries of a mapping are left out.

    A None (TOML has no null) or another type is a TypeError.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        items = [f"{toml_key(str(k))} = {toml_value(v)}" for k, v in value.items() if v is not None]
        return "{ " + ", ".join(items) + " }" if items else "{}"
    raise TypeError(f"{value!r} ({type(value).__name__}) has no TOML literal")


def to_toml(data: Mapping[str, Any], prefix: str = "") -> str:
    """Serialise a nested dict of TOML-compatible values (None values are left out); mappings become
    ``[tables]`` after the scalars of their parent, a mapping inside a list an inline table (a list
    augmentation such as ``["scaling", { time_warp = { sigma = 0.2 } }]`` round-trips)."""
    scalars: list[str] = []
    tables: list[str] = []
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, Mapping):
            name = f"{prefix}.{key}" if prefix else key
            body = to_toml(value, name)
            tables.append(f"[{name}]\n{body}")
        else:
            scalars.append(f"{toml_key(key)} = {toml_value(value)}")
    text = "\n".join(scalars)
    if tables:
        text = (text + "\n\n" if text else "") + "\n\n".join(t.rstrip() for t in tables)
    return text + "\n"


__all__ = ["to_toml", "toml_key", "toml_value"]
