"""fairssl.similarity: representation similarity between models (stage 4).

- :mod:`.cka`: linear CKA, biased and debiased, in feature space; streaming; layer x layer matrices.
- :mod:`.activations`: capture named layers' activations with forward hooks.
- :mod:`.conditioned`: CKA conditioned on demographic groups, with equal n and a permutation baseline.
"""

from fairssl.similarity.activations import capture_activations, resolve_layers
from fairssl.similarity.cka import StreamingCKA, cka_gram, cka_matrix, linear_cka
from fairssl.similarity.conditioned import (
    PERMUTATION,
    DissimilarityRatio,
    best_worst_difference,
    conditioned_cka,
    dissimilarity_ratio,
    group_table,
    summarise_conditioned,
)

__all__ = [
    "PERMUTATION",
    "DissimilarityRatio",
    "StreamingCKA",
    "best_worst_difference",
    "capture_activations",
    "cka_gram",
    "cka_matrix",
    "conditioned_cka",
    "dissimilarity_ratio",
    "group_table",
    "linear_cka",
    "resolve_layers",
    "summarise_conditioned",
]
