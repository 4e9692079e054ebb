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
