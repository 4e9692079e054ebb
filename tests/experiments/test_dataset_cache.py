"""The per-process dataset cache (:func:`fairssl.experiments.executor_tasks.dataset_for`) never serves a
file's old content: it is keyed on the data section and on the input files' size, mtime and inode."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fairssl.config import build_config
from fairssl.experiments import executor_tasks
from fairssl.experiments.executor_tasks import clear_dataset_cache, dataset_for, input_fingerprint


@pytest.fixture(autouse=True)
def empty_cache() -> Any:
    clear_dataset_cache()
    yield
    clear_dataset_cache()


def write_cohort(folder: Path, *, offset: float) -> tuple[Path, Path]:
    """A long table of 30 subjects x 16 steps (one channel, ``hr = offset + noise``) and demographics."""
    rng = np.random.default_rng(0)
    splits = ["train"] * 18 + ["val"] * 6 + ["test"] * 6
    rows, demo = [], []
    for i, split in enumerate(splits):
        sid = f"s{i:02d}"
        demo.append({"subject": sid, "sex": "female" if i % 2 else "male"})
        hr = offset + rng.normal(size=16)
        for k in range(16):
            rows.append(
                {"subject": sid, "time": float(k), "hr": hr[k], "label": int(k % 3 == 0), "split": split}
            )
    data, demographics = folder / "cohort.csv", folder / "demographics.csv"
    pd.DataFrame(rows).to_csv(data, index=False)
    pd.DataFrame(demo).to_csv(demographics, index=False)
    return data, demographics


def long_config(data: Path, demographics: Path) -> Any:
    return build_config(
        {
            "data": {
                "source": "long",
                "path": str(data),
                "options": {
                    "window": 8,
                    "stride": 8,
                    "demographics": str(demographics),
                    "split_col": "split",
                    "scaling": "none",
                },
            }
        }
    )


def test_rewriting_the_long_table_between_two_loads_gives_the_new_data(tmp_path: Path) -> None:
    data, demographics = write_cohort(tmp_path, offset=0.0)
    config = long_config(data, demographics)
    first = dataset_for(config)
    assert dataset_for(config) is first  # unchanged files: served from the cache
    assert abs(float(np.mean(first.X))) < 1.0
    write_cohort(tmp_path, offset=100.0)  # a notebook rewrites the file between two studies
    second = dataset_for(config)
    assert second is not first
    assert float(np.mean(second.X)) == pytest.approx(float(np.mean(first.X)) + 100.0, abs=1e-3)


def test_a_rewritten_option_file_is_read_again(tmp_path: Path) -> None:
    data, demographics = write_cohort(tmp_path, offset=0.0)
    config = long_config(data, demographics)
    first = dataset_for(config)
    demo = pd.read_csv(demographics)
    demo["sex"] = "other"
    demo.to_csv(demographics.with_suffix(".tmp"), index=False)
    os.replace(demographics.with_suffix(".tmp"), demographics)  # same size: a new inode tells it apart
    second = dataset_for(config)
    assert set(first.attributes["sex"]) == {"female", "male"}
    assert set(second.attributes["sex"]) == {"other"}


def test_fingerprint_of_a_folder_covers_each_file_and_the_simulator_has_none(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.csv").write_text("x\n1\n")
    config = build_config({"data": {"source": "folder", "path": str(tmp_path)}})
    before = input_fingerprint(config)
    assert before == input_fingerprint(config)  # reading changes nothing
    (tmp_path / "sub" / "a.csv").write_text("x\n12\n")
    assert input_fingerprint(config) != before
    (tmp_path / "b.csv").write_text("y\n")
    assert len({before, input_fingerprint(config)}) == 2
    assert input_fingerprint(build_config({})) == ""


def test_clear_dataset_cache_forgets_every_dataset() -> None:
    sim = {"n_subjects": 40, "windows_per_subject": 3, "labelled_fraction": 1.0}
    config = build_config({"data": {"simulate": sim}})
    first = dataset_for(config)
    assert dataset_for(config) is first
    assert executor_tasks._DATASETS
    clear_dataset_cache()
    assert not executor_tasks._DATASETS
    again = dataset_for(config)
    assert again is not first
    np.testing.assert_array_equal(again.X, first.X)  # the simulator's config says everything
