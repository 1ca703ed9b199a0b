"""Pure tensor maths of SemanticDraw: masks, regional aggregation, sampling, traces."""

from .generate import METHODS, NonFiniteOutput, generate
from .masks import MASK_MODES
from .plan import SamplerOptions
from .stream import Frame, Stream
from .trace import Trace, TraceStep

__all__ = ["Frame", "NonFiniteOutput", "Stream", "generate", "METHODS", "MASK_MODES", "SamplerOptions", "Trace", "TraceStep"]
