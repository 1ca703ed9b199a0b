"""Model families behind one Backend protocol, and the loader that picks one from a spec."""

from .base import Backend, Conditioning, Schedule
from .loading import ModelLoadError, ModelNotAvailableOffline, load_backend

__all__ = ["Backend", "Conditioning", "Schedule", "ModelLoadError", "ModelNotAvailableOffline", "load_backend"]
