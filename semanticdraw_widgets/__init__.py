"""SemanticDraw in Jupyter: paint regions, give each a prompt, watch a few-step diffusion model render them.

    import semanticdraw_widgets as sdw
    backend = sdw.load_backend("toy")
    scene = sdw.Scene(width=512, height=512, seed=0, background=sdw.Background(prompt="blue sky"),
                      regions=[sdw.Region(prompt="red bricks", mask=mask)])
    image = sdw.generate(backend, scene, steps=4)
"""

from .animation import save_animation
from .backends import Backend, ModelLoadError, ModelNotAvailableOffline, load_backend
from .compare import Comparison, compare_methods
from .engine import Frame, NonFiniteOutput, Stream, Trace, TraceStep, generate
from .runtime import Session, SessionStatus
from .scene import Background, Region, Scene, SceneError

__version__ = "0.1.0"


def __getattr__(name: str):
    # The widget pulls in anywidget/ipywidgets; load it only when asked for (scripts and CLI don't need it).
    if name in ("SemanticDrawCanvas", "PaletteError"):
        from . import widgets

        return getattr(widgets, name)
    if name == "DenoisingInspector":  # ipycanvas as well, likewise only when asked for
        from .widgets.inspector import DenoisingInspector

        return DenoisingInspector
    raise AttributeError(f"module 'semanticdraw_widgets' has no attribute {name!r}")


__all__ = ["Backend", "Background", "DenoisingInspector", "Frame", "PaletteError", "SemanticDrawCanvas", "Stream", "ModelLoadError", "ModelNotAvailableOffline", "Region", "Scene", "SceneError", "Session", "SessionStatus",
           "Trace", "TraceStep", "generate", "load_backend", "__version__"]
__all__ += ["NonFiniteOutput", "Comparison", "compare_methods", "save_animation"]
