"""The suite's own setup: property tests draw the same examples whatever ran or was imported before."""

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.internal.conjecture import providers


def test_the_hypothesis_profile_is_derandomized_and_keeps_no_database():
    assert settings.default.derandomize is True and settings.default.database is None


def test_hypothesis_examples_do_not_depend_on_imported_modules():
    import semanticdraw_widgets.backends.toy_lexicon  # noqa: F401  (a local module full of constants)

    pool = providers._get_local_constants()
    assert not any(len(pool.set_for_type(kind)) for kind in ("integer", "float", "bytes", "string"))


def draws():
    seen = []

    @settings(max_examples=20)
    @given(st.text(max_size=8), st.integers())
    def record(text, number):
        seen.append((text, number))

    record()
    return seen


def test_the_same_property_draws_the_same_examples_twice():
    first = draws()
    import semanticdraw_widgets.widgets.palette  # noqa: F401  (importing more changes nothing)

    assert draws() == first
