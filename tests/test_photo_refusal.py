"""Issue 18: a file that is not a photo, uploaded from the browser, is refused with its reason and blocks
nothing: the strokes after it reach the running stream (they were all ignored until "no photo" was pressed)."""

import numpy as np
import pytest

import semanticdraw_widgets as sdw
from semanticdraw_widgets.widgets.protocol import encode_labels

SIZE = 64


@pytest.fixture
def canvas():
    canvas = sdw.SemanticDrawCanvas(sdw.load_backend("toy"), width=SIZE, height=SIZE, steps=1)
    yield canvas
    canvas.stop()


def test_a_refused_photo_does_not_block_later_strokes(canvas):
    canvas.start()
    canvas.set_state({"background_image": memoryview(b"%PDF-1.7 this is a document, not a photo")})
    assert "background image" in canvas.status["error"]
    assert bytes(canvas.background_image) == b""  # nothing half-accepted
    labels = np.zeros((SIZE, SIZE), np.uint8)
    labels[8:40, 8:40] = 1
    canvas.set_state({"labels": memoryview(encode_labels(labels))})  # a stroke after the refusal
    assert canvas.running
    assert canvas.status["error"] is None, "the stroke was accepted: the refusal is cleared"
    assert len(canvas.scene.regions) == 1 and canvas.scene.background.image is None
