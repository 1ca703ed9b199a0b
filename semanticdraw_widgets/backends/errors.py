"""The loader's errors: every failure to turn a model spec into a backend says what to do next."""

from __future__ import annotations


class ModelLoadError(RuntimeError):
    """A model spec could not be turned into a backend; the message says what to do."""


class ModelNotAvailableOffline(ModelLoadError):
    """A hub model is not in the local cache and the hub cannot be reached."""
