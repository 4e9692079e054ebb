"""The base of every config section: unknown keys are rejected, values are frozen after validation, and
each field is documented once, by the attribute docstring under it.

Those docstrings are the one source of the config's documentation: :class:`Section` turns them into a
numpydoc ``Attributes`` section of the class docstring (what ``help(ModelConfig)`` shows), and
:mod:`fairssl.config_text` into the commented example study file and the README's reference table.
"""

from __future__ import annotations

import inspect
import re
import types
from collections.abc import Mapping
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel, ConfigDict
from pydantic.fields import FieldInfo

from fairssl.toml_text import toml_value

_INTROS: dict[type, str] = {}
"""Each section class's own docstring (before the generated ``Attributes`` section is appended)."""


class Section(BaseModel):
    """A config section (a TOML table): ``extra = "forbid"`` (a typo'd key is an error), frozen; each
    field's attribute docstring is its documentation (``use_attribute_docstrings``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        _INTROS[cls] = inspect.cleandoc(cls.__dict__.get("__doc__") or f"The ``{cls.__name__}`` section.")
        document_section(cls)


def document_section(cls: type[Section], profiles: Mapping[str, tuple[Any, Any]] | None = None) -> None:
    """Set ``cls.__doc__`` to its own docstring followed by a numpydoc ``Attributes`` section: one entry
    per field with its type (allowed values of a Literal, bounds), default and documentation.

    ``profiles``: field name -> (quick, paper) default, for fields whose default the profile sets.
    Called when the class is created, and again by :mod:`fairssl.config` for every section of the study
    once the profiles are defined (and every default factory can run).
    """
    profiles = profiles or {}
    lines = [_INTROS[cls], "", "Attributes", "----------"]
    for name, field in cls.model_fields.items():
        if name in profiles:
            quick, paper = profiles[name]
            default = f"profile: quick {_literal(quick)}, paper {_literal(paper)}"
        else:
            try:
                default = f"default {default_text(field)}"
            except NameError:  # a factory naming the class being created: documented again later
                default = "default: see the factory"
        lines.append(f"{name} : {type_text(field)}; {default}")
        doc = field.description or "(undocumented)"
        lines += ["    " + line if line else "" for line in inspect.cleandoc(doc).splitlines()]
    cls.__doc__ = "\n".join(lines) + "\n"


def default_value(field: FieldInfo) -> Any:
    """The field's default as plain data (a section as a dict; None when it has none)."""
    value = field.get_default(call_default_factory=True)
    return value.model_dump(mode="json") if isinstance(value, BaseModel) else value


def default_text(field: FieldInfo) -> str:
    """The default as TOML text; a section field that takes its class's defaults is ``Class()``."""
    value = field.get_default(call_default_factory=True)
    section = section_type(field)
    if section is not None and value == section():
        return f"{section.__name__}()"
    return _literal(default_value(field))


def section_type(field: FieldInfo) -> type[Section] | None:
    """The Section class of a field that is a sub-table (``[data.simulate]``), else None."""
    annotation = field.annotation
    return annotation if isinstance(annotation, type) and issubclass(annotation, Section) else None


def literal_values(annotation: Any) -> list[Any]:
    """The allowed values of a Literal annotation (inside a union too), in declaration order."""
    if get_origin(annotation) is Literal:
        return list(get_args(annotation))
    if _is_union(annotation):
        return [v for arg in get_args(annotation) for v in literal_values(arg)]
    return []


def type_text(field: FieldInfo) -> str:
    """``int, >= 1``, ``{"valid", "same"}``, ``list[int]``, ``str or None``: the type and its bounds."""
    text = _annotation_text(field.annotation)
    bounds = []
    for meta in field.metadata:
        for attr, op in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            if isinstance(meta, getattr(annotated_types, attr.capitalize())):
                bounds.append(f"{op} {getattr(meta, attr)}")
    return ", ".join([text, *bounds])


def _annotation_text(annotation: Any) -> str:
    if annotation is None or annotation is type(None):
        return "None"
    if get_origin(annotation) is Literal:
        return "{" + ", ".join(_literal(v) for v in get_args(annotation)) + "}"
    if _is_union(annotation):
        return " or ".join(_annotation_text(a) for a in get_args(annotation))
    origin = get_origin(annotation)
    if origin is not None:
        args = ", ".join(_annotation_text(a) for a in get_args(annotation))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    if annotation is Any:
        return "Any"
    return getattr(annotation, "__name__", re.sub(r"\btyping\.", "", str(annotation)))


def _is_union(annotation: Any) -> bool:
    return get_origin(annotation) in (Union, types.UnionType)


def _literal(value: Any) -> str:
    return "None" if value is None else toml_value(value)


__all__ = [
    "Section",
    "default_text",
    "default_value",
    "document_section",
    "literal_values",
    "section_type",
    "type_text",
]
