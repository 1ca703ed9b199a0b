"""Notebook widgets: the drawing canvas (anywidget + TypeScript in js/)."""

from .canvas import PaletteError, SemanticDrawCanvas

__all__ = ["PaletteError", "SemanticDrawCanvas"]
