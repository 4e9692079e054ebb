"""Long table -> windows: an independent loop oracle, label rules, ordering, imputation, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fairssl.data.windowing import impute_windows, windows_from_long
from fairssl.errors import ConfigError, DataError


def _long(lengths: dict[str, int], *, channels: int = 2, seed: int = 0, shuffle: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for s, n in lengths.items():
        times = np.sort(rng.choice(1000, size=n, replace=False))
        for t in times:
            rows.append({"sid": s, "t": int(t), **{f"c{k}": rng.normal() for k in range(channels)}})
    table = pd.DataFrame(rows)
    table["lab"] = rng.integers(0, 2, size=len(table))
    return table.sample(frac=1.0, random_state=seed).reset_index(drop=True) if shuffle else table


def _oracle(table: pd.DataFrame, channels: list[str], window: int, stride: int, rule: str) -> dict:
    """Plain loops: for each subject sorted by time, windows at rows 0, stride, ... of length window."""
    out: dict[str, tuple[np.ndarray, float]] = {}
    for s in sorted(table["sid"].astype(str).unique()):
        rows = table[table["sid"].astype(str) == s].sort_values("t")
        vals = rows[channels].to_numpy(float)
        labs = rows["lab"].to_numpy(float)
        times = rows["t"].to_numpy()
        start = 0
        while start + window <= len(rows):
            block = vals[start : start + window].T  # (C, T)
            lw = labs[start : start + window]
            if rule == "last":
                lab = lw[-1]
            elif rule == "center":
                lab = lw[window // 2]
            elif rule == "any":
                lab = float(max(lw))
            else:
                values, counts = np.unique(lw, return_counts=True)
                lab = float(values[np.argmax(counts)])
            out[f"{s}@{times[start]}"] = (block, lab)
            start += stride
    return out


@pytest.mark.parametrize("rule", ["last", "center", "any", "majority"])
@pytest.mark.parametrize(("window", "stride"), [(3, 1), (4, 2), (5, 3)])
def test_matches_loop_oracle(rule: str, window: int, stride: int) -> None:
    table = _long({"a": 9, "b": 4, "c": 13, "d": 2})
    channels = ["c0", "c1"]
    w = windows_from_long(
        table, subject_col="sid", time_col="t", channels=channels, label_col="lab",
        window=window, stride=stride, label_rule=rule,  # type: ignore[arg-type]
    )  # fmt: skip
    expected = _oracle(table, channels, window, stride, rule)
    assert sorted(w.window_id) == sorted(expected)
    assert w.X.shape == (len(expected), 2, window) and w.X.dtype == np.float32
    for i, wid in enumerate(w.window_id):
        block, lab = expected[wid]
        np.testing.assert_allclose(w.X[i], block, rtol=1e-6)
        assert w.y[i] == lab
        assert w.subject[i] == wid.split("@")[0]
        assert str(w.start_time[i]) == wid.split("@")[1]
    assert w.mask is None


def test_windows_are_time_ordered_and_row_order_invariant() -> None:
    table = _long({"a": 8, "b": 6}, shuffle=False)
    kw = {"subject_col": "sid", "time_col": "t", "channels": ["c0", "c1"], "label_col": "lab", "window": 3}
    a = windows_from_long(table, **kw)  # type: ignore[arg-type]
    b = windows_from_long(table.sample(frac=1.0, random_state=4), **kw)  # type: ignore[arg-type]
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.window_id, b.window_id)
    for s in ("a", "b"):
        starts = a.start_time[a.subject == s]
        assert np.all(np.diff(starts.astype(int)) > 0)
    assert np.all(a.end_time.astype(int) > a.start_time.astype(int))


def test_majority_tie_goes_to_smallest_label() -> None:
    table = pd.DataFrame({"s": ["a"] * 4, "t": range(4), "x": np.arange(4.0), "y": [1, 0, 0, 1]})
    w = windows_from_long(table, subject_col="s", time_col="t", channels=["x"], label_col="y", window=4,
                          label_rule="majority")  # fmt: skip
    assert w.y.tolist() == [0.0]


def test_sparse_labels_keep_windows_ending_on_a_label() -> None:
    # weekly labels: only rows 3 and 6 carry a label; "last" keeps exactly the windows that end there
    table = pd.DataFrame({"s": ["a"] * 8, "t": range(8), "x": np.arange(8.0)})
    table["y"] = [np.nan, np.nan, np.nan, 1, np.nan, np.nan, 0, np.nan]
    w = windows_from_long(table, subject_col="s", time_col="t", channels=["x"], label_col="y", window=3)
    assert w.end_time.tolist() == [3, 6] and w.y.tolist() == [1.0, 0.0]
    assert w.report["windows_dropped_unlabelled"] == 4


def test_short_subjects_are_skipped_and_counted() -> None:
    table = _long({"a": 2, "b": 5, "c": 1})
    w = windows_from_long(table, subject_col="sid", time_col="t", channels=["c0"], label_col="lab", window=3)
    assert set(w.subject) == {"b"} and len(w.y) == 3
    assert w.report["subjects_skipped_short"] == 2 and w.report["subjects_windowed"] == 1


def test_window_longer_than_every_series() -> None:
    table = _long({"a": 2, "b": 5, "c": 1})
    with pytest.raises(
        DataError, match=r"window longer than every subject's series: window=6 rows but the longest series "
        r"\(subject 'b'\) has 5 rows"
    ):  # fmt: skip
        windows_from_long(table, subject_col="sid", time_col="t", channels=["c0"], label_col="lab", window=6)


def test_nan_is_an_error_naming_column_and_count() -> None:
    table = _long({"a": 5, "b": 5})
    table.loc[[0, 3], "c1"] = np.nan
    table.loc[4, "c0"] = np.inf
    with pytest.raises(DataError, match=r"channel column 'c1' holds 2 NaN/Inf values of 10 rows .*'c0' 1"):
        windows_from_long(
            table, subject_col="sid", time_col="t", channels=["c0", "c1"], label_col="lab", window=2
        )


def _nan_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "s": ["a"] * 5 + ["b"] * 4,
            "t": list(range(5)) + list(range(4)),
            "x": [np.nan, 1.0, np.nan, np.nan, 4.0, 10.0, np.nan, 12.0, 13.0],
            "y": [0] * 9,
        }
    )


def test_ffill_carries_values_within_subject_then_fill_values() -> None:
    w = windows_from_long(
        _nan_table(), subject_col="s", time_col="t", channels=["x"], label_col="y", window=5,
        impute="ffill", fill_values={"x": -7.0},
    )  # fmt: skip
    # subject a: leading NaN -> fill value; later NaN -> the last observed value of the same subject
    np.testing.assert_array_equal(w.X[0, 0], [-7.0, 1.0, 1.0, 1.0, 4.0])
    assert w.mask is not None
    np.testing.assert_array_equal(w.mask[0, 0], [False, True, False, False, True])
    assert w.report["imputed_values"] == {"x": 4}


def test_ffill_never_crosses_subjects() -> None:
    w = windows_from_long(
        _nan_table(), subject_col="s", time_col="t", channels=["x"], label_col="y", window=4, impute="ffill"
    )
    b = w.X[w.subject == "b"][0, 0]
    np.testing.assert_array_equal(b, [10.0, 10.0, 12.0, 13.0])
    # a's first value has nothing to carry: the fallback is the mean of all observed values
    observed = np.array([1.0, 4.0, 10.0, 12.0, 13.0])
    assert w.X[0, 0, 0] == pytest.approx(observed.mean())


def test_zero_and_mean_imputation() -> None:
    kw = {"subject_col": "s", "time_col": "t", "channels": ["x"], "label_col": "y", "window": 5}
    zero = windows_from_long(_nan_table(), impute="zero", **kw)  # type: ignore[arg-type]
    np.testing.assert_array_equal(zero.X[0, 0], [0.0, 1.0, 0.0, 0.0, 4.0])
    mean = windows_from_long(_nan_table(), impute="mean", fill_values={"x": 2.5}, **kw)  # type: ignore[arg-type]
    np.testing.assert_array_equal(mean.X[0, 0], [2.5, 1.0, 2.5, 2.5, 4.0])


def test_min_coverage_drops_sparse_windows() -> None:
    kw = {
        "subject_col": "s",
        "time_col": "t",
        "channels": ["x"],
        "label_col": "y",
        "window": 2,
        "impute": "zero",
    }
    w = windows_from_long(_nan_table(), min_coverage=0.5, **kw)  # type: ignore[arg-type]
    # subject a windows (t0-1: 1/2, t1-2: 1/2, t2-3: 0/2, t3-4: 1/2); b (1/2, 1/2, 2/2)
    assert len(w.y) == 6 and w.report["windows_dropped_low_coverage"] == 1
    assert "a@2" not in set(w.window_id)


def test_memmap_output(tmp_path: Path) -> None:
    table = _long({"a": 7, "b": 6})
    kw = {"subject_col": "sid", "time_col": "t", "channels": ["c0", "c1"], "label_col": "lab", "window": 3}
    in_ram = windows_from_long(table, **kw)  # type: ignore[arg-type]
    on_disk = windows_from_long(table, memmap_path=tmp_path / "X.npy", **kw)  # type: ignore[arg-type]
    assert isinstance(on_disk.X, np.memmap)
    np.testing.assert_array_equal(np.load(tmp_path / "X.npy"), in_ram.X)


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"window": 0}, ConfigError, "window and stride must be positive integers"),
        ({"stride": 0}, ConfigError, "window and stride must be positive integers"),
        (
            {"label_rule": "first"},
            ConfigError,
            "unknown label_rule 'first'; allowed: last, center, any, majority",
        ),
        ({"impute": "median"}, ConfigError, "unknown impute 'median'"),
        ({"min_coverage": 2.0}, ConfigError, r"min_coverage must be in \[0, 1\]"),
        ({"channels": []}, DataError, "no channel columns"),
        (
            {"channels": ["c0", "lab"]},
            ConfigError,
            r"column\(s\) \['lab'\] are used as subject, time or label",
        ),
        (
            {"channels": ["c0", "hr"]},
            DataError,
            r"unknown column\(s\) \['hr'\] in the table; available columns: sid",
        ),
        ({"label_col": "outcome"}, DataError, r"unknown column\(s\) \['outcome'\]"),
        ({"channels": ["word"]}, DataError, r"column 'word' is not numeric \(values such as \['x', 'y'"),
        (
            {"fill_values": {"hr": 0.0}, "impute": "mean"},
            DataError,
            r"fill_values names unknown channel\(s\) \['hr'\]",
        ),
    ],
)
def test_errors(kwargs: dict, error: type[Exception], pattern: str) -> None:
    table = _long({"a": 5, "b": 5})
    table["word"] = ["x", "y"] * 5
    table.loc[0, "c0"] = np.nan
    options = {"subject_col": "sid", "time_col": "t", "channels": ["c0"], "label_col": "lab", "window": 2}
    options.update(kwargs)
    with pytest.raises(error, match=pattern):
        windows_from_long(table, **options)  # type: ignore[arg-type]


def test_duplicate_times_are_an_error() -> None:
    table = pd.DataFrame({"s": ["a", "a", "a"], "t": [0, 1, 1], "x": [1.0, 2.0, 3.0], "y": [0, 1, 0]})
    with pytest.raises(DataError, match=r"subject 'a' has more than one row at time 1 \(1 duplicate"):
        windows_from_long(table, subject_col="s", time_col="t", channels=["x"], label_col="y", window=2)


def test_empty_table_and_no_labelled_window() -> None:
    empty = pd.DataFrame({"s": [], "t": [], "x": [], "y": []}).astype(float)
    with pytest.raises(DataError, match="the table has no rows"):
        windows_from_long(empty, subject_col="s", time_col="t", channels=["x"], label_col="y", window=2)
    unlabelled = pd.DataFrame({"s": ["a"] * 3, "t": range(3), "x": [1.0, 2.0, 3.0], "y": [np.nan] * 3})
    with pytest.raises(DataError, match="no window remains: 2 had no label"):
        windows_from_long(unlabelled, subject_col="s", time_col="t", channels=["x"], label_col="y", window=2)


def _ffill_loop(X: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    out = X.astype(np.float32).copy()
    n, c, t = X.shape
    for i in range(n):
        for k in range(c):
            last = None
            for j in range(t):
                if np.isfinite(out[i, k, j]):
                    last = out[i, k, j]
                else:
                    out[i, k, j] = fallback[k] if last is None else last
    return out


def test_impute_windows_matches_loops() -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(6, 3, 7)).astype(np.float32)
    X[rng.random(X.shape) < 0.3] = np.nan
    X[0, 1, 2] = np.inf
    fit = np.array([0, 1, 2, 3])
    fitted = X[fit]
    means = np.array([np.mean(fitted[:, k][np.isfinite(fitted[:, k])]) for k in range(3)])
    out, mask = impute_windows(X, method="ffill", fit_index=fit)
    np.testing.assert_allclose(out, _ffill_loop(X, means), rtol=1e-6)
    np.testing.assert_array_equal(mask, np.isfinite(X))
    mean_out, _ = impute_windows(X, method="mean", fit_index=fit)
    expected = np.where(np.isfinite(X), X, means[None, :, None])
    np.testing.assert_allclose(mean_out, expected, rtol=1e-6)
    zero_out, _ = impute_windows(X, method="zero")
    np.testing.assert_array_equal(zero_out, np.where(np.isfinite(X), X, 0.0))
    assert np.isnan(X).any()  # the input is not modified


def test_impute_windows_bad_method() -> None:
    with pytest.raises(ConfigError, match="unknown impute 'linear'"):
        impute_windows(np.zeros((1, 1, 2), np.float32), method="linear")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------ time gaps
def _diary(seed: int = 0) -> pd.DataFrame:
    """Daily diaries of 5 subjects over 40 days with holes of 2-16 days (like a headache-diary cohort)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(5):
        days = np.arange(40)
        hole_start = int(rng.integers(5, 20))
        hole = int(rng.integers(1, 16))  # 1..15 missing days -> a step of 2..16 days
        days = days[(days < hole_start) | (days >= hole_start + hole)]
        if i == 0:
            days = days[days != 30]  # a second, 2-day step
        for d in days:
            rows.append(
                {"sid": f"p{i}", "day": int(d), "pain": rng.normal(25, 9.5), "lab": int(rng.random() < 0.3)}
            )
    table = pd.DataFrame(rows)
    table["date"] = pd.Timestamp("2021-03-01") + pd.to_timedelta(table["day"], unit="D")
    return table


def _gap_oracle(table: pd.DataFrame, window: int, max_gap_days: float | None) -> tuple[int, int, int]:
    """Plain loops: (kept windows, dropped for a step > max_gap, kept spanning a step > 3 x median step)."""
    kept = dropped = spanning = 0
    for _, rows in table.groupby("sid"):
        days = np.sort(rows["day"].to_numpy())
        steps = np.diff(days)
        median = float(np.median(steps))
        for start in range(len(days) - window + 1):
            inside = steps[start : start + window - 1]
            if max_gap_days is not None and (inside > max_gap_days).any():
                dropped += 1
                continue
            kept += 1
            spanning += int((inside > 3 * median).any())
    return kept, dropped, spanning


def _cut(table: pd.DataFrame, time_col: str, max_gap: object = None, window: int = 7):
    return windows_from_long(
        table, subject_col="sid", time_col=time_col, channels=["pain"], label_col="lab", window=window,
        max_gap=max_gap,
    )  # fmt: skip


def test_windows_spanning_gaps_are_counted_without_max_gap() -> None:
    table = _diary()
    kept, _, spanning = _gap_oracle(table, 7, None)
    w = _cut(table, "date")
    assert len(w.y) == kept and w.report["windows_dropped_gap"] == 0  # rows are still counted as before
    assert w.report["windows_spanning_gaps"] == spanning > 0
    largest = int(table.groupby("sid")["day"].apply(lambda d: np.diff(np.sort(d)).max()).max())
    assert w.report["largest_gap_in_windows"] == f"{largest} days"


@pytest.mark.parametrize(
    ("time_col", "max_gap"), [("date", "1D"), ("date", "36h"), ("day", 1), ("text", "1D")]
)
def test_max_gap_drops_windows_spanning_a_larger_step(time_col: str, max_gap: object) -> None:
    table = _diary()
    table["text"] = table["date"].dt.strftime("%Y-%m-%d")
    kept, dropped, _ = _gap_oracle(table, 7, 1.5 if max_gap == "36h" else 1.0)
    w = _cut(table, time_col, max_gap)
    assert len(w.y) == kept and w.report["windows_dropped_gap"] == dropped > 0
    assert w.report["windows_spanning_gaps"] == 0
    span = pd.to_datetime(pd.Series(w.end_time)) - pd.to_datetime(pd.Series(w.start_time))
    if time_col == "day":
        span = pd.to_timedelta(w.end_time - w.start_time, unit="D")
    assert (span == pd.Timedelta(days=6)).all()  # every kept window covers 7 consecutive days


def test_max_gap_with_tz_aware_times() -> None:
    table = _diary()
    table["date"] = table["date"].dt.tz_localize("Europe/Berlin")
    kept, dropped, _ = _gap_oracle(table, 7, 1.0)
    w = _cut(table, "date", "1D")
    assert len(w.y) == kept and w.report["windows_dropped_gap"] == dropped


@pytest.mark.parametrize(
    ("time_col", "max_gap", "pattern"),
    [
        ("day", "2D", r"time column 'day' is numeric, so give max_gap as a number"),
        ("date", 2, r"time column 'date' holds dates, so give max_gap as a duration such as '2D'"),
        ("date", "soon", r"max_gap = 'soon' is not a duration"),
        ("day", -1, r"max_gap = -1 must be positive"),
        ("word", 2, r"max_gap needs a numeric or datetime time column, but 'word' holds neither"),
    ],
)
def test_max_gap_errors(time_col: str, max_gap: object, pattern: str) -> None:
    table = _diary()
    table["word"] = "t" + table["day"].astype(str).str.zfill(2)
    with pytest.raises(ConfigError, match=pattern):
        _cut(table, time_col, max_gap)


def test_text_times_not_measurable_report_none() -> None:
    table = _diary()
    table["word"] = "t" + table["day"].astype(str).str.zfill(2)
    assert _cut(table, "word").report["windows_spanning_gaps"] is None


def test_every_window_dropped_for_gaps_says_so() -> None:
    table = _diary()
    with pytest.raises(
        DataError, match=r"no window remains: 0 had no label .*, \d+ spanned a gap > max_gap=0.5"
    ):
        _cut(table, "day", 0.5)


# ------------------------------------------------------------------------------------------ magnitude
@pytest.mark.parametrize(
    ("value", "pattern"),
    [
        (1e300, r"value too large for float32 at subject 'p1', day 3, column 'pain': 1e\+300"),
        (-1e30, r"value -1e\+30 at subject 'p1', day 3, column 'pain' is beyond \+/-1e\+20 \(1 such"),
    ],
)
def test_values_too_large_are_named(value: float, pattern: str) -> None:
    table = _diary()
    table.loc[(table["sid"] == "p1") & (table["day"] == 3), "pain"] = value
    with pytest.raises(DataError, match=pattern):
        _cut(table, "day")


def test_memmap_output_is_renamed_into_place_so_a_reader_of_the_previous_file_keeps_it(
    tmp_path: Path,
) -> None:
    """The memory map is written under a private name and renamed over ``memmap_path`` when complete: a
    reader that mapped the previous file keeps reading it intact (no in-place truncation, no SIGBUS)."""
    import os

    kw = {"subject_col": "sid", "time_col": "t", "channels": ["c0", "c1"], "label_col": "lab", "window": 3}
    path = tmp_path / "X.npy"
    first = windows_from_long(_long({"a": 7, "b": 6}, seed=1), memmap_path=path, **kw)  # type: ignore[arg-type]
    before = np.array(first.X)
    reader = np.load(path, mmap_mode="r")  # another process's view of the previous file
    inode = os.stat(path).st_ino
    table = _long({"a": 9, "b": 8, "c": 5}, seed=2)
    second = windows_from_long(table, memmap_path=path, **kw)  # type: ignore[arg-type]
    assert os.stat(path).st_ino != inode  # a new file, renamed into place
    np.testing.assert_array_equal(np.asarray(reader), before)  # the old mapping still reads the old windows
    np.testing.assert_array_equal(np.asarray(first.X), before)
    np.testing.assert_array_equal(np.load(path), windows_from_long(table, **kw).X)  # type: ignore[arg-type]
    assert isinstance(second.X, np.memmap) and Path(str(second.X.filename)) == path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["X.npy"]  # no temporary file left behind


def test_a_failed_memmap_write_leaves_the_previous_file_and_no_temporary(tmp_path: Path, monkeypatch) -> None:
    from fairssl.data import window_writer

    kw = {"subject_col": "sid", "time_col": "t", "channels": ["c0", "c1"], "label_col": "lab", "window": 3}
    path = tmp_path / "X.npy"
    table = _long({"a": 7, "b": 6})
    windows_from_long(table, memmap_path=path, **kw)  # type: ignore[arg-type]
    previous = np.load(path)

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(window_writer, "_fill", broken)
    with pytest.raises(OSError, match="No space left"):
        windows_from_long(_long({"a": 9}, seed=3), memmap_path=path, **kw)  # type: ignore[arg-type]
    np.testing.assert_array_equal(np.load(path), previous)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["X.npy"]
