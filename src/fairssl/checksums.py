"""Sizes and SHA-256 digests of published files, and the check that they did not change since.

One implementation for a run's artifacts (``done.json``, :mod:`fairssl.experiments.integrity`) and an
analysis's result tables (``results/manifest.json``, read back by the report): a file whose size or
digest differs from what was recorded was truncated, damaged or edited after it was written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Container, Mapping
from pathlib import Path
from typing import Any

MANIFEST_NAME = "manifest.json"
"""The results folder's record of its tables (``{name: {"bytes", "sha256"}}``)."""


def file_digest(path: Path, *, chunk: int = 1 << 20) -> dict[str, Any]:
    """``{"bytes": size, "sha256": hex digest}`` of one file."""
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
            size += len(block)
    return {"bytes": size, "sha256": h.hexdigest()}


def fingerprint(folder: Path, *, exclude: Container[str] = ()) -> dict[str, dict[str, Any]]:
    """``name -> file_digest`` of every regular file directly in ``folder`` except ``exclude`` and
    temporary files (names starting with a dot or ending in ``.tmp``), sorted by name."""
    return {
        p.name: file_digest(p)
        for p in sorted(folder.iterdir())
        if p.is_file()
        and p.name not in exclude
        and not p.name.startswith(".")
        and not p.name.endswith(".tmp")
    }


def compare(folder: Path, recorded: Mapping[str, Any], *, verb: str = "written") -> str | None:
    """The first recorded file of ``folder`` that is missing or differs (one line, saying when it was
    ``verb``: written, published), or None."""
    for name, want in recorded.items():
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        size = path.stat().st_size
        if size != want.get("bytes"):
            return f"{name} is {size} bytes, {want.get('bytes')} were {verb} (truncated or replaced)"
        if file_digest(path)["sha256"] != want.get("sha256"):
            return f"{name} changed since it was {verb} (SHA-256 differs)"
    return None


def write_manifest(folder: Path) -> dict[str, dict[str, Any]]:
    """Record every file of a results folder in ``manifest.json`` (atomically); returns the records."""
    from fairssl.atomic import write_json_atomic

    records = fingerprint(folder, exclude={MANIFEST_NAME})
    write_json_atomic(folder / MANIFEST_NAME, records)
    return records


def check_manifest(folder: Path) -> str | None:
    """Why a results folder's tables cannot be trusted (one line), or None: they match their manifest,
    or there is no manifest (a folder written before manifests; nothing to check)."""
    path = folder / MANIFEST_NAME
    if not path.is_file():
        return None
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return f"{MANIFEST_NAME} is unreadable ({type(exc).__name__})"
    if not isinstance(recorded, dict):
        return f"{MANIFEST_NAME} is not a JSON object"
    return compare(folder, recorded)


__all__ = ["MANIFEST_NAME", "check_manifest", "compare", "file_digest", "fingerprint", "write_manifest"]
