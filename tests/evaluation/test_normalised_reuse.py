"""An already-normalised attribute frame is reused as it is (issue 23): the same frame, the same group
codes, and bit-identical study draws as when every call normalises the text again."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import fairssl.evaluation.bootstrap as bootstrap
import fairssl.evaluation.counts as counts
from fairssl.data.dataset import MISSING, normalise_attributes
from fairssl.evaluation.bootstrap import resample_multiplicities
from fairssl.evaluation.counts import as_sensitive_frame, encode_groups, encode_subjects, is_normalised
from fairssl.evaluation.resampling import elements_per_resample, resample_models


def _raw(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Attributes with every kind of value the normaliser rewrites: None, NaN, '', padding, numbers."""
    sex = rng.choice(np.array(["F", "M", " F", "M ", "", None], dtype=object), size=n)
    age = rng.choice(np.array([1, 2.0, np.nan, 30], dtype=object), size=n)
    site = rng.choice(np.array(["b", "a", "é", "A"], dtype=object), size=n)
    return pd.DataFrame({"sex": sex, "age": age, "site": site}, index=np.arange(n)[::-1] + 7)


def _groups_oracle(frame: pd.DataFrame, include_missing: bool) -> list[tuple[tuple[str, ...], np.ndarray]]:
    """Hand-written encoding: sorted distinct texts, MISSING dropped (code -1) unless included."""
    out = []
    for col in frame.columns:
        text = [str(v) for v in frame[col].astype(object)]
        groups = sorted(set(text) - ({MISSING} if not include_missing else set()))
        codes = np.array([groups.index(t) if t in groups else -1 for t in text], dtype=np.int64)
        out.append((tuple(groups), codes))
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_normalised_frame_is_a_fixed_point(seed: int) -> None:
    raw = _raw(np.random.default_rng(seed), 60)
    once = normalise_attributes(raw.reset_index(drop=True))
    assert not is_normalised(raw)
    assert is_normalised(once)
    pd.testing.assert_frame_equal(as_sensitive_frame(once, len(once)), normalise_attributes(once))
    pd.testing.assert_frame_equal(as_sensitive_frame(raw, len(raw)), once)
    again = as_sensitive_frame(once, len(once))
    assert again is not once  # a copy: a caller changing it leaves the caller's frame alone
    again.loc[0, "sex"] = "M"
    assert is_normalised(once) and once.equals(normalise_attributes(raw.reset_index(drop=True)))


def test_frames_that_normalising_would_change_are_not_reused() -> None:
    base = normalise_attributes(pd.DataFrame({"g": ["a", "b", "b", "c"]}))
    cases = {
        "padded category": base.assign(g=base["g"].cat.rename_categories({"a": " a"})),
        "unused category": base.assign(g=base["g"].cat.add_categories(["z"])),
        "missing code": base.assign(g=pd.Categorical([None, "b", "b", "c"])),
        "ordered": base.assign(g=base["g"].cat.as_ordered()),
        "unsorted categories": base.assign(g=base["g"].cat.reorder_categories(["c", "b", "a"])),
        "other index": base.set_axis([3, 2, 1, 0]),
        "numeric categories": pd.DataFrame({"g": pd.Categorical([1, 2, 2, 3])}),
        "object column": pd.DataFrame({"g": np.array(["a", "b", "b", "c"], dtype=object)}),
    }
    for name, frame in cases.items():
        assert not is_normalised(frame), name
        expected = normalise_attributes(frame.reset_index(drop=True))
        pd.testing.assert_frame_equal(as_sensitive_frame(frame, len(frame)), expected, obj=name)


@pytest.mark.parametrize("include_missing", [False, True])
def test_group_codes_match_a_hand_written_encoding(include_missing: bool) -> None:
    raw = _raw(np.random.default_rng(5), 80)
    expected = _groups_oracle(normalise_attributes(raw.reset_index(drop=True)), include_missing)
    for source in (raw, as_sensitive_frame(raw, len(raw))):  # raw text, then the normalised frame
        got = encode_groups(source, include_missing=include_missing)
        for codes, (groups, oracle) in zip(got, expected, strict=True):
            assert codes.groups == groups
            np.testing.assert_array_equal(codes.codes, oracle)
            np.testing.assert_array_equal(
                codes.sizes, np.bincount(oracle[oracle >= 0], minlength=len(groups))
            )


def test_study_draws_are_bit_identical_to_renormalising_every_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Missing values, a group held by one subject (absent from some resamples), three models."""
    rng = np.random.default_rng(3)
    subjects = np.repeat(np.arange(8), 12)  # 8 subjects x 12 windows
    n = subjects.size
    sex = np.where(subjects % 2 == 0, "F", "M").astype(object)
    sex[subjects == 3] = None  # one subject's sex unknown
    site = np.where(subjects == 5, "rare", np.where(subjects < 4, "north", "south")).astype(object)
    frame = pd.DataFrame({"sex": sex, "site": site})
    y = rng.integers(0, 2, size=n)
    scores = [np.clip(0.5 * y + rng.normal(0.25, 0.3, size=n), 0, 1) for _ in range(3)]
    kwargs = {"n_boot": 40, "seed": 1, "min_group_size": 5, "include_missing": False}
    units = encode_subjects(subjects, n)
    mult = next(resample_multiplicities(8, n_boot=40, seed=1, elements_per_resample=1))
    assert (mult[:, units[np.flatnonzero(site == "rare")[0]]] == 0).any()  # "rare" absent in some draws
    fast = resample_models(y, scores, frame, subjects, **kwargs)  # type: ignore[arg-type]
    monkeypatch.setattr(counts, "is_normalised", lambda f: False)  # normalise the text on every call
    slow = resample_models(y, scores, frame, subjects, **kwargs)  # type: ignore[arg-type]
    assert fast.quantities == slow.quantities
    np.testing.assert_array_equal(fast.values, slow.values)
    np.testing.assert_array_equal(fast.draws, slow.draws)
    assert np.isfinite(fast.draws).any()


def test_study_draws_do_not_depend_on_how_resamples_are_chunked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Resample b's values come from resample b alone: one resample per chunk, 7, or all 40 at once give
    the same draws bit for bit (chunks are sized by one model's arrays, so a study evaluates many
    resamples per call; parity deviation sums each row in C order whatever the block's layout)."""
    rng = np.random.default_rng(11)
    subjects = np.repeat(np.arange(10), 9)
    n = subjects.size
    frame = pd.DataFrame(
        {
            "sex": np.where(subjects % 2 == 0, "F", "M").astype(object),
            "site": np.where(subjects < 3, "a", np.where(subjects < 7, "b", "c")).astype(object),
        }
    )
    y = rng.integers(0, 2, size=n)
    scores = [np.clip(0.5 * y + rng.normal(0.25, 0.3, size=n), 0, 1) for _ in range(2)]
    kwargs = {"n_boot": 40, "seed": 2, "min_group_size": 5, "include_missing": False}
    per_resample = elements_per_resample(2, n, 2)
    results = {}
    for per_chunk in (1, 7, 40):
        monkeypatch.setattr(bootstrap, "_CHUNK_ELEMENTS", per_chunk * per_resample)
        assert len(bootstrap.resample_chunks(40, per_resample)) == -(-40 // per_chunk)
        results[per_chunk] = resample_models(y, scores, frame, subjects, **kwargs)  # type: ignore[arg-type]
    for per_chunk in (7, 40):
        np.testing.assert_array_equal(results[1].draws, results[per_chunk].draws)
        np.testing.assert_array_equal(results[1].values, results[per_chunk].values)
    assert np.isfinite(results[1].draws).any()
