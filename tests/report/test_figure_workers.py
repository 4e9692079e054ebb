"""The report's figures drawn by worker processes (:meth:`fairssl.report.page.ReportWriter.render_figures`)
are the figures drawn here, byte for byte, and the page is the same."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from fairssl.report.html import build_report
from fairssl.report.page import ReportWriter, _pickles
from fairssl.report.plotting import empty_figure


def _page(root: Path) -> str:
    """report.html without what names the folder or the build time."""
    text = (root / "report.html").read_text()
    text = text.replace(root.resolve().name, "RUN")
    return re.sub(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", "TIME", text)


def test_figures_drawn_by_a_worker_equal_those_drawn_here(make_run, tmp_path: Path) -> None:
    here = make_run(tmp_path / "run_drawn_serially")
    shared = tmp_path / "run_drawn_by_a_pool"
    shutil.copytree(here, shared)
    build_report(here, formats=("png",))
    build_report(shared, formats=("png",), workers=2)
    pngs = sorted(p.name for p in (here / "figures").glob("*.png"))
    assert len(pngs) >= 8  # a full page: enough figures for a pool of two
    assert pngs == sorted(p.name for p in (shared / "figures").glob("*.png"))
    for name in pngs:
        assert (here / "figures" / name).read_bytes() == (shared / "figures" / name).read_bytes(), name
    assert _page(here) == _page(shared)  # every figure embedded where it was


def test_a_draw_that_cannot_be_sent_to_a_worker_is_drawn_here(tmp_path: Path) -> None:
    """A lambda (a closure) does not pickle: it is drawn in this process, beside the ones that do."""
    from functools import partial

    closure = lambda: empty_figure("drawn here")  # noqa: E731
    assert not _pickles(closure) and _pickles(partial(empty_figure, "x"))
    writer = ReportWriter(tmp_path, ("png",), defer=True)
    blocks = [writer.figure(f"shared{i}", "t", "c", partial(empty_figure, f"figure {i}")) for i in range(4)]
    blocks.append(writer.figure("closure", "t", "c", closure))
    assert all(b.src == "" for b in blocks) and not list(tmp_path.glob("figures/*.png"))  # deferred
    writer.render_figures(workers=1)
    assert all(b.src.startswith("data:image/png;base64,") for b in blocks)
    assert sorted(p.stem for p in (tmp_path / "figures").glob("*.png")) == sorted(
        [f"shared{i}" for i in range(4)] + ["closure"]
    )
    assert not writer.pending
