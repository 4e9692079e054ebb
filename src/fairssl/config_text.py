"""The config as text: the resolved TOML of a run (:func:`to_toml`), and documentation generated from the
config models, never kept by hand beside them: the commented example study file (:func:`example_toml`,
``fairssl config --example``) and the README's configuration reference (:func:`reference_markdown`).

Both walk :class:`~fairssl.config.StudyConfig` in declaration order. Each key shows the ``quick`` profile's
default; a key whose default the profile sets is commented out with ``profile: quick Q, paper P``
(uncommenting it pins it for both profiles). The comment is the field's attribute docstring (its allowed
values appended when it does not name them all); a key without a default (None) is commented out with the
values of its ``examples``, and a free-form table whose default is empty (``[grid]``, ``[data.options]``)
is shown as a table with its example entries commented out.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from fairssl.config import FinetuneConfig, StudyConfig, build_config
from fairssl.config_base import literal_values, section_type
from fairssl.objective_options import OBJECTIVE_OPTIONS
from fairssl.toml_text import to_toml, toml_key, toml_value

WIDTH = 110
"""Lines of the example are wrapped at this many columns (a long value may exceed it)."""
COLUMN = 29
"""Column where a comment after a key starts."""


class Key(NamedTuple):
    """One documented config key: its dotted path, field, and resolved defaults under both profiles."""

    path: str
    field: FieldInfo
    quick: Any
    paper: Any

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[-1]

    @property
    def profiled(self) -> bool:
        """The profile sets this key's default (quick and paper differ; ``profile`` itself is shown)."""
        return self.quick != self.paper and self.path != "profile"

    @property
    def is_section(self) -> bool:
        return section_type(self.field) is not None

    @property
    def is_table(self) -> bool:
        """A free-form table (a dict field) with an empty default: shown as ``[path]``."""
        return isinstance(self.quick, dict) and not self.quick and not self.is_section


def config_keys() -> Iterator[Key]:
    """Every field of :class:`~fairssl.config.StudyConfig` and its sections, depth first in declaration
    order (a section's own entry comes before its fields)."""
    quick, paper = build_config({}).to_dict(), build_config({}, profile="paper").to_dict()
    yield from _walk(StudyConfig, "", quick, paper)


def _walk(model: type[BaseModel], prefix: str, quick: Any, paper: Any) -> Iterator[Key]:
    for name, field in model.model_fields.items():
        key = Key(f"{prefix}{name}", field, quick.get(name), paper.get(name))
        yield key
        section = section_type(field)
        if section is not None:
            yield from _walk(section, f"{key.path}.", key.quick, key.paper)


def _objective_options() -> str:
    parts = [
        f"{method}: "
        + (", ".join(f"{k} {o.default:g} ({o.meaning}; {o.describe()})" for k, o in table.items()))
        for method, table in OBJECTIVE_OPTIONS.items()
        if table
    ]
    return "Options (default): " + "; ".join(parts) + "."


def _mitigation_options() -> str:
    literal = literal_values(FinetuneConfig.model_fields["mitigation"].annotation)
    parts = [f"{m} {toml_value(FinetuneConfig.mitigation_defaults(m))}" for m in literal]
    return "Defaults: " + "; ".join(p for p in parts if not p.endswith("{}")) + "."


OPTION_TABLES = {"pretrain.objective": _objective_options, "finetune.mitigation_options": _mitigation_options}
"""Keys whose options are declared in a table of their own: the table's text is appended to their doc."""


def key_doc(key: Key, *, markup: str = "text") -> str:
    """:func:`field_doc` of the key, with its option table (:data:`OPTION_TABLES`) appended."""
    doc = field_doc(key.field, markup=markup)
    extra = OPTION_TABLES.get(key.path)
    return f"{doc} {extra()}" if extra else doc


def field_doc(field: FieldInfo, *, markup: str = "text") -> str:
    """The field's docstring on one line, its allowed values appended when it does not name them all.

    ``markup``: ``text`` drops reStructuredText roles and literal quotes, ``markdown`` turns
    ````x```` into ```x```.
    """
    doc = " ".join((field.description or "").split())
    doc = re.sub(r":\w+:`~?([^`]+)`", r"``\1``", doc)  # :mod:`x` -> ``x``
    doc = re.sub(r"(?<![\w*])\*(\w[^*]*)\*(?![\w*])", r"\1", doc)  # *emphasis* -> emphasis
    allowed = literal_values(field.annotation)
    if allowed and not all(re.search(rf"\b{re.escape(str(v))}\b", doc) for v in allowed):
        doc = f"{doc} Allowed: {' | '.join(str(v) for v in allowed)}.".strip()
    return doc.replace("``", "`" if markup == "markdown" else "")


def example_toml() -> str:
    """A commented example study file with every key of every section; parses with ``tomllib`` and
    :func:`~fairssl.config.build_config` accepts it unchanged (it equals the quick profile's defaults)."""
    keys = list(config_keys())
    lines = [
        "# fairssl study configuration, generated from the config's documentation (fairssl.config).",
        "# Every key is optional: a missing key takes the profile's default.",
        "# Run with:  fairssl run --config study.toml [--profile quick|paper]",
        "# Keys commented out with 'profile: quick Q, paper P' take the chosen profile's value;",
        "# uncommenting one pins it for both profiles. Other commented-out lines are examples.",
        "",
    ]
    lines += _table(keys, "")
    return "\n".join(lines).rstrip() + "\n"


def _table(keys: list[Key], prefix: str) -> list[str]:
    """The lines of the table at ``prefix`` (its keys, then its sections and free-form tables)."""
    mine = [k for k in keys if k.path.startswith(prefix) and "." not in k.path[len(prefix) :]]
    lines: list[str] = []
    for key in mine:
        if not key.is_section and not key.is_table:
            entry = _key_lines(key)
            documented_above = entry[0].startswith("# ") and not entry[0].startswith(
                f"# {toml_key(key.name)} ="
            )
            if documented_above and lines and lines[-1]:
                lines.append("")  # a key with its doc above stands apart from the one before
            lines += entry
    for key in mine:
        if key.is_section or key.is_table:
            lines += ["", *_comment(key_doc(key)), f"[{key.path}]"]
        if key.is_section:
            lines += _table(keys, key.path + ".")
        elif key.is_table:
            lines += [f"# {entry}" for example in _examples(key) for entry in _entries(example)]
    return lines


def _key_lines(key: Key) -> list[str]:
    doc = key_doc(key)
    name = toml_key(key.name)
    examples = [f"# {name} = {toml_value(v)}" for v in _examples(key)]
    if key.profiled:
        head = f"# {name} = {_value(key.quick)}"
        note = f"profile: quick {_value(key.quick)}, paper {_value(key.paper)}"
        return _with_comment(head, note, doc) + examples
    if key.quick is None:
        if not examples:
            examples = [f"# {name} = ...  (no example given)"]
        return _with_comment(examples[0], "", doc) + examples[1:]
    return _with_comment(f"{name} = {toml_value(key.quick)}", "", doc) + examples


def _with_comment(line: str, note: str, doc: str) -> list[str]:
    """``line`` with ``doc`` after it when that fits in WIDTH, else the doc on lines above it; a
    ``note`` (the profile's values) always stays on the line and puts the doc above."""
    start = max(COLUMN, len(line) + 2)
    if not note and (not doc or start + 2 + len(doc) <= WIDTH):
        return [f"{line.ljust(start)}# {doc}" if doc else line]
    return [*_comment(doc), f"{line.ljust(start)}# {note}" if note else line]


def _comment(text: str) -> list[str]:
    return textwrap.wrap(text, WIDTH - 2, initial_indent="# ", subsequent_indent="# ", break_on_hyphens=False)


def _examples(key: Key) -> list[Any]:
    return list(key.field.examples or [])


def _entries(example: Any) -> list[str]:
    """The ``key = value`` lines of an example of a free-form table."""
    if not isinstance(example, Mapping):
        raise TypeError(f"an example of a table must be a table, got {example!r}")
    return to_toml(example).strip().splitlines()


def _value(value: Any) -> str:
    return "none" if value is None else toml_value(value)


def reference_markdown() -> str:
    """The README's configuration reference: one row per key with its default (quick / paper when the
    profile sets it) and meaning; a section is a heading row."""
    rows = ["| key | default (quick / paper) | meaning |", "|---|---|---|"]
    for key in config_keys():
        doc = key_doc(key, markup="markdown").replace("|", "\\|")
        if key.is_section:
            rows.append(f"| **`[{key.path}]`** | | {doc} |")
            continue
        default = f"`{_value(key.quick)}`"
        if key.profiled:
            default += f" / `{_value(key.paper)}`"
        examples = ", ".join(f"`{toml_value(v)}`" for v in _examples(key)).replace("|", "\\|")
        meaning = f"{doc} E.g. {examples}." if examples else doc
        default = default.replace("|", "\\|")
        rows.append(f"| `{key.path}` | {default} | {meaning} |")
    return "\n".join(rows) + "\n"


README_BEGIN = "<!-- config-reference:begin (generated by `python -m fairssl.config_text README.md`) -->"
README_END = "<!-- config-reference:end -->"


def readme_with_reference(text: str) -> str:
    """``text`` (README.md) with the block between :data:`README_BEGIN` and :data:`README_END` replaced
    by :func:`reference_markdown`; a ValueError when the markers are missing."""
    head, begin, rest = text.partition(README_BEGIN)
    _, end, tail = rest.partition(README_END)
    if not begin or not end:
        raise ValueError(f"README has no block between {README_BEGIN!r} and {README_END!r}")
    return f"{head}{README_BEGIN}\n{reference_markdown()}{README_END}{tail}"


__all__ = [
    "OPTION_TABLES",
    "README_BEGIN",
    "README_END",
    "Key",
    "config_keys",
    "example_toml",
    "field_doc",
    "key_doc",
    "readme_with_reference",
    "reference_markdown",
    "to_toml",
]


if __name__ == "__main__":  # python -m fairssl.config_text README.md: regenerate the reference in place
    import sys
    from pathlib import Path

    for name in sys.argv[1:]:
        path = Path(name)
        path.write_text(readme_with_reference(path.read_text()))
