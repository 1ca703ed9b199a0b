"""A model that predicts NaN draws no black picture without a word: generate raises, a stream keeps its picture."""

import numpy as np
import pytest
import torch

import semanticdraw_widgets as sdw
from helpers import rect_mask


class PoisonedToy:
    """The toy model, except that its predictions hold NaN while ``poisoned`` is set."""

    def __init__(self, toy):
        self._toy, self.poisoned = toy, False

    def __getattr__(self, name):
        return getattr(self._toy, name)

    def predict_x0(self, x, step_index, schedule, cond):
        x0 = self._toy.predict_x0(x, step_index, schedule, cond)
        return torch.full_like(x0, float("nan")) if self.poisoned else x0


def scene():
    return sdw.Scene(width=64, height=64, seed=3, background=sdw.Background(prompt="blue sky"),
                     regions=[sdw.Region(prompt="red bricks", mask=rect_mask(64, 64, 8, 8, 40, 40))])


def test_generate_refuses_a_nan_prediction_with_what_to_do(toy):
    model = PoisonedToy(toy)
    model.poisoned = True
    with pytest.raises(sdw.NonFiniteOutput, match=r"NaN or infinite values.*dtype=torch\.float32"):
        sdw.generate(model, scene(), steps=2)


def test_a_stream_tick_that_predicts_nan_leaves_the_stream_as_it_was(toy):
    model = PoisonedToy(toy)
    stream = sdw.Stream(model, scene(), steps=2)
    first = stream.tick()
    model.poisoned = True
    with pytest.raises(sdw.NonFiniteOutput):
        stream.tick()
    model.poisoned = False
    while not (frame := stream.tick()).converged:
        pass
    assert np.array_equal(np.asarray(frame.image), np.asarray(sdw.generate(toy, scene(), steps=2)))
    assert first.index == 1
