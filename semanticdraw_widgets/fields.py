"""The field table: every value a user or the browser can set, declared once.

Scene, region, background, brush, canvas settings, ``generate``/``Stream``/``Session`` options, loader
options and CLI flags all read their type, range, default, unit and one line of help from :data:`FIELDS`.
The Python checkers (``validation.check_field`` and the checkers built on it in scene.py, palette.py,
cli.py, backends/loading.py and the canvas's traits), the front end's ``js/src/fields.ts`` and the limits
table ``docs/limits.md`` are all derived from it; regenerate the last two with

    python -m semanticdraw_widgets.fieldgen --write

(``fieldgen.py`` renders them; ``tests/test_fields.py`` regenerates them and fails on any difference).

A value means the same thing, with the same limit, everywhere it can be set: the canvas's ``guidance``
trait is ``guidance_scale``, the CLI's ``--steps`` is ``steps``. Steps also depend on the sampler: the table
gives the widest range (1 to 1000, the training schedule) and the sampler registry (samplers.py) narrows it
(LCM and TCD stop at their distillation's 50).

Why a table of frozen dataclasses and not a library: pydantic or attrs would add a dependency to a package
installed into notebooks and Colab, and their validators would have to be bent to the rules the checkers in
validation.py already keep (numpy numbers are numbers, bools are not, text is never parsed as a number,
messages name the field, the value and the fix). The table is data; validation.py applies it; the TypeScript
and Markdown are generated from the same data, which a library's JSON schema would not give us in the
front end's shape either. This module imports nothing from the package except the (stdlib-only) sampler
registry, so every other module can import it without an import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .samplers import ALL_SAMPLERS, TRAIN_TIMESTEPS

__all__ = ["Field", "FIELDS", "field", "range_text", "MAX_TEXT_LENGTH", "MAX_BRUSHES", "MAX_SEED", "MIN_SIDE",
           "MAX_SIDE", "SIDE_MULTIPLE", "MAX_BLUR", "BRUSH_DEFAULTS", "BRUSH_LIMITS", "GUIDANCE_LIMITS", "STEPS_CHOICES",
           "LORA_SCALE_LIMITS", "MASK_MODES", "METHODS"]

KINDS = ("int", "float", "bool", "text", "choice", "color", "count")


@dataclass(frozen=True)
class Field:
    """One settable value. ``min``/``max`` are inclusive; ``None`` means unbounded (or not a number)."""

    name: str
    kind: str  # one of KINDS; "count" is the length of a list (brushes)
    default: Any
    help: str
    where: tuple[str, ...]  # scene, region, background, brush, canvas, run (generate/Stream/Session), loader, cli
    min: float | None = None
    max: float | None = None
    unit: str = ""
    choices: tuple[Any, ...] = ()
    max_length: int | None = None  # text
    multiple_of: int | None = None  # int
    nullable: bool = False  # None is a valid value (e.g. "use the model's own")
    max_text: str = ""  # how to write `max` in messages when the number is unwieldy (2**63 - 1)
    note: str = ""  # what narrows the range further (the sampler), for messages and docs
    aliases: tuple[str, ...] = ()  # other names of the same value: the canvas trait, the CLI flag

    def range_text(self) -> str:
        """The range as the messages and the docs write it: ``between 0 and 20``, ``>= 1``."""
        return range_text(self.min, self.max, max_text=self.max_text)


def range_text(lo: float | None, hi: float | None, *, max_text: str = "") -> str:
    """``between lo and hi``, ``>= lo``, ``<= hi`` or ``""``: the one way every message and doc writes a range
    (validation.py's checkers use it for ranges narrowed at run time, e.g. the sampler's steps)."""
    high = max_text or (None if hi is None else _number(hi))
    low = None if lo is None else _number(lo)
    if low is not None and high is not None:
        return f"between {low} and {high}"
    if low is not None:
        return f">= {low}"
    if high is not None:
        return f"<= {high}"
    return ""


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


# Text encoders read 77 CLIP tokens (SD1.x/2.x, SDXL) or 256 T5 tokens (SD3), about 1,000 characters at most;
# longer text is a pasted file, not a prompt.
MAX_TEXT_LENGTH = 1000
MAX_BRUSHES = 254  # label 0 is the background and labels are uint8 (255 kept free)
MAX_SEED = 2**63 - 1  # torch.Generator.manual_seed takes a non-negative 63-bit integer
MIN_SIDE, MAX_SIDE, SIDE_MULTIPLE = 64, 4096, 8  # the VAE downsamples by 8
# Gaussian std in canvas pixels: 256 is 6% of the largest canvas, wider than any soft edge needs.
MAX_BLUR = 256.0
GUIDANCE_LIMITS = [0.0, 20.0]  # classifier-free guidance past 20 burns the picture on every family
LORA_SCALE_LIMITS = [0.0, 4.0]  # a LoRA fused at more than 4x its trained strength only adds noise
STEPS_CHOICES = [1, 2, 3, 4, 5, 6, 7, 8]  # what the canvas's steps menu offers (the sampler may allow fewer)
MASK_MODES = ("discrete", "semi-continuous", "continuous")
METHODS = ("semanticdraw", "multidiffusion")
DTYPES = ("float16", "fp16", "bfloat16", "bf16", "float32", "fp32")
FAMILIES = ("sd", "sdxl", "sd3")

_TEXT = dict(kind="text", max_length=MAX_TEXT_LENGTH, unit="characters")

_FIELD_LIST: tuple[Field, ...] = (
    # -- scene ---------------------------------------------------------------------------------------
    Field("width", "int", 512, "canvas width; fixed once a canvas exists", ("scene", "canvas"),
          min=MIN_SIDE, max=MAX_SIDE, unit="px", multiple_of=SIDE_MULTIPLE),
    Field("height", "int", 512, "canvas height; fixed once a canvas exists", ("scene", "canvas"),
          min=MIN_SIDE, max=MAX_SIDE, unit="px", multiple_of=SIDE_MULTIPLE),
    Field("seed", "int", 0, "seed of the starting noise: the same seed and scene give the same picture",
          ("scene", "canvas", "cli"), min=0, max=MAX_SEED, max_text="2**63 - 1", aliases=("--seed",)),
    # -- region, brush and background text -------------------------------------------------------------
    Field("prompt", default="", help="what to draw: a region's, brush's or the background's text",
          where=("region", "brush", "background"), **_TEXT),
    Field("negative_prompt", default="", help="what to avoid there (steers only when guidance_scale > 1)",
          where=("region", "brush", "background"), **_TEXT),
    # -- region and brush numbers ----------------------------------------------------------------------
    Field("prompt_strength", "float", 1.0, "how much of the prompt reaches the region (0: the background's)",
          ("region", "brush"), min=0.0, max=1.0),
    Field("mask_strength", "float", 1.0, "how opaque the region's mask is", ("region", "brush"), min=0.0, max=1.0),
    Field("mask_blur", "float", 0.0, "Gaussian blur of the mask's edge (standard deviation)", ("region", "brush"),
          min=0.0, max=MAX_BLUR, unit="px"),
    # -- brush only ------------------------------------------------------------------------------------
    Field("name", default="brush", help="the brush's label in the palette", where=("brush",), **_TEXT),
    Field("color", "color", "#888888", 'the brush\'s paint colour, "#rrggbb"', ("brush",)),
    Field("visible", "bool", True, "a hidden brush paints nothing into the scene", ("brush",)),
    Field("brushes", "count", None, "how many brushes a canvas or palette holds", ("canvas",), min=0,
          max=MAX_BRUSHES, unit="brushes"),
    # -- sampling (generate, Stream, Session, canvas, CLI) ---------------------------------------------
    Field("steps", "int", 4, "denoising steps per picture", ("run", "canvas", "cli"), min=1, max=TRAIN_TIMESTEPS,
          note="the sampler's range: LCM and TCD stop at 50", aliases=("--steps",)),
    Field("guidance_scale", "float", None, "classifier-free guidance; > 1 makes negative prompts steer "
          "(None: the model's default)", ("run", "canvas", "cli"), min=GUIDANCE_LIMITS[0], max=GUIDANCE_LIMITS[1],
          nullable=True, aliases=("guidance", "--guidance")),
    Field("bootstrap_steps", "int", 1, "first steps in which each region is drawn alone on a plain background",
          ("run",), min=0, unit="steps"),
    Field("mask_mode", "choice", "continuous", "how masks meet the noise level (continuous suits 1-2 steps)",
          ("run",), choices=MASK_MODES),
    Field("cover_alpha", "float", 0.0, "how much a lower region shows through an upper one", ("run",),
          min=0.0, max=1.0),
    Field("method", "choice", "semanticdraw", "regional sampler: SemanticDraw or plain MultiDiffusion averaging",
          ("run", "cli"), choices=METHODS, aliases=("--method",)),
    Field("trace_ticks", "int", 0, "ticks of a stream whose denoising is recorded for the inspector", ("run",),
          min=0, unit="ticks"),
    Field("playing", "bool", True, "the canvas's stream runs (false: paused, one step per command)", ("canvas",)),
    # -- Session ---------------------------------------------------------------------------------------
    Field("max_in_flight", "int", 2, "frames sent and not yet shown by the view before the stream waits "
          "(the canvas uses 6)", ("run", "canvas"), min=1, unit="frames"),
    Field("jpeg_quality", "int", 85, "JPEG quality of the frames sent to the view", ("run",), min=1, max=95),
    Field("max_fps", "float", None, "most frames per second sent to the view (None: as fast as it renders)",
          ("run",), min=1e-3, nullable=True, unit="frames/s"),
    Field("ack_timeout", "float", 2.0, "seconds without an ack before in-flight frames count as lost", ("run",),
          min=1e-3, unit="s"),
    Field("settle_delay", "float", 0.3, "seconds a scene must stay unchanged before its final steps are drawn",
          ("run",), min=0.0, unit="s"),
    Field("resend_interval", "float", 1.0, "seconds between resends of the newest frame to a view that says hello",
          ("run",), min=0.0, unit="s"),
    # -- loader ------------------------------------------------------------------------------------------
    Field("model", default="toy", help="'toy', a diffusers folder, a .safetensors file or a hub id",
          where=("loader", "cli"), aliases=("spec", "--model"), kind="text", max_length=4096),
    Field("device", default="auto", help="'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'", where=("loader", "cli"),
          aliases=("--device",), kind="text", max_length=64),
    Field("dtype", "choice", None, "weights' precision (None: float16 on GPUs, float32 on the CPU)", ("loader",),
          choices=DTYPES, nullable=True),
    Field("sampler", "choice", None, "sampler (None: the model's or its LoRA's own); see the sampler registry",
          ("loader", "cli"), choices=ALL_SAMPLERS, nullable=True, aliases=("--sampler",)),
    Field("lora", default=None, help="few-step LoRA to fuse: a nickname (lcm, tcd, hyper-sd, lightning, flash), "
          "a hub id or a file", where=("loader", "cli"), nullable=True, aliases=("--lora",), kind="text",
          max_length=4096),
    Field("lora_scale", "float", 1.0, "strength the LoRA is fused at", ("loader",), min=LORA_SCALE_LIMITS[0],
          max=LORA_SCALE_LIMITS[1]),
    Field("family", "choice", None, "model family, to override detection", ("loader",), choices=FAMILIES,
          nullable=True),
    Field("allow_pickle", "bool", False, "load .ckpt/.bin/.pt weights (they can run code: trusted files only)",
          ("loader",)),
    Field("t5", "bool", False, "load SD3's T5 text encoder (about 10 GB)", ("loader",)),
    Field("compile", "bool", False, "on CUDA, capture the model calls as CUDA graphs", ("loader",)),
)

FIELDS: dict[str, Field] = {f.name: f for f in _FIELD_LIST}
assert len(FIELDS) == len(_FIELD_LIST), "a field is declared twice"


def field(name: str) -> Field:
    """The table's entry for ``name`` (or one of its aliases, e.g. ``guidance`` or ``--steps``)."""
    if name in FIELDS:
        return FIELDS[name]
    for entry in _FIELD_LIST:
        if name in entry.aliases:
            return entry
    raise KeyError(f"no field {name!r} in the field table (semanticdraw_widgets/fields.py)")


# -- the brush schema, derived (widgets/protocol.py re-exports these names) ----------------------------
BRUSH_FIELDS = tuple(f.name for f in _FIELD_LIST if "brush" in f.where)
BRUSH_DEFAULTS: dict[str, Any] = {name: FIELDS[name].default for name in
                                  ("name", "color", "prompt", "negative_prompt", "prompt_strength", "mask_strength",
                                   "mask_blur", "visible")}
assert set(BRUSH_DEFAULTS) == set(BRUSH_FIELDS)
BRUSH_LIMITS: dict[str, list[float]] = {name: [float(FIELDS[name].min), float(FIELDS[name].max)]
                                        for name in BRUSH_DEFAULTS if FIELDS[name].kind == "float"}
