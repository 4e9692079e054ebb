"""The analysis record's stage timing (:class:`fairssl.experiments.record.AnalysisRecord`)."""

from __future__ import annotations

import json
import time

from fairssl.experiments.record import AnalysisRecord


def test_a_stage_started_in_the_background_counts_from_its_start(tmp_path) -> None:
    """``since``: a stage begun earlier (the probes, started before stage 5's inference) is timed from
    its start, not from when its result was collected; without it the time is the call's own."""
    record = AnalysisRecord(tmp_path, settings={})
    record.start()
    assert record.run("evaluation", lambda: 1) == 1
    assert record.run("probes", lambda: 2, since=time.perf_counter() - 5.0) == 2
    record.write()
    stages = json.loads((tmp_path / "analysis.json").read_text())["stages"]
    assert stages["probes"] == {"status": "completed", "reason": "", "seconds": stages["probes"]["seconds"]}
    assert 5.0 <= stages["probes"]["seconds"] < 60.0
    assert 0.0 <= stages["evaluation"]["seconds"] < 1.0
