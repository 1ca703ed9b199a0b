"""Small builders shared by the tests."""

import numpy as np


def rect_mask(height: int, width: int, top: int, left: int, bottom: int, right: int) -> np.ndarray:
    """(H, W) bool mask that is True inside [top:bottom, left:right]."""
    mask = np.zeros((height, width), dtype=bool)
    mask[top:bottom, left:right] = True
    return mask


def three_region_scene(prompts, seed, size=64):
    """A background (prompts[0]) and three regions (prompts[1:]): the top half, bottom-left, bottom-right."""
    import semanticdraw_widgets as sdw

    masks = np.zeros((3, size, size), bool)
    masks[0, : size // 2], masks[1, size // 2:, : size // 2], masks[2, size // 2:, size // 2:] = True, True, True
    return sdw.Scene(background=sdw.Background(prompt=prompts[0]),
                     regions=[sdw.Region(prompt=p, mask=m) for p, m in zip(prompts[1:], masks)],
                     width=size, height=size, seed=seed)
