"""The report page's building blocks: sections of blocks, embedded figures and the files written beside.

A :class:`Section` is a titled list of blocks (paragraphs, raw HTML, tables, figures) plus notes on what
is missing; the template ``templates/report.html`` renders them in order. :class:`ReportWriter` draws a
figure into ``figures/`` (PNG and PDF) and returns it as a :class:`FigureBlock` with the PNG embedded as
base64, and saves each report table as CSV and JSON under ``results/report_tables/``.
"""

from __future__ import annotations

import base64
import json
import pickle
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from markupsafe import Markup

from fairssl.report.plotting import render
from fairssl.shared_jobs import SharedJobs


@dataclass
class FigureBlock:
    """An embedded figure with its caption and the paths of its saved files."""

    title: str
    caption: str
    src: str
    files: list[str]
    fig_id: str


@dataclass
class Section:
    """One section of the page: blocks in order (figures, tables, paragraphs) and notes on what is missing."""

    id: str
    title: str
    intro: str = ""
    blocks: list[tuple[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def text(self, paragraph: str) -> None:
        """Add a paragraph of plain text (escaped by the template)."""
        self.blocks.append(("text", paragraph))

    def html(self, markup: Markup) -> None:
        """Add trusted HTML as it is."""
        self.blocks.append(("html", markup))

    def table(self, title: str, markup: Markup, note: str = "") -> None:
        """Add a titled table (see :func:`~fairssl.report.html_table.html_table`) with a note under it."""
        self.blocks.append(("table", (title, markup, note)))

    def figure(self, block: FigureBlock) -> None:
        """Add an embedded figure (see :meth:`ReportWriter.figure`)."""
        self.blocks.append(("figure", block))


class ReportWriter:
    """Draws figures into ``<root>/figures/`` and writes tables into ``<root>/results/report_tables/``.

    ``defer``: :meth:`figure` only records the figure and :meth:`render_figures` draws them all, sharing
    them with worker processes (the page's figures cost about as much as the rest of the report);
    otherwise each figure is drawn when it is added."""

    def __init__(self, root: Path, formats: Sequence[str], *, defer: bool = False) -> None:
        self.root = root
        self.figs_dir = root / "figures"
        self.tables_dir = root / "results" / "report_tables"
        self.tables_dir.mkdir(parents=True, exist_ok=True)
        self.formats = formats
        self.saved_tables: list[str] = []
        self.defer = defer
        self.pending: list[tuple[FigureBlock, str, Callable[[], Any]]] = []

    def figure(self, name: str, title: str, caption: str, draw: Callable[[], Any]) -> FigureBlock:
        """Draw ``draw()``'s figure, save it as ``figures/<name>.<format>`` and embed its PNG (with
        ``defer``: at :meth:`render_figures`)."""
        files = [f"figures/{name}.{fmt}" for fmt in dict.fromkeys(["png", *self.formats])]
        block = FigureBlock(title, caption, "", files, f"fig-{name}")
        if self.defer:
            self.pending.append((block, name, draw))
        else:
            _embed(block, render(draw, self.figs_dir, name, tuple(self.formats)))
        return block

    def render_figures(self, workers: int) -> None:
        """Draw every deferred figure, ``workers`` spawned processes sharing the ones whose ``draw``
        pickles (:class:`~fairssl.shared_jobs.SharedJobs`; a pool only for 2 figures or more per process,
        as a worker takes about a second to start), the rest here; then embed each PNG."""
        pending, self.pending = self.pending, []
        jobs = [(draw, self.figs_dir, name, tuple(self.formats)) for _, name, draw in pending]
        shared = [i for i, job in enumerate(jobs) if _pickles(job[0])]
        workers = min(workers, len(shared) // 2 - 1)  # each process gets two figures or more
        drawn = SharedJobs(render, [jobs[i] for i in shared], workers).results()
        pngs = dict(zip(shared, drawn, strict=True))
        for i, job in enumerate(jobs):
            _embed(pending[i][0], pngs[i] if i in pngs else render(*job))

    def save_table(self, name: str, frame: pd.DataFrame) -> None:
        """Write ``frame`` as ``<name>.csv`` and ``<name>.json`` (records) and list it on the page."""
        if frame is None:
            return
        frame.to_csv(self.tables_dir / f"{name}.csv", index=False)
        records = json.loads(frame.to_json(orient="records", double_precision=10))
        (self.tables_dir / f"{name}.json").write_text(json.dumps(records, indent=1) + "\n")
        self.saved_tables.append(name)


def _embed(block: FigureBlock, png: Path) -> None:
    block.src = "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode("ascii")


def _pickles(draw: Callable[[], Any]) -> bool:
    """Whether a worker process can receive ``draw`` (a lambda or a closure cannot)."""
    try:
        pickle.dumps(draw)
    except (pickle.PicklingError, AttributeError, TypeError):
        return False
    return True
