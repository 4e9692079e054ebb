"""The analysis sections of a study's configuration: fairness evaluation and the testing policy
(``evaluation``), representation similarity (``similarity``) and linear probes (``probes``).

Changing only these re-analyses a study without training (``fairssl analyse``); :mod:`fairssl.config`
re-exports these classes.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from fairssl.config_base import Section as _Section


class EvaluationConfig(_Section):
    """How test predictions are scored: fairness comparisons, parity deviation, bootstrap intervals.

    See :mod:`fairssl.evaluation.plans` and :mod:`fairssl.evaluation.parity` for the definitions.
    Problems are reported at load, one line each; a privileged group that is not a group of its
    attribute can only be caught on the data (a DataError naming the groups).
    """

    attributes: list[str] | None = Field(None, examples=[["sex", "age_group", "race"]])
    """Protected attributes to evaluate; None = all columns of the dataset's attribute table."""
    reference: str | dict[str, str] = Field("majority", examples=[{"sex": "male", "race": "white"}])
    """Pairwise parity: each group's reference, ``majority`` (the attribute's largest group) | ``rest``
    (each group against all other groups pooled) | ``best`` (the group with the highest accuracy) or a
    table attribute -> group (attributes it does not name use majority)."""
    threshold: float = Field(0.5, gt=0.0, lt=1.0)
    """Decision threshold on the positive-class probability: the predicted label behind every rate."""
    min_group_size: int = 30
    """Minimum windows of a compared group and of its reference (at least 4); a group or reference
    below any of the minimums gets NaN metrics with the reason."""
    min_subjects: int = 5
    """Minimum distinct subjects of a compared group and of its reference (0 = no check). With 5, a
    subject-level bootstrap resample misses the whole group with probability about e^-5 < 1%."""
    min_positives: int = 5
    """Minimum positive windows of a compared group and of its reference (0 = no check)."""
    include_missing: bool = False
    """Evaluate the explicit ``missing`` group of an attribute like any other group (false: its windows
    belong to no group; they are never folded into another)."""
    n_boot: int = Field(200, ge=0)
    """Resamples of test subjects behind every interval and test (0: point estimates only)."""
    cluster: Literal["subject", "window"] = "subject"
    """Resampling unit of the per-group metric table's intervals: ``subject`` (windows nested in persons)
    | ``window``; verdicts always resample subjects."""
    alpha: float = Field(0.05, gt=0.0, lt=0.5)
    """Family-wise error rate of the study's verdicts; intervals of single values are at 1 - alpha."""
    correction: Literal["holm", "bonferroni", "none"] = "holm"
    """Multiple-comparison correction over the family (every SSL setup x {PD, AUROC}, and SSL vs control)."""
    power: float = Field(0.8, gt=0.0, lt=1.0)
    """Power at which the minimum detectable change and the seeds needed are reported."""
    target_change: float = Field(0.15, gt=0.0, lt=1.0)
    """Relative PD change (0.15 = 15%) for which the seeds needed are reported."""
    parity: Literal["pairwise", "paper"] = "pairwise"
    """``pairwise``: each group against ``reference``; ``paper``: per attribute the privileged group
    against all other groups pooled (one comparison per attribute)."""
    privileged: dict[str, str] = Field(
        default_factory=dict, examples=[{"sex": "male", "age_group": "<65", "race": "white"}]
    )
    """Paper parity: attribute -> privileged group; required for every attribute of
    ``evaluation.attributes`` when those are listed (otherwise an attribute without one falls back to its
    majority group, with a warning)."""
    deviation: Literal["abs", "log"] = "abs"
    """Parity deviation of a ratio r: ``abs`` = |1 - r| (the paper's), ``log`` = |log r| (symmetric)."""

    @field_validator("attributes")
    @classmethod
    def _attribute_names(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        if not v or any(not a.strip() for a in v):
            raise ValueError(
                "must list attribute names (none empty), or be left out to evaluate every attribute"
            )
        twice = sorted({a for a in v if v.count(a) > 1})
        if twice:
            raise ValueError(f"lists {twice} more than once; list each attribute once")
        return v

    @field_validator("reference")
    @classmethod
    def _reference(cls, v: str | dict[str, str]) -> str | dict[str, str]:
        if isinstance(v, str) and v not in ("majority", "rest", "best"):
            raise ValueError(
                'must be majority, rest, best or a table attribute -> group, e.g. { sex = "male" }'
            )
        if isinstance(v, dict):
            empty = sorted(k for k, g in v.items() if not str(g).strip())
            if empty:
                raise ValueError(
                    f"the reference group of {empty} is empty; name a group of each attribute, "
                    'e.g. { sex = "male" }, or use majority, rest or best'
                )
        return v

    @field_validator("min_group_size")
    @classmethod
    def _min_group_size(cls, v: int) -> int:
        if v < 4:
            raise ValueError(
                "must be at least 4: the conditioned CKA needs 4 windows per group, and a rate on fewer "
                "windows says nothing about a group"
            )
        return v

    @field_validator("min_subjects", "min_positives")
    @classmethod
    def _non_negative(cls, v: int) -> int:
        if v < 0:
            raise ValueError("must be 0 (no check) or a positive number")
        return v

    @field_validator("privileged")
    @classmethod
    def _privileged_names(cls, v: dict[str, str]) -> dict[str, str]:
        empty = sorted(k for k, g in v.items() if not str(g).strip())
        if empty:
            raise ValueError(f"the privileged group of {empty} is empty; name a group of each attribute")
        return v

    @model_validator(mode="after")
    def _privileged_attributes(self) -> EvaluationConfig:
        if self.attributes is None:
            return self  # attributes known only on the data: checked there
        unknown = sorted(set(self.privileged) - set(self.attributes))
        if unknown:
            raise ValueError(
                f"evaluation.privileged names {unknown}, which are not in evaluation.attributes "
                f"{self.attributes}; fix the names or list them"
            )
        unknown = (
            sorted(set(self.reference) - set(self.attributes)) if isinstance(self.reference, dict) else []
        )
        if unknown:
            raise ValueError(
                f"evaluation.reference names {unknown}, which are not in evaluation.attributes "
                f"{self.attributes}; fix the names or list them"
            )
        if self.parity == "paper":
            missing = [a for a in self.attributes if a not in self.privileged]
            if missing:
                raise ValueError(
                    f'parity = "paper" needs a privileged group for every attribute; '
                    f'evaluation.privileged lacks {missing} (e.g. privileged = {{ {missing[0]} = "..." }})'
                )
        return self


class SimilarityConfig(_Section):
    """``[similarity]``: layer-by-layer CKA between each SSL model and the supervised one, on equal-size
    samples of each demographic group (:func:`fairssl.similarity.conditioned.conditioned_cka`)."""

    enabled: bool = True
    """Compute the conditioned CKA (stage 4); false skips it."""
    debiased: bool = True
    """Debiased CKA (unbiased HSIC); the biased estimate grows as the sample shrinks."""
    n_per_group: int | None = Field(None, ge=10, examples=[200])
    """Windows per group and draw, the same for every group of an attribute; None = the smallest eligible
    group's size."""
    n_draws: int = Field(5, ge=1)
    """Random samples of each group's windows, each giving one CKA matrix."""
    n_permutations: int = Field(19, ge=0)
    """Subject permutations (group labels permuted between subjects) behind the best-vs-worst bound and
    the dissimilarity ratio's null; 0 = neither, fewer than 19 cannot reject at 5%."""


class ProbesConfig(_Section):
    """Linear probes of each model's frozen test activations (demographic and per-group task probes)."""

    enabled: bool = True
    """Fit the probes; false skips them."""
    n_splits: int = Field(5, ge=2)
    """Subject-disjoint cross-validation folds."""
    n_boot: int = 200
    """Resamples of test subjects behind each probe's interval (at least 1; to skip probes set
    ``probes.enabled = false``)."""
    n_permutations: int = Field(0, ge=0)
    """Permutation test of each demographic probe (the valid test; 0 = off, it refits R times)."""
    max_features: int | None = Field(64, ge=2)
    """PCA (fitted on training folds) reduces wider layers to this many features; None = no reduction."""

    @field_validator("n_boot")
    @classmethod
    def _probe_resamples(cls, v: int) -> int:
        if v < 1:
            raise ValueError(
                "must be at least 1: every probe reports an interval from subject resamples "
                "(probes.enabled = false skips the probes)"
            )
        return v


__all__ = ["EvaluationConfig", "ProbesConfig", "SimilarityConfig"]
