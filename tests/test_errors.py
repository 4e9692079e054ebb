"""fairssl's errors are ValueErrors, as scikit-learn's are: ``except ValueError`` catches bad input."""

from __future__ import annotations

import pytest

from fairssl.config import build_config
from fairssl.errors import ConfigError, DataError, FairsslError, RunError


@pytest.mark.parametrize("error", [FairsslError, ConfigError, DataError, RunError])
def test_every_fairssl_error_is_a_value_error(error: type[Exception]) -> None:
    assert issubclass(error, ValueError)


def test_a_bad_config_is_caught_by_except_value_error() -> None:
    with pytest.raises(ValueError, match=r"evaluation\.alpha"):
        build_config({"evaluation": {"alpha": 2.0}})
    with pytest.raises(ConfigError):  # and is still the specific type, one line
        build_config({"evaluation": {"alpha": 2.0}})
