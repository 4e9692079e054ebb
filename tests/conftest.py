"""Shared fixtures: tiny configs and datasets that keep every test fast on 2 CPU cores."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from typing import Any

import pytest
import torch

torch.set_num_threads(1)

TINY: dict[str, Any] = {
    "name": "tiny",
    "seeds": [0],
    "data": {
        "simulate": {
            "n_subjects": 80,
            "windows_per_subject": 5,
            "pool_fraction": 0.3,
            "labelled_fraction": 1.0,
        }
    },
    "model": {"widths": [8, 8, 8]},
    "pretrain": {"epochs": 2, "batch_size": 32},
    "finetune": {"epochs": 2, "batch_size": 32, "setups": ["supervised", "0", "2-first-last"]},
    "evaluation": {"n_boot": 20, "min_group_size": 5, "min_subjects": 1, "min_positives": 1},
    "similarity": {"n_draws": 2, "n_permutations": 2},
}


@pytest.fixture
def tiny_config_dict() -> dict[str, Any]:
    import copy

    return copy.deepcopy(TINY)


def _workers_gone(timeout: float = 30.0) -> bool:
    """True once this process has no child process left alive (a pool shut down without waiting lets
    its workers exit on their own, shortly after); False after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while multiprocessing.active_children():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def workers_gone() -> Callable[..., bool]:
    """``workers_gone(timeout=30)``: True once no child process of this one is left alive."""
    return _workers_gone
