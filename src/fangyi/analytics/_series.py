"""Shape handling shared by the detectors: one series is a 1-D array, many series are a 2-D
array with one series per row and time in columns."""

import numpy as np
from numpy.typing import ArrayLike


def as_rows(counts: ArrayLike) -> tuple[np.ndarray, bool]:
    """The counts as a float 2-D array (series in rows) and whether the input was 1-D."""
    array = np.asarray(counts, dtype=float)
    if array.ndim not in (1, 2):
        raise ValueError("counts must be a 1-D series or a 2-D array of series in rows")
    return np.atleast_2d(array), array.ndim == 1


def like_input(array: np.ndarray, one_dimensional: bool) -> np.ndarray:
    """Undo `as_rows`: a single row back to 1-D."""
    return array[0] if one_dimensional else array
