"""Progress of a grid: one plain line per finished run off a terminal, a live bar on one."""

from __future__ import annotations

import io
import re

from rich.console import Console

from fairssl.experiments.executors import Outcome
from fairssl.experiments.grid import RunSpec
from fairssl.experiments.progress import LogProgress, RichProgress, describe_outcome

PRE = RunSpec("pre-1", "pretrain", 0)
FT = RunSpec("ft-1", "finetune", 1, setup="2-first-last", depends_on="pre-1", variant="finetune.lr=0.1")


def test_log_progress_writes_one_line_per_finished_run_with_an_eta() -> None:
    lines: list[str] = []
    progress = LogProgress(lines.append)
    progress.start(total=5, done=2, todo=3, where="local, 2 workers")
    progress.finished(PRE, Outcome("pre-1", True, {"epochs": 15.0}, 3.2))
    progress.finished(FT, Outcome("ft-1", True, {"epochs": 12.0, "val_auroc": 0.7123}, 1.0))
    progress.finished(FT, Outcome("ft-1", False, error="ValueError: boom"))
    progress.close()
    assert lines[0] == "grid: 5 runs, 3 to run on local, 2 workers"
    assert len(lines) == 4
    assert re.fullmatch(r"\[1/3\] pretrain +seed 0: 15 epochs \(3\.2 s\), ETA \d+:\d\d:\d\d", lines[1])
    assert "[2/3] setup 2-first-last" in lines[2] and "[finetune.lr=0.1]" in lines[2]
    assert "val AUROC 0.712" in lines[2] and "ETA" in lines[2]
    assert lines[3].startswith("[3/3]") and lines[3].endswith("FAILED: ValueError: boom")  # no ETA at the end


def test_log_progress_is_quiet_when_nothing_is_left() -> None:
    lines: list[str] = []
    LogProgress(lines.append).start(total=4, done=4, todo=0, where="local")
    assert lines == []


def test_describe_outcome_hides_the_base_variant() -> None:
    text = describe_outcome(PRE, Outcome("pre-1", True, {"epochs": 2.0}, 0.5))
    assert "[" not in text and text.endswith("2 epochs (0.5 s)")


def test_rich_progress_shows_runs_done_of_total_and_failures() -> None:
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=120, color_system=None)
    progress = RichProgress(console)
    progress.start(total=3, done=1, todo=2, where="local, 2 workers")
    progress.finished(PRE, Outcome("pre-1", True, {"epochs": 1.0}, 0.1))
    progress.finished(FT, Outcome("ft-1", False, error="RuntimeError: worker died"))
    progress.close()
    text = buf.getvalue()
    assert "2/2" in text and "local, 2 workers" in text
    assert "FAILED: RuntimeError: worker died" in text


def test_eta_weights_each_kind_by_its_own_run_time() -> None:
    from fairssl.experiments.progress import eta_by_kind

    # one 800 s pre-training and two 40 s fine-tunings done in 880 s of wall clock (one worker busy):
    # 10 fine-tunings left take 10 x 40 s, not 10 x the 293 s mean over all runs
    seconds = {"pretrain": [800.0], "finetune": [40.0, 40.0]}
    assert eta_by_kind(880.0, seconds, {"pretrain": 0, "finetune": 10}) == 400.0
    # two busy workers halve it; a kind not seen yet counts at the mean over all runs
    assert eta_by_kind(440.0, seconds, {"finetune": 10}) == 200.0
    assert eta_by_kind(40.0, {"finetune": [40.0]}, {"pretrain": 1}) == 40.0
    assert eta_by_kind(0.0, {}, {"finetune": 3}) != eta_by_kind(0.0, {}, {"finetune": 3})  # NaN: unknown


def test_log_progress_uses_the_per_kind_eta_when_it_knows_the_kinds(monkeypatch) -> None:
    import fairssl.experiments.progress as runner

    now = [0.0]
    monkeypatch.setattr(runner.time, "perf_counter", lambda: now[0])
    lines: list[str] = []
    progress = LogProgress(lines.append)
    progress.start(total=3, done=0, todo=3, where="local", kinds={"pretrain": 1, "finetune": 2})
    now[0] = 800.0
    progress.finished(PRE, Outcome("pre-1", True, {"epochs": 15.0}, 800.0))
    now[0] = 840.0
    progress.finished(FT, Outcome("ft-1", True, {"epochs": 12.0}, 40.0))
    # after the pre-training: 2 fine-tunings at the overall mean (800 s); after one: 1 x 40 s
    assert lines[1].endswith("ETA 0:26:40") and lines[2].endswith("ETA 0:00:40")
