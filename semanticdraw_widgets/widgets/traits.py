"""Trait types that check their value with the shared checkers (validation.py), for Python code and the browser.

``traitlets.Int`` alone takes ``True`` (a bool is an int in Python) and, since ``False == 0``, a cross-validator
never even sees ``False`` replacing ``0``; checking in ``validate`` catches both.

``ByteView`` is ours rather than ipywidgets 8's ``CByteMemoryView`` so that the package runs on ipywidgets 7.7,
which Google Colab ships (docs/colab.md).
"""

from __future__ import annotations

from typing import Any, Callable

import traitlets

from ..validation import ValidationError


class Checked(traitlets.TraitType):
    """A trait whose every value goes through ``check(value)``; a ValidationError becomes a TraitError."""

    def __init__(self, check: Callable[[Any], Any], default_value: Any, **kwargs: Any) -> None:
        self._check = check
        super().__init__(default_value=default_value, **kwargs)

    def validate(self, obj: Any, value: Any) -> Any:
        try:
            return self._check(value)
        except ValidationError as error:
            raise traitlets.TraitError(str(error)) from None


class ByteView(traitlets.TraitType):
    """Binary data kept as a byte memoryview, so the widget protocol sends it as a buffer, not as JSON.

    Takes anything with the buffer protocol (bytes, bytearray, a NumPy array, a memoryview of any format);
    ipywidgets 7 and 8 both move memoryviews as binary buffers in either direction.
    """

    default_value = memoryview(b"")
    info_text = "bytes, a bytearray or a memoryview"

    def validate(self, obj: Any, value: Any) -> memoryview:
        try:
            view = memoryview(value)
            return view if view.format == "B" and view.ndim == 1 and view.c_contiguous else view.cast("B")
        except TypeError:  # no buffer protocol, or a non-contiguous view that cannot be cast
            self.error(obj, value)
