"""Cheap latent -> RGB previews: one published linear map (plus bias) per latent space.

Each map takes a latent in the space the sampler works in (the VAE latent after the family's shift and
scale) to RGB in [-1, 1]. The factors are the widely used least-squares fits for each VAE (the same
numbers drive the step previews of common diffusion front ends); they cost one einsum per frame, so the
trace, the inspector and stream previews can show every step without running the VAE.
"""

from __future__ import annotations

import torch
from torch import Tensor

# family -> (factors (C, 3), bias (3,))
LATENT_RGB: dict[str, tuple[Tensor, Tensor]] = {
    "sd": (torch.tensor([
        [0.298, 0.207, 0.208],
        [0.187, 0.286, 0.173],
        [-0.158, 0.189, 0.264],
        [-0.184, -0.271, -0.473],
    ]), torch.zeros(3)),
    "sdxl": (torch.tensor([
        [0.3651, 0.4232, 0.4341],
        [-0.2533, -0.0042, 0.1068],
        [0.1076, 0.1111, -0.0362],
        [-0.3165, -0.2492, -0.2188],
    ]), torch.tensor([0.1084, -0.0175, -0.0011])),
    "sd3": (torch.tensor([
        [-0.0922, -0.0175, 0.0749],
        [0.0311, 0.0633, 0.0954],
        [0.1994, 0.0927, 0.0458],
        [0.0856, 0.0339, 0.0902],
        [0.0587, 0.0272, -0.0496],
        [-0.0006, 0.1104, 0.0309],
        [0.0978, 0.0306, 0.0427],
        [-0.0042, 0.1038, 0.1358],
        [-0.0194, 0.0020, 0.0669],
        [-0.0488, 0.0130, -0.0268],
        [0.0922, 0.0988, 0.0951],
        [-0.0278, 0.0524, -0.0542],
        [0.0332, 0.0456, 0.0895],
        [-0.0069, -0.0030, -0.0810],
        [-0.0596, -0.0465, -0.0293],
        [-0.1448, -0.1463, -0.1189],
    ]), torch.tensor([0.2394, 0.2135, 0.1925])),
}


def project_latents(latents: Tensor, family: str) -> Tensor:
    """(N, C, h, w) latents -> (N, 3, h, w) RGB in [0, 1] through the family's linear map.

    A latent space without a published map for its channel count (a custom VAE) shows its first three
    channels, so a preview never fails.
    """
    latents = latents.float()
    factors, bias = LATENT_RGB.get(family, (None, None))
    if factors is not None and latents.shape[1] == factors.shape[0]:
        rgb = torch.einsum("nchw,cr->nrhw", latents, factors.to(latents.device))
        rgb = rgb + bias.to(latents.device).view(1, 3, 1, 1)
    else:
        rgb = latents[:, :3] / 2
    return ((rgb + 1) / 2).clamp(0, 1)
