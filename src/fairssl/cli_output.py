"""What the ``fairssl`` command prints to: the two consoles (results on stdout, progress and errors on
stderr), the progress logger, and the summary table printed after a study.

Only typer and rich are imported at start-up (``fairssl --help`` starts fast); the summary imports the
report's readers when it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

out = Console()
"""Results: stdout."""
err = Console(stderr=True)
"""Progress lines and errors: stderr."""


def logger() -> Callable[[str], None]:
    """Progress lines: to stderr on a terminal, else plain prints (logs and pipes)."""
    if err.is_terminal:
        return lambda m: err.print(m, highlight=False, markup=False)  # "[variant]" is text, not a style
    return print


PIPE_WIDTH = 160
"""Columns of the summary when stdout is not a terminal (logs, pipes): wide enough that no interval or
"[no usable relative interval]" cell is cut."""


def print_summary(run_dir: Path) -> None:
    """The setups-vs-supervised summary table and the headline of a finished run folder, on stdout (at
    width :data:`PIPE_WIDTH` when stdout is not a terminal, so intervals are not cut in logs)."""
    from fairssl.report.inputs import read_stored_results
    from fairssl.report.tables import headline, summary_table

    comparison = read_stored_results(run_dir).comparison
    table = summary_table(comparison)
    view = Table(title="fairssl: SSL setups vs supervised", title_style="bold", box=box.SIMPLE_HEAD)
    for col in table.columns:
        view.add_column(Text(str(col)), justify="left" if col == "setup" else "right", no_wrap=True)
    for _, row in table.iterrows():
        view.add_row(*[Text(f"{v:.3f}" if isinstance(v, float) else str(v)) for v in row])  # no markup
    console = out if out.is_terminal else Console(width=PIPE_WIDTH)  # logs and pipes: nothing cut
    console.print(view)
    console.print(headline(comparison), highlight=False, soft_wrap=True, markup=False)
