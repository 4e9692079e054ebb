"""Stage-1 audit: label-bias numbers worked by hand, warnings at their thresholds, the missing group."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import fairssl.data.audit as audit_module
from fairssl.data.audit import AuditResult, audit, render_rich
from fairssl.data.dataset import MISSING, WindowDataset
from fairssl.errors import ConfigError

#            0    1    2    3    4    5    6    7    8    9   10   11
SUBJECT = ["s0", "s0", "s1", "s1", "s2", "s2", "s3", "s3", "s4", "s4", "s5", "s5"]
SPLIT = ["train"] * 6 + ["val"] * 2 + ["test"] * 4
SEX = ["F", "F", "F", "F", "M", "M", "F", "F", "M", "M", "F", "F"]
RACE = [None, None, "A", "A", None, None, "B", "B", "A", "A", None, None]
Y = [1, 0, 0, 0, 1, 1, 0, 0, 1, 0, 1, 0]


def _tiny(sex: list[str] = SEX, X: np.ndarray | None = None, mask: np.ndarray | None = None) -> WindowDataset:
    rng = np.random.default_rng(0)
    return WindowDataset.build(
        rng.normal(size=(12, 2, 3)).astype(np.float32) if X is None else X,
        np.array(Y),
        subject=np.array(SUBJECT),
        split=np.array(SPLIT),
        attributes=pd.DataFrame({"sex": sex, "race": RACE}),
        mask=mask,
        allow_nan=True,
        name="tiny",
    )


def _row(result: AuditResult, attribute: str, group: str, split: str = "all") -> pd.Series:
    g = result.groups
    rows = g[(g["attribute"] == attribute) & (g["group"] == group) & (g["split"] == split)]
    assert len(rows) == 1
    return rows.iloc[0]


def test_label_bias_worked_by_hand() -> None:
    result = audit(_tiny(), min_positives=1, min_negatives=1)
    # F: windows 0-3, 6, 7, 10, 11 -> 8 windows, positives at 0 and 10 -> 2/8; M: 4, 5, 8, 9 -> 3/4
    f, m = _row(result, "sex", "F"), _row(result, "sex", "M")
    assert (f["windows"], f["positives"], f["negatives"], f["subjects"]) == (8, 2, 6, 4)
    assert f["prevalence"] == pytest.approx(0.25) and m["prevalence"] == pytest.approx(0.75)
    assert bool(f["is_reference"]) and not bool(m["is_reference"])  # F has most windows
    assert m["mean_difference"] == pytest.approx(0.5) and m["disparate_impact"] == pytest.approx(3.0)
    assert f["mean_difference"] == 0.0 and f["disparate_impact"] == 1.0
    assert f["share"] == pytest.approx(8 / 12)
    # train only: F windows 0-3 -> 1/4, M windows 4, 5 -> 2/2
    mt = _row(result, "sex", "M", "train")
    assert mt["mean_difference"] == pytest.approx(0.75) and mt["disparate_impact"] == pytest.approx(4.0)
    assert mt["share"] == pytest.approx(2 / 6)


def test_reference_mapping_and_errors() -> None:
    result = audit(_tiny(), reference={"sex": "M"})
    f = _row(result, "sex", "F")
    assert f["mean_difference"] == pytest.approx(-0.5) and f["disparate_impact"] == pytest.approx(1 / 3)
    ref = dict(zip(result.references["attribute"], result.references["reference"], strict=True))
    assert ref == {"sex": "M", "race": "A"}  # race not in the mapping: the majority non-missing group
    with pytest.raises(
        ConfigError, match=r"reference group 'X' for attribute 'sex' is not in the data; groups: F, M"
    ):
        audit(_tiny(), reference={"sex": "X"})
    with pytest.raises(ConfigError, match=r"reference must be one of majority, rest, best or a mapping"):
        audit(_tiny(), reference="minority")
    with pytest.raises(ConfigError, match=r"min_positives and min_negatives must be >= 0"):
        audit(_tiny(), min_positives=-1)


def test_relabelling_groups_permutes_rows_but_keeps_numbers() -> None:
    a = audit(_tiny())
    b = audit(_tiny(sex=["u" if s == "F" else "v" for s in SEX]))
    cols = ["windows", "positives", "prevalence", "mean_difference", "disparate_impact"]
    np.testing.assert_allclose(
        _row(a, "sex", "M")[cols].to_numpy(float), _row(b, "sex", "v")[cols].to_numpy(float)
    )


def test_missing_group_stays_separate_and_warns() -> None:
    result = audit(_tiny(), min_positives=0, min_negatives=0)
    miss = _row(result, "race", MISSING)
    # missing: windows 0, 1, 4, 5, 10, 11 -> positives 0, 4, 5, 10
    assert (miss["windows"], miss["positives"]) == (6, 4)
    # the reference is the largest *non-missing* group although 'missing' has most windows
    assert not bool(miss["is_reference"]) and bool(_row(result, "race", "A")["is_reference"])
    a = _row(result, "race", "A")  # windows 2, 3, 8, 9 -> positives 8
    assert a["prevalence"] == pytest.approx(0.25) and miss["prevalence"] == pytest.approx(4 / 6)
    assert [w for w in result.warnings if "'race' has a 'missing' group (6 windows, 50.0%)" in w]
    assert not [w for w in result.warnings if "'sex'" in w]


def test_warnings_fire_below_the_threshold_not_at_it() -> None:
    # test split: M windows 8 (1), 9 (0); F windows 10 (1), 11 (0): one positive and one negative each
    at = audit(_tiny(), min_positives=1, min_negatives=1)
    assert not [w for w in at.warnings if "test windows" in w and "'sex'" in w]
    above = audit(_tiny(), min_positives=2, min_negatives=1)
    pos = [w for w in above.warnings if "'sex'" in w and "positive test windows" in w]
    assert len(pos) == 2 and any("group 'M' has 1 positive test windows (< 2)" in w for w in pos)
    assert not [w for w in above.warnings if "'sex'" in w and "negative test windows" in w]
    neg = audit(_tiny(), min_positives=0, min_negatives=2)
    assert len([w for w in neg.warnings if "'sex'" in w and "negative test windows (< 2)" in w]) == 2
    # race 'B' has no test windows at all: zero positives warns
    assert any("group 'B' has 0 positive test windows" in w for w in above.warnings)


def test_sizes_and_overlap() -> None:
    result = audit(_tiny())
    sizes = result.sizes
    assert sizes.loc["all", "windows"] == 12 and sizes.loc["train", "subjects"] == 3
    assert sizes.loc["test", "positives"] == 2 and sizes.loc["val", "prevalence"] == 0.0
    assert (result.overlap["shared_subjects"] == 0).all() and len(result.overlap) == 3


def test_overlap_counts_shared_subjects() -> None:
    ds = _tiny()
    split = ds.split.copy()
    split[0] = "val"  # s0 in train and val; build would refuse, the audit must still report it
    result = audit(replace(ds, split=split))
    row = result.overlap[(result.overlap["split_a"] == "train") & (result.overlap["split_b"] == "val")]
    assert int(row["shared_subjects"].iloc[0]) == 1
    assert any("1 subject(s) are in both train and val" in w for w in result.warnings)


def _channel_oracle(X: np.ndarray, mask: np.ndarray) -> pd.DataFrame:
    rows = []
    for c in range(X.shape[1]):
        vals = X[:, c, :][mask[:, c, :] & np.isfinite(X[:, c, :])].astype(float)
        rows.append((vals.mean(), vals.std(ddof=1), 1 - len(vals) / X[:, c, :].size))
    return pd.DataFrame(rows, columns=["mean", "std", "missing_fraction"])


def test_channel_statistics_match_oracle_across_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(4)
    scale = np.array([1.0, 50.0])[None, :, None]  # (1, C, 1)
    offset = np.array([0.0, 1e4])[None, :, None]  # a large offset tests the merge of chunk moments
    X = (rng.normal(size=(12, 2, 3)) * scale + offset).astype(np.float32)
    X[1, 0, 2] = np.nan
    mask = rng.random(X.shape) > 0.2
    expected = _channel_oracle(X, mask)
    whole = audit(_tiny(X=X, mask=mask)).channels
    monkeypatch.setattr(audit_module, "CHUNK", 5)
    chunked = audit(_tiny(X=X, mask=mask)).channels
    for frame in (whole, chunked):
        np.testing.assert_allclose(
            frame[["mean", "std", "missing_fraction"]].to_numpy(), expected.to_numpy(), rtol=1e-6
        )
    # per-group missingness is the mean per-window missing fraction of the group's windows
    missing_window = 1 - (mask & np.isfinite(X)).mean(axis=(1, 2))
    m = _row(audit(_tiny(X=X, mask=mask)), "sex", "M")
    assert m["missing_fraction"] == pytest.approx(missing_window[[4, 5, 8, 9]].mean())


def test_memory_mapped_dataset_audits_like_in_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ds = _tiny()
    ds.save(tmp_path / "ds")
    monkeypatch.setattr(audit_module, "CHUNK", 4)
    mapped = audit(WindowDataset.load(tmp_path / "ds", mmap=True))
    pd.testing.assert_frame_equal(mapped.groups, audit(ds).groups)
    pd.testing.assert_frame_equal(mapped.channels, audit(ds).channels)


def test_frames_text_and_rich() -> None:
    result = audit(_tiny(), min_positives=2)
    frames = result.to_frames()
    assert set(frames) == {"sizes", "channels", "groups", "references", "overlap", "warnings"}
    assert len(frames["warnings"]) == len(result.warnings) > 0
    text = result.summary_text()
    assert (
        "Audit of 'tiny'" in text
        and "Subjects shared between splits: 0" in text
        and "disparate_impact" in text
    )
    from rich.console import Console

    console = Console(record=True, width=160)
    console.print(render_rich(result))
    out = console.export_text()
    assert "Label bias" in out and "3.000" in out


# ------------------------------------------------------------------------------------------ preparation
def _two_channels(pain: np.ndarray, other: np.ndarray, info: dict) -> WindowDataset:
    """_tiny with X (12, 2, 3) = [pain, other] and the loader's ``info``."""
    return replace(_tiny(X=np.stack([pain, other], axis=1).astype(np.float32)), info=info)


def _unscaled_pair() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2)
    return rng.normal(25, 9.5, size=(12, 3)), rng.normal(0, 0.05, size=(12, 3))


def test_unscaled_channels_on_different_scales_warn() -> None:
    pain, other = _unscaled_pair()
    warnings = audit(_two_channels(pain, other, {"scaling": "none"})).warnings
    rms = [np.sqrt(v.mean() ** 2 + v.std(ddof=1) ** 2) for v in (pain, other)]  # oracle: numpy RMS
    ratio = [w for w in warnings if "wildly different scales" in w]
    assert len(ratio) == 1 and f"ratio {rms[0] / rms[1]:.3g} > 100" in ratio[0]
    assert 'set data.options.scaling = "standard"' in ratio[0]
    unit = [w for w in warnings if "far from unit scale" in w]
    assert len(unit) == 1 and f"channel 'ch0' is far from unit scale (mean {pain.mean():.3g}" in unit[0]
    scaled = audit(_two_channels(pain, other, {"scaling": "standard"})).warnings
    assert not [w for w in scaled if "scale" in w]  # the loader scaled them: nothing to say


def test_similar_scales_do_not_warn() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 1, size=(12, 3)), rng.normal(0, 0.5, size=(12, 3))
    assert not [w for w in audit(_two_channels(a, b, {"scaling": "none"})).warnings if "scale" in w]


def test_extreme_values_warn_above_the_bound_only() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(12, 3)), rng.normal(size=(12, 3))
    b[3, 1], b[7, 0] = 5e6, -1e6  # 1e6 itself is not beyond the bound
    warnings = audit(_two_channels(a, b, {"scaling": "standard"})).warnings
    extreme = [w for w in warnings if "beyond +/-1e+06" in w]
    assert len(extreme) == 1 and "channel 'ch1' holds 1 values beyond +/-1e+06" in extreme[0]
    assert "(largest 5e+06)" in extreme[0]


def test_constant_channels_warn() -> None:
    rng = np.random.default_rng(6)
    a = rng.normal(size=(12, 3))
    info = {"scaling": "standard", "scaling_constant_channels": ["ch0", "ch1"]}
    warnings = audit(_two_channels(a, np.full((12, 3), 3.0), info)).warnings
    assert any("channel 'ch1' is constant (every observed value is 3)" in w for w in warnings)
    assert any("channel 'ch0' is constant in the training split" in w for w in warnings)
    assert not any("'ch1' is constant in the training split" in w for w in warnings)  # said once


def test_gap_warnings_from_the_loader_info() -> None:
    a, b = _unscaled_pair()
    windowing = {
        "windows": 12,
        "windows_spanning_gaps": 5,
        "max_gap": None,
        "largest_gap_in_windows": "16 days",
    }
    warnings = audit(_two_channels(a, b, {"scaling": "standard", "windowing": windowing})).warnings
    gap = [w for w in warnings if "time gaps" in w]
    assert len(gap) == 1 and gap[0].startswith("5 of 12 windows span time gaps")
    assert "largest 16 days" in gap[0] and "set data.options.max_gap" in gap[0]
    windowing = {**windowing, "max_gap": "2D", "windows_spanning_gaps": 0, "windows_dropped_gap": 3}
    warnings = audit(_two_channels(a, b, {"scaling": "standard", "windowing": windowing})).warnings
    assert not [w for w in warnings if "span time gaps" in w]
    assert any(
        "3 windows were dropped because they span a time step larger than max_gap = 2D" in w for w in warnings
    )


def test_long_table_with_gaps_and_unscaled_channel_end_to_end() -> None:
    from fairssl.data.loaders.generic import load_long_table

    rng = np.random.default_rng(7)
    rows = []
    for i in range(10):
        days = [d for d in range(30) if not 10 <= d < 10 + i % 4 * 5]  # holes of 0, 5, 10 or 15 days
        for d in days:
            rows.append(
                {"subject": f"s{i}", "time": d, "pain": rng.normal(25, 9.5), "label": int(d % 3 == 0)}
            )
    table = pd.DataFrame(rows)
    unscaled = audit(load_long_table(table, window=5, scaling="none")).warnings
    assert any("channel 'pain' is far from unit scale" in w for w in unscaled)
    assert any("windows span time gaps" in w and "largest 16" in w for w in unscaled)
    scaled = audit(load_long_table(table, window=5, max_gap=1)).warnings
    assert not [w for w in scaled if "scale" in w or "span time gaps" in w]
    assert any(
        "windows were dropped because they span a time step larger than max_gap = 1" in w for w in scaled
    )


def test_the_loaders_own_warnings_reach_the_audit() -> None:
    ds = replace(
        _tiny(), info={"warnings": ["3 holdout-year participants return from earlier years: dropped"]}
    )
    result = audit(ds)
    assert "3 holdout-year participants return from earlier years: dropped" in result.warnings
    assert "return from earlier years" in result.summary_text()


@pytest.mark.parametrize("strategy", ["rest", "best"])
def test_every_reference_strategy_the_config_accepts_is_audited_against_the_majority(strategy: str) -> None:
    # evaluation.reference = "rest" | "best" once passed the config and failed in stage 1
    ds = _tiny()
    by_strategy, by_majority = audit(ds, reference=strategy), audit(ds, reference="majority")
    pd.testing.assert_frame_equal(by_strategy.to_frames()["groups"], by_majority.to_frames()["groups"])
    with pytest.raises(ConfigError, match="reference must be one of majority, rest, best"):
        audit(ds, reference="largest")
