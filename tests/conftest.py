import os

os.environ["HF_HUB_OFFLINE"] = "1"  # no test may reach a model hub

import pytest
import torch

import semanticdraw_widgets as sdw
from helpers import rect_mask


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
