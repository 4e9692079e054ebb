"""Channel values too large to train on: float32 overflow and missing-value codes such as 1e30.

Windows are stored as float32, which holds magnitudes up to about 3.4e38; a larger value (1e300 in a
CSV) would silently become ``inf``. Values beyond :data:`MAX_ABS_VALUE` (1e20) still fit, but they are
almost always missing-value codes (netCDF and climate tools write 1e20, 1e30 or 9.97e36) or unit
errors; their squares overflow float32, so losses explode (a real run reached 2.3e26), and with
scaling one such value in the training split flattens every other value of its channel to about 0.
Both are therefore a :class:`~fairssl.errors.DataError` naming the first place and the count. Smaller
but still extreme values (above 1e6 after the loader's scaling) are warned about by the audit.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from fairssl.errors import DataError

FLOAT32_MAX = float(np.finfo(np.float32).max)
MAX_ABS_VALUE = 1e20


def too_large(values: np.ndarray) -> np.ndarray:
    """Bool array like ``values``: finite values with ``|x| > MAX_ABS_VALUE`` (NaN and Inf are False)."""
    arr = np.asarray(values)
    with np.errstate(invalid="ignore", over="ignore"):
        return np.isfinite(arr) & (np.abs(arr) > MAX_ABS_VALUE)


def too_large_message(value: float, where: str, count: int) -> str:
    """The one-line error for the first too-large ``value`` found at ``where`` (``count`` in all)."""
    if abs(value) > FLOAT32_MAX:
        return (
            f"value too large for float32 at {where}: {value:.3g} (float32 holds at most 3.4e+38; "
            f"{count} such value(s)); rescale the channel (other units) or set them to NaN and pass impute="
        )
    return (
        f"value {value:.3g} at {where} is beyond +/-{MAX_ABS_VALUE:.0e} ({count} such value(s)): such "
        "magnitudes are missing-value codes (1e20, 1e30, 9.97e36) or unit errors; set them to NaN and "
        "pass impute=, or rescale the channel"
    )


def check_magnitude(values: np.ndarray, where: Callable[[tuple[int, ...]], str]) -> None:
    """Raise :class:`DataError` if ``values`` holds a finite value beyond ``MAX_ABS_VALUE``.

    ``where`` turns the index of the first such value into words (e.g. "subject 'u3', time 5, column
    'hr'").
    """
    big = too_large(values)
    if big.any():
        idx = tuple(int(i) for i in np.argwhere(big)[0])
        raise DataError(too_large_message(float(np.asarray(values)[idx]), where(idx), int(big.sum())))


__all__ = ["FLOAT32_MAX", "MAX_ABS_VALUE", "check_magnitude", "too_large", "too_large_message"]
