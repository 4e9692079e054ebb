"""The report of a real tiny run in headless Chromium: no console error, no broken image, not blank.

Needs the Debian ``chromium`` package at /usr/bin/chromium (installed by .ci/run) and the ``playwright``
Python package; never downloads a browser. The screenshot is kept at ``<tmp>/report.png`` (its path is
printed with ``-s``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture
def browser():
    if not CHROMIUM.is_file():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (Debian: apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is missing")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def test_report_renders_without_errors_and_is_not_blank(browser, tiny_run: Path, tmp_path: Path) -> None:
    from PIL import Image

    report = tiny_run / "report.html"
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on(
        "console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.goto(report.resolve().as_uri())
    page.wait_for_load_state("load")
    widths = page.evaluate("Array.from(document.images).map(i => i.complete ? i.naturalWidth : 0)")
    assert len(widths) >= 9 and min(widths) > 0, widths
    for section in ("summary", "audit", "performance", "groups", "parity", "supervision", "similarity"):
        assert page.locator(f"#sec-{section}").count() == 1, section
    # the inline scripts work: sorting a column and filtering the all-metrics table
    page.click("#metrics-table th:nth-child(10)")
    assert "asc" in (page.get_attribute("#metrics-table th:nth-child(10)", "class") or "")
    page.fill("#metric-filter", "auroc overall")
    rows = "Array.from(document.querySelectorAll('#metrics-table tbody tr'))"
    shown = page.evaluate(f"{rows}.filter(r => r.style.display !== 'none').length")
    total = page.evaluate("document.querySelectorAll('#metrics-table tbody tr').length")
    assert 0 < shown < total
    page.fill("#metric-filter", "")
    page.evaluate("window.scrollTo(0, 0)")
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=False)
    full = tmp_path / "report_full.png"
    page.screenshot(path=str(full), full_page=True)
    assert not problems, problems
    img = np.asarray(Image.open(shot).convert("RGB"))  # (H, W, 3) uint8
    assert img.shape[:2] == (900, 1280)
    non_white = (img < 240).any(axis=2).mean()
    colours = len(np.unique(img.reshape(-1, 3), axis=0))
    assert non_white > 0.05 and colours > 50, (non_white, colours)
    print(f"screenshot: {shot} (full page: {full})")


TABLES_JS = """() => {
  const problems = [], wide = [], hints = document.querySelectorAll("p.scrollhint").length;
  if (document.documentElement.scrollWidth > window.innerWidth) {
    problems.push("the page scrolls sideways: " + document.documentElement.scrollWidth + " px");
  }
  document.querySelectorAll("table").forEach((table, i) => {
    const name = table.id || ("table " + i + " (" + table.querySelector("th").textContent + ")");
    const box = table.closest("div.scroll");
    if (!box) { problems.push(name + ": not inside a scroll box"); return; }
    const heads = Array.from(table.tHead.rows[0].cells);
    heads.forEach(th => {
      if (th.scrollWidth > th.clientWidth + 1) { problems.push(name + ": header cut: " + th.textContent); }
    });
    if (box.scrollWidth > box.clientWidth + 1) {
      const overflow = getComputedStyle(box).overflowX;
      box.scrollLeft = 40;
      const moved = box.scrollLeft > 0;
      box.scrollLeft = 0;
      if (!["auto", "scroll"].includes(overflow) || !moved) { problems.push(name + ": not scrollable"); }
      if (!box.classList.contains("overflows")) { problems.push(name + ": wide, not marked"); }
      wide.push(name);
    }
    heads.forEach(th => {  // scroll the box until the header's right edge is in view: all of it must be
      const shift = th.getBoundingClientRect().right - box.getBoundingClientRect().right;
      if (shift > 0) { box.scrollLeft += Math.ceil(shift); }
      const h = th.getBoundingClientRect(), b = box.getBoundingClientRect();
      if (h.right > b.right + 1 || h.left < b.left - 1 || h.right > window.innerWidth + 1) {
        problems.push(name + ": header never fully visible: " + th.textContent);
      }
      box.scrollLeft = 0;
    });
  });
  return {problems: problems, wide: wide, hints: hints};
}"""


MARKED_JS = """() => Array.from(document.querySelectorAll("div.scroll")).every(
  d => (d.scrollWidth > d.clientWidth + 1) === d.classList.contains("overflows"))"""


def test_no_table_header_is_clipped_and_wide_tables_scroll(browser, partial_report: Path) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto((partial_report / "report.html").resolve().as_uri())
    page.wait_for_load_state("load")
    found = page.evaluate(TABLES_JS)
    assert not found["problems"], found["problems"]
    # nine setups side by side do not fit 1,280 px: that table scrolls, with a hint above it
    assert any("(attribute)" in name for name in found["wide"]), found["wide"]
    assert found["hints"] == len(found["wide"])
    every_run = page.locator("th", has_text="PD improvement vs supervised (same seed)")
    assert every_run.count() == 1
    box = every_run.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 1280
    # the same page in a narrow window: more tables scroll, none is cut
    page.set_viewport_size({"width": 800, "height": 900})
    # the page re-marks wide tables in its resize handler, which runs after the resize returns: wait for
    # it (on a busy machine it can lag) rather than read the marks mid-way
    page.wait_for_function(MARKED_JS, timeout=15_000)
    narrow = page.evaluate(TABLES_JS)
    assert not narrow["problems"], narrow["problems"]
    assert len(narrow["wide"]) > len(found["wide"])
