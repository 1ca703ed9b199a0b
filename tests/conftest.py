import os

os.environ["HF_HUB_OFFLINE"] = "1"  # no test may reach a model hub

import pytest
import torch
from hypothesis import settings

import semanticdraw_widgets as sdw
from helpers import rect_mask

# Property tests draw the same examples in any order, alone or in the full run, on any machine: derandomized
# (seeded from each test's source) and with no example database, so a run never depends on earlier runs.
settings.register_profile("semanticdraw", derandomize=True, database=None, print_blob=True)
settings.load_profile("semanticdraw")


def _no_local_constants():
    """Hypothesis also draws constants found in the *local modules imported so far* (its "local constants"
    pool), so which test files were collected before a property test changed its examples even when
    derandomized: test_canvas_fuzz.py failed alone and passed in the full run. An empty pool makes the
    examples a function of the test alone. (A private hook: if Hypothesis renames it, nothing is patched
    and test_hypothesis_examples_do_not_depend_on_imported_modules fails to say so.)"""
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # pragma: no cover
        return
    if hasattr(providers, "_get_local_constants") and hasattr(providers, "Constants"):
        empty = providers.Constants()
        providers._get_local_constants = lambda: empty


_no_local_constants()


@pytest.fixture(scope="session")
def toy():
    return sdw.load_backend("toy")


@pytest.fixture(scope="session")
def tiny_sd_folder(tmp_path_factory):
    from semanticdraw_widgets.testing import make_tiny_sd_pipeline

    return make_tiny_sd_pipeline(tmp_path_factory.mktemp("tiny-sd"))


@pytest.fixture(scope="session")
def tiny_sd(tiny_sd_folder):
    return sdw.load_backend(str(tiny_sd_folder), sampler="lcm")


@pytest.fixture(scope="session")
def tiny_sdxl_folder(tmp_path_factory):
    from semanticdraw_widgets.testing import make_tiny_sdxl_pipeline

    return make_tiny_sdxl_pipeline(tmp_path_factory.mktemp("tiny-sdxl"))


@pytest.fixture(scope="session")
def tiny_sd3_folder(tmp_path_factory):
    from semanticdraw_widgets.testing import make_tiny_sd3_pipeline

    return make_tiny_sd3_pipeline(tmp_path_factory.mktemp("tiny-sd3"))


@pytest.fixture
def small_scene():
    """A 64x64 scene with a background prompt and two regions, for the tiny SD model."""
    return sdw.Scene(width=64, height=64, seed=3, background=sdw.Background(prompt="a quiet sky"),
                     regions=[sdw.Region(prompt="a red apple", mask=rect_mask(64, 64, 8, 8, 40, 40)),
                              sdw.Region(prompt="green grass", mask=rect_mask(64, 64, 40, 0, 64, 64))])


def pytest_collection_modifyitems(items):
    torch.set_num_threads(min(2, torch.get_num_threads()))
