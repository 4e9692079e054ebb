"""fairssl.similarity: representation similarity between models (stage 4).

- :mod:`.cka`: linear CKA, biased and debiased, in feature space; streaming; layer x layer matrices.
- :mod:`.activations`: capture named layers' activations with forward hooks.
- :mod:`.conditioned`: CKA conditioned on demographic groups (equal n, subject-permutation baseline; with
  :mod:`.group_sampling`, :mod:`.conditioned_summary`, :mod:`.dissimilarity`), the dissimilarity ratio and
  its permutation null.
- :mod:`.probes`: linear probes of frozen representations: demographic probes and per-group task probes.
"""

from fairssl.similarity.cka import StreamingCKA, cka_gram, cka_matrix, linear_cka
from fairssl.similarity.conditioned import (
    PERMUTATION,
    DissimilarityRatio,
    RatioNull,
    best_worst_difference,
    conditioned_cka,
    dissimilarity_ratio,
    group_table,
    mean_ratio_null,
    permutation_p_value,
    ratio_null,
    summarise_conditioned,
)
from fairssl.similarity.probes import ProbeCkaRelation, demographic_probe, group_task_probe, relate_to_cka

_TORCH_NAMES = ("capture_activations", "resolve_layers")


def __getattr__(name: str) -> object:
    """``capture_activations`` and ``resolve_layers`` on first use: they need torch, which CKA and the
    probes do not (a probe worker starts without importing it)."""
    if name in _TORCH_NAMES:
        from fairssl.similarity import activations

        return getattr(activations, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "PERMUTATION",
    "DissimilarityRatio",
    "ProbeCkaRelation",
    "RatioNull",
    "StreamingCKA",
    "best_worst_difference",
    "capture_activations",
    "cka_gram",
    "cka_matrix",
    "conditioned_cka",
    "demographic_probe",
    "dissimilarity_ratio",
    "group_table",
    "group_task_probe",
    "linear_cka",
    "mean_ratio_null",
    "permutation_p_value",
    "ratio_null",
    "relate_to_cka",
    "resolve_layers",
    "summarise_conditioned",
]
