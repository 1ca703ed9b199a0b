"""Turn a Scene into what the sampler needs at one schedule: layers, conditionings, per-step masks.

Layers are the background prompt (layer 0) followed by the regions in scene order. As in the
published code, the background layer takes what the regions leave: its weight at step i is
1 − Σ (regions' quantized weights at step i), clipped to [0, 1], so a region's blurred edge wins over
the background as soon as the region's own quantized mask reaches it, and regions grow outward as
the noise falls. With a background image there is no background layer: uncovered pixels are filled
from the image's latent instead (inpainting), and the background prompt only anchors prompt
strength. A scene with only a background image keeps the background prompt as one layer with an
empty mask, so the sampler's shapes stay non-empty; its picture is the image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from ..backends.base import Backend, Conditioning, Schedule
from ..scene import Scene
from ..validation import check_field
from .conditioning import cat_conditioning, lerp_conditioning, take_conditioning
from .masks import background_weights, centering_shift, downsample_masks, shape_masks


@dataclass(frozen=True)
class SamplerOptions:
    """Knobs of the regional sampler; the defaults follow the published method."""

    guidance_scale: float | None = None  # None: the backend's default; CFG runs only when > 1
    bootstrap_steps: int = 1
    mask_mode: str = "continuous"
    cover_alpha: float = 0.0  # opaque layers; the published code used 0.3, which tints upper layers

    def __post_init__(self) -> None:
        for name in ("guidance_scale", "bootstrap_steps", "mask_mode", "cover_alpha"):  # the field table's rules
            object.__setattr__(self, name, check_field(name, getattr(self, name)))


@dataclass(frozen=True)
class Plan:
    """Everything the sampler needs for one scene at one schedule (tensors on the backend's device)."""

    schedule: Schedule
    prompts: tuple[str, ...]  # (P,) one per layer
    cond: Conditioning  # (P, ...) after prompt-strength interpolation
    uncond: Conditioning | None  # (P, ...) negative prompts; None when guidance <= 1 (no uncond batch)
    guidance: float
    weights: Tensor  # (S, P, 1, h, w) quantized masks per step
    soft_masks: Tensor  # (P, h, w) masks after cover order, blur and strength
    shifts: tuple[tuple[int, int], ...]  # (P,) centring roll per layer during bootstrap steps
    bootstrap_steps: int
    bootstrap_layers: Tensor  # (P,) bool: layers that get a plain surround while bootstrapping
    plain_latent: Tensor  # (1, C, h, w) what a bootstrapping region sees outside its mask
    fill_latent: Tensor | None  # (1, C, h, w) background image latent (inpainting), else None
    background_layer: int | None  # layer whose x̂0 fills uncovered pixels when there is no image
    image_blend: Tensor | None  # (1, 1, H, W) where the generated pixels replace the background image
    strengths: tuple[float, ...] = ()  # (P,) prompt strength: the share of each layer's own prompt in its cond
    negatives: tuple[str, ...] = ()  # (P,) each layer's negative prompt (its own joined with the background's)
    anchor: tuple[str, str] = ("", "")  # the background prompt and negative prompt that strength < 1 pulls toward

    @property
    def num_layers(self) -> int:
        return len(self.prompts)


class PlanCache:
    """What a plan costs to build, kept across scene edits: text embeddings by text, latent-resolution
    masks by content, image latents by content. So an edit re-processes only what changed."""

    def __init__(self, backend: Backend, max_entries: int = 256) -> None:
        self.backend = backend
        self.max_entries = max_entries
        self._text: dict[str, Conditioning] = {}
        self._masks: dict[tuple[str, int, int], Tensor] = {}
        self._latents: dict[object, Tensor] = {}
        self.encoded_texts = 0  # texts sent to the text encoder, for tests

    @staticmethod
    def _remember(store: dict, key: object, value: object, limit: int) -> None:
        if len(store) >= limit:
            store.pop(next(iter(store)))  # oldest first: dicts keep insertion order
        store[key] = value

    def encode(self, texts: Sequence[str]) -> Conditioning:
        """Rows for `texts`, encoding each text not seen before exactly once."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._text]
        if missing:
            fresh = self.backend.encode_prompts(missing)
            self.encoded_texts += len(missing)
            for i, text in enumerate(missing):
                self._remember(self._text, text, take_conditioning(fresh, [i]), self.max_entries)
        return cat_conditioning([self._text[t] for t in texts])

    def latent_mask(self, digest: str, mask: np.ndarray, factor: int) -> Tensor:
        """(h, w) area-averaged mask on the backend's device."""
        key = (digest, factor, mask.shape[0])
        if key not in self._masks:
            full = torch.from_numpy(np.array(mask, dtype=np.float32))[None].to(self.backend.device)
            self._remember(self._masks, key, downsample_masks(full, factor)[0], self.max_entries)
        return self._masks[key]

    def image_latent(self, digest: str, image: np.ndarray) -> Tensor:
        key = ("image", digest)
        if key not in self._latents:
            latent = self.backend.encode_images(image_to_tensor(image, self.backend.device)).float()
            self._remember(self._latents, key, latent, 16)
        return self._latents[key]

    def plain_latent(self, height: int, width: int) -> Tensor:
        """Latent of an all-white image: what bootstrapping regions see around them."""
        key = ("white", height, width)
        if key not in self._latents:
            white = torch.ones(1, 3, height, width, device=self.backend.device)
            self._remember(self._latents, key, self.backend.encode_images(white).float(), 16)
        return self._latents[key]


def join_prompts(*parts: str) -> str:
    return ", ".join(p.strip() for p in parts if p and p.strip())


def image_to_tensor(image: np.ndarray, device: torch.device) -> Tensor:
    """(H, W, 3) float in [0, 1] -> (1, 3, H, W)."""
    return torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].float().to(device)


def shape_region_masks(masks: list[Tensor], blur: list[float], strengths: list[float], options: SamplerOptions,
                       schedule: Schedule, size: tuple[int, int], device: torch.device) -> tuple[Tensor, Tensor]:
    """Latent masks of the regions (any number, even none) -> soft (R, h, w) and per-step (S, R, h, w) weights."""
    if not masks:
        return torch.zeros(0, *size, device=device), torch.zeros(len(schedule), 0, *size, device=device)
    return shape_masks(torch.stack(masks), blur=torch.tensor(blur), strengths=torch.tensor(strengths),
                       cover_alpha=options.cover_alpha, noise_levels=schedule.noise_levels, mode=options.mask_mode)


def make_plan(backend: Backend, scene: Scene, schedule: Schedule, options: SamplerOptions,
              cache: PlanCache | None = None) -> Plan:
    """Build the Plan; a stream passes its PlanCache so edits only re-process what changed."""
    cache = cache or PlanCache(backend)
    device = backend.device
    f = backend.scale_factor
    h, w = scene.height // f, scene.width // f
    has_image = scene.background.image is not None
    guidance = backend.default_guidance if options.guidance_scale is None else float(options.guidance_scale)

    # 1. Region layers and their latent-resolution masks, bottom to top.
    background = scene.background
    prompts = [r.prompt for r in scene.regions]
    negatives = [join_prompts(r.negative_prompt, background.negative_prompt) for r in scene.regions]
    strengths = [r.prompt_strength for r in scene.regions]
    masks = [cache.latent_mask(r.mask_digest, r.mask, f) for r in scene.regions]
    blur = [r.mask_blur / f for r in scene.regions]  # image pixels -> latent pixels
    mask_strengths = [r.mask_strength for r in scene.regions]
    if has_image and not prompts:  # only a photo: one empty layer keeps the sampler's shapes non-empty
        prompts, negatives, strengths = [background.prompt], [background.negative_prompt], [1.0]
        masks, blur, mask_strengths = [torch.zeros(h, w, device=device)], [0.0], [1.0]

    # 2. Masks per step; the background layer (no image) takes what the regions leave.
    soft, quantized = shape_region_masks(masks, blur, mask_strengths, options, schedule, (h, w), device)
    background_layer = None
    if not has_image:
        background_layer = 0
        prompts.insert(0, background.prompt)
        negatives.insert(0, background.negative_prompt)
        strengths.insert(0, 1.0)
        soft = torch.cat([background_weights(soft[None])[0], soft])  # (P, h, w)
        quantized = torch.cat([background_weights(quantized), quantized], dim=1)  # (S, P, h, w)

    # 3. Conditionings: prompt strength pulls each layer's embedding toward the background prompt's, and
    #    its negative embedding toward the background's negative prompt (as the published code does).
    n = len(prompts)
    texts = [background.prompt, *prompts] + ([background.negative_prompt, *negatives] if guidance > 1 else [])
    rows = cache.encode(texts)
    weight = torch.tensor(strengths)
    cond = lerp_conditioning(take_conditioning(rows, [0] * n), take_conditioning(rows, range(1, n + 1)), weight)
    uncond = None
    if guidance > 1:
        uncond = lerp_conditioning(take_conditioning(rows, [n + 1] * n),
                                   take_conditioning(rows, range(n + 2, 2 * n + 2)), weight)

    soft_cpu = soft.cpu()  # centring shifts are computed once here, never inside the sampling loop
    bootstrap_layers = torch.ones(n, dtype=torch.bool)
    shifts = [centering_shift(m) for m in soft_cpu]
    if background_layer is not None:
        bootstrap_layers[background_layer] = False
        shifts[background_layer] = (0, 0)

    # 4. Latents for bootstrapping and filling.
    fill_latent = image_blend = None
    if has_image:
        fill_latent = cache.image_latent(background.image_digest, background.image)
        plain = fill_latent
        region_cover = soft.sum(0, keepdim=True)[None].clamp(0, 1)  # (1, 1, h, w), all layers are regions
        image_blend = torch.nn.functional.interpolate(region_cover, size=(scene.height, scene.width),
                                                      mode="bilinear", align_corners=False)
    else:
        plain = cache.plain_latent(scene.height, scene.width)

    return Plan(schedule=schedule, prompts=tuple(prompts), cond=cond, uncond=uncond, guidance=guidance,
                weights=quantized[:, :, None], soft_masks=soft, shifts=tuple(shifts),
                bootstrap_steps=options.bootstrap_steps, bootstrap_layers=bootstrap_layers,
                plain_latent=plain, fill_latent=fill_latent, background_layer=background_layer,
                image_blend=image_blend, strengths=tuple(float(v) for v in strengths), negatives=tuple(negatives),
                anchor=(background.prompt, background.negative_prompt))
