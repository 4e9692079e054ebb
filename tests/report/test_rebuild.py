"""`fairssl report RUN_DIR` rebuilds the report of a real (tiny) run from its stored tables alone."""

from __future__ import annotations

import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from fairssl.cli import app
from fairssl.report.html import SECTIONS

pytestmark = pytest.mark.slow


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.imgs = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.append(str(a["id"]))
        self.imgs += tag == "img" and str(a.get("src", "")).startswith("data:image/png;base64,")


def test_rebuild_from_stored_tables_only(tiny_run_copy: Path) -> None:
    root = tiny_run_copy
    before = (root / "results" / "summary.csv").read_bytes()
    shutil.rmtree(root / "runs")  # no model, prediction or activation left
    shutil.rmtree(root / "figures")
    (root / "report.html").unlink()
    res = CliRunner().invoke(app, ["report", str(root)])
    assert res.exit_code == 0, res.output
    page = _Ids()
    page.feed((root / "report.html").read_text(encoding="utf-8"))
    assert all(sid in page.ids for sid, _ in SECTIONS)
    assert page.imgs >= 9 and (root / "figures" / "cka_best_worst.pdf").is_file()
    assert (root / "results" / "summary.csv").read_bytes() == before  # stored results untouched
    env = json.loads((root / "results" / "environment.json").read_text())
    assert {"fairssl", "python", "torch", "numpy", "pandas", "platform"} <= set(env)
    sizes = pd.read_csv(root / "dataset" / "sizes.csv")
    assert list(sizes["split"])[:2] == ["all", "train"]
