"""Trait types that check their value with the shared checkers (validation.py), for Python code and the browser.

``traitlets.Int`` alone takes ``True`` (a bool is an int in Python) and, since ``False == 0``, a cross-validator
never even sees ``False`` replacing ``0``; checking in ``validate`` catches both.
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
