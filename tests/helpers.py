"""Small builders shared by the tests."""

import numpy as np


def rect_mask(height: int, width: int, top: int, left: int, bottom: int, right: int) -> np.ndarray:
    """(H, W) bool mask that is True inside [top:bottom, left:right]."""
    mask = np.zeros((height, width), dtype=bool)
    mask[top:bottom, left:right] = True
    return mask
