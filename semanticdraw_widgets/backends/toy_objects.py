"""Object prompts of the toy model: one object of any size, with a margin of backdrop, found by local evidence.

The prior of an object prompt ("sun", "red apple", ...) is a generative model of one latent x0 (C, h, w):

1. pick a radius ρ from ``OBJECT_RADII`` (fractions of the frame's shorter side, a dense geometric grid, so
   the size is effectively continuous) with a broad log-normal prior, and a centre p anywhere in the frame
   with a broad Gaussian centre bias (``CENTRE_SPREAD`` of the frame: objects tend to the middle, they are
   not pinned there);
2. the pixels of the silhouette sil_{ρ,p} are the object's look F (the prompt's texture), those of a ring
   around it (``MARGIN`` of the radius plus one latent pixel) are the backdrop B, a soft shaded grey that is
   *not* the white of the bootstrap surround;
3. every other pixel is backdrop with probability 1 − ``CLUTTER_SHARE`` or anything else (clutter: a broad
   Gaussian), independently; each pixel then strays from its mean by N(0, s²).

With x_t = α x0 + σ ε and v = α² s² + σ², every pixel q has the log-likelihood l_F(q), l_B(q) of "object"
and "backdrop" and l_ref(q) of "anything" (backdrop or clutter). The posterior over (ρ, p) is then

    log r_{ρ,p} = log π_ρ + log π_p + Σ_q sil_{ρ,p}(q) (l_F − l_ref)(q) + Σ_q ring_{ρ,p}(q) (l_B − l_ref)(q)

a *windowed* correlation: only the pixels under the object and its margin count, so a texture elsewhere on
the canvas is explained as clutter and does not pull the object towards it, and nothing wraps around the
frame's edges (the correlation is zero-padded FFTs over one row).

x̂0 is the exact posterior mean *given the most probable (ρ, p)*: the object's pixels E[x0 | F, x_t], its
ring E[x0 | B, x_t], every other pixel the backdrop/clutter mixture's posterior mean. A few-step
(consistency) model maps x_t to one sample rather than to the average of all layouts; the full posterior
mean would instead blur the object over every candidate place at high noise, and the next step would
shrink it to the smallest size that fits the blur (seen in step-by-step traces while building this).

What this teaches: the object's size follows the room it is given, up to about 200 px. A ring of backdrop
must fit around it, so a region bootstrapped on a plain surround gets an object sized to the region, and a
region whose surround is sky or grass from the first step gets one only if its own pixels already point to
it. Measured once on held-out seeds (``benchmarks/size_follows_room.py``, square masks in a corner of
512x512 and 768x512, a sun on white and an apple on sky, 4 steps): with bootstrapping the median radius
grows from 24-25 px (64 px mask) to 49-50 px (192 px mask) on 512x512 and from 0-8 to 50-54 px on 768x512;
without bootstrapping the region gets none (median 0) below 192-256 px. Beyond about 200 px the size
prior most likely wins (256 px masks: radius 36-50 px, no bigger than at 192 px). Small rooms still get
objects that do not fit: at 64-96 px the object is usually cut by the mask's edge (whole in 0-3 of 8 seeds)
or missing.
Silhouettes count with their anti-aliased edge weights (a soft-edged stand-in for binary masks).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .toy_shapes import _inside, shape_fields

# Object radii: fractions of the frame's shorter side, a geometric grid fine enough to act as continuous.
OBJECT_RADII: tuple[float, ...] = tuple(round(0.04 * 1.25 ** i, 5) for i in range(11))  # 0.04 .. 0.37
# Log-normal size prior: median radius SIZE_MEDIAN of the short side, SIZE_SPREAD in natural log units.
SIZE_MEDIAN = 0.12
SIZE_SPREAD = 0.6
# Centre bias, heavy-tailed: log π_p = −CENTRE_TAIL log(1 + d² / (2 CENTRE_SPREAD²)), d the centre's offset
# as a fraction of the frame. Objects are usually near the middle, but evidence can place them anywhere.
CENTRE_SPREAD = 0.06
CENTRE_TAIL = 1.5
# Backdrop margin around the object: MARGIN of its radius plus MARGIN_PX latent pixels.
MARGIN = 0.25
MARGIN_PX = 1.0
# Pixels away from the object: backdrop, or with this prior probability anything else ("clutter").
CLUTTER_SHARE = 0.02
CLUTTER_STD = 0.8
# The object's backdrop: a soft grey, lighter at the top than at the bottom (a studio backdrop), RGB in [0, 1].
BACKDROP_TOP_RGB = (0.80, 0.79, 0.76)
BACKDROP_BOTTOM_RGB = (0.66, 0.65, 0.63)


@dataclass(frozen=True)
class ObjectPrior:
    """Everything about one object prompt at one latent size that does not depend on x_t (cached)."""

    fill: Tensor  # (C, h, w) the object's look F
    backdrop: Tensor  # (C, h, w) the backdrop B
    shapes: Tensor  # (2, S, H, W') spectra of the silhouettes and of their rings, zero-padded frame (H, W)
    kernels: Tensor  # (2, S, 2K+1, 2K+1) the silhouettes and rings themselves, centred on pixel (K, K)
    log_prior: Tensor  # (S, h, w) log π_ρ + log π_p
    padded: tuple[int, int]  # (H, W) of the zero-padded FFT frame


def _fast_size(n: int) -> int:
    """Smallest 2^a 3^b 5^c >= n: FFT-friendly."""
    while True:
        m = n
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 1


def backdrop_rgb(height: int) -> Tensor:
    """(3, height, 1) the backdrop's RGB in [0, 1], shaded from top to bottom."""
    t = (torch.arange(height, dtype=torch.float32) + 0.5) / height
    top, bottom = torch.tensor(BACKDROP_TOP_RGB), torch.tensor(BACKDROP_BOTTOM_RGB)
    return (top[:, None] + (bottom - top)[:, None] * t[None])[:, :, None]


def object_kernels(shape: Tensor, height: int, width: int) -> tuple[Tensor, Tensor, int]:
    """Silhouettes and rings (S, 2K+1, 2K+1) centred on pixel (K, K), for a frame of (height, width) latents."""
    side = min(height, width)
    outer = [f * side * (1 + MARGIN) + MARGIN_PX for f in OBJECT_RADII]
    k = int(math.ceil(max(outer))) + 1
    size = 2 * k + 1
    d = torch.sqrt((torch.arange(size, dtype=torch.float32)[:, None] - k) ** 2
                   + (torch.arange(size, dtype=torch.float32)[None, :] - k) ** 2)
    sils, rings = [], []
    for f, out in zip(OBJECT_RADII, outer):
        sil = torch.einsum("k,khw->hw", shape.float().cpu(), shape_fields(size, size, f * side))
        sils.append(sil)
        rings.append((_inside(d, out) - sil).clamp(min=0.0))
    return torch.stack(sils), torch.stack(rings), k


def build_object_prior(fill: Tensor, backdrop: Tensor, shape: Tensor, height: int, width: int) -> ObjectPrior:
    sils, rings, k = object_kernels(shape, height, width)
    padded = (_fast_size(height + k + 1), _fast_size(width + k + 1))
    frame = torch.zeros(2, len(OBJECT_RADII), *padded)
    size = 2 * k + 1
    frame[0, :, :size, :size] = sils
    frame[1, :, :size, :size] = rings
    frame = torch.roll(frame, (-k, -k), dims=(-2, -1))  # kernel offset d sits at index d mod padded
    radii = torch.tensor(OBJECT_RADII)
    log_size = -torch.log(radii / SIZE_MEDIAN) ** 2 / (2 * SIZE_SPREAD ** 2)
    ys = ((torch.arange(height, dtype=torch.float32) + 0.5) / height - 0.5)[:, None]
    xs = ((torch.arange(width, dtype=torch.float32) + 0.5) / width - 0.5)[None, :]
    log_position = -CENTRE_TAIL * torch.log1p((ys ** 2 + xs ** 2) / (2 * CENTRE_SPREAD ** 2))
    device = fill.device
    return ObjectPrior(fill=fill, backdrop=backdrop.to(device), shapes=torch.fft.rfft2(frame).to(device),
                       kernels=torch.stack([sils, rings]).to(device),
                       log_prior=(log_size[:, None, None] + log_position[None]).to(device), padded=padded)


def _channel_sum(values: Tensor) -> Tensor:
    """(C, h, w) -> (h, w) in a fixed order, the same on every CPU path."""
    total = values[0]
    for c in range(1, values.shape[0]):
        total = total + values[c]
    return total


def object_logits(x: Tensor, alpha: Tensor, sigma: Tensor, spread: Tensor, prior: ObjectPrior) -> tuple[Tensor, Tensor]:
    """One row x_t (C, h, w) -> log posterior (unnormalised) over (size, centre) (S, h, w), P(backdrop | elsewhere) (h, w)."""
    channels, h, w = x.shape
    var = alpha * alpha * spread * spread + sigma * sigma
    clutter_var = alpha * alpha * CLUTTER_STD ** 2 + sigma * sigma
    l_obj = -_channel_sum((x - alpha * prior.fill) ** 2) / (2 * var)
    l_back = -_channel_sum((x - alpha * prior.backdrop) ** 2) / (2 * var)
    l_clutter = -_channel_sum(x * x) / (2 * clutter_var) - 0.5 * channels * torch.log(clutter_var / var)
    back_logit = math.log(1 - CLUTTER_SHARE) + l_back - math.log(CLUTTER_SHARE) - l_clutter
    l_ref = math.log(CLUTTER_SHARE) + l_clutter + torch.nn.functional.softplus(back_logit)
    scores = torch.stack([l_obj - l_ref, l_back - l_ref])  # (2, h, w)
    big_h, big_w = prior.padded
    spectra = torch.fft.rfft2(torch.nn.functional.pad(scores, (0, big_w - w, 0, big_h - h)))  # (2, H, W')
    evidence = spectra[0][None] * prior.shapes[0].conj() + spectra[1][None] * prior.shapes[1].conj()
    logits = torch.fft.irfft2(evidence, s=prior.padded)[:, :h, :w] + prior.log_prior  # (S, h, w)
    return logits, torch.sigmoid(back_logit)


def place(prior: ObjectPrior, size: int, cy: int, cx: int, height: int, width: int) -> tuple[Tensor, Tensor]:
    """The silhouette and the ring of size index `size` centred on latent pixel (cy, cx), cut by the frame."""
    k = prior.kernels.shape[-1] // 2
    frame = torch.zeros(2, height + 2 * k, width + 2 * k, device=prior.kernels.device)
    frame[:, cy:cy + 2 * k + 1, cx:cx + 2 * k + 1] = prior.kernels[:, size]
    return frame[0, k:k + height, k:k + width], frame[1, k:k + height, k:k + width]


def object_x0(x: Tensor, alpha: Tensor, sigma: Tensor, spread: Tensor, prior: ObjectPrior) -> Tensor:
    """One row x_t (C, h, w) -> x̂0: the posterior mean given the most probable object (see the module docstring)."""
    h, w = x.shape[-2:]
    logits, backdrop_share = object_logits(x, alpha, sigma, spread, prior)
    best = int(torch.argmax(logits.flatten()))  # ties go to the first index, so the choice is deterministic
    size, rest = divmod(best, h * w)
    sil, ring = place(prior, size, *divmod(rest, w), h, w)
    var = alpha * alpha * spread * spread + sigma * sigma
    gain = alpha * spread * spread / var
    clutter_gain = alpha * CLUTTER_STD ** 2 / (alpha * alpha * CLUTTER_STD ** 2 + sigma * sigma)
    as_object = prior.fill + gain * (x - alpha * prior.fill)
    as_backdrop = prior.backdrop + gain * (x - alpha * prior.backdrop)
    as_clutter = clutter_gain * x
    elsewhere = backdrop_share * as_backdrop + (1 - backdrop_share) * as_clutter
    return sil * as_object + ring * as_backdrop + (1 - sil - ring) * elsewhere
