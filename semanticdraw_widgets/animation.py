"""Labelled step-by-step animations of a Trace, for slides and lecture notes (``save_animation(trace, path)``).

Each frame is one step: a caption strip (step, timestep, noise level, bootstrap) above one row per
panel, every tile labelled with its panel and layer. GIFs are written with Pillow; MP4s with
imageio-ffmpeg, when it is installed.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .engine.trace import Trace, check_trace, register_animation_writer
from .files import replacing, write_bytes_atomic
from .trace_view import check_panels, default_panels, step_caption, step_tiles

CAPTION = 22  # px: the strip above a frame naming the step
LABEL = 16  # px: the strip under each tile naming panel and layer
GAP = 4  # px between tiles
BACKGROUND = (24, 24, 28)
TEXT = (235, 235, 235)


def tile_zoom(height: int, width: int, target: int = 128) -> int:
    """Integer upscale so the longer side of a latent tile reaches about `target` pixels."""
    return max(1, -(-target // max(height, width)))


def upscale(tile: np.ndarray, zoom: int) -> np.ndarray:
    """(h, w, 3) -> (h*zoom, w*zoom, 3), nearest neighbour so latent pixels stay visible."""
    return tile if zoom == 1 else tile.repeat(zoom, 0).repeat(zoom, 1)


def font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has only the fixed bitmap font
        return ImageFont.load_default()


def fit(text: str, draw: ImageDraw.ImageDraw, face: ImageFont.ImageFont, width: int) -> str:
    """Shorten `text` with an ellipsis until it fits `width` pixels."""
    if draw.textlength(text, font=face) <= width:
        return text
    while text and draw.textlength(text + "…", font=face) > width:
        text = text[:-1]
    return text + "…"


def render_frame(trace: Trace, position: int, panels: Sequence[str], zoom: int) -> Image.Image:
    """One labelled frame: the caption strip, then one row of tiles per panel."""
    rows = step_tiles(trace, position, panels)
    c, h, w = trace.steps[position].x_t.shape
    th, tw = h * zoom, w * zoom
    columns = max(1, max(len(tiles) for tiles in rows.values()))
    width = GAP + columns * (tw + GAP)
    height = CAPTION + len(panels) * (th + LABEL + GAP) + GAP
    frame = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(frame)
    caption, label = font(14), font(11)
    draw.text((GAP, 3), fit(step_caption(trace, position), draw, caption, width - 2 * GAP), fill=TEXT, font=caption)
    y = CAPTION
    for name in panels:
        for k, (text, tile) in enumerate(rows[name]):
            x = GAP + k * (tw + GAP)
            frame.paste(Image.fromarray(upscale(tile, zoom)), (x, y))
            draw.text((x + 2, y + th + 2), fit(text, draw, label, tw - 4), fill=TEXT, font=label)
        y += th + LABEL + GAP
    return frame


def save_animation(trace: Trace, path: str | Path, panels: Sequence[str] | None = None, fps: float = 2.0,
                   zoom: int | None = None) -> Path:
    """Write every step of `trace` as a labelled frame: .gif (Pillow) or .mp4 (imageio-ffmpeg)."""
    check_trace(trace)
    panels = tuple(panels) if panels is not None else default_panels(trace)
    if not panels:
        raise ValueError("panels is empty: name at least one of Trace panels, e.g. ('x_t', 'x0')")
    check_panels(trace, panels)
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".gif", ".mp4"):
        raise ValueError(f"save_animation writes .gif or .mp4, got {path.name!r}")
    _, h, w = trace.steps[0].x_t.shape
    zoom = zoom or tile_zoom(h, w)
    frames = [render_frame(trace, i, panels, zoom) for i in range(len(trace))]
    if suffix == ".gif":
        # fast octree palettes: Pillow's default median cut costs ~4x more per frame for no visible gain here
        frames = [f.quantize(colors=256, method=Image.Quantize.FASTOCTREE) for f in frames]
        buffer = io.BytesIO()
        frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=round(1000 / fps),
                       loop=0)
        write_bytes_atomic(path, buffer.getvalue())
    else:
        with replacing(path) as temporary:  # the encoder writes a path; a failed encode leaves the old file
            write_mp4(frames, temporary, fps)
    return path


def write_mp4(frames: list[Image.Image], path: Path, fps: float) -> None:
    try:
        import imageio_ffmpeg
    except ImportError:
        raise ImportError("writing MP4 needs the imageio-ffmpeg package: pip install imageio-ffmpeg "
                          "(or save a .gif, which needs only Pillow)") from None
    width, height = frames[0].size
    even = (width + width % 2, height + height % 2)  # H.264 in yuv420p needs even sides
    writer = imageio_ffmpeg.write_frames(str(path), even, fps=fps, macro_block_size=1, codec="libx264",
                                         pix_fmt_out="yuv420p")
    writer.send(None)  # start the encoder
    try:
        for frame in frames:
            padded = Image.new("RGB", even, BACKGROUND)
            padded.paste(frame, (0, 0))
            writer.send(np.ascontiguousarray(np.asarray(padded)).tobytes())
    finally:
        writer.close()


register_animation_writer(save_animation)  # Trace.save_animation reaches it; the engine never imports upward
