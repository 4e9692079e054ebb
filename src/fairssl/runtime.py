"""Device and thread settings shared by pre-training, fine-tuning and the grid workers.

torch and NumPy are imported inside the functions that use them: the grid and ``fairssl status`` read
:func:`threads_per_run` without loading torch."""

from __future__ import annotations

import functools
import os
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from fairssl.errors import ConfigError

if TYPE_CHECKING:
    import torch

    from fairssl.config import RuntimeConfig


def available_cores() -> int:
    """CPU cores this process may use (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU is a ConfigError."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "runtime.device = 'cuda' but torch sees no CUDA device on this machine; set runtime.device to "
            "'auto' or 'cpu' (e.g. --set runtime.device=cpu)"
        )
    if name not in ("cpu", "cuda"):
        raise ConfigError(f"runtime.device must be auto, cpu or cuda; got {name!r}")
    return torch.device(name)


def check_device(runtime: RuntimeConfig) -> None:
    """ConfigError (exit 2) now, before any data loading or training, if ``runtime.device`` cannot be
    used on this machine (``cuda`` without a visible CUDA device)."""
    resolve_device(runtime.device)


def set_threads(threads: int | None) -> None:
    """Pin torch's intra-op threads (a grid worker gets its share of the cores)."""
    if threads is not None:
        import torch

        torch.set_num_threads(int(threads))
        os.environ["OMP_NUM_THREADS"] = str(threads)


F = TypeVar("F", bound=Callable[..., Any])


def keeps_global_rng(fn: F) -> F:
    """Run ``fn`` and then put Python's, NumPy's and torch's global random states (CPU, and CUDA when
    initialised) back as they were: training seeds them (:func:`seed_everything`, for weight
    initialisation and dropout), and a notebook user's own draws must not depend on whether a model was
    trained in between. The training's own numbers are unchanged."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import numpy as np
        import torch

        py_state, np_state, torch_state = random.getstate(), np.random.get_state(), torch.get_rng_state()
        cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
        try:
            return fn(*args, **kwargs)
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)
            torch.set_rng_state(torch_state)
            if cuda_states is not None:
                torch.cuda.set_rng_state_all(cuda_states)

    return wrapper  # type: ignore[return-value]


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a CPU generator for data order and augmentations.

    Global: callers that are library entry points wrap themselves in :func:`keeps_global_rng`."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


DEFAULT_THREADS_PER_RUN = 1
"""Torch intra-op threads per run when ``runtime.threads`` is unset. Results are bit-identical only
between runs with the same count, and one thread is also the count that stays fast on a busy machine.
Measured on a 2-core machine, the default study's training (1 pre-training + 7 fine-tunings): idle
(load ~1.8) 1 worker x 2 threads 33-36 s, 1 x 1 40 s, 2 workers x 1 thread 40 s; busy (load ~5)
1 x 2 555 s (threads spin-waiting for a core), 1 x 1 62 s, 2 x 1 71 s."""


def threads_per_run(runtime: RuntimeConfig) -> int:
    """The torch intra-op threads every run uses: ``runtime.threads``, else :data:`DEFAULT_THREADS_PER_RUN`.

    Fixed by the config, never by the worker count, so results do not depend on ``--workers``."""
    return int(runtime.threads or DEFAULT_THREADS_PER_RUN)
